"""How ``core/db.Database`` hands out sessions.

- PostgreSQL pooled connections are pinged before use only after sitting idle (``ping_when_idle``): no extra
  round trip per request under load, and a connection the server dropped while idle is replaced.
- PostgreSQL read sessions autocommit each statement (no BEGIN/ROLLBACK round trips).
- A read session refuses to write, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text

from command_server.core import db as db_module
from command_server.core.db import Database, ReadOnlySessionError
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
