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

Exceptions on PostgreSQL: the commit and statements marked ``off_loop`` hand their wait for the server to a
thread (below, ``_off_loop``) — the loop runs other requests meanwhile, the transaction keeps the write lock.

The price: the loop is blocked while a statement runs. That is the point for the short statements the API
makes; a long one (an XLSX import of thousands of rows, a scan of a big table) stalls every request and
realtime delivery for its duration — keep such queries indexed and bounded. On PostgreSQL with several server
processes, a write waiting for another process's advisory lock blocks this process's loop for the other's
(short, inline) hold.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from sqlalchemy import event, pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import await_


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


# Where an inline PostgreSQL write waits for the server instead of blocking the loop: the commit (the WAL
# flush: ~1–3 ms, but hundreds of ms while a checkpoint competes for the disk) and statements marked
# ``execution_options(off_loop=True)`` (a readings batch's 500-row INSERT: ~6 ms of server time). The greenlet
# hands the blocking call to a thread and the loop serves other requests. Only those: a thread hop per statement
# costs a loop turn inside the lock, and with every statement off the loop writes' p99 doubled
# (docs/performance.md, API latency, sixth round).
#
# Two pools, so that the write-lock holder always finds a thread: statements run before the lock
# (``Database.write(unlocked=…)``) may block in the server on another transaction's uncommitted rows — a retried
# batch inserting the same readings waits for the first one's commit — and must never hold the thread that
# commit needs. At most ``UNLOCKED_SLOTS`` transactions are before the lock (``Database.write``), and the
# statement pool has one thread more, for the lock holder's own off-loop statements.
UNLOCKED_SLOTS = 3
_PG_COMMITS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pg-commit")  # a close may overlap a commit
_PG_STATEMENTS = ThreadPoolExecutor(max_workers=UNLOCKED_SLOTS + 1, thread_name_prefix="pg-statement")


SWITCH_INTERVAL_S = 0.001


def hand_back_quickly() -> None:
    """For a served process (the server, an offload worker). A thread that finishes its blocking call (a
    commit, an off-loop statement) must take the GIL back from the busy loop thread before the loop hears of
    it, and by default it waits up to 5 ms for the loop to let go. At 1 ms an alarm intake's commit took
    3.7–4.7 ms instead of 5.0–5.7 under load (``Server-Timing``, docs/performance.md, tenth round). Only a
    thread that wants the GIL makes the loop switch, so a loop with no such thread pays nothing."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def _off_loop(pool: ThreadPoolExecutor, fn: Any, *args: Any) -> Any:
    """Run ``fn`` in ``pool`` and wait for it without blocking the loop. A cancelled request still waits for
    the call to finish before it goes on: its rollback would otherwise use the connection while the thread
    does (psycopg then blocks the loop on the connection's lock until the statement ends)."""
    waiting = asyncio.wrap_future(pool.submit(fn, *args))
    cancelled = False
    while not waiting.done():
        try:
            await_(asyncio.shield(waiting))
        except asyncio.CancelledError:
            cancelled = True  # the thread cannot be stopped: wait for it, then let the cancellation through
        except Exception:
            pass  # the call's own error, raised by ``result()`` below
    if cancelled:
        raise asyncio.CancelledError()
    return waiting.result()


class InlinePostgresDialect(PGDialect_psycopg):
    driver = "inline"
    is_async = True
    supports_statement_cache = True

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        if context is not None and context.execution_options.get("off_loop"):
            _off_loop(_PG_STATEMENTS, cursor.execute, statement, parameters)
        else:
            cursor.execute(statement, parameters)

    def do_commit(self, dbapi_connection: Any) -> None:
        _off_loop(_PG_COMMITS, dbapi_connection.commit)

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
