"""Media worker processes: the cameras are sharded over a few processes, each with its own GIL.

Why: in one process, one event-loop thread sends every viewer's RTP packets while one demux thread per camera wants
the same GIL. At 64 cameras on a 2-core machine the loop thread got ~35 % of a core and fell behind (65–81 % of
frames delivered), however little Python each packet costs. A worker owns a shard of the cameras end to end — RTSP
demux, hub, recorders, snapshots and the WebRTC sessions of its cameras (aiortc and the lean RTP loop) — so no
packet ever crosses a process boundary; only calls, status changes, segments and statistics do.

A worker is ``python -c 'from media_gateway.worker import main; main()' CONFIG_JSON``: a
:class:`~media_gateway.local.LocalGateway` driven over its stdin/stdout by :class:`WorkerClient` (length-prefixed
pickles; both ends are this package, nothing else writes to that pipe). Errors cross with their class
(``media_gateway.errors`` and built-in exceptions; anything else becomes ``RuntimeError``). A worker dies with its
parent: ``PR_SET_PDEATHSIG`` (SIGKILL when the thread that started it ends, i.e. the parent's event-loop thread)
and a clean stop at EOF on stdin, so a killed server leaves no orphan process holding cameras.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import ctypes
import itertools
import json
import logging
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import errors

log = logging.getLogger("media_gateway.worker")

_LEN = struct.Struct("!I")
_ROOT = str(Path(__file__).resolve().parents[1])  # on the workers' PYTHONPATH
START_TIMEOUT_S = 30.0  # imports (PyAV, aiortc) take ~1 s on an idle machine
STATS_INTERVAL_S = 0.5  # statistics pushed to the facade (also before every call's result and status event)


def _encode(msg: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    return _LEN.pack(len(data)) + data


def _error_of(exc: BaseException) -> tuple[str, str, str]:
    if isinstance(exc, errors.MediaError):
        return type(exc).__name__, exc.code, exc.message
    return "", type(exc).__name__, str(exc)


def _raise_from(name: str, code: str, message: str) -> BaseException:
    """The exception to raise in the facade for one raised in a worker (see :func:`_error_of`)."""
    cls = getattr(errors, name, None) if name else None
    if cls is errors.ProbeError:
        return errors.ProbeError(code, message)
    if isinstance(cls, type) and issubclass(cls, errors.MediaError):
        return cls(message)
    builtin = getattr(builtins, code, None)  # e.g. ValueError, TimeoutError: the caller may handle those
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        with contextlib.suppress(Exception):
            return builtin(message)
    return RuntimeError(f"media worker: {code}: {message}")


# --- the facade's side ---------------------------------------------------------------------------------------------

EventCb = Callable[["WorkerClient", tuple[Any, ...]], None]
ExitCb = Callable[["WorkerClient"], None]


class WorkerClient:
    """One worker process seen from the facade: :meth:`call` a :class:`LocalGateway` method there; events
    (statistics, status, segments, sessions/recordings that ended) go to ``on_event`` in arrival order."""

    def __init__(self, index: int, config: dict[str, Any], on_event: EventCb, on_exit: ExitCb) -> None:
        self.index = index
        self.config = config
        self.on_event = on_event
        self.on_exit = on_exit
        self.proc: asyncio.subprocess.Process | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.ids = itertools.count(1)
        self.stats: dict[str, Any] = {}  # the last statistics it pushed ({"cameras": …, "wall": …})
        self.stopping = False
        self.exited = False  # its pipe closed: it is gone, or going
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and not self.exited

    async def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = _ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = await asyncio.create_subprocess_exec(
            # -c, not -m: the package imports this module, and runpy warns about running an imported module
            sys.executable, "-c", "from media_gateway.worker import main; main()", json.dumps(self.config),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
        self._reader = asyncio.get_running_loop().create_task(self._read(), name=f"media-worker-{self.index}")
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await self.call("ping")
        except TimeoutError:
            await self.stop(timeout_s=0)
            raise errors.CameraOffline("the media worker did not start in time") from None

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        proc = self.proc
        if not self.alive or proc is None or proc.stdin is None or proc.stdin.is_closing():
            raise errors.CameraOffline("the media worker is not running")
        rid = next(self.ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        proc.stdin.write(_encode(("call", rid, method, args, kwargs)))
        try:
            return await fut
        finally:
            self.pending.pop(rid, None)

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        out = self.proc.stdout
        try:
            while True:
                head = await out.readexactly(_LEN.size)
                msg = pickle.loads(await out.readexactly(_LEN.unpack(head)[0]))
                if msg[0] == "result":
                    fut = self.pending.get(msg[1])
                    if fut is not None and not fut.done():
                        if msg[2]:
                            fut.set_result(msg[3])
                        else:
                            fut.set_exception(_raise_from(*msg[3]))
                elif msg[0] == "log":
                    _, name, level, text = msg
                    logging.getLogger(name).log(level, "%s", text)
                else:
                    if msg[0] == "stats":
                        self.stats = msg[1]
                    self.on_event(self, msg)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception:
            log.exception("media worker %d: bad message", self.index)
        finally:
            self.exited = True
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(errors.CameraOffline("the media worker exited"))
            if not self.stopping:
                log.error("media worker %d (pid %s) exited unexpectedly", self.index, self.pid)
                with contextlib.suppress(ProcessLookupError):
                    if self.proc is not None:
                        self.proc.kill()  # (it closed its pipe but may still run: it must not hold cameras)
                        await self.proc.wait()
                self.on_exit(self)

    async def stop(self, timeout_s: float = 20.0) -> None:
        """Stops its gateway (recordings close their segments), then the process."""
        self.stopping = True
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout_s):
                    await self.call("stop")
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


# --- the worker's side ---------------------------------------------------------------------------------------------

class _PipeLog(logging.Handler):
    """Log records go to the facade's process, which logs them under the same logger name. Demux and muxing
    threads log too: their records are handed to the loop thread, the only one that writes to the pipe."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Callable[[tuple[Any, ...]], None]) -> None:
        super().__init__()
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            msg = ("log", record.name, record.levelno, text)
            if threading.get_ident() == self.loop_thread:
                self.send(msg)
            else:
                self.loop.call_soon_threadsafe(self.send, msg)
        except Exception:  # never let logging break the worker (nor a closed loop at exit)
            pass


