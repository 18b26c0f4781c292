"""Worker processes for requests whose CPU would hold the event loop.

Every request of a server process shares one event loop, so a request that needs ~12 ms of CPU — a readings
batch: its JSON, 500 rows checked, the warning rules evaluated — holds every other request in flight that
long, and two or three batches arriving together (the slowest requests of bench/api_latency.py) much longer.
An offloaded call runs in a worker process instead, on another core; the server's loop only reads the body
and waits for the answer.

A worker is a headless command server: its own event loop, ``Database`` and ``Writer``; no routes, no pump,
no Socket.IO; it talks to the server over a socket pair of its own (``Offload``). It runs
``async def fn(svc, actor, *args)``, named ``"package.module:function"``. Its writes are ordered with every
other process's by the advisory lock that orders event and audit ids (``core/uow.py``), exactly as a second
server process's are; after each call the server tells its bus the last event id the call wrote
(``bus.notify``), so realtime delivery and the SMS dispatcher see its events at once.

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
import pickle
import signal
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
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


class WorkerDied(RuntimeError):
    """The worker handling a call exited before it answered."""


Answer = tuple[str, Any, int, dict[str, list[float]] | None]


class _Link(asyncio.Protocol):
    """One worker as the server sees it: its process and its end of the socket pair, read by the event loop
    itself. A frame is a 4-byte big-endian length and a pickle; each is handed on in the callback that read
    it, so an answer wakes its caller one loop turn after it arrives (a stream reader and a reading task
    took several turns, each as long as the busiest request's step)."""

    def __init__(self, process: Any, on_lost: Callable[[_Link], None]) -> None:
        self.process = process
        self.pid = 0
        self.alive = False
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.call: asyncio.Future[Answer] | None = None
        self.on_answer: Callable[[_Link], None] = lambda link: None
        self._on_lost = on_lost
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while len(buf) >= 4:
            (n,) = struct.unpack_from("!I", buf)
            if len(buf) < 4 + n:
                return
            frame = bytes(buf[4:4 + n])
            del buf[:4 + n]
            try:
                message = pickle.loads(frame)
            except Exception:
                log.exception("offload worker %d: unreadable answer; stopping it", self.pid)
                self.process.kill()
                return
            if not self.ready.done():
                kind, pid = message
                if kind == "ready":
                    self.pid, self.alive = pid, True
                    self.ready.set_result(pid)
                continue
            call, self.call = self.call, None
            if call is not None and not call.done():  # done: its request was cancelled
                call.set_result(message)
            self.on_answer(self)

    def connection_lost(self, exc: Exception | None) -> None:
        was_alive, self.alive = self.alive, False
        if not self.ready.done():
            self.ready.set_exception(WorkerDied("the offload worker exited while starting"))
        if self.call is not None and not self.call.done():
            self.call.set_exception(WorkerDied())
        self.call = None
        if was_alive:
            self._on_lost(self)

    def send(self, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(struct.pack("!I", len(payload)) + payload)

    def close(self) -> None:
        self.alive = False
        if self.transport is not None:
            self.transport.close()  # the worker reads the end of the stream and exits


class Offload:
    """The server's workers (none: calls run in the server itself). One per app.

    Each worker has a socket pair of its own, written and read by the event loop (``_Link``): a call is one
    write and its answer one read, with no thread between the loop and the worker. ``ProcessPoolExecutor``
    had two — its manager thread and its queue's feeder thread, each of which had to win the GIL from the
    busy loop on the way out, and the manager thread again on the way back (docs/performance.md, API latency,
    twelfth round). A call goes to an idle worker, or waits for one."""

    def __init__(self, svc: Services, workers: int) -> None:
        self.svc = svc
        self.workers = workers
        self.restarts = 0
        self._links: list[_Link] = []
        self._idle: asyncio.Queue[_Link] | None = None
        self._stopping = False
        self._starting: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return any(link.alive for link in self._links)

    @property
    def pids(self) -> list[int]:
        return sorted(link.pid for link in self._links if link.alive)

    async def start(self) -> None:
        """Start the workers and wait until each has connected to the database, so that the first request
        does not wait for a worker's imports. A worker that cannot start is logged, and calls run here."""
        if self.workers <= 0:
            return
        self._idle = asyncio.Queue()
        started = await asyncio.gather(*(self._spawn() for _ in range(self.workers)), return_exceptions=True)
        failed = [x for x in started if isinstance(x, BaseException)]
        if failed:
            log.error("offload workers did not start (%s); their calls run in the server process", failed[0])
            await self._close_all()
            self._idle = None
            return
        log.info("%d offload worker(s) ready: pids %s", self.workers, self.pids)

    async def _spawn(self) -> None:
        """One worker, started and connected to the database, then idle."""
        assert self._idle is not None
        ours, theirs = socket.socketpair()
        process = mp.get_context("spawn").Process(target=_worker_main, args=(self.svc.settings, theirs),
                                                  name="ecs-offload", daemon=True)
        try:
            process.start()
        finally:
            theirs.close()
        link = _Link(process, self._died)
        link.on_answer = self._idle.put_nowait
        try:
            await asyncio.get_running_loop().create_connection(lambda: link, sock=ours)
            async with asyncio.timeout(START_TIMEOUT_S):
                await link.ready
        except BaseException:
            link.close()
            process.kill()
            await asyncio.to_thread(process.join, 5)
            raise
        self._links.append(link)
        self._idle.put_nowait(link)

    async def stop(self) -> None:
        """Calls in progress finish (a batch being stored commits); calls waiting for a worker are refused."""
        self._stopping = True
        for t in list(self._starting):
            t.cancel()
        in_flight = [link.call for link in self._links if link.call is not None]
        if in_flight:
            await asyncio.wait(in_flight)
        await self._close_all()
        if self._idle is not None:
            self._idle.put_nowait(_STOPPED)  # wakes a caller waiting for a worker; passed on by each

    async def _close_all(self) -> None:
        links, self._links = self._links, []
        for link in links:
            link.close()
        for link in links:
            await asyncio.to_thread(link.process.join, 10)
            if link.process.is_alive():
                link.process.kill()
        if self._idle is not None:
            while not self._idle.empty():
                self._idle.get_nowait()

    async def run(self, fn: str, actor: Any, *args: Any) -> Any:
        """``fn(svc, actor, *args)`` in a worker (or here, without workers). Its ``ApiError`` is raised here
        as it was raised there."""
        if not self.running or self._idle is None:
            if self._stopping and self.workers > 0:
                raise ApiError(503, "shutting_down", "the server is stopping; send the request again")
            return await resolve(fn)(self.svc, actor, *args)
        with timing.phase("wqueue"):  # waiting for an idle worker
            link = await self._idle_worker()
        with timing.phase("worker"):  # the call's round trip
            payload = pickle.dumps((fn, actor, args, self.svc.config.generation), pickle.HIGHEST_PROTOCOL)
            if len(payload) > MAX_FRAME:
                self._idle.put_nowait(link)
                raise ApiError(413, "too_large", "the request is too large to hand to a worker")
            call = link.call = asyncio.get_running_loop().create_future()
            link.send(payload)
            try:
                # A cancelled request cancels only this future: the worker finishes the call, and is idle
                # again when its answer arrives (``_Link.data_received``).
                kind, value, last_event, phases = await call
            except WorkerDied:
                raise ApiError(503, "worker_restarted", "the worker process handling the request stopped before "
                                                        "it answered; the request may or may not have been "
                                                        "carried out — send it again") from None
        if last_event:
            self.svc.bus.notify(last_event)
        if phases and (t := timing.current()) is not None:
            t.merge(phases, "w.")
        if kind == "ok":
            return value
        if kind == "api_error":
            raise ApiError(*value)
        raise OffloadError(f"{fn} failed in an offload worker: {value}")

    async def _idle_worker(self) -> _Link:
        assert self._idle is not None
        while True:
            link = await self._idle.get()
            if link is _STOPPED:
                self._idle.put_nowait(link)
                raise ApiError(503, "shutting_down", "the server is stopping; send the request again")
            if link.alive:
                return link

    def _died(self, link: _Link) -> None:
        """A worker exited (killed, out of memory): the call it held has answered 503; another is started."""
        if link in self._links:
            self._links.remove(link)
        if self._stopping:
            return
        self.restarts += 1
        log.error("offload worker %d died; starting another (restart %d)", link.pid, self.restarts)
        task = asyncio.create_task(self._replace(link), name="offload-worker-restart")
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _replace(self, dead: _Link) -> None:
        await asyncio.to_thread(dead.process.join, 5)
        try:
            await self._spawn()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("an offload worker could not be restarted")
            if not self.running:
                log.error("no offload worker left; calls run in the server process")


_STOPPED: Any = object()
MAX_FRAME = 64 * 1024 * 1024
START_TIMEOUT_S = 120.0


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
    """A killed server's worker busy with a call would finish it and only then read the end of its socket; it
    stops at once instead. An open transaction of its is rolled back when the connection drops."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _worker_main(settings: Settings, sock: socket.socket) -> None:
    """The worker: start, say so, then answer one call at a time until the server closes its end."""
    _worker_init(settings)
    sock.setblocking(True)
    _send_frame(sock, pickle.dumps(("ready", os.getpid())))
    while True:
        request = _recv_frame(sock)
        if request is None:
            return
        try:
            fn, actor, args, generation = pickle.loads(request)
        except Exception as exc:  # e.g. an argument whose class this process cannot import
            log.exception("offload worker: unreadable call")
            answer: tuple[str, Any, int, Any] = ("error", f"unreadable call: {type(exc).__name__}: {exc}"[:500], 0,
                                                 None)
        else:
            answer = _call(fn, actor, args, generation)
        try:
            data = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            log.exception("offload worker: the answer to %s cannot be sent", answer[0])
            data = pickle.dumps(("error", f"unsendable answer: {type(exc).__name__}: {exc}"[:500], answer[2], None))
        _send_frame(sock, data)


def _send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack("!I", len(payload)) + payload)


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _recv_frame(sock: socket.socket) -> bytes | None:
    """The next frame, or None at the end of the stream."""
    head = _recv_exactly(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack("!I", head)
    return _recv_exactly(sock, n) if n else b""


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
