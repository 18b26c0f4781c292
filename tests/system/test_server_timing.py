"""``Server-Timing`` (``core/timing.py``): each API response says where the request waited — the write lock,
another process's order lock, the commit, the read sessions, an offload worker and that worker's own phases."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psycopg
import pytest

from command_server.core import timing
from command_server.core.services import services
from command_server.core.uow import ORDER_LOCK_KEY
from tests.api.test_monitoring import T0, ingest, make_source, row
from tests.conftest import PG_URL, Api, start_api

ALARM = {"channel": "hotline", "event_type": "water", "lon": 121.48, "lat": 31.13, "description": "河面有油膜"}


@pytest.fixture
async def timed(settings_factory) -> Any:  # type: ignore[no-untyped-def]
    api = await start_api(settings_factory(server_timing=True))
    try:
        yield api
    finally:
        await api.client.close()


def phases_of(resp: Any) -> dict[str, float]:
    header = resp.headers.get(timing.HEADER)
    assert header, "no Server-Timing header"
    return timing.parse(header)


def test_the_header_reads_back_as_written() -> None:
    t = timing.Timing()
    t.add("read", 0.004)
    t.add("read", 0.002)
    t.merge({"commit": [0.0015, 1]}, "w.")
    header = t.header()
    assert "read;dur=6.00;desc=2" in header and "w.commit;dur=1.50" in header
    got = timing.parse(header)
    assert got["read"] == 6.0 and got["w.commit"] == 1.5 and got["total"] >= 0.0
    assert timing.parse("a;dur=x, b;desc=2, c;dur=1") == {"c": 1.0}  # what cannot be read is left out


async def test_off_unless_asked_for(api: Api) -> None:
    op = await api.as_user("operator")
    r = await op.post("/api/v1/alarms", json=ALARM)
    assert r.status == 201
    assert timing.HEADER not in r.headers


async def test_a_write_reports_its_phases_and_its_wait_for_the_write_lock(timed: Api) -> None:
    op = await timed.as_user("operator")
    r = await op.post("/api/v1/alarms", json=ALARM)
    assert r.status == 201, await r.text()
    p = phases_of(r)
    assert {"total", "auth", "body", "read", "wlock", "write", "commit"} <= set(p)
    assert all(0 <= v <= p["total"] for v in p.values())
    assert p["wlock"] < 100

    # another write of this process holds the write lock for 0.3 s: the alarm says it queued that long
    db = services(timed.app).db
    await db._write_lock.acquire()
    asyncio.get_running_loop().call_later(0.3, db._write_lock.release)
    r = await op.post("/api/v1/alarms", json=ALARM)
    assert r.status == 201
    p = phases_of(r)
    assert 250 <= p["wlock"] <= p["total"]
    assert p["write"] < 250  # the wait is not counted as the write's own time


async def test_errors_and_reads_are_timed_too(timed: Api) -> None:
    r = await timed.client.get("/api/v1/alarms")  # no token
    assert r.status == 401
    assert "total" in phases_of(r)
    op = await timed.as_user("operator")
    r = await op.get("/api/v1/alarms", params={"status": "open"})
    assert r.status == 200
    p = phases_of(r)
    assert "read" in p and "json" in p and "wlock" not in p and "commit" not in p


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_the_wait_for_another_process_order_lock_is_its_own_phase(timed: Api) -> None:
    op = await timed.as_user("operator")
    other = psycopg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    other.execute("SELECT pg_advisory_xact_lock(%s)", (ORDER_LOCK_KEY,))
    release = threading.Timer(0.4, other.commit)
    release.start()
    try:
        t0 = time.monotonic()
        r = await op.post("/api/v1/alarms", json=ALARM)
        assert r.status == 201, await r.text()
        assert time.monotonic() - t0 >= 0.35
    finally:
        release.cancel()
        other.close()
    p = phases_of(r)
    assert 350 <= p["olock"] <= p["write"] <= p["total"]


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_an_offloaded_call_brings_its_worker_phases_back(settings_factory) -> None:  # type: ignore[no-untyped-def]
    api = await start_api(settings_factory(server_timing=True, offload_workers=1))
    try:
        admin = await api.as_user("admin")
        src = await make_source(admin, "stations", "water_station", "青溪河一号水质站")
        r = await admin.post("/api/v1/monitoring/readings", json={"readings": [row(src["id"], "NH3-N", T0, 1.5)]})
        assert r.status == 200, await r.text()
        p = phases_of(r)
        # the server authenticated and read the body; the worker parsed, read, inserted and committed
        assert {"auth", "body", "wqueue", "worker", "w.call", "w.read", "w.unlocked", "w.wlock", "w.write",
                "w.commit"} <= set(p)
        assert p["w.call"] <= p["worker"] and p["wqueue"] + p["worker"] <= p["total"]
        assert "commit" not in p  # nothing was written by the server process itself
        status, body = await ingest(admin, [row(src["id"], "NH3-N", T0, 1.5)])  # the same reading again
        assert (status, body["duplicates"]) == (200, 1)
    finally:
        await api.client.close()
