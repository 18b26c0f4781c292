"""Recording without re-encoding: PyAV remux into fragmented MP4 segments, retention, clip export (cut at keyframes)
and snapshots (one keyframe decoded to JPEG).

Two recorders, one job each, sharing :class:`SegmentWriter`, the file names and the index entries:

- :class:`DirectRecorder` — continuous recording. Fed by the camera's RTSP source in its demux thread (a source
  sink, not a hub subscriber), so a recorded packet never goes through the event loop or another thread.
- :class:`Recorder` — emergency recording. A hub subscriber, because it starts with the hub's GOP cache as pre-roll
  and may stop after a duration; it muxes in batches on the writer threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from .hub import MediaPacket, Reset, StreamInfo, Subscriber, lower_thread_priority
from .webrtc import annexb_nal_types, avcc_to_annexb

log = logging.getLogger("media_gateway.recording")

FRAG_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
_NAME = re.compile(r"_(\d{8}T\d{6}\.\d{3})Z_(c|e)(?:-[0-9a-f]+)?\.mp4$")
# Audio is not muxed yet: PyAV 18's add_mux_stream cannot set the AudioSpecificConfig an RTSP AAC stream needs
# (no extradata setter), and the mp4 muxer does not take G.711. Video-only files are always playable.
MP4_AUDIO: set[str] = set()


def segment_name(camera_id: str, start: datetime, emergency: bool, tag: str = "") -> str:
    """``<camera>_<UTC start>Z_<c|e>[-<tag>].mp4``; ``tag`` (a recording id prefix) separates two recordings of
    one camera that start on the same keyframe."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", camera_id)
    kind = ("e" if emergency else "c") + (f"-{tag}" if tag else "")
    return f"{safe}_{start.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')[:-3]}Z_{kind}.mp4"


def segment_start(path: Path) -> datetime | None:
    m = _NAME.search(path.name)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)


def is_emergency(path: Path) -> bool:
    m = _NAME.search(path.name)
    return bool(m and m.group(2) == "e")


class SegmentWriter:
    """One fragmented MP4 file (a crash leaves every finished fragment playable). Blocking: call from a thread."""

    def __init__(self, path: Path, info: StreamInfo) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.out = av.open(str(path), "w", format="mp4", options={"movflags": FRAG_MOVFLAGS, "flush_packets": "1"})
        self.v = self.out.add_mux_stream(info.codec, rate=Fraction(info.fps).limit_denominator(1001) if info.fps
                                         else None, width=info.width, height=info.height)
        self.v.time_base = info.time_base
        self.a = None
        if info.audio_codec in MP4_AUDIO and info.audio_rate:
            try:
                self.a = self.out.add_mux_stream(info.audio_codec, rate=info.audio_rate)
                if info.audio_time_base:
                    self.a.time_base = info.audio_time_base
            except ValueError:
                self.a = None
        # add_mux_stream has no codec context: PyAV extracts the extradata from the first keyframe (extract_extradata
        # BSF), so the first keyframe must carry the parameter sets; they are put in front when it does not.
        ed = info.extradata or b""
        annexb = ed.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))
        self.param_sets = avcc_to_annexb(ed) if info.codec == "h264" else (ed if annexb else b"")
        self.codec = info.codec
        self.base_s: float | None = None
        self.first_s: float | None = None
        self.last_s: float | None = None
        self.frames = 0
        self.has_audio = False
        self._base: dict[str, int] = {}  # kind → the segment origin in ticks of its time base

    def write(self, mp: MediaPacket, *, in_place: bool = False) -> None:
        """Muxes one packet, re-timed to the segment's origin. ``in_place``: mux ``mp.packet`` itself (its
        timestamps and stream are overwritten) — only for a source's sink, which runs before the packet is
        published (``hub.MediaPacket``). Otherwise a copy is muxed, because subscribers share the packet.

        The copy is not about bytes (a 20 kB memcpy is nothing): creating and freeing an ``av.Packet`` releases and
        re-takes the GIL three times, and with a demux thread per camera every such hand-over is futex traffic
        (py-spy on 32 cameras: a third of the demux threads' wall time was waiting for the GIL)."""
        tb = mp.time_base
        sec = mp.dts * tb.numerator / tb.denominator  # floats, not Fractions: this runs per packet
        if self.base_s is None:
            if mp.kind != "video" or not mp.keyframe:
                return
            self.base_s = sec
        video = mp.kind == "video"
        stream = self.v if video else self.a
        if stream is None:
            return
        # keyed by kind (one time base each per session): hashing a Fraction is Python code, per packet
        base = self._base.get(mp.kind)
        if base is None:  # the first packet of this kind: the segment's origin in its ticks
            base = self._base[mp.kind] = round(self.base_s * tb.denominator / tb.numerator)
        dts, pts = mp.dts - base, mp.pts - base
        if dts < 0:
            return
        if self.frames == 0 and video and self.param_sets:
            data = bytes(mp.packet)
            nal = annexb_nal_types(data, self.codec)
            if (7 not in nal) if self.codec == "h264" else (32 not in nal):
                data = self.param_sets + data
            pkt = av.Packet(data)
        elif in_place:
            pkt = mp.packet
        else:
            pkt = av.Packet(mp.packet)
        pkt.dts, pkt.pts, pkt.time_base = dts, pts, tb
        pkt.is_keyframe = mp.keyframe
        pkt.stream = stream
        self.out.mux(pkt)
        if video:
            self.frames += 1
            self.first_s = sec if self.first_s is None else self.first_s
            self.last_s = sec
        else:
            self.has_audio = True

    def close(self) -> int:
        with contextlib.suppress(Exception):
            self.out.close()
        return self.path.stat().st_size if self.path.exists() else 0


