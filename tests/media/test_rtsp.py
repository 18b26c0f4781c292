"""RTSP sources against a real gst-rtsp-server: probe, bad input, online/offline/online, a garbage source."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from media_gateway import MediaGateway, ProbeError
from tests.media.conftest import CREDS, needs_gst, until
from tests.peers.rtsp_server import RtspServer, clip, free_port

pytestmark = [needs_gst]


async def test_probe_reports_stream_parameters(rtsp: RtspServer, tmp_path: Path) -> None:
    gw = MediaGateway(tmp_path)
    r = await gw.probe(rtsp.url("cam1", with_credentials=False), username=CREDS[0], password=CREDS[1])
    assert r["codec"] == "h264" and (r["width"], r["height"]) == (1280, 720)
    assert r["fps"] == pytest.approx(25, abs=0.5)
    assert 800 < r["bitrate_kbps"] < 6000  # the clip is 2 Mbit/s CBR; 1 s window incl. the first burst
    assert 0 < r["first_packet_ms"] < 3000 and r["has_audio"] is False
    await asyncio.sleep(0.3)
    r = await gw.probe(rtsp.url("cam265"))  # credentials in the URL
    assert r["codec"] == "hevc" and (r["width"], r["height"]) == (640, 360)


async def test_probe_errors(rtsp: RtspServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gw = MediaGateway(tmp_path)

    async def code(url: str, **kw: object) -> ProbeError:
        with pytest.raises(ProbeError) as ei:
            await gw.probe(url, **kw)  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        return ei.value

    e = await code(f"rtsp://127.0.0.1:{free_port()}/cam1", timeout_s=3)  # nothing listens
    assert e.code == "unreachable"
    e = await code(rtsp.url("cam1", with_credentials=False), username="admin", password="wrong-password-xyz")
    assert e.code == "auth_failed" and "wrong-password-xyz" not in str(e)
    e = await code(rtsp.url("cam1", with_credentials=False))
    assert e.code == "auth_failed"
    e = await code("http://127.0.0.1/cam1")
    assert e.code == "not_rtsp"
    e = await code(rtsp.url("audio"))
    assert e.code == "no_video"
    # an HTTP server is not an RTSP camera
    http = await asyncio.start_server(_http_handler, "127.0.0.1", 0)
    port = http.sockets[0].getsockname()[1]
    try:
        e = await code(f"rtsp://u:hidden-pass@127.0.0.1:{port}/x", timeout_s=3)
        assert e.code in ("not_rtsp", "timeout") and "hidden-pass" not in str(e)
    finally:
        http.close()
    # a server that accepts and says nothing
    silent = await asyncio.start_server(_silent_handler, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        t = time.monotonic()
        e = await code(f"rtsp://127.0.0.1:{port}/x", timeout_s=2)
        assert e.code == "timeout" and time.monotonic() - t < 6
    finally:
        silent.close()
    for rec in caplog.records:
        assert "wrong-password-xyz" not in rec.getMessage() and "hidden-pass" not in rec.getMessage()
        assert CREDS[1] not in rec.getMessage()


async def _http_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1024)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello")
    await writer.drain()
    writer.close()


async def _silent_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(8)
    writer.close()


async def _garbage_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    import os

    try:
        for _ in range(200):
            writer.write(os.urandom(4096))
            await writer.drain()
            await asyncio.sleep(0.02)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def test_offline_within_stall_timeout_and_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    srv = RtspServer(tmp_path / "rtsp", {"cam": clip("720p", gop=25)}, credentials=CREDS).start()
    events: list[tuple[float, str, str, dict]] = []

    async def on_status(cid: str, status: str, detail: dict) -> None:
        events.append((time.monotonic(), cid, status, detail))

    gw = MediaGateway(tmp_path / "var", on_status=on_status, stall_timeout_s=2.0)
    await gw.start()
    try:
        await gw.configure_camera("c", srv.url("cam", with_credentials=False), username=CREDS[0], password=CREDS[1],
                                  record_continuous=True)  # always on
        await until(lambda: [e for e in events if e[2] == "online"], 10)
        assert gw.stats("c")["status"] == "online"
        srv.stop()
        t_stop = time.monotonic()
        await until(lambda: [e for e in events if e[2] == "offline"], 10)
        off = next(e for e in events if e[2] == "offline")
        assert off[0] - t_stop < 2.0 + 1.5  # stall timeout + margin
        srv.start()
        await until(lambda: len([e for e in events if e[2] == "online"]) >= 2, 20)
        assert [e[2] for e in events] == ["online", "offline", "online"]
        assert gw.stats("c")["fps"] > 0
    finally:
        await gw.stop()
        srv.stop()
    for rec in caplog.records:
        assert CREDS[1] not in rec.getMessage()


async def test_silent_stall_is_a_disconnect(tmp_path: Path, workers: int) -> None:
    """The camera keeps the TCP connection open but sends nothing (SIGSTOP): FFmpeg's socket I/O timeout (not
    PyAV's read timeout, which would take the GIL on every read) must turn it into ``offline`` in time."""
    srv = RtspServer(tmp_path / "rtsp", {"cam": clip("720p", gop=25)}).start()
    events: list[tuple[float, str]] = []

    async def on_status(cid: str, status: str, detail: dict) -> None:
        events.append((time.monotonic(), status))

    gw = MediaGateway(tmp_path / "var", on_status=on_status, stall_timeout_s=2.0, workers=workers)
    await gw.start()
    assert srv.proc is not None
    try:
        await gw.configure_camera("c", srv.url("cam"), record_continuous=True)
        await until(lambda: [e for e in events if e[1] == "online"], 10)
        os.kill(srv.proc.pid, signal.SIGSTOP)
        t_stop = time.monotonic()
        await until(lambda: [e for e in events if e[1] == "offline"], 10)
        off = next(e for e in events if e[1] == "offline")
        last = gw.stats("c")["last_packet_at"]  # pushed by the camera's worker with the status change
        age = time.time() - datetime.fromisoformat(last).timestamp() - (time.monotonic() - off[0])
        assert age < 2.0 + 1.5  # the stall timeout counts from the last packet
        assert off[0] - t_stop < 2.0 + 4.0  # (what the sockets still held is read first)
        assert "no packet" in gw.stats("c")["reason"]
        os.kill(srv.proc.pid, signal.SIGCONT)
        await until(lambda: len([e for e in events if e[1] == "online"]) >= 2, 20)
    finally:
        if srv.proc is not None:
            os.kill(srv.proc.pid, signal.SIGCONT)
        await gw.stop()
        srv.stop()


