"""WebRTC out with aiortc, WITHOUT re-encoding.

:class:`PacketTrack` yields the hub's H.264 access units (copied, re-timed to be monotonic across reconnects),
starting at the cached keyframe; SPS/PPS are put in front of a keyframe that lacks them (browsers need them in-band).
By default the live view is sent by :mod:`.rtp_out`'s lean RTP loop (RFC 6184 packetisation, SRTP and one
``sendmmsg`` per frame), installed on aiortc's ``RTCRtpSender``, which keeps ICE, DTLS, RTCP and NACK. With
``lean=False`` aiortc's own loop sends: ``recv()`` returns an ``av.Packet``, which aiortc only packetises
(``H264Encoder.pack``), never encodes."""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcpeerconnection import filter_preferred_codecs

from . import rtp_out
from .errors import BadSdp
from .hub import MediaPacket, Reset, StreamInfo, Subscriber

log = logging.getLogger("media_gateway.webrtc")
VIDEO_TB = fractions.Fraction(1, 90000)


def annexb_nal_types(data: bytes, codec: str = "h264", limit: int = 8) -> list[int]:
    out: list[int] = []
    i = 0
    while len(out) < limit:
        i = data.find(b"\x00\x00\x01", i)
        if i < 0 or i + 3 >= len(data):
            break
        b = data[i + 3]
        out.append(b & 0x1F if codec == "h264" else (b >> 1) & 0x3F)
        i += 3
    return out


def avcc_to_annexb(extradata: bytes | None) -> bytes:
    """SPS/PPS from ``extradata`` as Annex B (it may be avcC or already Annex B)."""
    if not extradata:
        return b""
    if extradata.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        return extradata
    if extradata[0] != 1 or len(extradata) < 7:
        return b""
    out = b""
    pos = 5
    for count_mask in (0x1F, 0xFF):
        n = extradata[pos] & count_mask
        pos += 1
        for _ in range(n):
            ln = int.from_bytes(extradata[pos:pos + 2], "big")
            out += b"\x00\x00\x00\x01" + extradata[pos + 2:pos + 2 + ln]
            pos += 2 + ln
    return out


class PacketTrack(MediaStreamTrack):
    """A video track whose ``recv()`` returns encoded ``av.Packet`` objects from a hub subscriber."""

    kind = "video"

    def __init__(self, sub: Subscriber, info: StreamInfo | None) -> None:
        super().__init__()
        self.sub = sub
        self.info = info
        self.param_sets = avcc_to_annexb(info.extradata) if info else b""
        self.frames_sent = 0
        self.bytes_sent = 0
        # time.monotonic() (one clock for every process on the machine) of the viewer's request reaching this
        # process, of its answer, and of the first frame handed to the sender: the gateway's share of the first
        # frame's delay (session statistics; the benchmark puts them next to the viewer's own times)
        self.requested_at: float | None = None
        self.answered_at: float | None = None
        self.first_sent_at: float | None = None
        self._base: int | None = None  # source dts (90 kHz) that maps to _out_origin
        self._out_origin = 0
        self._last_out = -3000
        self._frame = int(90000 / info.fps) if info and info.fps else 3600
        self._last_send = 0.0
        self.catchup = 4.0
        self.lean: rtp_out.LeanSender | None = None  # speed of the cached GOP's catch-up (× real time)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        """aiortc's sender path: the next frame as an ``av.Packet`` (aiortc only packetises it)."""
        data, ts = await self.next_frame()
        pkt = av.Packet(data)
        pkt.pts = pkt.dts = ts
        pkt.time_base = VIDEO_TB
        return pkt

    async def next_frame(self) -> tuple[bytes, int]:
        """The next access unit (Annex B, SPS/PPS in front of keyframes) and its 90 kHz timestamp."""
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            item = await self.sub.get()
            if item is None:
                self.stop()
                raise MediaStreamError
            if isinstance(item, Reset):
                if item.info is not None:
                    self.info = item.info
                    self.param_sets = avcc_to_annexb(item.info.extradata)
                    if item.info.fps:
                        self._frame = int(90000 / item.info.fps)
                self._base = None  # timestamps restart after a reconnect
                continue
            # Catch-up pacing: the cached GOP is sent faster than real time (4x) but not as one burst, which
            # overflows receivers' jitter buffers (aiortc's holds 128 packets) and loses frames.
            now = time.monotonic()
            if self.frames_sent and now - item.mono > 0.15:
                wait = self._last_send + self._frame / 90000 / self.catchup - now
                if wait > 0:
                    await asyncio.sleep(wait)
            self._last_send = time.monotonic()
            return self._access_unit(item)

    def _access_unit(self, mp: MediaPacket) -> tuple[bytes, int]:
        data = bytes(mp.packet)
        if mp.keyframe and self.param_sets and 7 not in annexb_nal_types(data):
            data = self.param_sets + data
        ts = int(mp.pts * mp.time_base / VIDEO_TB)
        if self._base is None:
            self._base = ts
            self._out_origin = self._last_out + self._frame
        out = self._out_origin + ts - self._base
        if out <= self._last_out - 90000 * 5:  # a jump backwards: re-anchor
            self._base, self._out_origin = ts, self._last_out + self._frame
            out = self._out_origin
        self._last_out = out
        self.frames_sent += 1
        self.bytes_sent += len(data)
        if self.first_sent_at is None:
            self.first_sent_at = time.monotonic()
        return data, out

    def stop(self) -> None:
        super().stop()
        self.sub.close()