_ACTIVE: set[Path] = set()  # segment files being written in this process
# Muxing threads, at a lower priority than the event loop (see hub.lower_thread_priority); not the default
# executor, so that recordings never queue behind (or delay) other blocking work. Emergency recordings mux here;
# both recorders close (finalise) their segments here, so that neither the loop nor a demux thread waits for it.
_WRITERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mp4-writer", initializer=lower_thread_priority)


def _in_writer(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    return asyncio.get_running_loop().run_in_executor(_WRITERS, fn, *args)


SegmentCallback = Callable[[dict[str, Any]], Awaitable[None] | None]


def _new_segment_path(root: Path, camera_id: str, wall: float, emergency: bool, rec_id: str) -> Path:
    """The file of a segment starting at ``wall`` (registered as being written)."""
    start = datetime.fromtimestamp(wall, UTC)
    path = root / camera_id / start.strftime("%Y%m%d") / segment_name(camera_id, start, emergency)
    if path.exists() or path in _ACTIVE:
        path = path.with_name(segment_name(camera_id, start, emergency, rec_id[:8]))
    _ACTIVE.add(path)
    return path


def _segment_entry(w: SegmentWriter, size: int, *, camera_id: str, recording_id: str, seg_wall: float | None,
                   emergency: bool, info: StreamInfo | None) -> dict[str, Any] | None:
    """The index entry of a closed segment (what ``on_segment`` gets); None (and the file deleted) when it holds no
    frame."""
    _ACTIVE.discard(w.path)
    if w.first_s is None or w.last_s is None:
        with contextlib.suppress(OSError):
            w.path.unlink()
        return None
    fps = info.fps if info and info.fps else 25.0
    start = datetime.fromtimestamp(seg_wall or time.time(), UTC)
    return {
        "camera_id": camera_id, "recording_id": recording_id, "start": start,
        "end": start + timedelta(seconds=w.last_s - w.first_s + 1.0 / fps), "path": w.path, "size": size,
        "has_audio": w.has_audio, "emergency": emergency, "frames": w.frames,
        "codec": info.codec if info else None,
    }


async def _report(on_segment: SegmentCallback | None, seg: dict[str, Any]) -> None:
    if on_segment is not None:
        try:
            res = on_segment(seg)
            if asyncio.iscoroutine(res):
                await res
        except Exception:
            log.exception("on_segment callback failed for camera %s", seg["camera_id"])


class DirectRecorder:
    """Continuous recording, muxed in the camera's demux thread: the RTSP source calls :meth:`reset` on every
    (re)connect (and with None when a session ends) and :meth:`write` with every packet (``RtspSource.add_sink``).

    Why not a hub subscriber: every packet then went demux thread → event loop (the hub) → writer thread, which cost
    more than the demux and mux themselves (32 cameras at 1080p: ≈ 7–8 % of a core, ``docs/performance.md``).
    Muxing one packet costs a few µs of CPU and a ``write`` to the page cache (``flush_packets``: whole fragments
    reach the file at each keyframe), so it is done where the packet is. What may block — closing a segment (its
    last fragment, the trailer) — runs on the writer threads: at a cut the demux thread only opens the next file.
    A camera drop ends the segment at once; the next session starts a new one (the gap is in the index)."""

    emergency = False

    def __init__(self, camera_id: str, root: Path, *, segment_s: float, on_segment: SegmentCallback | None = None,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.id = uuid.uuid4().hex
        self.camera_id = camera_id
        self.root = root
        self.segment_s = segment_s
        self.on_segment = on_segment
        self.loop = loop or asyncio.get_running_loop()
        self.segments: list[dict[str, Any]] = []
        self.writer: SegmentWriter | None = None
        self.info: StreamInfo | None = None
        self._seg_wall: float | None = None
        self._seg_first_s = 0.0
        self._stopped = False
        self._writing: dict[str, Any] | None = None  # writing()'s answer, built once per segment
        self._lock = threading.Lock()  # the demux thread against the loop (stop, writing); uncontended per packet
        self._pending: set[concurrent.futures.Future[Any]] = set()  # closes and their on_segment calls
        self.failures = 0
        # measured (statistics): the longest the demux thread spent opening a segment and writing a fragment (at a
        # keyframe), and the longest closing a segment took (on a writer thread)
        self.open_ms_max = 0.0
        self.flush_ms_max = 0.0
        self.close_ms_max = 0.0

    @property
    def active_path(self) -> Path | None:
        w = self.writer
        return w.path if w else None

    # --- the demux thread ----------------------------------------------------------------------------------------
    def reset(self, info: StreamInfo | None) -> None:
        """A (re)connect with the stream's parameters, or None when the session ended: the segment ends here."""
        with self._lock:
            self._cut()
            self.info = info

    def write(self, mp: MediaPacket) -> None:
        with self._lock:
            if self._stopped:
                return
            w = self.writer
            if w is not None and mp.kind == "video" and mp.keyframe and \
                    mp.seconds - self._seg_first_s >= self.segment_s:
                self._cut()
                w = None
            if w is None:
                if mp.kind != "video" or not mp.keyframe or self.info is None:
                    return
                t0 = time.perf_counter()
                try:
                    w = self.writer = SegmentWriter(_new_segment_path(self.root, self.camera_id, mp.wall, False,
                                                                      self.id), self.info)
                except Exception:
                    self._failed()
                    return
                self._seg_wall = mp.wall
                self._seg_first_s = mp.seconds
                self._writing = {"path": w.path, "camera_id": self.camera_id, "recording_id": self.id,
                                 "emergency": False, "start": datetime.fromtimestamp(mp.wall, UTC),
                                 "codec": self.info.codec}
                self.open_ms_max = max(self.open_ms_max, (time.perf_counter() - t0) * 1000)
            try:
                # in place: the source calls its sinks before it publishes the packet (no copy, hub.MediaPacket)
                if mp.keyframe:  # the muxer writes the previous fragment (the last GOP) to the file now
                    t0 = time.perf_counter()
                    w.write(mp, in_place=True)
                    self.flush_ms_max = max(self.flush_ms_max, (time.perf_counter() - t0) * 1000)
                else:
                    w.write(mp, in_place=True)
            except Exception:
                self._failed()
                self._cut()

    def _failed(self) -> None:
        self.failures += 1
        if self.failures <= 3 or self.failures % 1000 == 0:
            log.exception("continuous recording of camera %s: write failed (%d)", self.camera_id, self.failures)

    def _cut(self) -> None:
        """Ends the current segment (lock held): it is closed and indexed on a writer thread."""
        w, self.writer = self.writer, None
        self._writing = None
        if w is None:
            return
        fut = _WRITERS.submit(self._finish, w, self._seg_wall, self.info)
        self._pending.add(fut)
        fut.add_done_callback(self._pending.discard)

    # --- a writer thread -----------------------------------------------------------------------------------------
    def _finish(self, w: SegmentWriter, seg_wall: float | None, info: StreamInfo | None) -> None:
        t0 = time.perf_counter()
        size = w.close()
        self.close_ms_max = max(self.close_ms_max, (time.perf_counter() - t0) * 1000)
        seg = _segment_entry(w, size, camera_id=self.camera_id, recording_id=self.id, seg_wall=seg_wall,
                             emergency=False, info=info)
        if seg is None:
            return
        self.segments.append(seg)
        try:  # on the loop; stop() waits for it through this future
            rep = asyncio.run_coroutine_threadsafe(_report(self.on_segment, seg), self.loop)
        except RuntimeError:  # the loop is closed: nobody to tell
            return
        self._pending.add(rep)
        rep.add_done_callback(self._pending.discard)

    # --- the loop ----------------------------------------------------------------------------------------------
    def writing(self) -> dict[str, Any] | None:
        """The segment being written, as :func:`recover_segment` needs it should this process die. Lock-free (one
        reference, replaced by the demux thread): a worker asks every 0.5 s, and the loop must never wait for a
        demux thread that is writing a fragment."""
        return self._writing

    async def stop(self) -> None:
        """Closes the current segment; returns once every closed segment has been reported (``on_segment``)."""
        with self._lock:
            self._stopped = True
            self._cut()
        while self._pending:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in list(self._pending)), return_exceptions=True)


