"""Recording without re-encoding, clip export, retention, crash safety, snapshots."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import pytest

from media_gateway import CameraOffline, MediaGateway, UnknownCamera, recording
from media_gateway.hub import Handoff, MediaPacket, StreamInfo
from media_gateway.recording import apply_retention, segment_name
from tests.media.conftest import decodes_cleanly, ffprobe, needs_gst, process_gone, until
from tests.peers.rtsp_server import RtspServer, clip

pytestmark = [needs_gst]


async def test_emergency_recording_20s_no_reencode(rtsp: RtspServer, tmp_path: Path) -> None:
    segments: list[dict] = []

    async def on_segment(seg: dict) -> None:
        segments.append(seg)

    gw = MediaGateway(tmp_path, on_segment=on_segment, segment_s=300)
    await gw.start()
    try:
        await gw.configure_camera("c1", rtsp.url("cam1"))
        rid = await gw.start_recording("c1", duration_s=20)
        assert rid in gw.stats("c1")["emergency_recordings"]
        await until(lambda: segments, 40)
        assert len(segments) == 1
        seg = segments[0]
        assert seg["emergency"] and seg["camera_id"] == "c1" and seg["has_audio"] is False
        assert seg["size"] == seg["path"].stat().st_size > 0
        info = ffprobe(seg["path"])
        assert float(info["format"]["duration"]) == pytest.approx(20, abs=1)
        src = ffprobe(rtsp.mounts["cam1"].path)["streams"][0]
        out = info["streams"][0]
        for k in ("codec_name", "profile", "level", "width", "height", "pix_fmt", "has_b_frames"):
            assert out[k] == src[k], k
        assert decodes_cleanly(seg["path"])
        # clip export of a sub-range [5 s, 12 s], cut at keyframes (1 s GOP), no re-encode
        start = seg["start"] + timedelta(seconds=5.5)
        clip_path = await gw.export_clip("c1", [seg["path"]], start, start + timedelta(seconds=6.5))
        cinfo = ffprobe(clip_path)
        assert 6.5 <= float(cinfo["format"]["duration"]) <= 8.1
        assert cinfo["streams"][0]["profile"] == src["profile"] and decodes_cleanly(clip_path)
    finally:
        await gw.stop()


async def test_two_recordings_on_the_same_keyframe_get_separate_files(rtsp: RtspServer, tmp_path: Path,
                                                                      workers: int) -> None:
    segments: list[dict] = []

    async def on_segment(seg: dict) -> None:
        segments.append(seg)

    gw = MediaGateway(tmp_path, on_segment=on_segment, workers=workers)
    await gw.start()
    try:
        await gw.configure_camera("c1", rtsp.url("cam1"))
        a = await gw.start_recording("c1", duration_s=2)
        b = await gw.start_recording("c1", duration_s=2)
        await until(lambda: len(segments) == 2, 20)
        assert {s["recording_id"] for s in segments} == {a, b}
        assert segments[0]["path"] != segments[1]["path"]
        assert all(decodes_cleanly(s["path"]) for s in segments)
    finally:
        await gw.stop()


async def test_snapshot_has_camera_resolution(rtsp: RtspServer, tmp_path: Path, workers: int) -> None:
    gw = MediaGateway(tmp_path, workers=workers)
    await gw.start()
    try:
        await gw.configure_camera("c2", rtsp.url("cam2"))
        jpg = await gw.snapshot("c2")
        assert jpg[:3] == b"\xff\xd8\xff"
        p = tmp_path / "s.jpg"
        p.write_bytes(jpg)
        s = ffprobe(p)["streams"][0]
        assert (s["width"], s["height"]) == (1280, 720)
        await asyncio.sleep(0.3)
        await gw.configure_camera("c265", rtsp.url("cam265"))
        p.write_bytes(await gw.snapshot("c265"))
        s = ffprobe(p)["streams"][0]
        assert (s["width"], s["height"]) == (640, 360)
        with pytest.raises(UnknownCamera):
            await gw.snapshot("nope")
    finally:
        await gw.stop()


async def test_recorded_camera_without_viewers(rtsp: RtspServer, tmp_path: Path, workers: int) -> None:
    """A camera recorded continuously with nobody watching: its packets stay in the demux thread (GOP cache and
    statistics there; the event loop gets none of them), yet a snapshot comes from the GOP cache, the statistics
    count, an emergency recording starts with the cached GOP as pre-roll, and a subscriber joining later starts on
    a keyframe and then gets every packet."""
    segments: list[dict] = []

    async def on_segment(seg: dict) -> None:
        segments.append(seg)

    gw = MediaGateway(tmp_path, on_segment=on_segment, segment_s=300, workers=workers)
    await gw.start()
    try:
        await gw.configure_camera("c1", rtsp.url("cam1"), record_continuous=True)

        async def packets() -> int:
            await gw.refresh_stats()
            return int(gw.stats("c1")["packets"])

        deadline = time.monotonic() + 15
        while await packets() < 60:
            assert time.monotonic() < deadline, "the camera sent nothing"
            await asyncio.sleep(0.2)
        stream = None
        if workers == 0:
            stream = gw.local.cameras["c1"].stream
            handoff = Handoff.of(asyncio.get_running_loop())
            calls0, packets0 = handoff.calls, stream.packets
            await asyncio.sleep(1.0)
            assert stream.packets - packets0 >= 20  # 25 fps, counted in the demux thread …
            assert handoff.calls - calls0 == 0 and not stream.wanted  # … and none of them went to the loop
        st = gw.stats("c1")
        assert st["fps"] > 15 and st["bitrate_kbps"] > 0 and st["gop_packets"] > 0 and st["subscribers"] == 0
        assert (await gw.snapshot("c1"))[:3] == b"\xff\xd8\xff"
        if stream is not None:
            assert not stream.wanted  # served from the cache: nobody had to wait on the loop for a keyframe
        requested = datetime.now(UTC)
        rid = await gw.start_recording("c1", duration_s=2)
        await until(lambda: any(s["emergency"] for s in segments), 20)
        seg = next(s for s in segments if s["emergency"])
        assert seg["recording_id"] == rid and seg["start"] <= requested  # the cached GOP is its pre-roll
        assert seg["frames"] >= 2 * 25 and decodes_cleanly(seg["path"])
        if stream is not None:
            await until(lambda: not stream.wanted, 5)  # the recorder is gone: back to the demux thread only
            await asyncio.sleep(0.3)  # mid-GOP
            sub = stream.subscribe("webrtc:late", maxsize=1000)
            await until(lambda: sum(isinstance(x, MediaPacket) for x in sub.queue) >= 40, 10)
            got = [x for x in sub.queue if isinstance(x, MediaPacket)]
            assert got[0].keyframe and [x.seq for x in got] == list(range(got[0].seq, got[0].seq + len(got)))
            sub.close()
    finally:
        await gw.stop()


async def test_offline_camera_errors(tmp_path: Path, workers: int) -> None:
    gw = MediaGateway(tmp_path, stall_timeout_s=1.0, workers=workers)
    await gw.start()
    try:
        await gw.configure_camera("dead", "rtsp://127.0.0.1:9/none")
        with pytest.raises(CameraOffline):
            await gw.snapshot("dead")
    finally:
        await gw.stop()


def _fake_segment(root: Path, start: datetime, size: int, emergency: bool = False) -> Path:
    p = root / "cam" / start.strftime("%Y%m%d") / segment_name("cam", start, emergency)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"\0" * size)
    return p


def test_retention_quota_and_age(tmp_path: Path) -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    segs = [_fake_segment(tmp_path, now - timedelta(minutes=5 * (10 - i)), 1000, emergency=(i == 0))
            for i in range(10)]
    # quota 8000 bytes: the oldest deletable ones go, the emergency one (oldest) is kept until released
    deleted = apply_retention(tmp_path, max_bytes=8000, now=now)
    assert deleted == segs[1:3]
    assert segs[0].exists()
    deleted = apply_retention(tmp_path, max_bytes=7000, released=[segs[0]], active=[segs[3]], now=now)
    assert deleted == [segs[0]]
    # by age: older than 26 min, but the one being written stays
    deleted = apply_retention(tmp_path, max_age_days=26 / 1440, active=[segs[3]], now=now)
    assert segs[3].exists() and deleted == segs[4:5]


def test_kill9_while_recording_leaves_a_playable_file(rtsp: RtspServer, tmp_path: Path, workers: int) -> None:
    """kill -9 of the server: with worker processes, they die with it (the camera's file is theirs)."""
    child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("record_child.py")), str(tmp_path),
                              rtsp.url("cam2"), str(workers)], stdout=subprocess.PIPE)
    worker_pids: list[int] = []
    try:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        assert line[:1] == [b"RECORDING"]
        worker_pids = [int(p) for p in line[1:]]
        assert len(worker_pids) == min(workers, 1)  # one camera: one worker started
        time.sleep(6)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 5
        while not all(process_gone(p) for p in worker_pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(process_gone(p) for p in worker_pids), "a worker outlived its parent"
    finally:
        if child.poll() is None:
            child.kill()
        for p in worker_pids:
            if not process_gone(p):
                os.kill(p, signal.SIGKILL)
    files = list((tmp_path / "recordings").rglob("*.mp4"))
    assert len(files) == 1
    info = ffprobe(files[0])
    assert float(info["format"]["duration"]) >= 3.0  # every finished fragment (1 s GOP) survives
    assert info["streams"][0]["codec_name"] == "h264"
    # fragments are flushed whole at each keyframe (flush_packets): nothing partial after a kill -9
    assert decodes_cleanly(files[0])


async def test_continuous_recording_in_the_demux_thread(tmp_path: Path, workers: int) -> None:
    """Continuous recording is muxed by the RTSP source's demux thread (not a hub subscriber): segments of the
    configured length that follow each other, a camera drop ends the segment and recording resumes in a new one
    after a visible gap, H.265 too, switching it on for a running camera and off again; no re-encode."""
    srv = RtspServer(tmp_path / "rtsp", {"cam": clip("720p", gop=25),
                                         "h5": clip("360p", codec="h265", gop=25)}).start()
    segments: list[dict] = []
    events: list[tuple[str, str]] = []

    async def on_segment(seg: dict) -> None:
        segments.append(seg)

    async def on_status(cid: str, status: str, detail: dict) -> None:
        events.append((cid, status))

    def of(cid: str) -> list[dict]:
        return sorted((s for s in segments if s["camera_id"] == cid), key=lambda s: s["start"])

    gw = MediaGateway(tmp_path / "var", on_segment=on_segment, on_status=on_status, segment_s=2,
                      stall_timeout_s=2.0, workers=workers)
    await gw.start()
    try:
        await gw.configure_camera("c", srv.url("cam"))
        assert (await gw.snapshot("c"))[:3] == b"\xff\xd8\xff"  # the source runs, without a recorder
        await gw.configure_camera("c", srv.url("cam"), record_continuous=True)  # joins the running source
        await asyncio.sleep(0.3)
        await gw.configure_camera("h", srv.url("h5"), record_continuous=True)
        await asyncio.sleep(5.5)
        await gw.refresh_stats()
        st = gw.stats("c")
        assert st["recording_continuous"] and st["subscribers"] == 0  # not through the hub
        assert st["recording_open_ms_max"] is not None and st["recording_open_ms_max"] < 250
        before_drop = len(of("c"))
        assert before_drop >= 2
        srv.stop()
        await until(lambda: ("c", "offline") in events, 10)
        await until(lambda: len(of("c")) > before_drop, 5)  # the drop ends the segment at once
        dropped_at = len(of("c"))
        srv.start()
        await until(lambda: events.count(("c", "online")) >= 2, 20)
        await asyncio.sleep(3)
        await gw.configure_camera("c", srv.url("cam"), record_continuous=False)  # closes and indexes the segment
        n = len(of("c"))
        assert n > dropped_at
        await asyncio.sleep(1.5)
        assert len(list((tmp_path / "var" / "recordings" / "c").rglob("*.mp4"))) == n  # no more files
    finally:
        await gw.stop()
        srv.stop()
    c, h = of("c"), of("h")
    src = ffprobe(clip("720p", gop=25).path)["streams"][0]
    for seg in c + h:
        assert not seg["emergency"] and seg["has_audio"] is False
        assert seg["size"] == seg["path"].stat().st_size > 0 and decodes_cleanly(seg["path"])
    for seg in c[:before_drop]:  # cut at the first keyframe (1 s GOP) after 2 s
        assert seg["frames"] == 50 and (seg["end"] - seg["start"]).total_seconds() == pytest.approx(2.0, abs=0.01)
    for a, b in itertools.pairwise(c[:dropped_at]):
        assert abs((b["start"] - a["end"]).total_seconds()) < 0.2  # one after the other
    assert (c[dropped_at]["start"] - c[dropped_at - 1]["end"]).total_seconds() > 1.0  # the gap of the drop
    out = ffprobe(c[0]["path"])["streams"][0]
    for k in ("codec_name", "profile", "level", "width", "height", "pix_fmt", "has_b_frames"):
        assert out[k] == src[k], k
    assert {s["codec"] for s in c} == {"h264"} and {s["codec"] for s in h} == {"hevc"}
    assert len(h) >= 3 and ffprobe(h[0]["path"])["streams"][0]["codec_name"] == "hevc"


def test_direct_recorder_closes_segments_off_the_demux_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demux thread only opens the next file at a cut: closing the last one (final fragment, trailer) runs on a
    writer thread, so a slow close never holds the camera's demux."""
    c = clip("720p", gop=25)
    with av.open(str(c.path)) as inp:
        vs = inp.streams.video[0]
        extradata = vs.codec_context.extradata
        packets = [(bytes(p), p.is_keyframe) for p in inp.demux(vs) if p.size]
    tb = Fraction(1, 90000)
    info = StreamInfo("h264", 1280, 720, 25.0, tb, extradata=extradata)
    close = recording.SegmentWriter.close
    closing_threads: list[str] = []

    def slow_close(self: recording.SegmentWriter) -> int:
        closing_threads.append(threading.current_thread().name)
        time.sleep(0.3)
        return close(self)

    monkeypatch.setattr(recording.SegmentWriter, "close", slow_close)
    segments: list[dict] = []

    async def main() -> float:
        rec = recording.DirectRecorder("cam", tmp_path, segment_s=2, on_segment=segments.append)
        wall0 = time.time()

        def demux(first: int, gap_s: float) -> float:  # the camera's demux thread
            slowest = 0.0
            rec.reset(info)
            for i, (data, key) in enumerate(packets):
                n = first + i
                mp = MediaPacket("video", av.Packet(data), n * 3600, n * 3600, tb, key, len(data),
                                 wall0 + gap_s + n / 25, time.monotonic())
                t0 = time.perf_counter()
                rec.write(mp)
                slowest = max(slowest, time.perf_counter() - t0)
            rec.reset(None)  # the session ends (a camera drop)
            return slowest

        slowest = await asyncio.to_thread(demux, 0, 0.0)
        assert rec.writer is None and rec.writing() is None
        slowest = max(slowest, await asyncio.to_thread(demux, 0, 30.0))  # reconnected: timestamps restart
        await rec.stop()
        return slowest

    slowest = asyncio.run(main())
    assert slowest < 0.15  # a close takes 0.3 s here: it did not run in the demux thread
    assert closing_threads and all(n.startswith("mp4-writer") for n in closing_threads)
    assert len(segments) == 10  # 10 s per session, 2 s segments, two sessions
    assert [s["frames"] for s in segments] == [50] * 10
    # reported as they close: several writer threads close segments at once, so not necessarily in order
    segments.sort(key=lambda s: s["start"])
    assert (segments[5]["start"] - segments[4]["end"]).total_seconds() == pytest.approx(20.0, abs=0.1)
    assert all(decodes_cleanly(s["path"]) and s["size"] == s["path"].stat().st_size for s in segments)
    assert not {s["path"] for s in segments} & recording._ACTIVE
