"""Statements that run on the event-loop thread without yielding ("inline" drivers).

Why: every write commits its event and audit rows under one ordering lock (see ``uow.py``). With an async
driver each statement is an ``await``, and each ``await`` lets every other ready request run a step first; under
load a write held the lock for ~40 ms of *other requests'* Python, which capped the whole server at ~18
writes/s (docs/performance.md, issue 3). Here the write session's statements are plain blocking DB-API calls
(stdlib ``sqlite3``; ``psycopg`` for PostgreSQL), so a transaction runs from first statement to commit in one
go and holds the lock only for its own work — sub-millisecond SQL on SQLite, local round trips of ~0.1 ms on
PostgreSQL.

How: SQLAlchemy's asyncio layer runs the ORM's sync code in a greenlet and only leaves it when a driver
awaits. These dialects are the stock sync dialects marked ``is_async`` so ``create_async_engine`` and
``AsyncSession`` accept them; the driver never awaits, so ``await session.execute(...)`` completes without
giving up the loop.

Where: PostgreSQL writes only — PostgreSQL reads stay on asyncpg, so a slow report never stalls the loop.
SQLite reads *and* writes: its statements are in-process C calls, mostly well under a millisecond, and the
thread hop of aiosqlite cost more than the query (each return is an event-loop turn; under load tens of ms).
Sessions must also be closed by hand, not with ``async with session`` (see ``Database.read``/``write``).

A wait for the server that lasts (PostgreSQL): a statement blocks the loop for at most ``INLINE_WAIT_S`` of
waiting, then waits through the loop, which serves other requests meanwhile (``wait_inline_then_on_loop``); the
commit and statements marked ``off_loop`` wait through the loop at once. The transaction keeps the write lock.

The price: the loop is blocked while a statement runs. That is the point for the short statements the API
makes; on SQLite a long one (an XLSX import of thousands of rows, a scan of a big table) stalls every request and
realtime delivery for its duration — keep such queries indexed and bounded. On PostgreSQL the budget bounds it.
"""

from __future__ import annotations

import asyncio
import select
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.waiting import READY_R, READY_W, WAIT_R, WAIT_W
from sqlalchemy import event, pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import await_, in_greenlet


class _AsyncResultCursor:
    """What SQLAlchemy's async result wrapper calls on a cursor after buffering its rows."""

    async def _async_soft_close(self) -> None:
        return None


class InlineSQLiteCursor(_AsyncResultCursor, sqlite3.Cursor):
    pass


class InlineSQLiteConnection(sqlite3.Connection):
    def cursor(self, factory: Any = InlineSQLiteCursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)


class InlinePgCursor(_AsyncResultCursor, psycopg.Cursor):  # type: ignore[misc]
    pass


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    driver = "inline"
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool


# How long an inline PostgreSQL statement may keep the loop waiting for the server before it hands the wait to
# the loop. A write's statements take ~0.1–0.5 ms and run to their end inline, as the design wants. A statement
# the server is slow to answer — a commit's WAL flush behind a checkpoint, a backend the kernel did not schedule,
# a row lock — once stopped every request of the process for as long as it took (74, 98 and 595 ms in three load
# runs: docs/performance.md, thirteenth round). Past this budget the loop is told to wake the statement when the
# socket is ready and serves other requests meanwhile; the transaction keeps the write lock, like any wait.
INLINE_WAIT_S = 0.002
# The commit (a WAL flush: ~1–3 ms) and statements marked ``execution_options(off_loop=True)`` (a readings
# batch's 500-row INSERT before the write lock, a deleted source's readings) are known to wait: they give the
# loop their wait at once.
OFF_LOOP_WAIT_S = 0.0
# At most ``UNLOCKED_SLOTS`` transactions are before the write lock (``Database.write``): each holds a pooled
# write connection, and the lock holder must always find one.
UNLOCKED_SLOTS = 3


SWITCH_INTERVAL_S = 0.001