async def test_garbage_source_does_not_affect_other_streams(rtsp: RtspServer, tmp_path: Path, workers: int) -> None:
    garbage = await asyncio.start_server(_garbage_handler, "127.0.0.1", 0)
    gport = garbage.sockets[0].getsockname()[1]
    events: list[tuple[str, str]] = []

    async def on_status(cid: str, status: str, detail: dict) -> None:
        events.append((cid, status))

    gw = MediaGateway(tmp_path, on_status=on_status, stall_timeout_s=2.0, workers=workers)
    await gw.start()
    try:
        await gw.configure_camera("good", rtsp.url("cam2"), record_continuous=True)
        await until(lambda: ("good", "online") in events, 10)
        await gw.refresh_stats()  # stats() answers from what the worker last pushed
        before = gw.stats("good")["packets"]
        await gw.configure_camera("bad", f"rtsp://127.0.0.1:{gport}/x", record_continuous=True)
        await asyncio.sleep(5)
        await gw.refresh_stats()
        good = gw.stats("good")
        assert good["status"] == "online" and good["packets"] - before >= 5 * 25 * 0.9
        assert gw.stats("bad")["status"] == "offline" and ("bad", "online") not in events
    finally:
        await gw.stop()
        garbage.close()


async def test_probe_over_udp(rtsp: RtspServer, tmp_path: Path) -> None:
    r = await MediaGateway(tmp_path).probe(rtsp.url("cam2"), transport="udp")
    assert r["codec"] == "h264" and r["width"] == 1280