class Recorder:
    """A hub sink that writes segments: emergency recordings (continuous ones are :class:`DirectRecorder`'s). They
    start with the GOP cache as pre-roll and may end after ``duration_s`` (measured from the request). A camera drop
    closes the segment; recording resumes in a new one when the camera is back (the gap is visible in the index).
    Packets reach it through the event loop (the hub), and it writes them in batches on the writer threads, so that
    muxing never runs on the loop."""

    def __init__(self, camera_id: str, sub: Subscriber, root: Path, *, segment_s: float, emergency: bool = False,
                 duration_s: float | None = None, on_segment: SegmentCallback | None = None,
                 info: StreamInfo | None = None) -> None:
        self.id = uuid.uuid4().hex
        self.camera_id = camera_id
        self.sub = sub
        self.root = root
        self.segment_s = segment_s
        self.emergency = emergency
        self.duration_s = duration_s
        self.on_segment = on_segment
        self.info = info
        self.started_wall = time.time()
        self.segments: list[dict[str, Any]] = []
        self.writer: SegmentWriter | None = None
        self._seg_wall: float | None = None
        self._seg_first_s = 0.0
        self._stop = asyncio.Event()
        self._pause: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self.batch_interval_s = 0.25

    @property
    def active_path(self) -> Path | None:
        return self.writer.path if self.writer else None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"recorder:{self.camera_id}")

    async def stop(self) -> None:
        self._stop.set()
        if self._pause is not None and not self._pause.done():
            self._pause.set_result(None)
        self.sub.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        # Written in batches: one thread hop per ~0.25 s instead of one per packet. This loop runs 4 times a second
        # per recording (128/s at 32 cameras) on the event loop that also sends every viewer's packets, so it keeps
        # to plain futures: no task per wait, no TimeoutError per pause. (asyncio.wait_for here cost the loop
        # thread 1.2 % of a core of its 5.6 % when recording 32 cameras at 1080p.)
        end_mono = time.monotonic() + self.duration_s if self.duration_s else None
        try:
            while not self._stop.is_set():
                if end_mono is not None and time.monotonic() >= end_mono:
                    break
                batch = self._drain()
                if not batch:  # nothing queued: wait for the next packet
                    item = await self._next(end_mono)
                    if item is None:
                        break
                    batch = [item, *self._drain()]
                if end_mono is not None:  # packets that arrived after the end are not recorded
                    batch = [b for b in batch if not isinstance(b, MediaPacket) or b.mono <= end_mono]
                await self._write_batch(batch)
                if not self._stop.is_set():
                    await self._sleep(self.batch_interval_s)
        except Exception:
            log.exception("recorder for camera %s failed", self.camera_id)
        finally:
            await self._close_segment()
            self.sub.close()
            self.done.set()

    def _drain(self, limit: int = 4096) -> list[MediaPacket | Reset]:
        out: list[MediaPacket | Reset] = []
        while len(out) < limit:
            nxt = self.sub.get_nowait()
            if nxt is None:
                break
            out.append(nxt)
        return out

    async def _next(self, end_mono: float | None) -> MediaPacket | Reset | None:
        """The next item, or None when unsubscribed or (a timed recording) at its end."""
        if end_mono is None:
            return await self.sub.get()
        get = asyncio.ensure_future(self.sub.get())
        done, _ = await asyncio.wait({get}, timeout=max(0.0, end_mono - time.monotonic()))
        if not done:
            get.cancel()
            return None
        return get.result()

    async def _sleep(self, seconds: float) -> None:
        """A pause that :meth:`stop` cuts short."""
        loop = asyncio.get_running_loop()
        self._pause = fut = loop.create_future()
        timer = loop.call_later(seconds, _resolve, fut)
        try:
            await fut
        finally:
            timer.cancel()
            self._pause = None

    async def _write_batch(self, batch: list[MediaPacket | Reset]) -> None:
        pending: list[MediaPacket] = []

        async def flush() -> None:
            if pending and self.writer is not None:
                await _in_writer(self._write_many, self.writer, list(pending))
            pending.clear()

        for item in batch:
            if isinstance(item, Reset):
                await flush()
                await self._close_segment()
                if item.info is not None:
                    self.info = item.info
                continue
            if self.writer is not None and item.kind == "video" and item.keyframe and \
                    item.seconds - self._seg_first_s >= self.segment_s:
                await flush()
                await self._close_segment()
            if self.writer is None:
                if not (item.kind == "video" and item.keyframe) or self.info is None:
                    continue
                path = _new_segment_path(self.root, self.camera_id, item.wall, self.emergency, self.id)
                self.writer = await _in_writer(SegmentWriter, path, self.info)
                self._seg_wall = item.wall
                self._seg_first_s = item.seconds
            pending.append(item)
        await flush()

    @staticmethod
    def _write_many(writer: SegmentWriter, items: list[MediaPacket]) -> None:
        for it in items:
            writer.write(it)

    def writing(self) -> dict[str, Any] | None:
        """The segment being written, as :func:`recover_segment` needs it should this process die."""
        w = self.writer
        if w is None:
            return None
        return {"path": w.path, "camera_id": self.camera_id, "recording_id": self.id, "emergency": self.emergency,
                "start": datetime.fromtimestamp(self._seg_wall or time.time(), UTC),
                "codec": self.info.codec if self.info else None}

    async def _close_segment(self) -> None:
        w, self.writer = self.writer, None
        if w is None:
            return
        size = await _in_writer(w.close)
        seg = _segment_entry(w, size, camera_id=self.camera_id, recording_id=self.id, seg_wall=self._seg_wall,
                             emergency=self.emergency, info=self.info)
        if seg is not None:
            self.segments.append(seg)
            await _report(self.on_segment, seg)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def recover_segment(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The index entry (as ``on_segment`` gets it) of a segment whose writer died with its process: the video its
    finished fragments hold. ``meta`` is :meth:`Recorder.writing`. None when no frame made it to the file."""
    path = Path(meta["path"])
    first = last = None
    frames = 0
    fps = 25.0
    try:
        with av.open(str(path)) as inp:
            if not inp.streams.video:
                return None
            vs = inp.streams.video[0]
            rate = vs.average_rate or vs.guessed_rate
            fps = float(rate) if rate else fps
            for pkt in inp.demux(vs):
                if pkt.dts is None or pkt.size == 0:
                    continue
                t = float(pkt.dts * pkt.time_base)
                first = t if first is None else first
                last = t
                frames += 1
    except (OSError, av.error.FFmpegError) as exc:  # a cut-off last fragment: keep what was read before it
        log.info("recovering %s: %s", path.name, exc)
    if first is None or last is None:
        return None
    start = meta["start"]
    return {"camera_id": meta["camera_id"], "recording_id": meta["recording_id"], "start": start,
            "end": start + timedelta(seconds=last - first + 1.0 / fps), "path": path, "size": path.stat().st_size,
            "has_audio": False, "emergency": meta["emergency"], "frames": frames, "codec": meta["codec"]}


# --- retention ---------------------------------------------------------------------------------------------------

def apply_retention(root: Path, *, max_age_days: float | None = None, max_bytes: int | None = None,
                    released: Iterable[Path] = (), active: Iterable[Path] = (),
                    now: datetime | None = None) -> list[Path]:
    """Deletes segments under ``root`` older than ``max_age_days``, then the oldest until the total is at most
    ``max_bytes``. Emergency segments (``*_e.mp4``) are kept unless listed in ``released``; segments being written
    (``active``) are never deleted. Returns the deleted paths (the caller updates its index)."""
    now = now or datetime.now(UTC)
    released_set = {Path(p).resolve() for p in released}
    active_set = {Path(p).resolve() for p in active}
    files: list[tuple[datetime, Path, int]] = []
    for p in root.rglob("*.mp4"):
        start = segment_start(p) or datetime.fromtimestamp(p.stat().st_mtime, UTC)
        files.append((start, p, p.stat().st_size))
    files.sort(key=lambda x: x[0])
    total = sum(f[2] for f in files)
    deleted: list[Path] = []

    def deletable(p: Path) -> bool:
        rp = p.resolve()
        return rp not in active_set and (not is_emergency(p) or rp in released_set)

    for start, p, size in files:
        too_old = max_age_days is not None and now - start > timedelta(days=max_age_days)
        over = max_bytes is not None and total > max_bytes
        if (too_old or over) and deletable(p):
            with contextlib.suppress(OSError):
                p.unlink()
                deleted.append(p)
                total -= size
    for d in sorted({p.parent for p in deleted}, reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()
    return deleted


# --- clip export -------------------------------------------------------------------------------------------------

def export_clip(paths: list[Path], start: datetime, end: datetime, out_path: Path) -> Path:
    """Copies [start, end] out of consecutive segments into one MP4 without re-encoding. The clip starts at the
    last keyframe at or before ``start`` (so it decodes from its first frame) and ends at ``end``."""
    segs = sorted(((segment_start(p), p) for p in paths), key=lambda x: x[0] or datetime.min.replace(tzinfo=UTC))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    out = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
    ov = oa = None
    clip_origin: float | None = None  # absolute epoch seconds of the clip's first frame
    last_dts: dict[str, int] = {}
    try:
        for seg_start, p in segs:
            if seg_start is None:
                continue
            with av.open(str(p)) as inp:
                if not inp.streams.video:
                    continue
                iv = inp.streams.video[0]
                ia = inp.streams.audio[0] if inp.streams.audio else None
                if ov is None:
                    ov = out.add_stream_from_template(iv)
                    if ia is not None:
                        oa = out.add_stream_from_template(ia)
                pending: list[av.Packet] = []  # the GOP before `start`
                started = clip_origin is not None
                for pkt in inp.demux([s for s in (iv, ia) if s is not None]):
                    if pkt.dts is None or pkt.size == 0:
                        continue
                    t_abs = seg_start.timestamp() + float(pkt.dts * pkt.time_base)
                    if t_abs > end.timestamp():
                        if pkt.stream is iv:
                            break
                        continue
                    if not started:
                        if pkt.stream is iv and pkt.is_keyframe:
                            pending = [pkt]
                        elif pending:
                            pending.append(pkt)
                        if t_abs >= start.timestamp() and pending:
                            started = True
                            clip_origin = seg_start.timestamp() + float(pending[0].dts * pending[0].time_base)
                            for q in pending:
                                _mux_rebased(out, q, ov if q.stream is iv else oa, seg_start, clip_origin, last_dts)
                            pending = []
                        continue
                    assert clip_origin is not None
                    target = ov if pkt.stream is iv else oa
                    if target is not None:
                        _mux_rebased(out, pkt, target, seg_start, clip_origin, last_dts)
        if clip_origin is None:
            raise ValueError("no recorded video in the requested range")
    finally:
        out.close()
    if clip_origin is None:
        tmp.unlink(missing_ok=True)
    os.replace(tmp, out_path)
    return out_path


def _mux_rebased(out: Any, pkt: av.Packet, stream: Any, seg_start: datetime, origin: float,
                 last_dts: dict[str, int]) -> None:
    if stream is None:
        return
    shift = round((seg_start.timestamp() - origin) / pkt.time_base)
    dts = pkt.dts + shift
    pts = (pkt.pts if pkt.pts is not None else pkt.dts) + shift
    key = stream.type
    if dts < 0 or (key in last_dts and dts <= last_dts[key]):
        return
    last_dts[key] = dts
    pkt.dts, pkt.pts = dts, pts
    pkt.stream = stream
    out.mux(pkt)


# --- snapshot ----------------------------------------------------------------------------------------------------

def snapshot_jpeg(gop: list[MediaPacket], info: StreamInfo, quality: int = 3) -> bytes:
    """Decodes the GOP's keyframe (only it) and encodes it as a JPEG at the camera's resolution."""
    key = next((mp for mp in gop if mp.kind == "video" and mp.keyframe), None)
    if key is None:
        raise ValueError("no keyframe cached")
    dec = av.CodecContext.create(info.codec, "r")
    if info.extradata:
        dec.extradata = info.extradata
    frames = dec.decode(av.Packet(bytes(key.packet)))
    if not frames:
        frames = dec.decode(None)
    if not frames:
        raise ValueError("the keyframe did not decode")
    frame = frames[0].reformat(format="yuvj420p")
    enc = av.CodecContext.create("mjpeg", "w")
    enc.width, enc.height = frame.width, frame.height
    enc.pix_fmt = "yuvj420p"
    enc.time_base = Fraction(1, 25)
    enc.options = {"qmin": str(quality), "qmax": str(quality)}
    out = b"".join(bytes(p) for p in enc.encode(frame))
    out += b"".join(bytes(p) for p in enc.encode(None))
    return out
