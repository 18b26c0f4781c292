"""Where the event loop stops: a stall recorder that runs inside the server, always.

Every request shares one event loop, so whatever holds it for tens of milliseconds (a large inline
statement, a big JSON body parsed on the loop, a garbage collection) delays every request in flight. A
profiler finds that only while someone runs one; this finds it in the running server, cheaply:

- a heartbeat on the loop every ``tick`` measures how late the loop ran it (its *lag*), counted in a
  histogram;
- a watchdog thread looks at the heartbeat as often; while it is overdue by more than ``threshold`` it
  samples the loop thread's Python stack (``sys._current_frames``) every ``SAMPLE_S`` until the beat comes;
- a late beat (lag above ``threshold``) is a *stall*, kept with its wall-clock start, its length, the
  garbage collections that ran in it (``gc.callbacks``) and its samples folded into distinct stacks.

A stall with no samples held the GIL throughout (C code, a collection); its ``gc_ms`` tells which.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import gc
import itertools
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger("ecs.loop")

SAMPLE_S = 0.005  # while a beat is overdue: the stack every 5 ms
LAG_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
KEEP_STALLS = 200
MAX_FRAMES = 24  # innermost frames kept per sample; the outer ones are the loop's own machinery
LOG_STALL_MS = 250.0  # a stall this long is also logged (at most one line per LOG_EVERY_S)
LOG_EVERY_S = 10.0
_ROOT = str(Path(__file__).resolve().parents[2]) + "/"


def _where(frame: FrameType) -> str:
    path = frame.f_code.co_filename
    if path.startswith(_ROOT):
        path = path[len(_ROOT):]
    elif "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    else:
        path = path.rsplit("/", 2)[-1] if path.count("/") > 1 else path
    return f"{path}:{frame.f_lineno} {frame.f_code.co_name}"


def _stack(frame: FrameType | None) -> tuple[str, ...]:
    """Outermost first, at most MAX_FRAMES innermost frames."""
    out: list[str] = []
    while frame is not None and len(out) < MAX_FRAMES:
        out.append(_where(frame))
        frame = frame.f_back
    out.reverse()
    return tuple(out)


@dataclass
class Stall:
    at: float  # wall clock (epoch seconds) when the beat was due
    ms: float  # how late it came
    gc_ms: float  # collections during it
    samples: collections.Counter[tuple[str, ...]] = field(default_factory=collections.Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"at": dt.datetime.fromtimestamp(self.at, dt.UTC), "ms": round(self.ms, 1),
                "gc_ms": round(self.gc_ms, 1), "samples": sum(self.samples.values()),
                "stacks": [{"count": n, "frames": list(s)} for s, n in self.samples.most_common(5)]}


class LoopWatch:
    """One per app; ``start`` on its loop, ``stop`` at shut-down."""

    def __init__(self, tick_ms: float = 10.0, threshold_ms: float = 50.0) -> None:
        self.tick_s = tick_ms / 1000
        self.threshold_s = threshold_ms / 1000
        self.started_at: float | None = None
        self.beats = 0
        self.max_lag_ms = 0.0
        self.histogram = [0] * (len(LAG_BUCKETS_MS) + 1)
        self.stalled_ms = 0.0
        self.stalls: collections.deque[Stall] = collections.deque(maxlen=KEEP_STALLS)
        self.stall_count = 0
        self.gc = {g: {"count": 0, "total_ms": 0.0, "max_ms": 0.0} for g in (0, 1, 2)}
        self._gc_started = 0.0
        self._gc_ms_pending = 0.0  # collections since the last beat
        self._lock = threading.Lock()
        self._samples: list[tuple[str, ...]] = []
        self._due = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged_at = 0.0

    # --- life cycle ---

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self.started_at = time.time()
        self._due = loop.time() + self.tick_s
        self._handle = loop.call_at(self._due, self._beat)
        gc.callbacks.append(self._on_gc)
        self._thread = threading.Thread(target=self._watch, name="ecs-loopwatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None

    # --- on the loop ---

    def _beat(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        lag = max(0.0, now - self._due)
        lag_ms = lag * 1000
        self.beats += 1
        self.max_lag_ms = max(self.max_lag_ms, lag_ms)
        i = 0
        while i < len(LAG_BUCKETS_MS) and lag_ms >= LAG_BUCKETS_MS[i]:
            i += 1
        self.histogram[i] += 1
        with self._lock:
            samples, self._samples = self._samples, []
            gc_ms, self._gc_ms_pending = self._gc_ms_pending, 0.0
        if lag > self.threshold_s:
            self._record(Stall(at=time.time() - lag, ms=lag_ms, gc_ms=gc_ms, samples=collections.Counter(samples)))
        self._due = now + self.tick_s
        self._handle = self._loop.call_at(self._due, self._beat)

    def _record(self, stall: Stall) -> None:
        self.stalls.append(stall)
        self.stall_count += 1
        self.stalled_ms += stall.ms
        if stall.ms >= LOG_STALL_MS and stall.at - self._logged_at >= LOG_EVERY_S:
            self._logged_at = stall.at
            top = stall.samples.most_common(1)
            where = " < ".join(reversed(top[0][0][-4:])) if top else "no Python frame sampled"
            log.warning("event loop stalled %.0f ms (gc %.0f ms): %s", stall.ms, stall.gc_ms, where)

    # --- on the watchdog thread ---

    def _watch(self) -> None:
        frames = sys._current_frames  # how another thread's stack is seen
        period = self.tick_s
        while not self._stop.wait(period):
            assert self._loop is not None
            if time.monotonic() - self._due > self.threshold_s:  # loop.time() is time.monotonic()
                frame = frames().get(self._loop_thread)
                if frame is not None:
                    stack = _stack(frame)
                    with self._lock:
                        self._samples.append(stack)
                period = SAMPLE_S
            else:
                period = self.tick_s

    # --- in whichever thread collects ---

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        ms = (time.perf_counter() - self._gc_started) * 1000
        g = self.gc.get(info.get("generation", 2))
        if g is not None:
            g["count"] += 1
            g["total_ms"] += ms
            g["max_ms"] = max(g["max_ms"], ms)
        with self._lock:
            self._gc_ms_pending += ms

    # --- reporting ---

    def report(self, since: dt.datetime | None = None, limit: int = 50, heap: bool = False) -> dict[str, Any]:
        after = since.timestamp() - 1e-6 if since is not None else None  # `at` is shown to the microsecond
        stalls = [s for s in self.stalls if after is None or s.at >= after]
        stalls.sort(key=lambda s: s.at, reverse=True)
        labels = [f"<{LAG_BUCKETS_MS[0]}"] + [
            f"{lo}-{hi}" for lo, hi in itertools.pairwise(LAG_BUCKETS_MS)] + [
            f">={LAG_BUCKETS_MS[-1]}"]
        return {
            "running": self._handle is not None, "tick_ms": self.tick_s * 1000, "threshold_ms": self.threshold_s * 1000,
            "started_at": dt.datetime.fromtimestamp(self.started_at, dt.UTC) if self.started_at else None,
            "beats": self.beats, "max_lag_ms": round(self.max_lag_ms, 1),
            "lag_histogram_ms": dict(zip(labels, self.histogram, strict=True)),
            "stall_count": self.stall_count, "stalled_ms": round(self.stalled_ms, 1),
            "gc": {f"gen{g}": {"count": v["count"], "total_ms": round(v["total_ms"], 1),
                               "max_ms": round(v["max_ms"], 1)} for g, v in self.gc.items()},
            "stalls": [s.as_dict() for s in stalls[:limit]],
            **({"heap": heap_census()} if heap else {}),
        }


def heap_census(top: int = 15) -> dict[str, Any]:
    """What a full collection walks: the objects in the oldest generation by type (the frozen start-up objects
    excluded). Listing them takes a few ms on the loop: asked for, never periodic."""
    objs = gc.get_objects(generation=2)
    kinds = collections.Counter(type(o).__qualname__ for o in objs)
    return {"oldest_generation": len(objs), "frozen": gc.get_freeze_count(),
            "types": dict(kinds.most_common(top))}
