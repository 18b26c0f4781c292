"""Where a request's time went, sent back in a ``Server-Timing`` header (``ECS_SERVER_TIMING``; off by default).

A request under load is slow for reasons its own code does not show: it queued for the process's write lock,
for another process's order lock, for a commit's WAL flush, for a read connection, for an offload worker, or
for the event loop itself. Each of those waits is timed where it happens (``phase``) and added to the request's
``Timing``, found through a context variable, so no function signature carries it. The API wrapper starts one
per request (``core/api.py``) and writes the header; a call run in an offload worker brings its own phases
back, prefixed ``w.`` (``core/offload.py``). ``bench/api_latency.py`` reads the header of every response and
reports, per operation, where the slowest requests spent their time — and how much of it the server never saw
(the client's time minus ``total``: the socket, the loop not yet reading it, the client's own loop).

Phases are wall time and may overlap (a readings batch evaluates its rules on a read session while its INSERT
runs), so they need not add up to ``total``. Off, ``phase`` costs one context-variable lookup.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

HEADER = "Server-Timing"


class Timing:
    """One request's phases: name → (seconds, count)."""

    __slots__ = ("phases", "start")

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.phases: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float, count: int = 1) -> None:
        p = self.phases.get(name)
        if p is None:
            self.phases[name] = [seconds, count]
        else:
            p[0] += seconds
            p[1] += count

    def merge(self, phases: dict[str, list[float]], prefix: str) -> None:
        for name, (seconds, count) in phases.items():
            self.add(prefix + name, seconds, int(count))

    def header(self) -> str:
        """``total;dur=12.3, read;dur=4.1;desc=2, …`` — milliseconds; ``desc`` counts a phase entered twice or
        more (``Server-Timing`` allows a description per metric)."""
        parts = [f"total;dur={(time.perf_counter() - self.start) * 1000:.2f}"]
        for name, (seconds, count) in self.phases.items():
            parts.append(f"{name};dur={seconds * 1000:.2f}" + (f";desc={int(count)}" if count > 1 else ""))
        return ", ".join(parts)


_CURRENT: ContextVar[Timing | None] = ContextVar("ecs_request_timing", default=None)


def start() -> Timing:
    """Begin timing the current request (the API wrapper's task; tasks it creates inherit it)."""
    t = Timing()
    _CURRENT.set(t)
    return t


def current() -> Timing | None:
    return _CURRENT.get()


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as ``name`` in the current request, if one is timed."""
    t = _CURRENT.get()
    if t is None:
        yield
        return
    t0 = time.perf_counter()
    try:
        yield
    finally:
        t.add(name, time.perf_counter() - t0)


def parse(header: str) -> dict[str, float]:
    """A ``Server-Timing`` value → name → milliseconds (what a client or a test reads back)."""
    out: dict[str, float] = {}
    for metric in header.split(","):
        name, *params = (p.strip() for p in metric.split(";"))
        for p in params:
            if p.startswith("dur="):
                try:
                    out[name] = out.get(name, 0.0) + float(p[4:])
                except ValueError:
                    pass
    return out
