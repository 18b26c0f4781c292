"""Recording without re-encoding, clip export, retention, crash safety, snapshots."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from media_gateway import CameraOffline, MediaGateway, UnknownCamera
from media_gateway.recording import apply_retention, segment_name
from tests.media.conftest import decodes_cleanly, ffprobe, needs_gst, process_gone, until
from tests.peers.rtsp_server import RtspServer

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
