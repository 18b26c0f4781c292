"""How ``core/db.Database`` hands out sessions.

- PostgreSQL pooled connections are pinged before use only after sitting idle (``ping_when_idle``): no extra
  round trip per request under load, and a connection the server dropped while idle is replaced.
- PostgreSQL read sessions autocommit each statement (no BEGIN/ROLLBACK round trips).
- A read session refuses to write, on both databases.
- A write's ``unlocked`` statements run before the write lock on PostgreSQL (under it on SQLite); at most
  ``UNLOCKED_SLOTS`` such transactions wait for the lock, so the holder never starves of a connection; a
  request cancelled while its statement waits for the server does not block the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import psycopg
import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from command_server.core import db as db_module
from command_server.core.db import Database, ReadOnlySessionError
from command_server.core.inline_db import UNLOCKED_SLOTS
from tests.conftest import PG_URL, _pg_admin, needs_pg


@pytest.fixture
async def pg_db(pg_schema: str | None, db_backend: str):  # type: ignore[no-untyped-def]
    if db_backend != "postgresql":
        pytest.skip("the pool's ping is PostgreSQL's")
    db = Database(PG_URL, schema=pg_schema)
    try:
        yield db
    finally:
        await db.dispose()


async def _read_pid(db: Database) -> int:
    async with db.read() as s:
        return int((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _write_pid(db: Database) -> int:
    async with db.write() as s:
        return int((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())


@needs_pg
@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_no_ping_for_a_connection_used_moments_ago(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    pings = []
    for engine in (pg_db.engine, pg_db.write_engine):
        real = engine.sync_engine.dialect.do_ping
        monkeypatch.setattr(engine.sync_engine.dialect, "do_ping",
                            lambda conn, _real=real: pings.append(1) or _real(conn))
    for _ in range(5):
        await _read_pid(pg_db)
        await _write_pid(pg_db)
    assert pings == []
    monkeypatch.setattr(db_module, "IDLE_PING_S", 0.0)  # everything counts as idle now
    await _read_pid(pg_db)
    await _write_pid(pg_db)
    assert len(pings) == 2


@needs_pg
@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("session", [_read_pid, _write_pid], ids=["read", "write"])
async def test_connection_dropped_while_idle_is_replaced(pg_db: Database, monkeypatch: pytest.MonkeyPatch,
                                                         session) -> None:  # type: ignore[no-untyped-def]
    pid = await session(pg_db)
    await _pg_admin(f"SELECT pg_terminate_backend({pid})")
    monkeypatch.setattr(db_module, "IDLE_PING_S", 0.0)  # the connection has been idle "long enough"
    new_pid = await session(pg_db)  # no error: the ping found it dead and the pool reconnected
    assert new_pid != pid


@needs_pg
@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_read_session_statements_autocommit(pg_db: Database) -> None:
    # inside a transaction now() is the transaction's start, the same for every statement
    async with pg_db.read() as s:
        t1 = (await s.execute(text("SELECT clock_timestamp(), now()"))).one()
        await s.execute(text("SELECT pg_sleep(0.05)"))
        t2 = (await s.execute(text("SELECT now()"))).scalar_one()
    assert t2 > t1[0], "the read session's statements ran in one transaction"
    async with pg_db.write() as s:  # writes keep their transaction
        w1 = (await s.execute(text("SELECT now()"))).scalar_one()
        await s.execute(text("SELECT pg_sleep(0.05)"))
        assert (await s.execute(text("SELECT now()"))).scalar_one() == w1


async def test_read_session_refuses_to_write(api) -> None:  # type: ignore[no-untyped-def]
    from command_server.core.services import services
    from command_server.org.models import Unit

    db = services(api.app).db
    async with db.read() as s:
        s.add(Unit(code="RO-1", name="只读", kind="department", path="/ro"))
        with pytest.raises(ReadOnlySessionError):
            await s.flush()
    async with db.read() as s:
        with pytest.raises(ReadOnlySessionError):
            await s.execute(insert(Unit).values(code="RO-2", name="只读", kind="department", path="/ro2"))
    async with db.read() as s:
        assert await s.scalar(text("SELECT count(*) FROM units WHERE code LIKE 'RO-%'")) == 0


@pytest.fixture
async def any_db(db_backend: str, pg_schema: str | None, tmp_path) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """A bare database with one table ``t (k integer primary key)``."""
    db = Database(PG_URL if db_backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
                  schema=pg_schema)
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (k integer PRIMARY KEY)"))
    try:
        yield db
    finally:
        await db.dispose()


def _insert(k: int) -> object:
    # off the loop, as a bulk INSERT is (``inline_db``): the statement that may wait in the server
    return text(f"INSERT INTO t VALUES ({k}) ON CONFLICT DO NOTHING").execution_options(off_loop=True)


async def _keys(db: Database) -> list[int]:
    async with db.read() as s:
        return list((await s.scalars(text("SELECT k FROM t ORDER BY k"))).all())


def _blocker(schema: str | None, k: int) -> psycopg.Connection:
    """Another client's open transaction holding key ``k`` uncommitted: an INSERT of ``k`` waits for it."""
    conn = psycopg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"),
                           options=f"-c search_path={schema}")
    conn.execute(f"INSERT INTO t VALUES ({k})")
    return conn