def hand_back_quickly() -> None:
    """For a served process (the server, an offload worker). A thread that finishes a blocking call (a
    ``to_thread`` job: an XLSX file, a process join) must take the GIL back from the busy loop thread before
    the loop hears of it, and by default it waits up to 5 ms for the loop to let go. At 1 ms an alarm intake's
    commit, when it was waited for in a thread, took 3.7–4.7 ms instead of 5.0–5.7 under load
    (``Server-Timing``, docs/performance.md, tenth round). Since the fourteenth round no database wait and no
    offloaded call goes through a thread; only a thread that wants the GIL makes the loop switch, so a loop
    with no such thread pays nothing."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def _poll_once(fileno: int, wait: int, timeout_s: float) -> int:
    """The socket's readiness for ``wait`` (psycopg's ``Wait`` flags), blocking at most ``timeout_s``."""
    poller = select.poll()
    poller.register(fileno, (select.POLLIN if wait & WAIT_R else 0) | (select.POLLOUT if wait & WAIT_W else 0))
    events = poller.poll(timeout_s * 1000.0)
    if not events:
        return 0
    mask = events[0][1]
    if mask & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
        return wait  # psycopg's own read or write finds the error and marks the connection broken
    return (READY_R if mask & select.POLLIN else 0) | (READY_W if mask & select.POLLOUT else 0)


async def _socket_ready(fileno: int, wait: int) -> int:
    """Resumes when the socket is ready for ``wait``; the loop serves other tasks meanwhile."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake(flag: int) -> None:
        if not ready.done():
            ready.set_result(flag)

    if wait & WAIT_R:
        loop.add_reader(fileno, wake, READY_R)
    if wait & WAIT_W:
        loop.add_writer(fileno, wake, READY_W)
    try:
        return await ready
    finally:
        if wait & WAIT_R:
            loop.remove_reader(fileno)
        if wait & WAIT_W:
            loop.remove_writer(fileno)


def wait_inline_then_on_loop(gen: Any, fileno: int, budget_s: float) -> Any:
    """Drive psycopg's protocol generator ``gen``: block on the socket while the statement is within
    ``budget_s``, then wait through the event loop (the greenlet switches to the task, which awaits).

    A request cancelled during a loop wait still waits for the server's answer before the cancellation goes on:
    the connection is mid-protocol, and its rollback would otherwise write into a half-read reply."""
    deadline = time.perf_counter() + budget_s
    cancelled = False
    try:
        wait = next(gen)
        while True:
            # past the budget still one look without waiting: a socket asked for writing is nearly always ready
            ready = _poll_once(fileno, wait, max(deadline - time.perf_counter(), 0.0))
            while not ready:
                try:
                    ready = await_(_socket_ready(fileno, wait))
                except asyncio.CancelledError:
                    cancelled = True
            wait = gen.send(ready)
    except StopIteration as done:
        if cancelled:
            raise asyncio.CancelledError() from None
        return done.value


class InlinePgConnection(psycopg.Connection):  # type: ignore[type-arg]
    """A psycopg connection whose waits for the server block the loop for at most a budget
    (``wait_inline_then_on_loop``). Outside SQLAlchemy's greenlet (connecting, the pool's reset at shutdown)
    it waits as psycopg does."""

    budget_s = INLINE_WAIT_S

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if timeout is not None or not in_greenlet():
            return super().wait(gen, interval, timeout)
        return wait_inline_then_on_loop(gen, self.pgconn.socket, self.budget_s)


@contextmanager
def _budget(conn: InlinePgConnection, budget_s: float) -> Iterator[None]:
    conn.budget_s = budget_s
    try:
        yield
    finally:
        del conn.budget_s  # back to the class's


class InlinePostgresDialect(PGDialect_psycopg):
    driver = "inline"
    is_async = True
    supports_statement_cache = True

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        return InlinePgConnection.connect(*cargs, **cparams)

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        if context is not None and context.execution_options.get("off_loop"):
            with _budget(cursor.connection, OFF_LOOP_WAIT_S):
                cursor.execute(statement, parameters)
        else:
            cursor.execute(statement, parameters)

    def do_commit(self, dbapi_connection: Any) -> None:
        with _budget(dbapi_connection, OFF_LOOP_WAIT_S):
            dbapi_connection.commit()

    @classmethod
    def get_async_dialect_cls(cls, url: URL) -> type[InlinePostgresDialect]:
        return cls  # the stock dialect would hand over its async (awaiting) variant

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool


registry.register("sqlite.inline", __name__, "InlineSQLiteDialect")
registry.register("postgresql.inline", __name__, "InlinePostgresDialect")


async def _done() -> None:
    return None


def _greenlet_switch(*_args: Any) -> None:
    # ``AsyncConnection.execute`` insists that the driver awaited something (``_require_await``). Awaiting a
    # coroutine that finishes at once switches greenlets but never suspends, so the loop is not given up.
    await_(_done())


def mark_inline(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "before_cursor_execute", _greenlet_switch)


def inline_url(url: str) -> str:
    """The same database through the inline driver (``sqlite+aiosqlite`` → ``sqlite+inline``, etc.)."""
    u = make_url(url)
    return u.set(drivername=f"{u.get_backend_name()}+inline").render_as_string(hide_password=False)


def inline_connect_args(is_sqlite: bool, schema: str | None) -> dict[str, Any]:
    if is_sqlite:
        return {"timeout": 30, "factory": InlineSQLiteConnection}
    args: dict[str, Any] = {"autocommit": False, "cursor_factory": InlinePgCursor}
    if schema:
        args["options"] = f"-c search_path={schema}"
    return args
