"""H.265 → H.264 for WebRTC viewers, ONLY when a camera's ``transcode_h265`` setting asks for it (it costs a full
decode + encode per camera; see README for the measured cost). A hub source fed by the camera's own stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from fractions import Fraction
from queue import Empty, Queue

import av

from .hub import MediaPacket, Reset, Stream, StreamInfo

log = logging.getLogger("media_gateway.transcode")


class TranscodeSource:
    def __init__(self, target: Stream, upstream: Stream, *, gop_s: float = 2.0) -> None:
        self.target = target
        self.upstream = upstream
        self.gop_s = gop_s
        self._q: Queue[MediaPacket | Reset | None] = Queue(maxsize=250)
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.frames = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sub = self.upstream.subscribe(f"transcode:{self.target.key}", video_only=True)
        self._task = self._loop.create_task(self._pump())
        self._thread = threading.Thread(target=self._run, name=f"transcode:{self.target.key}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._q.put(None)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)

    async def _pump(self) -> None:
        while True:
            item = await self._sub.get()
            if item is None:
                self._q.put(None)
                return
            try:
                self._q.put_nowait(item)
            except Exception:  # the encoder cannot keep up: drop (the decoder resyncs at the next keyframe)
                pass

    def _run(self) -> None:
        dec = enc = None
        info: StreamInfo | None = None
        n = 0
        while True:
            try:
                item = self._q.get(timeout=1.0)
            except Empty:
                continue
            if item is None:
                return
            if isinstance(item, Reset):
                info = item.info
                dec = enc = None
                if info is not None:
                    dec = av.CodecContext.create(info.codec, "r")
                    if info.extradata:
                        dec.extradata = info.extradata
                continue
            if dec is None or info is None:
                continue
            try:
                frames = dec.decode(av.Packet(bytes(item.packet)))
            except av.error.FFmpegError:
                continue
            for fr in frames:
                if enc is None:
                    fps = info.fps or 25.0
                    enc = av.CodecContext.create("libx264", "w")
                    enc.width, enc.height, enc.pix_fmt = fr.width, fr.height, "yuv420p"
                    enc.time_base = Fraction(1, 90000)
                    enc.framerate = Fraction(fps).limit_denominator(1001)
                    enc.gop_size = max(1, int(fps * self.gop_s))
                    enc.max_b_frames = 0
                    enc.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline"}
                    out_info = StreamInfo(codec="h264", width=fr.width, height=fr.height, fps=fps,
                                          time_base=Fraction(1, 90000), profile="Constrained Baseline")
                    self._call(self.target.set_info, out_info)
                fr.pts = int(item.pts * item.time_base * 90000)
                fr.time_base = Fraction(1, 90000)
                fr = fr.reformat(format="yuv420p") if fr.format.name != "yuv420p" else fr
                for p in enc.encode(fr):
                    n += 1
                    mp = MediaPacket(kind="video", packet=p, pts=p.pts, dts=p.dts if p.dts is not None else p.pts,
                                     time_base=Fraction(1, 90000), keyframe=p.is_keyframe, size=p.size,
                                     wall=time.time(), mono=time.monotonic())
                    self._call(self.target.publish, mp)
            self.frames = n

    def _call(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(fn, *args)