def _die_with_parent(parent_pid: int) -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl: nobody would ever stop us
        os._exit(1)


CALLS = {"ping", "stop", "configure_camera", "remove_camera", "webrtc_answer", "webrtc_close", "snapshot",
         "start_recording", "stop_recording", "active_paths", "session_stats"}


async def _serve(config: dict[str, Any]) -> None:
    from .local import LocalGateway

    loop = asyncio.get_running_loop()
    out_fd = os.dup(1)
    os.dup2(2, 1)  # the protocol has fd `out_fd` to itself: a stray print goes to stderr
    w_transport, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(out_fd, "wb", buffering=0))
    reader = asyncio.StreamReader(limit=1 << 30)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0))

    def send(msg: tuple[Any, ...]) -> None:
        if not w_transport.is_closing():
            w_transport.write(_encode(msg))

    root = logging.getLogger()
    root.handlers[:] = [_PipeLog(loop, send)]
    root.setLevel(int(config.get("log_level", logging.INFO)))

    gw: LocalGateway

    def push_stats() -> None:
        send(("stats", {"cameras": gw.stats()["cameras"], "writing": gw.writing(), "wall": time.time()}))

    async def on_status(camera_id: str, status: str, detail: dict[str, Any]) -> None:
        push_stats()  # the facade's stats() shows the new status by the time its callback runs
        send(("status", camera_id, status, detail))

    async def on_segment(seg: dict[str, Any]) -> None:
        send(("segment", seg))

    gw = LocalGateway(Path(config["var_dir"]), on_status=on_status, on_segment=on_segment,
                      segment_s=config["segment_s"], idle_timeout_s=config["idle_timeout_s"],
                      stall_timeout_s=config["stall_timeout_s"], lean_rtp=config["lean_rtp"])
    gw.on_session_gone = lambda sid: send(("session_gone", sid))
    gw.on_recording_gone = lambda rid: send(("recording_gone", rid))
    await gw.start()
    stopped = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(rid: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            if method not in CALLS:
                raise errors.BadRequest(f"unknown worker call {method!r}")
            if method == "ping":
                res: Any = os.getpid()
            elif method == "stop":
                await gw.stop()
                res = None
                stopped.set()
            else:
                res = getattr(gw, method)(*args, **kwargs)
                if asyncio.iscoroutine(res):
                    res = await res
            push_stats()
            send(("result", rid, True, res))
        except Exception as exc:
            push_stats()
            send(("result", rid, False, _error_of(exc)))

    async def stats_loop() -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL_S)
            push_stats()

    ticker = loop.create_task(stats_loop())
    try:
        while not stopped.is_set():
            try:
                head = await reader.readexactly(_LEN.size)
                msg = pickle.loads(await reader.readexactly(_LEN.unpack(head)[0]))
            except (asyncio.IncompleteReadError, ConnectionError):
                break  # the facade is gone
            _, rid, method, args, kwargs = msg
            t = loop.create_task(handle(rid, method, args, kwargs))  # calls run concurrently, like in-process
            tasks.add(t)
            t.add_done_callback(tasks.discard)
    finally:
        ticker.cancel()
        if not stopped.is_set():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(20):
                    await gw.stop()
        for t in list(tasks):
            with contextlib.suppress(Exception):
                await t
        w_transport.close()


def main() -> None:
    config = json.loads(sys.argv[1])
    _die_with_parent(int(config["parent_pid"]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal: the parent decides and stops us
    asyncio.run(_serve(config))


if __name__ == "__main__":
    main()
