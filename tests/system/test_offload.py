"""Offload workers (``core/offload.py``): readings batches parsed, checked and stored in a worker process on
PostgreSQL, with the same answers as in the server, their events delivered at once, a dead worker replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from command_server.core.config import Settings
from command_server.core.errors import ApiError, not_found
from command_server.core.offload import OffloadError
from command_server.core.security import SystemActor
from command_server.core.services import services
from command_server.core.uow import AnyActor
from tests.api.test_monitoring import T0, ingest, make_source, row
from tests.api.test_warnings import make_rule, warnings_of
from tests.conftest import PG_URL, Api, make_settings, start_api
from tests.peers.server import ServerProcess
from tests.realtime_client import Listener

on_postgres = pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)


# called in a worker by name, like the domain functions
async def where_am_i(svc: Any, actor: AnyActor, what: str) -> dict[str, Any]:
    if what == "missing":
        raise not_found("thing", 7)
    if what == "crash":
        raise RuntimeError("the worker's own fault")
    if what == "sleep":
        await asyncio.sleep(30)
    if what == "nap":
        await asyncio.sleep(0.5)
    return {"pid": os.getpid(), "actor": actor.username, "db": svc.db.is_sqlite}


@pytest.fixture
async def api1(settings_factory) -> Any:  # type: ignore[no-untyped-def]
    api = await start_api(settings_factory(offload_workers=1))
    try:
        yield api
    finally:
        await api.client.close()


@on_postgres
async def test_calls_run_in_a_worker_and_raise_there_as_here(api1: Api) -> None:
    offload = services(api1.app).offload
    assert offload is not None and offload.running
    assert len(offload.pids) == 1 and offload.pids[0] != os.getpid()
    got = await offload.run(f"{__name__}:where_am_i", SystemActor(username="tester"), "here")
    assert got == {"pid": offload.pids[0], "actor": "tester", "db": False}
    with pytest.raises(ApiError) as err:
        await offload.run(f"{__name__}:where_am_i", SystemActor(), "missing")
    assert (err.value.status, err.value.code, err.value.details) == (404, "not_found", {"resource": "thing", "id": 7})
    with pytest.raises(OffloadError, match="the worker's own fault"):
        await offload.run(f"{__name__}:where_am_i", SystemActor(), "crash")
    # the worker survived its failures
    assert (await offload.run(f"{__name__}:where_am_i", SystemActor(), "here"))["pid"] == offload.pids[0]


@on_postgres
async def test_a_batch_is_stored_by_the_worker_and_its_warning_arrives_at_once(api1: Api) -> None:
    svc = services(api1.app)
    svc.pump.poll_interval_s = 60.0  # only the worker's notification can wake the pump in time
    admin = await api1.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "青溪河一号水质站")
    await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=2.0, level="red")
    lst = Listener(str(api1.client.make_url("/")))
    await lst.connect(admin.tokens["access_token"])
    try:
        status, body = await ingest(admin, [row(src["id"], "NH3-N", T0, 1.5), row(src["id"], "NH3-N", T0, 1.6),
                                            row(src["id"], "NH3-N", T0.replace(minute=10), 2.5)])
        assert status == 200, body
        assert (body["accepted"], body["inserted"], len(body["rejected"]), len(body["warnings_opened"])) == (2, 2, 1, 1)
        assert body["rejected"][0]["error"] == "duplicate of an earlier row in this batch"
        t0 = asyncio.get_running_loop().time()
        ev = await lst.wait_for(lambda e: e["type"] == "warning.opened", within_s=5)
        assert asyncio.get_running_loop().time() - t0 < 2.0  # well before the pump's 60 s poll
        assert ev["payload"]["warning"]["id"] == body["warnings_opened"][0]
        assert [w["id"] for w in await warnings_of(admin, "open")] == body["warnings_opened"]
        r = await admin.get("/api/v1/monitoring/series", params={
            "source_id": src["id"], "metric": "NH3-N", "from": "2026-03-09T00:00:00Z", "to": "2026-03-11T00:00:00Z"})
        assert (await r.json())["raw_count"] == 2
    finally:
        await lst.close()


@on_postgres
async def test_the_worker_sees_every_configuration_change_the_server_has_seen(api1: Api) -> None:
    """The worker remembers sources and rules (``core/config_cache.py``); the server's generation travels with
    each call, so a change committed in the server applies to the very next batch the worker stores."""
    admin = await api1.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "青溪河二号水质站")
    sid = src["id"]
    rule = await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=5.0, level="red")
    status, body = await ingest(admin, [row(sid, "NH3-N", T0, 4.0)])
    assert status == 200 and body["warnings_opened"] == [], body
    body_ = {"name": "氨氮", "metric": "NH3-N", "level": "red", "scope_kind": "water_station", "kind": "threshold",
             "op": ">", "threshold": 3.0}
    r = await admin.request("PUT", f"/api/v1/warning-rules/{rule['id']}", json=body_)
    assert r.status == 200, await r.text()
    status, body = await ingest(admin, [row(sid, "NH3-N", T0.replace(minute=1), 4.0)])
    assert status == 200 and len(body["warnings_opened"]) == 1, body
    r = await admin.patch(f"/api/v1/monitoring/sources/{sid}", json={"active": False})
    assert r.status == 200, await r.text()
    status, body = await ingest(admin, [row(sid, "NH3-N", T0.replace(minute=2), 4.0)])
    assert status == 422 and "inactive" in body["error"]["details"]["errors"][0]["error"], body
    assert services(api1.app).config.generation > 0


@on_postgres
async def test_the_worker_answers_bad_batches_as_the_server_does(api1: Api) -> None:
    admin = await api1.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "一号站")
    r = await admin.post("/api/v1/monitoring/readings", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_json"
    r = await admin.post("/api/v1/monitoring/readings", json={"rows": []})
    body = await r.json()
    assert r.status == 422 and body["error"]["code"] == "validation_error"
    assert {tuple(e["loc"]) for e in body["error"]["details"]["errors"]} >= {("body", "readings"), ("body", "rows")}
    status, body = await ingest(admin, [row(src["id"], "XYZ", T0, 1.0), row(999_999, "pH", T0, 7.0)])
    assert status == 422 and body["error"]["code"] == "no_valid_readings"
    assert body["error"]["details"]["rejected"] == 2
    r = await api1.client.post("/api/v1/monitoring/readings", json={"readings": [row(src["id"], "pH", T0, 7.0)]})
    assert r.status == 401  # authenticated and permission-checked in the server, before any worker
    operator = await api1.as_user("operator")
    status, _ = await ingest(operator, [row(src["id"], "pH", T0, 7.0)])
    assert status == 403


@on_postgres
async def test_a_dead_worker_is_replaced_and_a_resent_batch_counts_once(api1: Api) -> None:
    """A worker killed while idle is replaced before anyone needs it; one killed during a call answers that
    call 503 (it may or may not have been carried out), and the batch sent again is recognised."""
    offload = services(api1.app).offload
    assert offload is not None
    admin = await api1.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "一号站")
    batch = [row(src["id"], "pH", T0.replace(minute=m), 7.0) for m in range(5)]
    first = offload.pids[0]
    os.kill(first, signal.SIGKILL)
    for _ in range(300):
        if offload.restarts == 1 and offload.pids and offload.pids[0] != first:
            break
        await asyncio.sleep(0.1)
    assert offload.restarts == 1 and offload.running and offload.pids[0] != first
    status, body = await ingest(admin, batch)
    assert status == 200 and body["inserted"] == 5

    second = offload.pids[0]
    call = asyncio.create_task(offload.run(f"{__name__}:where_am_i", SystemActor(), "sleep"))
    await asyncio.sleep(1.0)  # the worker has the call
    os.kill(second, signal.SIGKILL)
    with pytest.raises(ApiError) as err:
        await call
    assert (err.value.status, err.value.code) == (503, "worker_restarted")
    for _ in range(300):
        if offload.restarts == 2 and offload.pids and offload.pids[0] != second:
            break
        await asyncio.sleep(0.1)
    assert offload.restarts == 2 and offload.running
    status, body = await ingest(admin, batch)  # sent again: recognised
    assert status == 200 and (body["inserted"], body["duplicates"]) == (0, 5)


@on_postgres
async def test_calls_wait_for_a_busy_worker_and_a_cancelled_request_leaves_it_in_order(api1: Api) -> None:
    """One worker, three calls at once: each waits its turn. A call whose request is cancelled still runs to
    its end, and the next call gets its own answer, not the cancelled one's."""
    offload = services(api1.app).offload
    assert offload is not None and len(offload.pids) == 1
    calls = [asyncio.create_task(offload.run(f"{__name__}:where_am_i", SystemActor(username=f"u{k}"), "here"))
             for k in range(3)]
    assert [c["actor"] for c in await asyncio.gather(*calls)] == ["u0", "u1", "u2"]
    slow = asyncio.create_task(offload.run(f"{__name__}:where_am_i", SystemActor(username="napper"), "nap"))
    await asyncio.sleep(0.2)  # the worker has it
    slow.cancel()
    t0 = asyncio.get_running_loop().time()
    got = await offload.run(f"{__name__}:where_am_i", SystemActor(username="after"), "here")
    assert got["actor"] == "after" and slow.cancelled()
    assert asyncio.get_running_loop().time() - t0 > 0.2  # it waited for the cancelled call to end


