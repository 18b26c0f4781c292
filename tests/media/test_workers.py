"""Cameras sharded over worker processes (``media_gateway/worker.py``): spread over the workers, errors keep their
class across the pipe, a worker killed with SIGKILL is replaced and its cameras come back, workers end with the
gateway. (Dying with a killed parent: ``test_recording.py::test_kill9_while_recording_leaves_a_playable_file``.)"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from media_gateway import BadRequest, BadSdp, CameraOffline, MediaGateway, ProbeError, UnknownCamera, UnknownRecording
from media_gateway.worker import WorkerClient, _error_of, _raise_from
from tests.media.conftest import decodes_cleanly, needs_gst, process_gone, until
from tests.peers.rtsp_server import RtspServer


def _roundtrip(exc: BaseException) -> BaseException:
    return _raise_from(*_error_of(exc))


def test_error_classes_survive_the_encoding() -> None:
    e = _roundtrip(CameraOffline("camera c is offline: no video"))
    assert type(e) is CameraOffline and e.message == "camera c is offline: no video" and e.status == 409
    e = _roundtrip(ProbeError("auth_failed", "refused"))
    assert type(e) is ProbeError and e.code == "auth_failed" and e.message == "refused"
    e = _roundtrip(ValueError("no keyframe cached"))
    assert type(e) is ValueError and str(e) == "no keyframe cached"
    e = _roundtrip(av_like_error())
    assert type(e) is RuntimeError and "Weird" in str(e) and "boom" in str(e)


def av_like_error() -> Exception:
    class Weird(Exception):  # a class the facade cannot import
        pass

    return Weird("boom")


async def test_worker_process_calls_and_errors(tmp_path: Path) -> None:
    """One worker driven directly: its errors arrive with their class; it ends cleanly on stop."""
    events: list[tuple[Any, ...]] = []
    exits: list[WorkerClient] = []
    config = {"var_dir": str(tmp_path), "segment_s": 60.0, "idle_timeout_s": 5.0, "stall_timeout_s": 1.0,
              "lean_rtp": True, "parent_pid": os.getpid(), "log_level": 20}
    w = WorkerClient(0, config, lambda c, m: events.append(m), exits.append)
    await w.start()
    try:
        assert w.alive and w.pid != os.getpid() and await w.call("ping") == w.pid
        with pytest.raises(UnknownCamera):
            await w.call("snapshot", "nope")
        with pytest.raises(BadRequest):
            await w.call("configure_camera", "c", "http://example.org/x")
        with pytest.raises(BadRequest):
            await w.call("__init__")  # only the gateway's API can be called
        with pytest.raises(TypeError):
            await w.call("remove_camera")  # a bug on our side stays a TypeError
        await w.call("configure_camera", "dead", "rtsp://127.0.0.1:9/none")
        with pytest.raises(CameraOffline):
            await w.call("snapshot", "dead")
        await until(lambda: any(m[0] == "status" and m[1:3] == ("dead", "offline") for m in events), 10)
        assert "dead" in w.stats["cameras"]  # statistics are pushed with every answer and status change
    finally:
        await w.stop()
    assert process_gone(w.pid or 0) and not exits  # a stop is not an unexpected exit
    with pytest.raises(CameraOffline):
        await w.call("ping")


@needs_gst
async def test_cameras_spread_over_workers(rtsp: RtspServer, tmp_path: Path) -> None:
    gw = MediaGateway(tmp_path, workers=2, stall_timeout_s=1.0)
    await gw.start()
    pids: list[int] = []
    try:
        assert gw.worker_pids() == []  # started as cameras arrive
        await gw.configure_camera("a", rtsp.url("cam1"))
        await asyncio.sleep(0.3)  # (staggered connects: GStreamer 1.22 shared media)
        await gw.configure_camera("b", rtsp.url("cam2"))
        await gw.configure_camera("dead", "rtsp://127.0.0.1:9/none")
        workers = gw.stats()["workers"]
        pids = [w["pid"] for w in workers]
        assert len(set(pids)) == 2 and os.getpid() not in pids
        assert sorted(map(len, (w["cameras"] for w in workers))) == [1, 2]
        shard_of = {cid: w["pid"] for w in workers for cid in w["cameras"]}
        assert shard_of["a"] != shard_of["b"]
        for cid in ("a", "b"):
            assert (await gw.snapshot(cid))[:3] == b"\xff\xd8\xff"
        with pytest.raises(CameraOffline):  # raised in its worker
            await gw.snapshot("dead")
        with pytest.raises(BadSdp):
            await gw.webrtc_answer("a", "hello")
        with pytest.raises(UnknownCamera):
            await gw.snapshot("nope")
        await gw.refresh_stats()
        assert gw.stats("a")["running"] and gw.stats("b")["packets"] > 0
        await gw.remove_camera("dead")
        with pytest.raises(UnknownCamera):
            gw.stats("dead")
    finally:
        await gw.stop()
    assert pids and all(process_gone(p) for p in pids)


@needs_gst
async def test_a_killed_worker_is_replaced_and_its_cameras_come_back(rtsp: RtspServer, tmp_path: Path) -> None:
    from tests.media.test_webrtc import Viewer

    events: list[tuple[float, str, str, dict]] = []
    segments: list[dict] = []

    async def on_status(cid: str, status: str, detail: dict) -> None:
        events.append((time.monotonic(), cid, status, detail))

    async def on_segment(seg: dict) -> None:
        segments.append(seg)

    def onlines(cid: str) -> int:
        return sum(1 for e in events if e[1:3] == (cid, "online"))

    gw = MediaGateway(tmp_path, workers=2, on_status=on_status, on_segment=on_segment, stall_timeout_s=2.0)
    await gw.start()
    v = Viewer()
    try:
        await gw.configure_camera("a", rtsp.url("cam1"), record_continuous=True)
        await asyncio.sleep(0.3)
        await gw.configure_camera("b", rtsp.url("cam2"), record_continuous=True)
        await until(lambda: onlines("a") and onlines("b"), 15)
        sid, answer = await gw.webrtc_answer("a", await v.offer())
        await v.accept(answer)
        rid = await gw.start_recording("a")
        assert sid in gw.sessions and rid in gw.recordings
        await asyncio.sleep(3)  # a few fragments in the files
        victim = next(w for w in gw.stats()["workers"] if "a" in w["cameras"])
        assert "b" not in victim["cameras"]

        t_kill = time.monotonic()
        os.kill(victim["pid"], signal.SIGKILL)
        await until(lambda: any(e[1:3] == ("a", "offline") for e in events), 5)
        off = next(e for e in events if e[1:3] == ("a", "offline"))
        assert off[0] - t_kill < 2.0 and "worker" in off[3]["reason"]
        assert sid not in gw.sessions and rid not in gw.recordings  # they were in the dead process
        with pytest.raises(UnknownRecording):
            await gw.stop_recording(rid)
        await until(lambda: onlines("a") >= 2, 20)  # a new process, the same cameras, no one asked
        after = next(w for w in gw.stats()["workers"] if "a" in w["cameras"])
        assert after["pid"] != victim["pid"] and after["alive"] and after["restarts"] == 1
        assert process_gone(victim["pid"])
        assert not any(e[1:3] == ("b", "offline") for e in events)  # the other worker never noticed
        assert (await gw.snapshot("a"))[:3] == b"\xff\xd8\xff"
        # the segments the killed worker was writing are playable and indexed (continuous and emergency)
        recovered = [s for s in segments if s["camera_id"] == "a"]
        assert sorted(s["emergency"] for s in recovered) == [False, True]
        assert {s["recording_id"] for s in recovered} >= {rid}
        for seg in recovered:
            assert seg["frames"] >= 25 and seg["end"] - seg["start"] >= timedelta(seconds=1)
            assert seg["size"] == seg["path"].stat().st_size and decodes_cleanly(seg["path"])
        # continuous recording resumed in a new file
        await asyncio.sleep(2.5)
        files = sorted((tmp_path / "recordings" / "a").rglob("*.mp4"))
        assert len(files) == 3 and {s["path"] for s in recovered} < set(files)
    finally:
        await v.close()
        await gw.stop()
    # stopping closed the resumed continuous segment, and b's
    assert [s["camera_id"] for s in segments].count("a") == 3 and any(s["camera_id"] == "b" for s in segments)
