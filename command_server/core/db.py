"""Database engine, declarative base and the two ways to open a session: read and write.

The same code runs on SQLite (embedded default, WAL) and PostgreSQL. Writes are serialised per process on
SQLite (one writer is all SQLite allows; an asyncio lock avoids SQLITE_BUSY storms) and ordered on
PostgreSQL by an advisory lock taken when event/audit rows are written (see ``core/uow.py``).
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
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer: a lock avoids SQLITE_BUSY storms. PostgreSQL: at most 12 write transactions at
        # once, so that writers queued on the event-ordering lock never take every pooled connection and
        # starve the reads (bench/api_latency.py showed reads waiting 4 s for a connection).
        self._write_lock: asyncio.Lock | asyncio.Semaphore = asyncio.Lock() if self.is_sqlite else asyncio.Semaphore(12)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction committed on success, rolled back on any exception."""
        async with self._write_lock, self.sessions() as session, session.begin():
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
