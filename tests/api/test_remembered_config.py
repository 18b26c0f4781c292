"""Sources and warning rules remembered per process for ingest (``core/config_cache.py``): read once, and every
change — made here, or through another server process — seen by the next batch."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from command_server.core.services import services
from tests.api.test_monitoring import T0, ingest, make_source, row
from tests.api.test_warnings import make_rule, warnings_of
from tests.conftest import Api, AuthedApi, start_api

RULE = {"name": "氨氮超标", "metric": "NH3-N", "level": "red", "notify_duty": True, "scope_kind": "water_station",
        "kind": "threshold", "op": ">", "threshold": 5.0}


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


async def opened(client: AuthedApi, sid: int, minute: int, value: float) -> list[int]:
    status, body = await ingest(client, [row(sid, "NH3-N", at(minute), value)])
    assert status == 200, body
    return body["warnings_opened"]  # type: ignore[no-any-return]


async def close_all(admin: AuthedApi) -> None:
    for w in await warnings_of(admin, "open"):
        r = await admin.post(f"/api/v1/warnings/{w['id']}/close", json={"reason": "测试"})
        assert r.status == 200, await r.text()


async def test_read_once_and_every_change_seen_by_the_next_batch(api: Api) -> None:
    """Changes made in this process apply when they commit (``Writer.on_commit``), not when the pump delivers
    them: the pump is stopped here."""
    svc = services(api.app)
    await svc.pump.stop()
    cache = svc.config
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "记忆测试站")
    sid = src["id"]
    rule = await make_rule(admin, **RULE)
    assert await opened(admin, sid, 0, 4.0) == []
    loads = cache.loads
    for k in range(1, 4):  # unchanged configuration: nothing is read again
        assert await opened(admin, sid, k, 4.0 + k / 10) == []
    assert cache.loads == loads

    # a rule changed: the very next batch is evaluated against it
    r = await admin.request("PUT", f"/api/v1/warning-rules/{rule['id']}", json={**RULE, "threshold": 3.5})
    assert r.status == 200, await r.text()
    assert len(await opened(admin, sid, 10, 4.0)) == 1
    assert cache.loads > loads
    await close_all(admin)

    # disabled, then deleted: nothing fires
    r = await admin.request("PUT", f"/api/v1/warning-rules/{rule['id']}", json={**RULE, "threshold": 3.5,
                                                                            "enabled": False})
    assert r.status == 200, await r.text()
    assert await opened(admin, sid, 20, 9.0) == []
    assert (await admin.delete(f"/api/v1/warning-rules/{rule['id']}")).status == 204
    assert await opened(admin, sid, 21, 9.5) == []

    # a rule created for one source only
    await make_rule(admin, **{**RULE, "scope_kind": None, "scope_source_id": sid, "threshold": 1.0})
    assert len(await opened(admin, sid, 22, 2.0)) == 1

    # the source deactivated, its metrics changed, a new source: the next batch is checked against them
    r = await admin.patch(f"/api/v1/monitoring/sources/{sid}", json={"active": False})
    assert r.status == 200, await r.text()
    status, body = await ingest(admin, [row(sid, "NH3-N", at(30), 1.0)])
    assert status == 422 and f"source {sid} is inactive" in body["error"]["details"]["errors"][0]["error"]
    r = await admin.patch(f"/api/v1/monitoring/sources/{sid}", json={"active": True, "metrics": ["pH"]})
    assert r.status == 200, await r.text()
    status, body = await ingest(admin, [row(sid, "NH3-N", at(31), 1.0), row(sid, "pH", at(31), 7.0)])
    assert status == 200 and body["accepted"] == 1 and "is not reported" in body["rejected"][0]["error"], body
    other = await make_source(admin, "stations", "water_station", "新建站")
    status, body = await ingest(admin, [row(other["id"], "NH3-N", at(32), 1.0)])
    assert status == 200 and body["accepted"] == 1, body


async def test_another_server_process_follows_rule_changes(api: Api, settings_factory: Any) -> None:
    """A second app on the same database (a second server process) remembers its own copy and forgets it when
    its event pump delivers the change."""
    other = await start_api(settings_factory())
    try:
        admin = await api.as_user("admin")
        admin2 = await other.as_user("admin")
        src = await make_source(admin, "stations", "water_station", "双进程站")
        sid = src["id"]
        for _ in range(50):  # the other process learns of the new source from its pump
            status, _body = await ingest(admin2, [row(sid, "NH3-N", at(0), 9.0)])
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert status == 200
        assert await opened(admin2, sid, 1, 9.0) == []  # no rule yet, and the sources and rules are remembered
        await make_rule(admin, **RULE)
        got: list[int] = []
        for k in range(2, 52):
            got = await opened(admin2, sid, k, 9.0)
            if got:
                break
            await asyncio.sleep(0.1)
        assert len(got) == 1, "the other process never saw the new rule"
    finally:
        await other.client.close()
