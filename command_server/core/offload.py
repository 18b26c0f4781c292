"""Worker processes for requests whose CPU would hold the event loop.

Every request of a server process shares one event loop, so a request that needs ~12 ms of CPU — a readings
batch: its JSON, 500 rows checked, the warning rules evaluated — holds every other request in flight that
long, and two or three batches arriving together (the slowest requests of bench/api_latency.py) much longer.
An offloaded call runs in a worker process instead, on another core; the server's loop only reads the body
and waits for the answer.

A worker is a headless command server: its own event loop, ``Database`` and ``Writer``; no routes, no pump,
no sockets. It runs ``async def fn(svc, actor, *args)``, named ``"package.module:function"``. Its writes are
ordered with every other process's by the advisory lock that orders event and audit ids (``core/uow.py``),
exactly as a second server process's are; after each call the server tells its bus the last event id the call
wrote (``bus.notify``), so realtime delivery and the SMS dispatcher see its events at once.

PostgreSQL only (``Settings.offload_workers``): on SQLite the writers of a database are ordered by one
process's write lock. With no workers the call runs in the server process itself — the same function, so what
a request does never depends on where it ran.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing as mp
import multiprocessing.util
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from . import timing
from .errors import ApiError, integrity_conflict

if TYPE_CHECKING:
    from .config import Settings
    from .services import Services

log = logging.getLogger("ecs.offload")

Fn = Callable[..., Awaitable[Any]]
WARM_HOLD_S = 0.3  # each warm-up call holds its worker this long, so that every worker gets one
PARENT_CHECK_S = 0.5


class OffloadError(RuntimeError):
    """An offloaded call failed in its worker for a reason the client did not cause (logged there)."""


def resolve(name: str) -> Fn:
    """``"package.module:function"`` → the coroutine function."""
    module, _, attr = name.partition(":")
    fn = getattr(importlib.import_module(module), attr, None)
    if fn is None or not asyncio.iscoroutinefunction(fn):
        raise ValueError(f"{name} is not an async function")
    return fn  # type: ignore[no-any-return]


class Offload:
    """The server's pool of workers (none: calls run in the server itself). One per app."""

    def __init__(self, svc: Services, workers: int) -> None:
        self.svc = svc
        self.workers = workers
        self.pids: list[int] = []
        self.restarts = 0
        self._pool: ProcessPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._pool is not None

    async def start(self) -> None:
        """Start the workers and wait until each has connected to the database, so that the first request
        does not wait for a worker's imports. A worker that cannot start is logged, and calls run here."""
        if self.workers > 0:
            await self._open()

    async def _open(self) -> None:
        pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                   initializer=_worker_init, initargs=(self.svc.settings,))
        loop = asyncio.get_running_loop()
        try:
            pids = await asyncio.gather(*(loop.run_in_executor(pool, _warm, WARM_HOLD_S)
                                          for _ in range(self.workers)))
        except Exception:
            log.exception("offload workers did not start; their calls run in the server process")
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
            return
        self.pids = sorted(set(pids))
        self._pool = pool
        log.info("%d offload worker(s) ready: pids %s", self.workers, self.pids)

    async def stop(self) -> None:
        """Calls in progress finish (a batch being stored commits); queued ones are cancelled."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def run(self, fn: str, actor: Any, *args: Any) -> Any:
        """``fn(svc, actor, *args)`` in a worker (or here, without workers). Its ``ApiError`` is raised here
        as it was raised there."""
        pool = self._pool
        if pool is None:
            return await resolve(fn)(self.svc, actor, *args)
        loop = asyncio.get_running_loop()
        try:
            with timing.phase("worker"):
                kind, value, last_event, phases = await loop.run_in_executor(
                    pool, _call, fn, actor, args, self.svc.config.generation)
        except BrokenProcessPool:
            await self._replace(pool)
            raise ApiError(503, "worker_restarted", "the worker process handling the request stopped before it "
                                                    "answered; the request may or may not have been carried out "
                                                    "— send it again") from None
        if last_event:
            self.svc.bus.notify(last_event)
        if phases and (t := timing.current()) is not None:
            t.merge(phases, "w.")
        if kind == "ok":
            return value
        if kind == "api_error":
            raise ApiError(*value)
        raise OffloadError(f"{fn} failed in an offload worker: {value}")

    async def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A worker died (killed, out of memory): the pool is unusable; the first caller to see it opens a
        new one, the others wait for it."""
        if self._pool is not broken:
            return
        self._pool = None
        self.restarts += 1
        log.error("an offload worker died; starting the workers again (restart %d)", self.restarts)
        broken.shutdown(wait=False, cancel_futures=True)
        await self._open()


