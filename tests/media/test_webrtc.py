"""WebRTC round trip with an aiortc client: offer → answer → frames decoded; the gateway never encodes video."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import h264 as aiortc_h264

from media_gateway import BadSdp, MediaGateway, UnknownSession, UnsupportedCodec
from tests.media.conftest import needs_gst, until
from tests.peers.rtsp_server import RtspServer

pytestmark = [needs_gst]


class Viewer:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames: list[tuple[float, int, int]] = []
        self._task: asyncio.Task[None] | None = None

        @self.pc.on("track")
        def on_track(track) -> None:  # type: ignore[no-untyped-def]
            async def read() -> None:
                try:
                    while True:
                        f = await track.recv()
                        self.frames.append((time.monotonic(), f.width, f.height))
                except Exception:
                    return

            self._task = asyncio.ensure_future(read())

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def close(self) -> None:
        await self.pc.close()
        if self._task:
            self._task.cancel()


@pytest.fixture
def encoder_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records any video encoding aiortc would do (H264Encoder.encode = a real libx264 encode)."""
    calls: list[str] = []
    real = aiortc_h264.H264Encoder.encode

    def spy(self, frame, force_keyframe=False):  # type: ignore[no-untyped-def]
        calls.append("encode")
        return real(self, frame, force_keyframe)

    monkeypatch.setattr(aiortc_h264.H264Encoder, "encode", spy)
    return calls


async def test_live_round_trip_without_reencoding(rtsp: RtspServer, tmp_path: Path, encoder_spy: list[str],
                                                  workers: int) -> None:
    """(With workers the spy cannot see into them: it guards the in-process run; the lean sender is the same.)"""
    gw = MediaGateway(tmp_path, workers=workers)
    await gw.start()
    viewers: list[Viewer] = []
    try:
        await gw.configure_camera("c1", rtsp.url("cam1"))
        for _ in range(2):  # the second viewer joins a running stream
            v = Viewer()
            viewers.append(v)
            t = time.monotonic()
            sid, answer = await gw.webrtc_answer("c1", await v.offer())
            assert "H264/90000" in answer and "VP8" not in answer
            await v.accept(answer)
            await until(lambda v=v: v.frames, 10)
            assert v.frames, "no frame decoded"
            assert v.frames[0][1:] == (1280, 720)
            first_ms = (v.frames[0][0] - t) * 1000
            assert first_ms < 3000
        await asyncio.sleep(3)
        for v in viewers:
            fps = len([f for f in v.frames if f[0] > time.monotonic() - 2.5]) / 2.5
            assert fps > 20
        st = gw.stats("c1")
        assert st["viewers"] == 2 and st["dropped_packets"] == 0
        assert encoder_spy == []  # packets were packetised, never encoded
        await gw.webrtc_close(sid)
        with pytest.raises(UnknownSession):
            await gw.webrtc_close(sid)
    finally:
        for v in viewers:
            await v.close()
        await gw.stop()


async def test_bad_offers_and_h265(rtsp: RtspServer, tmp_path: Path) -> None:
    gw = MediaGateway(tmp_path)
    await gw.start()
    try:
        await gw.configure_camera("c1", rtsp.url("cam1"))
        with pytest.raises(BadSdp):
            await gw.webrtc_answer("c1", "hello")
        audio_only = RTCPeerConnection()
        audio_only.addTransceiver("audio", direction="recvonly")
        await audio_only.setLocalDescription(await audio_only.createOffer())
        with pytest.raises(BadSdp):
            await gw.webrtc_answer("c1", audio_only.localDescription.sdp)
        await audio_only.close()
        await asyncio.sleep(0.3)
        await gw.configure_camera("c265", rtsp.url("cam265"))
        v = Viewer()
        with pytest.raises(UnsupportedCodec):
            await gw.webrtc_answer("c265", await v.offer())
        await v.close()
    finally:
        await gw.stop()


async def test_h265_transcoded_on_request(rtsp: RtspServer, tmp_path: Path) -> None:
    gw = MediaGateway(tmp_path)
    await gw.start()
    v = Viewer()
    try:
        await gw.configure_camera("c265", rtsp.url("cam265"), transcode_h265=True)
        _sid, answer = await gw.webrtc_answer("c265", await v.offer())
        await v.accept(answer)
        await until(lambda: len(v.frames) >= 25, 15)
        assert len(v.frames) >= 25 and v.frames[0][1:] == (640, 360)
    finally:
        await v.close()
        await gw.stop()


async def test_playback_with_pause_seek_speed(rtsp: RtspServer, tmp_path: Path) -> None:
    segs: list[dict] = []

    async def on_segment(seg: dict) -> None:
        segs.append(seg)

    gw = MediaGateway(tmp_path, on_segment=on_segment, segment_s=4)
    await gw.start()
    v = Viewer()
    try:
        await gw.configure_camera("c2", rtsp.url("cam2"))
        rid = await gw.start_recording("c2", duration_s=9)
        await until(lambda: rid not in gw.recordings, 30)
        assert len(segs) >= 2  # 4 s segments
        paths = [s["path"] for s in segs]
        sid, answer = await gw.playback_answer("c2", paths, segs[0]["start"], await v.offer(), speed=2.0)
        await v.accept(answer)
        await asyncio.sleep(2.0)
        track = gw.sessions[sid].track
        assert len(v.frames) > 40 and track.position_s > 2.0  # 2x speed
        await gw.playback_control(sid, "pause")
        await asyncio.sleep(0.3)
        n = len(v.frames)
        await asyncio.sleep(1.0)
        assert len(v.frames) - n <= 3
        await gw.playback_control(sid, "seek", 6.0)
        await gw.playback_control(sid, "speed", 1.0)
        await gw.playback_control(sid, "resume")
        await asyncio.sleep(1.0)
        assert 5.0 <= track.position_s <= 8.0
        with pytest.raises(Exception):  # noqa: B017
            await gw.playback_control(sid, "rewind")
    finally:
        await v.close()
        await gw.stop()
