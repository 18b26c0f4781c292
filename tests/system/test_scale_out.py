"""Two server processes sharing PostgreSQL and Redis: an event written through one reaches a client of the other."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import PG_AVAILABLE, PG_URL, REDIS_AVAILABLE, REDIS_URL
from tests.peers.server import ServerProcess
from tests.realtime_client import Listener
from tests.system.test_process import call, login

pytestmark = [
    pytest.mark.skipif(not REDIS_AVAILABLE, reason=f"Redis not reachable at {REDIS_URL}"),
    pytest.mark.skipif(not PG_AVAILABLE, reason=f"PostgreSQL not reachable at {PG_URL} (scale-out needs it)"),
]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_event_crosses_processes_through_redis(tmp_path: Path) -> None:
    schema = "t_" + uuid.uuid4().hex[:16]
    await _admin(f"CREATE SCHEMA {schema}")
    env = {"DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL, "ECS_DB_SCHEMA": schema, "ECS_SEED_DEMO_CITY": "false"}
    a = ServerProcess(tmp_path / "a", env=env)
    b = ServerProcess(tmp_path / "b", env=env)
    try:
        # Both start at once: migrations and seeding are serialised by an advisory lock.
        await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
        token_b = await asyncio.to_thread(login, b.url, "commander")
        listener = Listener(b.url + "/", "/console")
        await listener.connect(token_b)
        token_a = await asyncio.to_thread(login, a.url, "operator")
        ids = []
        for i in range(5):
            status, body = await asyncio.to_thread(call, a.url + "/api/v1/bulletins", "POST",
                                                   {"text": f"跨进程 {i}"}, token_a)
            assert status == 201
            ids.append(body["id"])
        await listener.wait_for(lambda e: e["id"] == ids[-1], within_s=10)
        got = [e["id"] for e in listener.events if e["type"] == "bulletin.posted"]
        assert got == ids
        # Replay works across processes too: reconnect to A with B's last id.
        last = listener.events[-1]["id"]
        await listener.close()
        for i in range(3):
            await asyncio.to_thread(call, b.url + "/api/v1/bulletins", "POST", {"text": f"later {i}"}, token_b)
        again = Listener(a.url + "/", "/console")
        await again.connect(token_a, last_event_id=last)
        texts = [e["payload"].get("text") for e in again.events if e["type"] == "bulletin.posted"]
        assert texts == ["later 0", "later 1", "later 2"]
        await again.close()
    finally:
        a.stop()
        b.stop()
        await _admin(f"DROP SCHEMA {schema} CASCADE")
