"""Fixtures for the media gateway tests: a real RTSP server (gst-rtsp-server, system python) serving pre-encoded
clips, started per test module; clients connect one after another (GStreamer 1.22 shared media)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peers.rtsp_server import RtspServer, clip, gst_available

needs_gst = pytest.mark.skipif(not gst_available(), reason="gst-rtsp-server (python3-gi) or ffmpeg not installed; "
                                                          "run scripts/system-deps.sh as root")
CREDS = ("admin", "s3cr3t-pw")


@pytest.fixture(scope="module")
def rtsp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspServer]:
    if not gst_available():
        pytest.skip("gst-rtsp-server not installed")
    work = tmp_path_factory.mktemp("rtsp")
    srv = RtspServer(work, {"cam1": clip("720p", gop=25), "cam2": clip("720p", gop=25),
                            "cam265": clip("360p", codec="h265", gop=25)},
                     credentials=CREDS, audio_only=("audio",)).start()
    try:
        yield srv
    finally:
        srv.stop()


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "format=duration:stream=codec_name,profile,level,width,height,pix_fmt,avg_frame_rate,has_b_frames",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def decodes_cleanly(path: Path) -> bool:
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    return r.returncode == 0 and not r.stderr.strip()


@pytest.fixture(params=[0, 2], ids=["in-process", "2-workers"])
def workers(request: pytest.FixtureRequest) -> int:
    """``MediaGateway(workers=…)``: every camera in the test's process, or sharded over two worker processes."""
    return int(request.param)


def process_gone(pid: int) -> bool:
    """No such process, or a zombie (its parent died and nobody reaped it yet: it holds nothing any more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


async def until(cond, limit: float) -> None:  # type: ignore[no-untyped-def]
    """Waits until ``cond()`` is true, at most ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
