"""The stream hub: a source produces encoded packets once, any number of sinks subscribe.

Subscribers live on the event loop. Each has a bounded queue; one that falls behind loses its queue and waits for
the next keyframe, so it never blocks the source or the other subscribers. The stream keeps the latest GOP so a new
subscriber starts on a keyframe at once.

A source either publishes on the loop (:meth:`Stream.publish`), or — the RTSP source — keeps the GOP cache and the
statistics in its own thread (:meth:`Stream.ingest`) and hands a packet to the loop (:meth:`Stream.deliver`) only
while someone there wants it (a subscriber, or a caller waiting for a keyframe): a camera that is only recorded
never wakes the loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import av

log = logging.getLogger("media_gateway.hub")

GOP_MAX_PACKETS = 1500  # guards memory against a source that never sends a keyframe
GOP_MAX_BYTES = 16 * 1024 * 1024


class Handoff:
    """Thread → event loop, batched: source threads :meth:`put` calls; the loop runs them in order, as many as
    have queued up per wake-up. Calls from one thread keep their order (one FIFO for all threads).

    Waking the loop costs a ``call_soon_threadsafe`` (a lock and a self-pipe write) in the source thread and an
    epoll wake-up and context switch in the loop. With packets arriving at random from dozens of cameras that was
    one wake-up per packet (800/s at 32 × 25 fps). So while packets keep coming the loop drains the queue on its
    own timer every ``interval_s`` (≤ 5 ms added delay, nothing for a viewer's jitter buffer) and only an idle
    handoff is woken through the self-pipe."""

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Handoff] = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    def __init__(self, loop: asyncio.AbstractEventLoop, interval_s: float = 0.005) -> None:
        self.loop = loop
        self.interval_s = interval_s
        self.items: collections.deque[tuple[Callable[..., Any], tuple[Any, ...]]] = collections.deque()
        self.scheduled = False  # a drain is pending (soon or on the timer): put() need not wake the loop
        self.batches = 0
        self.calls = 0

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Handoff:
        with cls._lock:
            h = cls._by_loop.get(loop)
            if h is None:
                h = cls._by_loop[loop] = Handoff(loop)
            return h

    def put(self, fn: Callable[..., Any], *args: Any) -> None:
        """From any thread. Raises RuntimeError when the loop is closed."""
        self.items.append((fn, args))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon_threadsafe(self._run)

    def _run(self) -> None:
        self.batches += 1
        items = self.items
        n = 0
        while items:
            fn, args = items.popleft()
            n += 1
            try:
                fn(*args)
            except Exception:
                log.exception("handoff call %r failed", fn)
        self.calls += n
        if n and not self.loop.is_closed():
            self.loop.call_later(self.interval_s, self._run)  # busy: stay scheduled, drain again on the timer
            return
        self.scheduled = False
        if items:  # put() between the drain and the flag saw `scheduled` still set
            self.scheduled = True
            self.loop.call_soon(self._run)


def lower_thread_priority(nice: int = 10) -> None:
    """Makes the calling (worker) thread yield the CPU to the event-loop thread on a busy machine: demux and
    muxing tolerate a few ms of delay, the loop (sending to every viewer) does not. Linux: per-thread nice."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


@dataclass(slots=True)
class MediaPacket:
    """One encoded packet as the source produced it. ``packet`` is shared between sinks: subscribers read its bytes
    and never mutate it (copy with ``av.Packet(bytes(p))`` to mux or re-time). Only a source's own sinks
    (``RtspSource.add_sink``), which run in its thread before the packet is published, may set its timestamps and
    stream (to mux it without a copy); everyone reads the timing from the fields here, never from ``packet``."""

    kind: str  # "video" | "audio"
    packet: av.Packet
    pts: int
    dts: int
    time_base: Fraction
    keyframe: bool
    size: int
    wall: float  # time.time() at arrival
    mono: float  # time.monotonic() at arrival
    seq: int = 0  # numbered by Stream.ingest (0: published on the loop, never a duplicate)

    @property
    def seconds(self) -> float:
        # plain float arithmetic: Fraction × int builds two Fractions (~3 µs), per packet on the hot path
        tb = self.time_base
        return self.dts * tb.numerator / tb.denominator


@dataclass(slots=True)
class StreamInfo:
    codec: str  # FFmpeg codec name: "h264" | "hevc"
    width: int
    height: int
    fps: float | None
    time_base: Fraction
    extradata: bytes | None = None
    profile: str | None = None
    pix_fmt: str | None = None
    audio_codec: str | None = None  # "aac" | "pcm_alaw" | "pcm_mulaw" | ...
    audio_rate: int | None = None
    audio_channels: int | None = None
    audio_time_base: Fraction | None = None
    audio_extradata: bytes | None = None

    def public(self) -> dict[str, Any]:
        return {"codec": self.codec, "width": self.width, "height": self.height, "fps": self.fps,
                "profile": self.profile, "audio_codec": self.audio_codec}


@dataclass(slots=True)
class Reset:
    """Put in a subscriber's queue when the source (re)connects: the codec parameters may have changed and the
    timestamps restart. ``info`` is None when the source went away."""

    info: StreamInfo | None


class Source(Protocol):
    def start(self) -> None: ...
    async def stop(self) -> None: ...


class Subscriber:
    def __init__(self, stream: Stream, name: str, maxsize: int, video_only: bool) -> None:
        self.stream = stream
        self.name = name
        self.maxsize = maxsize
        self.video_only = video_only
        self.queue: collections.deque[MediaPacket | Reset] = collections.deque()
        self.dropped = 0
        self.delivered = 0
        self.waiting_keyframe = True
        self.closed = False
        self.after_seq = 0  # packets up to this number came with the GOP cache at subscribe time
        self._event = asyncio.Event()

    def _push(self, item: MediaPacket | Reset) -> None:
        self.queue.append(item)
        self._event.set()

    def offer(self, mp: MediaPacket) -> None:
        if self.closed or (self.video_only and mp.kind != "video") or (mp.seq and mp.seq <= self.after_seq):
            return
        if self.waiting_keyframe:
            if not (mp.kind == "video" and mp.keyframe):
                return
            self.waiting_keyframe = False
        if len(self.queue) >= self.maxsize:
            # Too slow: drop everything queued and resume at the next keyframe (the decoder needs one anyway).
            self.dropped += sum(1 for x in self.queue if isinstance(x, MediaPacket)) + 1
            resets = [x for x in self.queue if isinstance(x, Reset)]
            self.queue.clear()
            self.queue.extend(resets[-1:])
            if mp.kind == "video" and mp.keyframe:
                self._push(mp)
            else:
                self.waiting_keyframe = True
            return
        self._push(mp)

    def reset(self, info: StreamInfo | None) -> None:
        if self.closed:
            return
        self.queue = collections.deque(x for x in self.queue if isinstance(x, MediaPacket))
        self._push(Reset(info))
        self.waiting_keyframe = True

    async def get(self) -> MediaPacket | Reset | None:
        """The next packet or reset; None once unsubscribed."""
        while not self.queue:
            if self.closed:
                return None
            self._event.clear()
            await self._event.wait()
        self.delivered += 1
        return self.queue.popleft()

    def get_nowait(self) -> MediaPacket | Reset | None:
        return self.queue.popleft() if self.queue else None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._event.set()
            self.stream.unsubscribe(self)


@dataclass
class _Window:
    span_s: float = 5.0
    items: collections.deque[tuple[float, int, bool, bool]] = field(default_factory=collections.deque)

    def add(self, mono: float, size: int, video: bool, key: bool) -> None:
        self.items.append((mono, size, video, key))
        while self.items and mono - self.items[0][0] > self.span_s:
            self.items.popleft()


class Stream:
    """A hub entry: one source, many subscribers, the latest GOP and the statistics.

    The GOP cache and the statistics are guarded by a lock, because a threaded source updates them in its own
    thread (:meth:`ingest`); subscribers, keyframe waiters and everything else belong to the event loop."""

    def __init__(self, key: str, source_factory: Callable[[Stream], Source], *, idle_timeout_s: float = 30.0,
                 always_on: bool = False) -> None:
        self.key = key
        self._factory = source_factory
        self.idle_timeout_s = idle_timeout_s
        self.always_on = always_on
        self.source: Source | None = None
        self.info: StreamInfo | None = None
        self.subscribers: set[Subscriber] = set()
        self.gop: list[MediaPacket] = []  # replaced at every keyframe (a reader may keep the list it got)
        self._gop_bytes = 0
        self._lock = threading.Lock()  # GOP cache, sequence number and statistics (source thread vs loop)
        self._seq = 0
        # Does anyone on the loop want this stream's packets (a subscriber, a keyframe waiter)? Read by a threaded
        # source per packet: when false the packet stays in its thread (recorded, cached, counted) — no handoff.
        self.wanted = False
        self._idle: asyncio.TimerHandle | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self._info_waiters: list[asyncio.Future[None]] = []
        self._key_waiters: list[asyncio.Future[None]] = []
        # statistics
        self.packets = 0
        self.bytes = 0
        self.last_packet_wall: float | None = None
        self.last_packet_mono: float | None = None
        self._window = _Window()
        self._keyframes: collections.deque[float] = collections.deque(maxlen=8)
        self.dropped_closed = 0  # dropped packets of subscribers that are gone

    # --- source side -------------------------------------------------------------------------------------------
    def set_info(self, info: StreamInfo | None, clear_gop: bool = True) -> None:
        """On the loop: the source (re)connected with these parameters, or went away (None). A threaded source
        clears the GOP itself when its session starts (:meth:`clear_gop`) and passes ``clear_gop=False``: by the
        time this runs, its thread may already have cached the new session's first keyframe."""
        self.info = info
        if clear_gop:
            self.clear_gop()
        for s in list(self.subscribers):
            s.reset(info)
        if info is not None:
            for f in self._info_waiters:
                if not f.done():
                    f.set_result(None)
            self._info_waiters.clear()

    def clear_gop(self) -> None:
        """Any thread."""
        with self._lock:
            old, self.gop, self._gop_bytes = self.gop, [], 0
        del old  # freeing packets releases the GIL: not while holding the lock

    def ingest(self, mp: MediaPacket) -> bool:
        """Any thread (a source's): numbers the packet, counts it and caches it in the GOP. True when the loop wants
        it (:meth:`deliver`), i.e. someone there is subscribed or waiting for a keyframe."""
        old: list[MediaPacket] | None = None
        with self._lock:
            self._seq += 1
            mp.seq = self._seq
            self.packets += 1
            self.bytes += mp.size
            self.last_packet_wall = mp.wall
            self.last_packet_mono = mp.mono
            video = mp.kind == "video"
            self._window.add(mp.mono, mp.size, video, mp.keyframe)
            if video and mp.keyframe:
                self._keyframes.append(mp.mono)
                old, self.gop, self._gop_bytes = self.gop, [mp], mp.size
            elif self.gop:
                if len(self.gop) < GOP_MAX_PACKETS and self._gop_bytes < GOP_MAX_BYTES:
                    self.gop.append(mp)
                    self._gop_bytes += mp.size
                else:
                    old, self.gop, self._gop_bytes = self.gop, [], 0
            wanted = self.wanted
        del old  # the previous GOP is freed here, outside the lock (freeing packets releases the GIL)
        return wanted

    def deliver(self, mp: MediaPacket) -> None:
        """On the loop: an ingested packet to the keyframe waiters and subscribers."""
        if self._key_waiters and mp.kind == "video" and mp.keyframe:
            for f in self._key_waiters:
                if not f.done():
                    f.set_result(None)
            self._key_waiters.clear()
            self._update_wanted()
        for s in self.subscribers:
            s.offer(mp)

    def publish(self, mp: MediaPacket) -> None:
        """On the loop: :meth:`ingest` and :meth:`deliver` in one (sources that run on the loop)."""
        self.ingest(mp)
        self.deliver(mp)

    def _update_wanted(self) -> None:
        self.wanted = bool(self.subscribers or self._key_waiters)

    # --- sink side ---------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.source is not None

    def ensure_started(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self.source is None:
            self.source = self._factory(self)
            self.source.start()

    def subscribe(self, name: str, *, maxsize: int = 120, video_only: bool = False,
                  with_gop: bool = True) -> Subscriber:
        sub = Subscriber(self, name, maxsize, video_only)
        self.subscribers.add(sub)
        # Under the lock, flag first, then the snapshot: a packet the source ingests after the snapshot sees the
        # flag and is delivered; one ingested before it (perhaps still in the handoff) is in the snapshot, and the
        # subscriber skips its delivery by its number.
        with self._lock:
            self.wanted = True
            gop = list(self.gop) if with_gop else []
            seq = self._seq
        if self.info is not None:
            sub.queue.append(Reset(self.info))
        for mp in gop:
            sub.offer(mp)
        sub.after_seq = seq
        self.ensure_started()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.discard(sub)
            self.dropped_closed += sub.dropped
            self._update_wanted()
        self.release_if_idle()

    def release_if_idle(self) -> None:
        if self.subscribers or self.always_on or self.source is None or self._idle is not None:
            return
        self._idle = asyncio.get_running_loop().call_later(self.idle_timeout_s, self._idle_stop)

    def set_always_on(self, on: bool) -> None:
        self.always_on = on
        if on:
            self.ensure_started()
        else:
            self.release_if_idle()

    def _idle_stop(self) -> None:
        self._idle = None
        if self.subscribers or self.always_on or self.source is None:
            return
        log.info("stream %s idle: releasing its source", self.key)
        t = asyncio.get_running_loop().create_task(self.stop_source())
        self._stopping.add(t)
        t.add_done_callback(self._stopping.discard)

    async def stop_source(self) -> None:
        src, self.source = self.source, None
        if src is not None:
            await src.stop()
        self.set_info(None)

    async def close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        for s in list(self.subscribers):
            s.close()
        await self.stop_source()
        for t in list(self._stopping):
            with contextlib.suppress(Exception):
                await t

    async def wait_keyframe(self, timeout_s: float) -> bool:
        """Waits until the GOP cache holds a keyframe (starts the source if needed by the caller)."""
        f: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:  # the check and the flag together: a keyframe ingested after the check is delivered
            if self.gop:
                return True
            self._key_waiters.append(f)
            self.wanted = True
        try:
            async with asyncio.timeout(timeout_s):
                await f
            return True
        except TimeoutError:
            return False
        finally:
            if f in self._key_waiters:
                self._key_waiters.remove(f)
                self._update_wanted()

    # --- statistics --------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:  # a threaded source appends meanwhile
            window = list(self._window.items)
            keys = list(self._keyframes)
            gop_packets = len(self.gop)
        items = [x for x in window if now - x[0] <= self._window.span_s]
        span = min(self._window.span_s, now - items[0][0]) if items else 0.0
        span = max(span, 1e-3)
        video = [x for x in items if x[2]]
        kfi = (keys[-1] - keys[0]) / (len(keys) - 1) if len(keys) >= 2 else None
        viewers = sum(1 for s in self.subscribers if s.name.startswith(("webrtc", "playback")))
        return {
            "running": self.running,
            "bitrate_kbps": round(sum(x[1] for x in items) * 8 / span / 1000, 1) if items else 0.0,
            "fps": round(len(video) / span, 2) if video else 0.0,
            "keyframe_interval_s": round(kfi, 3) if kfi else None,
            "viewers": viewers,
            "subscribers": len(self.subscribers),
            "dropped_packets": self.dropped_closed + sum(s.dropped for s in self.subscribers),
            "packets": self.packets,
            "bytes": self.bytes,
            "last_packet_at": self.last_packet_wall,
            "gop_packets": gop_packets,
            **(self.info.public() if self.info else {}),
        }