async def answer(offer_sdp: str, track: MediaStreamTrack, *,
                 on_closed: Callable[[], Awaitable[None]] | None = None,
                 lean: bool = True) -> tuple[RTCPeerConnection, str]:
    """Offer SDP in → answer SDP out (non-trickle: the answer carries the host candidates). H.264 only.
    A :class:`PacketTrack` is sent by the lean RTP loop (:mod:`.rtp_out`) unless ``lean`` is false."""
    if not isinstance(offer_sdp, str) or "v=0" not in offer_sdp or "m=" not in offer_sdp:
        raise BadSdp("the offer is not an SDP session description")
    if "m=video" not in offer_sdp:
        raise BadSdp("the offer has no video section")
    if "h264/90000" not in offer_sdp.lower():
        raise BadSdp("the offer does not accept H.264 video")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        video = [t for t in pc.getTransceivers() if t.kind == "video"]
        if not video:
            raise BadSdp("the offer has no video section")
        h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs
                if c.mimeType.lower() in ("video/h264", "video/rtx")]
        # aiortc picks the answer's codecs in setRemoteDescription (from preferences set before it, which an
        # answerer cannot do): narrow the negotiated list to H.264 (+ its RTX) the same way aiortc does.
        video[0].setCodecPreferences(h264)
        video[0]._codecs = filter_preferred_codecs(video[0]._codecs, h264)
        if not any(c.mimeType.lower() == "video/h264" for c in video[0]._codecs):
            raise BadSdp("the offer does not accept H.264 (packetization-mode 1) video")
        sender = pc.addTrack(track)
        if lean and isinstance(track, PacketTrack):
            track.lean = rtp_out.install(sender, track.next_frame, track.stop)
        for t in pc.getTransceivers():
            if t.kind == "audio":
                t.direction = "inactive"
        ans = await pc.createAnswer()
        await pc.setLocalDescription(ans)
    except BadSdp:
        await pc.close()
        raise
    except Exception as exc:
        await pc.close()
        raise BadSdp(f"cannot answer this offer: {exc}") from None

    @pc.on("connectionstatechange")
    async def _state() -> None:
        if pc.connectionState in ("failed", "closed") and on_closed is not None:
            await on_closed()

    return pc, pc.localDescription.sdp


class Session:
    def __init__(self, camera_id: str, pc: RTCPeerConnection, track: MediaStreamTrack, kind: str = "live",
                 control: Any = None) -> None:
        self.id = uuid.uuid4().hex
        self.camera_id = camera_id
        self.pc = pc
        self.track = track
        self.kind = kind
        self.control = control
        self.created = time.time()

    async def close(self) -> None:
        self.track.stop()
        if self.control is not None and hasattr(self.control, "close"):
            await self.control.close()
        try:
            async with asyncio.timeout(5):
                await self.pc.close()
        except Exception as exc:  # closing must never fail the caller
            log.debug("closing peer connection %s: %r", self.id, exc)
