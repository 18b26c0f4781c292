"""Playback of recorded segments to WebRTC: a track that reads the MP4 segments at the right pace (speed), with
pause, resume, seek and speed changes. Packets are sent as recorded (no re-encode)."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from .errors import BadRequest
from .recording import segment_start
from .webrtc import annexb_nal_types, avcc_to_annexb

VIDEO_TB = fractions.Fraction(1, 90000)


class PlaybackTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, paths: list[Path], start: datetime, speed: float = 1.0) -> None:
        super().__init__()
        segs = [(segment_start(p), p) for p in paths]
        self.segs = sorted(((s, p) for s, p in segs if s is not None), key=lambda x: x[0])
        if not self.segs:
            raise BadRequest("no recorded segments to play")
        self.origin = start.timestamp()
        self.position_s = 0.0  # seconds from `start` of the last packet sent
        self.speed = self._check_speed(speed)
        self.paused = False
        self.frames_sent = 0
        self._resume = asyncio.Event()
        self._resume.set()
        self._iter: Iterator[tuple[float, av.Packet, bytes]] | None = None
        self._container: Any = None
        self._anchor: tuple[float, float] | None = None  # (monotonic, media epoch seconds)
        self._seek_to: float | None = 0.0
        self._t0 = time.monotonic()
        self._last_out = -1

    @staticmethod
    def _check_speed(speed: float) -> float:
        if not 0.1 <= float(speed) <= 16:
            raise BadRequest("speed must be between 0.1 and 16")
        return float(speed)

    # --- controls ----------------------------------------------------------------------------------------------
    def control(self, action: str, value: float | None = None) -> None:
        if action == "pause":
            self.paused = True
            self._resume.clear()
        elif action == "resume":
            self.paused = False
            self._anchor = None
            self._resume.set()
        elif action == "seek":
            if value is None or value < 0:
                raise BadRequest("seek needs a position in seconds from the start")
            self._seek_to = float(value)
        elif action == "speed":
            if value is None:
                raise BadRequest("speed needs a value")
            self.speed = self._check_speed(value)
            self._anchor = None
        else:
            raise BadRequest(f"unknown playback action {action!r}")

    # --- reading -----------------------------------------------------------------------------------------------
    def _packets_from(self, abs_t: float) -> Iterator[tuple[float, av.Packet, bytes]]:
        """Packets (epoch seconds, packet, parameter sets) from the last keyframe at or before ``abs_t``."""
        idx = 0
        for i, (s, _p) in enumerate(self.segs):
            if s.timestamp() <= abs_t:
                idx = i
        for s, p in self.segs[idx:]:
            with av.open(str(p)) as c:
                if not c.streams.video:
                    continue
                vs = c.streams.video[0]
                ps = avcc_to_annexb(vs.codec_context.extradata) if vs.codec_context.name == "h264" else b""
                pending: list[tuple[float, av.Packet, bytes]] = []
                for pkt in c.demux(vs):
                    if pkt.dts is None or pkt.size == 0:
                        continue
                    t = s.timestamp() + float(pkt.dts * pkt.time_base)
                    if t < abs_t:
                        if pkt.is_keyframe:
                            pending = [(t, pkt, ps)]
                        elif pending:
                            pending.append((t, pkt, ps))
                        continue
                    if pending:
                        yield from pending
                        pending = []
                    yield t, pkt, ps

    def _next(self) -> tuple[float, av.Packet, bytes] | None:
        if self._iter is None:
            return None
        return next(self._iter, None)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await self._resume.wait()
            if self._seek_to is not None:
                self._iter = self._packets_from(self.origin + self._seek_to)
                self._seek_to = None
                self._anchor = None
            item = await asyncio.to_thread(self._next)
            if item is None:
                self.stop()
                raise MediaStreamError
            t, pkt, ps = item
            if self._anchor is None:
                self._anchor = (time.monotonic(), t)
            target = self._anchor[0] + (t - self._anchor[1]) / self.speed
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._seek_to is not None or self.paused:
                continue  # a control arrived while we waited: drop this packet
            data = bytes(pkt)
            if not data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
                data = _avcc_to_annexb_frame(data)
            if pkt.is_keyframe and ps and 7 not in annexb_nal_types(data):
                data = ps + data
            out = av.Packet(data)
            ts = int((time.monotonic() - self._t0) * 90000)
            ts = max(ts, self._last_out + 1)
            self._last_out = ts
            out.pts = out.dts = ts
            out.time_base = VIDEO_TB
            self.position_s = t - self.origin
            self.frames_sent += 1
            return out


def _avcc_to_annexb_frame(data: bytes) -> bytes:
    """MP4 stores length-prefixed NAL units; RTP packetisation wants start codes."""
    out = bytearray()
    i = 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        out += b"\x00\x00\x00\x01" + data[i + 4:i + 4 + n]
        i += 4 + n
    return bytes(out)
