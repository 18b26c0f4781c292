"""RTSP cameras: PyAV (FFmpeg) demux in a thread, reconnect with capped exponential backoff, stall detection,
``online``/``offline`` status, and the connection test ("probe"). Credentials never appear in logs or errors."""

from __future__ import annotations

import asyncio
import errno
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from fractions import Fraction
from typing import Any, Protocol
from urllib.parse import urlsplit

import av
import av.error

from .errors import ProbeError
from .hub import Handoff, MediaPacket, Stream, StreamInfo, lower_thread_priority
from .redact import redact, url_secrets

log = logging.getLogger("media_gateway.rtsp")

StatusCallback = Callable[[str, dict[str, Any]], Awaitable[None] | None]


def demux_options(transport: str, io_timeout_s: float) -> dict[str, str]:
    """FFmpeg ≥ 5 options: ``timeout`` is the socket I/O timeout in MICROseconds (``stimeout`` is gone)."""
    if transport not in ("tcp", "udp"):
        raise ValueError("transport must be tcp or udp")
    return {
        "rtsp_transport": transport,
        "timeout": str(int(io_timeout_s * 1_000_000)),
        "analyzeduration": "500000",  # 0.5 s: the SDP already carries SPS/PPS, so probing can be short
        "probesize": "1000000",
        "fflags": "+genpts+discardcorrupt",
        "max_delay": "500000",
        "reorder_queue_size": "64",
    }


def stream_info(container: av.container.InputContainer) -> StreamInfo | None:
    if not container.streams.video:
        return None
    vs = container.streams.video[0]
    cc = vs.codec_context
    rate = vs.average_rate or vs.guessed_rate or vs.base_rate
    info = StreamInfo(codec=cc.name, width=cc.width, height=cc.height, fps=float(rate) if rate else None,
                      time_base=vs.time_base or Fraction(1, 90000), extradata=cc.extradata, profile=vs.profile,
                      pix_fmt=cc.pix_fmt)
    if container.streams.audio:
        a = container.streams.audio[0]
        info.audio_codec = a.codec_context.name
        info.audio_rate = a.codec_context.sample_rate
        info.audio_channels = a.codec_context.channels if hasattr(a.codec_context, "channels") else \
            a.codec_context.layout.nb_channels
        info.audio_time_base = a.time_base
        info.audio_extradata = a.codec_context.extradata
    return info


def classify(exc: BaseException, secrets: tuple[str, ...] = (), *, timed_out: bool = False) -> ProbeError:
    """Maps an FFmpeg/OS error to a :class:`ProbeError` code (message redacted). FFmpeg reports a server that
    accepts but never answers as "invalid data" once its socket timeout expires: ``timed_out`` tells them apart."""
    if isinstance(exc, ProbeError):
        return exc
    if timed_out and isinstance(exc, av.error.InvalidDataError | av.error.ExitError | OSError):
        return ProbeError("timeout", "no answer from the camera in time")
    msg = redact(str(exc), *secrets)
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return ProbeError("auth_failed", "the camera refused the credentials (401/403)")
    if isinstance(exc, av.error.ExitError | TimeoutError):
        return ProbeError("timeout", "no answer from the camera in time")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return ProbeError("unreachable", "the camera has no stream at this path (404)")
    if isinstance(exc, av.error.InvalidDataError):
        return ProbeError("not_rtsp", f"the server did not answer as an RTSP camera ({msg})")
    if isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT:
        return ProbeError("timeout", "connection timed out")
    if isinstance(exc, av.error.HTTPClientError | av.error.HTTPServerError | av.error.HTTPOtherClientError):
        return ProbeError("unreachable", f"the camera answered with an error ({msg})")
    return ProbeError("unreachable", f"cannot reach the camera ({msg})")


def _open(url: str, transport: str, open_timeout_s: float, read_timeout_s: float, *,
          guard_reads: bool = True) -> av.container.InputContainer:
    """Opens the stream. ``guard_reads=False`` leaves read stalls to FFmpeg's own ``timeout`` option (socket I/O
    timeout, µs) instead of PyAV's read timeout: PyAV's interrupt callback takes the GIL on EVERY call, and FFmpeg
    calls it on every network read — for RTSP over TCP, several per RTP packet. With 32 cameras that was tens of
    thousands of GIL acquisitions a second from the demux threads, stealing the event loop's time (and CPU in
    futex calls). PyAV's callback returns before taking the GIL when no read timeout is set."""
    return av.open(url, options=demux_options(transport, read_timeout_s),
                   timeout=(open_timeout_s, read_timeout_s if guard_reads else None))


