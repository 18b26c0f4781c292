"""Database engine, declarative base and the two ways to open a session: read and write.

The same code runs on SQLite (embedded default, WAL) and PostgreSQL. Reads use the asynchronous drivers
(aiosqlite, asyncpg). Writes use the inline drivers (``inline_db.py``: stdlib sqlite3, psycopg) one
transaction at a time per process, and are ordered across processes on PostgreSQL by an advisory lock taken
when event/audit rows are written (see ``core/uow.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

from . import timing
from .inline_db import UNLOCKED_SLOTS, inline_connect_args, inline_url, mark_inline

log = logging.getLogger("ecs.db")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {dict[str, Any]: JSON, list[str]: JSON}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone, and we never want local times in the DB."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


class ReadOnlySessionError(RuntimeError):
    pass


class ReadSession(Session):
    """A session from ``Database.read``: it must not write. Read sessions are never committed, and on
    PostgreSQL each statement commits by itself (AUTOCOMMIT), so a write here would be half-applied and
    outside the event log; both ORM flushes and Core INSERT/UPDATE/DELETE are refused."""


@event.listens_for(ReadSession, "before_flush")
def _refuse_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    raise ReadOnlySessionError("a read session cannot write; use the unit of work (services.write)")


@event.listens_for(ReadSession, "do_orm_execute")
def _refuse_dml(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlySessionError("a read session cannot write; use the unit of work (services.write)")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Database:
    def __init__(self, url: str, *, echo: bool = False, schema: str | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # SQLite: every statement runs inline (``inline_db.py``) — sub-millisecond indexed SQL is cheaper run
        # on the loop than sent to a driver thread, whose every return costs an event-loop turn (under load
        # tens of ms; bench/api_latency.py: reads p50 2.1 s → 0.12 s at the same load). One engine.
        # PostgreSQL: reads on asyncpg, so a slow query never stalls the loop; writes on the inline psycopg
        # engine, so the transaction that takes the event-ordering lock runs to commit without giving way.
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(
                inline_url(url), echo=echo, connect_args=inline_connect_args(True, schema), pool_size=8,
                max_overflow=24, pool_use_lifo=True)  # LIFO: the connection with the warm page cache
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            mark_inline(self.engine)
            self.write_engine = self.engine
            self._checkpointer: WalCheckpointer | None = WalCheckpointer(make_url(url).database or "")
        else:
            self._checkpointer = None
            self.engine = create_async_engine(
                url, echo=echo, pool_size=20, max_overflow=20,
                connect_args={"server_settings": {"search_path": schema}} if schema else {})
            self.write_engine = create_async_engine(
                inline_url(url), echo=echo, connect_args=inline_connect_args(False, schema), pool_size=2,
                max_overflow=4)
            mark_inline(self.write_engine)
            ping_when_idle(self.engine)
            ping_when_idle(self.write_engine)
        # PostgreSQL read sessions run each statement in its own implicit transaction (AUTOCOMMIT): under READ
        # COMMITTED every statement takes a fresh snapshot anyway, so what a read sees is unchanged, and asyncpg
        # no longer sends BEGIN before the first statement and ROLLBACK at close — two round trips, each an
        # event-loop turn, per read session (docs/performance.md, API latency, seventh round). The pool is
        # shared; other users of ``engine`` (migrations, the startup lock) keep their transactions.
        self.read_engine = (self.engine if self.is_sqlite
                            else self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False,
                                                sync_session_class=ReadSession)
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        # One write transaction per process at a time (SQLite allows one writer anyway); the lock queues the
        # rest without blocking the loop.
        self._write_lock = asyncio.Lock()
        self._unlocked_slots = asyncio.Semaphore(UNLOCKED_SLOTS)
        # whether ``write(unlocked=…)`` runs its first part before taking the write lock (see ``write``)
        self.unlocked_before_lock = not self.is_sqlite

    # Sessions are committed and closed by hand, not with ``async with session``: SQLAlchemy's context
    # managers close in a task of their own (cancellation safety), which costs an event-loop turn — and a
    # turn under load is tens of ms, held inside the write lock (bench/api_latency.py). A cancelled request
    # still rolls back and closes here.

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        session = self.read_sessions()
        try:
            with timing.phase("read"):
                yield session
        finally:
            await session.close()

    async def read_together(self, *reads: Callable[[AsyncSession], Awaitable[Any]]) -> list[Any]:
        """Independent reads, each on a read session of its own: at once on PostgreSQL, where each is a round
        trip and, under load, a wait for the event loop — a list's count and its page cost one wait instead of
        two; one after the other on SQLite, whose statements run inline and have nothing to overlap."""

        async def one(read: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
            async with self.read() as session:
                return await read(session)

        if self.is_sqlite:
            return [await one(r) for r in reads]
        return list(await asyncio.gather(*(one(r) for r in reads)))

    @asynccontextmanager
    async def write(self, unlocked: Callable[[AsyncSession], Awaitable[None]] | None = None
                    ) -> AsyncIterator[AsyncSession]:
        """A session in a transaction committed on success, rolled back on any exception.

        ``unlocked`` runs first, in the same transaction. On PostgreSQL it runs before the write lock is taken,
        so a bulk INSERT's server time (a readings batch: ~6 ms, and its tail) is not spent holding the lock
        that every other write of the process queues on. What it may do is narrow: insert rows that no
        statement run under the lock can wait for — no foreign key references them, and no locked code
        inserts into the same unique keys (PostgreSQL makes such a statement wait for the uncommitted
        transaction, which itself waits for the lock: a deadlock no server detects; a DELETE does not see
        uncommitted rows and does not wait). Today that is the readings INSERT alone (``monitoring.service``).
        At most ``UNLOCKED_SLOTS`` transactions are before the lock at a time: each holds a pooled connection,
        and the lock holder must always find one. On SQLite there is one writer anyway, and it runs under the lock."""
        before_lock = unlocked is not None and self.unlocked_before_lock
        t = timing.current()
        waited = time.perf_counter()
        async with self._unlocked_slots if before_lock else self._write_lock:
            waited = time.perf_counter() - waited  # queued behind this process's other writes ("wlock")
            session = self.write_sessions()
            try:
                if unlocked is not None:
                    with timing.phase("unlocked"):
                        await unlocked(session)
                t1 = time.perf_counter()
                async with self._write_lock if before_lock else nullcontext():
                    if t is not None:
                        t.add("wlock", waited + (time.perf_counter() - t1 if before_lock else 0.0))
                    with timing.phase("write"):
                        yield session
                    with timing.phase("commit"):
                        await session.commit()
            except BaseException:
                await session.rollback()
                raise
            finally:
                await session.close()

    @asynccontextmanager
    async def startup_lock(self) -> AsyncIterator[None]:
        """Serialise migrations and first-start seeding between processes starting together (PostgreSQL)."""
        if self.is_sqlite:
            yield
            return
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT pg_advisory_lock(4543530)")
            await conn.commit()
            try:
                yield
            finally:
                await conn.exec_driver_sql("SELECT pg_advisory_unlock(4543530)")
                await conn.commit()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
        await self.engine.dispose()


IDLE_PING_S = 5.0


def ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled PostgreSQL connection before use only if it sat idle for ``IDLE_PING_S``.

    SQLAlchemy's ``pool_pre_ping`` pings on *every* checkout: on asyncpg that is one more round trip and one
    more event-loop turn per read session — under load about a third of a write request's time in its read
    sessions, and most of its tail (bench/api_latency.py, docs/performance.md, seventh round). A connection
    used seconds ago is as alive as a ping would show; one idle longer (the server may have restarted, a
    firewall may have dropped it) is pinged, and a dead one makes the pool reconnect, as with pre-ping. A
    server restart under load still fails the requests whose connections it cut mid-use; the pool then
    invalidates the others (SQLAlchemy's disconnect handling)."""
    sync = engine.sync_engine
    dialect = sync.dialect

    @event.listens_for(sync, "checkin")
    def _used(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(sync, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_LAST_USED)
        if last is None or time.monotonic() - last < IDLE_PING_S:
            return  # fresh, or in use moments ago
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as exc:
            if dialect.is_disconnect(exc, dbapi_conn, None):
                raise InvalidatePoolError() from exc  # the pool reconnects this one and retires the rest
            raise


_LAST_USED = "ecs_last_used"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer. synchronous=NORMAL in WAL mode: a committed transaction survives
    # the process being killed at any instant (tests/system/test_process.py kills -9); only an OS crash or
    # power loss can lose the last commits. FULL fsyncs every commit and made each write ~10x slower here;
    # deployments that need power-loss durability run PostgreSQL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # Pages through a shared memory map rather than each connection's private page cache: a pooled
    # connection used for the first time does not start cold (bench/api_latency.py saw ~20 s of overload
    # after a restart while 32 connection caches filled).
    cur.execute("PRAGMA mmap_size=1073741824")
    # No checkpoint at commit: it copies the WAL into the database and fsyncs, and a commit runs on the event
    # loop (inline driver) — a 4 MB checkpoint stalled every request for ~0.3 s. ``WalCheckpointer`` does it.
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.execute("PRAGMA cache_size=-16000")
    cur.close()


class WalCheckpointer:
    """Moves the WAL into the database file from a thread of its own (PASSIVE: never waits for, nor blocks,
    readers or the writer), twice a second, so that no commit on the event loop pays for a checkpoint."""

    INTERVAL_S = 0.5

    def __init__(self, path: str) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = None
        while not self._stop.wait(self.INTERVAL_S):
            try:
                if conn is None:
                    if not os.path.exists(self.path):
                        continue
                    conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                log.warning("WAL checkpoint failed; retrying", exc_info=True)
                if conn is not None:
                    conn.close()
                    conn = None
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