async def test_independent_reads_overlap_on_postgresql(any_db: Database) -> None:
    """``read_together``: on PostgreSQL each read has its own session and they run at once (the first waits
    for the second to have started, which would never happen one after the other); on SQLite in order."""
    second_started = asyncio.Event()
    order: list[str] = []

    async def first(s: AsyncSession) -> int:
        order.append("first")
        if not any_db.is_sqlite:
            async with asyncio.timeout(10):
                await second_started.wait()
        return int((await s.execute(text("SELECT 1"))).scalar_one())

    async def second(s: AsyncSession) -> int:
        order.append("second")
        second_started.set()
        return int((await s.execute(text("SELECT 2"))).scalar_one())

    assert await any_db.read_together(first, second) == [1, 2]
    assert order == ["first", "second"]
    if not any_db.is_sqlite:
        pids = await any_db.read_together(_pid, _pid)
        assert pids[0] != pids[1]  # two pooled connections


async def _pid(s: AsyncSession) -> int:
    return int((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_unlocked_statements_run_before_the_write_lock(any_db: Database) -> None:
    db = any_db
    holding, release, ran = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with db.write() as s:
            await s.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            await release.wait()

    async def unlocked(s: AsyncSession) -> None:
        await s.execute(_insert(2))
        ran.set()

    async def writer() -> None:
        async with db.write(unlocked) as s:
            await s.execute(text("INSERT INTO t VALUES (3)"))

    h = asyncio.create_task(holder())
    await holding.wait()
    w = asyncio.create_task(writer())
    if db.is_sqlite:  # one writer: the unlocked part waits for the lock like the rest
        await asyncio.sleep(0.3)
        assert not ran.is_set()
    else:
        async with asyncio.timeout(10):
            await ran.wait()
        assert not w.done(), "the locked part ran while another write held the lock"
    release.set()
    async with asyncio.timeout(10):
        await asyncio.gather(h, w)
    assert await _keys(db) == [1, 2, 3]


async def test_a_failed_locked_part_rolls_back_the_unlocked_part(any_db: Database) -> None:
    async def unlocked(s: AsyncSession) -> None:
        await s.execute(_insert(5))

    with pytest.raises(RuntimeError):
        async with any_db.write(unlocked):
            raise RuntimeError("the locked part failed")
    assert await _keys(any_db) == []


@needs_pg
@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_lock_holder_is_not_starved_by_transactions_waiting_before_the_lock(
        any_db: Database, pg_schema: str) -> None:
    """Every unlocked INSERT below blocks in the server on another client's uncommitted row. They take at most
    ``UNLOCKED_SLOTS`` pooled connections; the lock holder still runs its own off-loop statement and commits."""
    db = any_db
    blocker = _blocker(pg_schema, 10)
    holding, release = asyncio.Event(), asyncio.Event()
    before_lock = 0
    most_before_lock = 0

    async def holder() -> None:
        async with db.write() as s:
            holding.set()
            await release.wait()
            await s.execute(_insert(20))

    async def unlocked(s: AsyncSession) -> None:
        nonlocal before_lock, most_before_lock
        before_lock += 1
        most_before_lock = max(most_before_lock, before_lock)
        await s.execute(_insert(10))

    async def waiter() -> None:
        async with db.write(unlocked):
            pass

    h = asyncio.create_task(holder())
    waiters: list[asyncio.Task[None]] = []
    try:
        await holding.wait()
        waiters = [asyncio.create_task(waiter()) for _ in range(UNLOCKED_SLOTS + 3)]
        await asyncio.sleep(0.3)  # every waiter that can start has started and is blocked in the server
        assert most_before_lock == UNLOCKED_SLOTS
        release.set()
        async with asyncio.timeout(10):
            await h  # needs a connection of its own
        blocker.rollback()
        async with asyncio.timeout(10):
            await asyncio.gather(*waiters)
    finally:  # on failure too: the schema's teardown waits for every open transaction
        blocker.rollback()
        blocker.close()
        for t in (h, *waiters):
            t.cancel()
        await asyncio.gather(h, *waiters, return_exceptions=True)
    assert await _keys(db) == [10, 20]


@needs_pg
@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_request_cancelled_in_an_off_loop_statement_does_not_block_the_loop(
        any_db: Database, pg_schema: str) -> None:
    """Cancelled while its INSERT waits in the server: the request waits for the server's answer before rolling
    back on the connection; the loop goes on meanwhile. (Rolling back at once would write into a connection
    still reading the statement's reply.)"""
    db = any_db
    blocker = _blocker(pg_schema, 30)
    watchdog = threading.Timer(10, blocker.rollback)
    watchdog.start()
    started = asyncio.Event()

    async def unlocked(s: AsyncSession) -> None:
        started.set()
        await s.execute(_insert(30))

    async def writer() -> None:
        async with db.write(unlocked) as s:
            await s.execute(text("INSERT INTO t VALUES (31)"))

    try:
        w = asyncio.create_task(writer())
        await started.wait()
        await asyncio.sleep(0.2)
        w.cancel()
        t0 = time.monotonic()
        await asyncio.sleep(0.2)
        assert time.monotonic() - t0 < 5, "the loop was blocked"
        assert not w.done(), "the request went on while its statement still ran"
        blocker.commit()  # key 30 is now the other client's; the cancelled INSERT finds the conflict and ends
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(10):
                await w
    finally:
        watchdog.cancel()
        blocker.close()
    async with db.write() as s:  # the connection went back to the pool clean
        await s.execute(text("INSERT INTO t VALUES (32)"))
    assert await _keys(db) == [30, 32]


@needs_pg
@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_waiting_for_the_event_order_lock_held_elsewhere_does_not_block_the_loop(api) -> None:  # type: ignore[no-untyped-def]
    """Another process (an offload worker, a second server) holds the advisory lock that orders event ids while
    it commits: this process's write waits for it through the loop, which goes on meanwhile."""
    from command_server.core.services import services
    from command_server.core.uow import ORDER_LOCK_KEY

    svc = services(api.app)
    operator = await api.as_user("operator")  # (a login writes too)
    other = psycopg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    other.execute("SELECT pg_advisory_xact_lock(%s)", (ORDER_LOCK_KEY,))
    release = threading.Timer(1.0, other.commit)  # from a thread: a blocked loop could not release it
    release.start()
    try:
        t0 = time.monotonic()
        write = asyncio.create_task(operator.post("/api/v1/alarms", json={
            "channel": "hotline", "event_type": "water", "lon": 121.5, "lat": 31.0, "description": "河面有油膜"}))
        lags = []
        while not write.done():
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - t - 0.01)
        r = await write
        assert r.status == 201, await r.text()
        assert time.monotonic() - t0 >= 0.9  # it did wait for the lock
        assert max(lags) < 0.3, f"the loop stopped for {max(lags):.2f} s"
        async with svc.db.read() as s:  # its event was written after the other holder let go
            assert await s.scalar(text("SELECT count(*) FROM events WHERE type = 'alarm.created'")) == 1
    finally:
        release.cancel()
        other.close()