def probe_sync(url: str, *, transport: str = "tcp", timeout_s: float = 5.0, measure_s: float = 1.0) -> dict[str, Any]:
    """Connects, waits for the first video packet and measures the bitrate for ``measure_s`` (blocking)."""
    secrets = url_secrets(url)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("rtsp", "rtsps"):
        raise ProbeError("not_rtsp", f"not an rtsp:// URL (scheme {scheme or 'missing'!r})")
    t0 = time.monotonic()
    try:
        container = _open(url, transport, timeout_s, timeout_s)
    except Exception as exc:
        raise classify(exc, secrets, timed_out=time.monotonic() - t0 >= timeout_s * 0.9) from None
    try:
        info = stream_info(container)
        if info is None:
            raise ProbeError("no_video", "the stream has no video track")
        vs = container.streams.video[0]
        first_ms = None
        size = 0
        t_first = 0.0
        deadline = t0 + timeout_s
        try:
            for pkt in container.demux(vs):
                if pkt.size == 0:
                    continue
                now = time.monotonic()
                if first_ms is None:
                    first_ms = (now - t0) * 1000.0
                    t_first = now
                size += pkt.size
                if now - t_first >= measure_s or now > deadline:
                    break
        except Exception as exc:
            if first_ms is None:
                raise classify(exc, secrets) from None
        if first_ms is None:
            raise ProbeError("timeout", "connected but no video packet arrived")
        elapsed = max(time.monotonic() - t_first, 1e-3)
        return {
            "codec": info.codec, "width": info.width, "height": info.height,
            "fps": round(info.fps, 2) if info.fps else None, "profile": info.profile,
            "bitrate_kbps": round(size * 8 / elapsed / 1000, 1), "first_packet_ms": round(first_ms, 1),
            "has_audio": info.audio_codec is not None, "audio_codec": info.audio_codec,
        }
    finally:
        container.close()


class PacketSink(Protocol):
    """Fed in the source's demux thread (``RtspSource.add_sink``): :meth:`reset` at every (re)connect with the
    stream's parameters and with None when a session ends, :meth:`write` with every packet — before the hub sees
    it, so a sink may re-time ``mp.packet`` to mux it without a copy (``hub.MediaPacket``). It must not block for
    long (the demux is waiting) and must not raise."""

    def reset(self, info: StreamInfo | None) -> None: ...
    def write(self, mp: MediaPacket) -> None: ...


