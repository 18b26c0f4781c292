"""Database engine, declarative base and the two ways to open a session: read and write.

The same code runs on SQLite (embedded default, WAL) and PostgreSQL. Reads use the asynchronous drivers
(aiosqlite, asyncpg). Writes use the inline drivers (``inline_db.py``: stdlib sqlite3, psycopg) one
transaction at a time per process, and are ordered across processes on PostgreSQL by an advisory lock taken
when event/audit rows are written (see ``core/uow.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from .inline_db import inline_connect_args, inline_url, mark_inline

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


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Database:
    def __init__(self, url: str, *, echo: bool = False, schema: str | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=20, max_overflow=20, pool_pre_ping=True)
            if schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "connect", _one_hop_cursors)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Writes go through the inline drivers (``inline_db.py``): a transaction runs start to commit without
        # giving up the event loop, so the ordering lock is held only for the transaction's own work. One
        # write transaction per process at a time (SQLite allows one writer anyway); the lock queues the rest
        # without blocking the loop.
        wkwargs: dict[str, Any] = {"echo": echo, "connect_args": inline_connect_args(self.is_sqlite, schema)}
        if self.is_sqlite:
            wkwargs.update(pool_size=2, max_overflow=2)
        else:
            wkwargs.update(pool_size=2, max_overflow=4, pool_pre_ping=True)
        self.write_engine: AsyncEngine = create_async_engine(inline_url(url), **wkwargs)
        mark_inline(self.write_engine)
        if self.is_sqlite:
            event.listen(self.write_engine.sync_engine, "connect", _sqlite_pragmas)
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction committed on success, rolled back on any exception."""
        async with self._write_lock, self.write_sessions() as session, session.begin():
            yield session

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
        await self.write_engine.dispose()
        await self.engine.dispose()


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
    cur.close()


# --- SQLite: one thread hop per statement ----------------------------------------------------------------------
#
# SQLAlchemy's aiosqlite adapter makes four trips to the connection's thread per statement (open cursor,
# execute, fetchall, close), and each trip back costs an event-loop turn. Under load a turn is several ms, and
# inside the single write lock that is what the lock's hold time (hence write throughput) was made of. This
# cursor does the four steps in one call on the connection's thread. Results are fully fetched, as before
# (the adapter never streamed them).

def _run_statement(conn: Any, operation: Any, parameters: Any, many: bool) -> tuple[Any, list[Any] | None, int, Any]:
    cur = conn.cursor()
    try:
        if many:
            cur.executemany(operation, parameters)
        elif parameters is None:
            cur.execute(operation)
        else:
            cur.execute(operation, parameters)
        desc = cur.description
        rows = cur.fetchall() if desc else None
        return desc, rows, cur.rowcount, cur.lastrowid
    finally:
        cur.close()


def _one_hop_classes() -> tuple[type, type] | None:
    try:
        from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_cursor
        from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
        from sqlalchemy.util.concurrency import await_
    except ImportError:  # another SQLAlchemy layout: keep the stock adapter
        return None
    import collections

    class OneHopCursor(AsyncAdapt_dbapi_cursor):  # type: ignore[misc]
        __slots__ = ("_desc", "_lastrowid", "_rowcount")

        def __init__(self, adapt_connection: Any) -> None:
            self._adapt_connection = adapt_connection
            self._connection = adapt_connection._connection
            self._cursor = None  # no aiosqlite cursor: nothing to open or close
            self._soft_closed_memoized = {}
            self._rows = collections.deque()
            self._desc = None
            self._rowcount = -1
            self._lastrowid = None

        @property
        def description(self) -> Any:
            return self._desc

        @property
        def rowcount(self) -> int:
            return self._rowcount

        @property
        def lastrowid(self) -> Any:
            return self._lastrowid

        async def _async_soft_close(self) -> None:
            return None

        async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
            async with self._adapt_connection._execute_mutex:
                aconn = self._connection
                desc, rows, self._rowcount, self._lastrowid = await aconn._execute(
                    _run_statement, aconn._conn, operation, parameters, many)
                self._desc = desc
                self._rows = collections.deque(rows) if rows is not None else collections.deque()

        def execute(self, operation: Any, parameters: Any = None) -> Any:
            try:
                return await_(self._run(operation, parameters, False))
            except Exception as error:
                self._adapt_connection._handle_exception(error)

        def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
            try:
                return await_(self._run(operation, seq_of_parameters, True))
            except Exception as error:
                self._adapt_connection._handle_exception(error)

    class OneHopConnection(AsyncAdapt_aiosqlite_connection):  # type: ignore[misc]
        __slots__ = ()
        _cursor_cls = OneHopCursor

    return OneHopConnection, OneHopCursor


_ONE_HOP = _one_hop_classes()


def _one_hop_cursors(dbapi_conn: Any, _record: Any) -> None:
    if _ONE_HOP is not None and type(dbapi_conn).__name__ == "AsyncAdapt_aiosqlite_connection" \
            and hasattr(dbapi_conn._connection, "_execute") and hasattr(dbapi_conn._connection, "_conn"):
        dbapi_conn.__class__ = _ONE_HOP[0]