# --- in the worker process ------------------------------------------------------------------------------

@dataclass
class _Worker:
    loop: asyncio.AbstractEventLoop
    svc: Services
    events: list[int] = field(default_factory=list)
    fns: dict[str, Fn] = field(default_factory=dict)


_WORKER: _Worker | None = None


def _worker_init(settings: Settings) -> None:
    global _WORKER
    from .bus import InMemoryBus
    from .crypto import configure
    from .db import Database
    from .heap import settle_after_startup
    from .inline_db import hand_back_quickly
    from .pump import EventPump
    from .security import SessionCache
    from .services import Services
    from .uow import Writer

    hand_back_quickly()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the server stops the workers
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="offload-parent-watch",
                     daemon=True).start()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s")
    configure(settings.sm4_key)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    db = Database(settings.db_url, schema=settings.db_schema)
    events: list[int] = []
    # The bus and the pump are never started: the server's pump delivers what a call wrote.
    svc = Services(settings=settings, db=db, write=Writer(db, events.append), bus=InMemoryBus(), pump=EventPump(db),
                   sessions=SessionCache())
    loop.run_until_complete(db.ping())
    _WORKER = _Worker(loop, svc, events)
    # connections closed properly when the worker exits (multiprocessing skips atexit in its children)
    multiprocessing.util.Finalize(None, lambda: loop.run_until_complete(db.dispose()), exitpriority=10)
    if settings.gc_freeze:  # as the server does: imports and mappers live for good
        settle_after_startup()


def _exit_with_parent(parent: int) -> None:
    """A killed server's workers would live on: their task queue stays open in each other. An open transaction
    of theirs is rolled back when the connection drops."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _warm(hold_s: float) -> int:
    time.sleep(hold_s)
    return os.getpid()


def _call(fn: str, actor: Any, args: tuple[Any, ...], config_generation: int
          ) -> tuple[str, Any, int, dict[str, list[float]] | None]:
    """(kind, value, last event id written, the call's timed phases or None): ``ok`` with the result,
    ``api_error`` with ApiError's arguments, or ``error`` with a description (the traceback is logged here).
    ``config_generation``: how far the server has seen configuration change (``core/config_cache.py``)."""
    w = _WORKER
    assert w is not None, "offload worker not initialised"
    w.events.clear()
    w.svc.config.advance(config_generation)
    # the task run_until_complete creates copies this thread's context, and with it the call's Timing
    t = timing.start() if w.svc.settings.server_timing else None
    try:
        f = w.fns.get(fn)
        if f is None:
            f = w.fns[fn] = resolve(fn)
        with timing.phase("call"):
            value = w.loop.run_until_complete(f(w.svc, actor, *args))
        kind, out = "ok", value
    except IntegrityError:
        e = integrity_conflict()
        kind, out = "api_error", (e.status, e.code, e.message, e.details)
    except ApiError as e:
        kind, out = "api_error", (e.status, e.code, e.message, e.details)
    except Exception as exc:
        log.exception("offloaded call %s failed", fn)
        kind, out = "error", f"{type(exc).__name__}: {exc}"[:500]
    return kind, out, max(w.events, default=0), None if t is None else t.phases