class RtspSource:
    """Pulls one RTSP URL for a hub :class:`Stream`. Runs its blocking demux in a thread: each packet goes to the
    sinks (continuous recording) and into the stream's GOP cache and statistics right there, and to the event loop
    only while someone there wants it (``Stream.ingest``); status changes go to the loop. A stall (no packet for
    ``stall_timeout_s``) is a disconnect; reconnects back off exponentially from ``backoff_min_s`` to
    ``backoff_max_s``."""

    def __init__(self, stream: Stream, url: str, *, transport: str = "tcp", stall_timeout_s: float = 5.0,
                 open_timeout_s: float = 5.0, on_status: StatusCallback | None = None,
                 backoff_min_s: float = 0.5, backoff_max_s: float = 10.0) -> None:
        self.stream = stream
        self._url = url
        self._secrets = url_secrets(url)
        self.transport = transport
        self.stall_timeout_s = stall_timeout_s
        self.open_timeout_s = open_timeout_s
        self.on_status = on_status
        self.backoff = (backoff_min_s, backoff_max_s)
        self.status = "connecting"
        self.last_error: str | None = None
        self.connects = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handoff: Handoff | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sinks: tuple[PacketSink, ...] = ()  # replaced, never mutated: the demux thread reads it per packet
        self._session_info: StreamInfo | None = None  # of the running session (a sink added now starts with it)
        self._sink_lock = threading.Lock()

    def add_sink(self, sink: PacketSink) -> None:
        with self._sink_lock:
            sink.reset(self._session_info)
            self.sinks = (*self.sinks, sink)

    def remove_sink(self, sink: PacketSink) -> None:
        with self._sink_lock:
            self.sinks = tuple(s for s in self.sinks if s is not sink)

    def _reset_sinks(self, info: StreamInfo | None) -> None:
        with self._sink_lock:
            self._session_info = info
            for s in self.sinks:
                s.reset(info)

    @property
    def safe_url(self) -> str:
        return redact(self._url, *self._secrets)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._handoff = Handoff.of(self._loop)
        self._thread = threading.Thread(target=self._run, name=f"rtsp:{self.stream.key}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # the demux notices the flag at its next packet, or at the read timeout at worst
            await asyncio.to_thread(self._thread.join, self.stall_timeout_s + self.open_timeout_s + 1)
        for t in list(self._tasks):
            await asyncio.gather(t, return_exceptions=True)

    # --- thread side -------------------------------------------------------------------------------------------
    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        loop, handoff = self._loop, self._handoff
        if loop is not None and handoff is not None and not loop.is_closed():
            try:
                handoff.put(fn, *args)
            except RuntimeError:  # loop closed while we were demuxing
                pass

    def _run(self) -> None:
        lower_thread_priority()
        delay = self.backoff[0]
        while not self._stop.is_set():
            got_packets = False
            try:
                got_packets = self._session()
                reason = "stream ended"
            except Exception as exc:
                reason = classify(exc, self._secrets).message if not isinstance(exc, _Stall) else str(exc)
            if self._stop.is_set():
                break
            self.last_error = reason
            log.info("camera %s (%s) disconnected: %s", self.stream.key, self.safe_url, reason)
            self._call(self._set_status, "offline", {"reason": reason})
            if got_packets:
                delay = self.backoff[0]
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.backoff[1])
        self._call(self.stream.set_info, None)

    def _session(self) -> bool:
        container = _open(self._url, self.transport, self.open_timeout_s, self.stall_timeout_s, guard_reads=False)
        got = False
        try:
            info = stream_info(container)
            if info is None:
                raise ProbeError("no_video", "the stream has no video track")
            self.connects += 1
            self._reset_sinks(info)
            stream = self.stream
            stream.clear_gop()  # here, not in set_info on the loop: this thread caches the new GOP from now on
            self._call(stream.set_info, info, False)
            streams = [container.streams.video[0]]
            if container.streams.audio:
                streams.append(container.streams.audio[0])
            # Per-stream constants looked up once: pkt.time_base builds a new Fraction and pkt.stream a lookup on
            # every access, and this loop runs per packet in every camera's thread (holding the GIL meanwhile).
            kinds = {st.index: (st.type, st.time_base or Fraction(1, 90000)) for st in streams}
            stop, ingest, deliver, call = self._stop, stream.ingest, stream.deliver, self._call
            for pkt in container.demux(streams):
                if stop.is_set():
                    return got
                dts = pkt.dts
                if dts is None or pkt.size == 0:
                    continue
                kind, tb = kinds[pkt.stream_index]
                pts = pkt.pts
                mp = MediaPacket(kind, pkt, dts if pts is None else pts, dts, tb, pkt.is_keyframe, pkt.size,
                                 time.time(), time.monotonic())
                if not got and kind == "video":
                    got = True
                    call(self._set_status, "online", {**info.public(), "transport": self.transport})
                for sink in self.sinks:  # continuous recording: muxed here, not through the loop; before ingest
                    sink.write(mp)
                # GOP cache and statistics here; the loop gets the packet only if someone there wants it (a
                # recorded camera without viewers never wakes the loop: no handoff, no hub work per packet)
                if ingest(mp):
                    call(deliver, mp)
            return got
        except (av.error.ExitError, av.error.TimeoutError):  # FFmpeg's socket I/O timeout (the stall timeout)
            raise _Stall(f"no packet for {self.stall_timeout_s:g} s") from None
        finally:
            self._reset_sinks(None)  # a drop (or stop) ends the sinks' segments now
            container.close()

    # --- loop side ---------------------------------------------------------------------------------------------
    def _set_status(self, status: str, detail: dict[str, Any]) -> None:
        if status == self.status or self._stop.is_set():
            return
        self.status = status
        if self.on_status is not None:
            res = self.on_status(status, detail)
            if asyncio.iscoroutine(res):
                t = asyncio.ensure_future(res)
                self._tasks.add(t)
                t.add_done_callback(self._done)

    def _done(self, t: asyncio.Task[Any]) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.warning("status callback failed for %s: %r", self.stream.key, t.exception())


class _Stall(Exception):
    pass