def test_workers_are_refused_on_sqlite(tmp_path: Any) -> None:
    with pytest.raises(ValidationError, match="ECS_OFFLOAD_WORKERS"):
        make_settings(tmp_path, "sqlite", None, offload_workers=2)
    assert make_settings(tmp_path, "sqlite", None, offload_workers=None).offload_worker_count == 0
    pg = Settings(database_url="postgresql://u@h/db", offload_workers=None)
    assert pg.offload_worker_count == min(2, os.cpu_count() or 1)


def _children(pid: int) -> list[int]:
    return [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@on_postgres
async def test_workers_end_with_a_killed_server(tmp_path: Path, pg_schema: str) -> None:
    server = ServerProcess(tmp_path / "var", env={"DATABASE_URL": PG_URL, "ECS_DB_SCHEMA": pg_schema,
                                                   "ECS_SEED_DEMO_CITY": "false", "ECS_OFFLOAD_WORKERS": "2"})
    await asyncio.to_thread(server.start)
    try:
        assert server.proc is not None
        kids = _children(server.proc.pid)
        assert len(kids) >= 2  # the workers (and multiprocessing's resource tracker)
        server.proc.kill()
        server.proc.wait()
        for _ in range(50):
            if not any(_running(k) for k in kids):
                break
            await asyncio.sleep(0.1)
        assert not any(_running(k) for k in kids), "a worker outlived its server"
    finally:
        server.stop()
