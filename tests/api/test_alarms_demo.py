"""The demo alarms: 60 over 60 days, every channel and type, inside the districts, routed, some merged."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from command_server.alarms.service import find_district
from command_server.core.security import SystemActor
from command_server.core.services import services
from command_server.demo import alarms as demo_alarms
from command_server.demo import city, geodata
from command_server.geo.index import GEO_INDEX
from tests.conftest import Api


async def _all(op: Any) -> list[dict[str, Any]]:
    r = await op.get("/api/v1/alarms", params={"page_size": 200})
    return (await r.json())["items"]


async def test_demo_alarms(api: Api) -> None:
    svc = services(api.app)
    actor = SystemActor(username="seed")
    await geodata.seed(svc, actor)
    await city.seed(svc, actor)
    await demo_alarms.seed(svc, actor)
    await demo_alarms.seed(svc, actor)  # a second run adds nothing
    op = await api.as_user("operator")
    items = await _all(op)
    assert len(items) == 60
    now = dt.datetime.now(dt.UTC)
    received = [dt.datetime.fromisoformat(a["received_at"].replace("Z", "+00:00")) for a in items]
    assert all(now - dt.timedelta(days=61) < r <= now for r in received)
    assert len({a["channel"] for a in items}) >= 6 and len({a["event_type"] for a in items}) >= 6
    assert len({a["district_unit_id"] for a in items}) == 6 and all(a["district_unit_id"] for a in items)
    statuses = {a["status"] for a in items}
    assert {"open", "closed", "merged"} <= statuses
    complaints = [a for a in items if a["channel"].startswith("complaint_")]
    assert complaints and all(a["routed_to_unit_id"] == a["district_unit_id"] for a in complaints)
    assert any(a["opinion_flag"] for a in complaints)
    by_id = {a["id"]: a for a in items}
    for a in items:
        if a["status"] == "merged":
            parent = by_id[a["merged_into_id"]]
            assert parent["event_type"] == a["event_type"] and parent["status"] == "open"
    assert any("液氨" in a["description"] or "泄漏" in a["description"] for a in items)
    # the demo's own district lookup agrees with the map index the API routes with
    index = api.app[GEO_INDEX]
    for _ in range(100):
        if "districts" in index.catalog.layer_names:
            break
        await asyncio.sleep(0.05)
    async with svc.db.read() as s:
        for a in items[:20]:
            d = await find_district(s, a["lon"], a["lat"])
            assert d is not None and d.unit_id == a["district_unit_id"], a
    ev = await (await op.get("/api/v1/events", params={"type": "alarm.seeded"})).json()
    assert [e["payload"]["count"] for e in ev["items"]] == [60]
