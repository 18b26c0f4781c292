"""PostgreSQL writes run inline on the event loop (core/inline_db.py): a statement the server answers within the
budget never gives the loop a turn; one that takes longer, a statement marked ``off_loop`` and the commit wait
through the loop, which serves others meanwhile."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from command_server.core import inline_db
from command_server.core.db import Database
from tests.conftest import PG_URL, needs_pg

pytestmark = needs_pg


async def _ticks_during(db: Database, stmt: object) -> int:
    """How many times a 10 ms ticker ran while one write transaction executed ``stmt``."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.01)
            ticks += 1

    t = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    ticks = 0
    try:
        async with db.write() as s:
            await s.execute(stmt)  # type: ignore[call-overload]
    finally:
        done.set()
        await t
    return ticks


@pytest.fixture
async def pg_db(pg_schema: str | None, db_backend: str):  # type: ignore[no-untyped-def]
    if db_backend != "postgresql":
        pytest.skip("the inline/off-loop split is PostgreSQL's")
    db = Database(PG_URL, schema=pg_schema)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_marked_statement_waits_off_the_loop(pg_db: Database) -> None:
    sleep = text("SELECT pg_sleep(0.3)")
    ticks = await _ticks_during(pg_db, sleep.execution_options(off_loop=True))
    assert ticks >= 5, f"the loop ran only {ticks} times during a 0.3 s statement marked off_loop"


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_quick_statements_run_inline(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # the design's point: a write's short statements run without giving way, so no other request's step
    # lengthens the write lock's hold. (A generous budget: a loaded test machine may answer slowly.)
    monkeypatch.setattr(inline_db.InlinePgConnection, "budget_s", 1.0)
    turned = []
    async with pg_db.write() as s:
        asyncio.get_running_loop().call_soon(turned.append, True)
        for _ in range(20):
            await s.execute(text("SELECT 1"))
        assert not turned, "the loop ran a callback during inline statements"


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_slow_statement_blocks_the_loop_only_for_the_budget(pg_db: Database) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    t = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    gaps.clear()
    try:
        async with pg_db.write() as s:
            await s.execute(text("SELECT pg_sleep(0.3)"))
    finally:
        done.set()
        await t
    assert len(gaps) >= 10, f"the loop ran only {len(gaps)} times during a 0.3 s statement"
    assert max(gaps) < 0.15, f"the loop stopped for {max(gaps) * 1000:.0f} ms"


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_slow_commit_waits_through_the_loop(pg_db: Database) -> None:
    # a deferred constraint trigger runs at COMMIT: here it sleeps, as a commit behind a busy disk would wait
    async with pg_db.write() as s:
        await s.execute(text("CREATE TABLE slow_commit (k integer)"))
        await s.execute(text(
            "CREATE FUNCTION slow_commit_nap() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$"))
        await s.execute(text(
            "CREATE CONSTRAINT TRIGGER slow_commit_nap AFTER INSERT ON slow_commit DEFERRABLE INITIALLY DEFERRED "
            "FOR EACH ROW EXECUTE FUNCTION slow_commit_nap()"))
    ticks = await _ticks_during(pg_db, text("INSERT INTO slow_commit VALUES (1)"))
    assert ticks >= 5, f"the loop ran only {ticks} times during a 0.3 s commit"


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_connection_killed_while_a_statement_waits_fails_that_write_only(pg_db: Database) -> None:
    # the statement waits through the loop when its backend is terminated: that write fails with the driver's
    # error, the loop never stopped, and the dead connection is not handed to the next write
    from sqlalchemy.exc import DBAPIError

    from tests.conftest import _pg_admin

    started = asyncio.Event()

    async def victim() -> None:
        async with pg_db.write() as s:
            started.set()
            await s.execute(text("SELECT pg_sleep(5) /* victim */"))

    t = asyncio.create_task(victim())
    await started.wait()
    await asyncio.sleep(0.3)
    await _pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE '%pg_sleep(5) /* victim */%' AND pid <> pg_backend_pid()")
    t0 = time.monotonic()
    with pytest.raises(DBAPIError):
        async with asyncio.timeout(5):
            await t
    assert time.monotonic() - t0 < 2
    for _ in range(4):  # every pooled write connection in turn: all alive
        async with pg_db.write() as s:
            assert (await s.execute(text("SELECT 1"))).scalar_one() == 1
