"""PostgreSQL writes run inline on the event loop except where they wait for the server (core/inline_db.py):
a statement marked ``off_loop`` and the commit are waited for in a thread while the loop serves others."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import text

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
async def test_unmarked_statement_runs_inline(pg_db: Database) -> None:
    # the counterpart: an ordinary write statement blocks the loop for its duration (the design's point:
    # short statements under the write lock without giving way), so the ticker cannot run meanwhile
    ticks = await _ticks_during(pg_db, text("SELECT pg_sleep(0.3)"))
    assert ticks <= 2, f"the loop ran {ticks} times during an inline statement"


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_commit_is_waited_for_in_the_write_thread(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    threads: list[str] = []
    real = psycopg.Connection.commit

    def commit(self: psycopg.Connection) -> None:  # type: ignore[type-arg]
        threads.append(threading.current_thread().name)
        real(self)

    monkeypatch.setattr(psycopg.Connection, "commit", commit)
    async with pg_db.write() as s:
        await s.execute(text("SELECT 1"))
    assert threads and all(t.startswith("pg-commit") for t in threads), threads
    assert threading.current_thread().name not in threads
