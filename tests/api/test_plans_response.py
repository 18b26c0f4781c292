"""Plan matching for a real incident and starting the response: tasks, notifications, state change and the
event in one transaction — or nothing at all (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import pytest
from sqlalchemy import func, select

from command_server.core.services import services
from tests.api.test_plans import ammonia_plan, create, user_id
from tests.conftest import Api, AuthedApi

HAS_DEPS = all(importlib.util.find_spec(m) is not None
               for m in ("command_server.incidents.service", "command_server.notify.service"))
pytestmark = pytest.mark.skipif(not HAS_DEPS, reason="the incidents or notify domain is not in this build")

SQUARE = {"type": "Polygon", "coordinates": [[[121.4, 30.9], [121.6, 30.9], [121.6, 31.1], [121.4, 31.1],
                                              [121.4, 30.9]]]}


async def make_incident(op: AuthedApi, **over: Any) -> dict[str, Any]:
    body = {"type": "hazchem_leak", "title": "临港化工厂氨气泄漏", "pollutant": "氨气", "lon": 121.5, "lat": 31.0,
            "description": "液氨储罐阀门破裂，厂区下风向有刺激性气味"}
    body.update(over)
    r = await op.post("/api/v1/incidents", json=body)
    assert r.status == 201, await r.text()
    return await r.json()


async def _count(api: Api, model: Any, *where: Any) -> int:
    async with services(api.app).db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _events(api: Api, type_: str, incident_id: int) -> int:
    from command_server.core.events import Event

    return await _count(api, Event, Event.type == type_, Event.incident_id == incident_id)


async def test_matches_rank_the_fitting_plan_first(api: Api) -> None:
    op = await api.as_user("operator")
    ammonia = await create(op, ammonia_plan(area={"polygon": SQUARE}))
    await create(op, ammonia_plan(title="江河溢油应急预案", event_types=["water"], levels=["I", "II"],
                                  pollutants=[{"name": "柴油"}], guide="布设围油栏。", steps=[{
                                      "order": 1, "action": "下游布设围油栏", "responsible_role": "officer",
                                      "deadline_minutes": 30}]))
    inc = await make_incident(op)
    r = await op.get(f"/api/v1/incidents/{inc['id']}/plan-matches")
    assert r.status == 200, await r.text()
    matches = await r.json()
    assert matches[0]["plan_id"] == ammonia["id"] and len(matches) == 2
    top = matches[0]
    assert top["factors"]["type"] == 1 and top["factors"]["pollutant"] == 1 and top["factors"]["area"] == 1
    assert set(top["explanation"]) == {"type", "pollutant", "level", "area", "text"}
    assert matches[0]["score"] > matches[1]["score"]
    assert (await op.get("/api/v1/incidents/999999/plan-matches")).status == 404


async def test_matches_follow_the_library_at_once(api: Api, settings_factory: Any) -> None:
    """The plans' matching facts are remembered per process: every edit, retirement and new plan is seen by
    the very next ranking in the process that made it, and by another server process once its pump delivers."""
    from tests.conftest import start_api

    op = await api.as_user("operator")
    oil = await create(op, ammonia_plan(title="江河溢油应急预案", event_types=["water"], pollutants=[{"name": "柴油"}]))
    inc = await make_incident(op)
    other = await start_api(settings_factory())
    try:
        op2 = await other.as_user("operator")

        async def ranking(client: AuthedApi = op) -> list[tuple[int, float]]:
            r = await client.get(f"/api/v1/incidents/{inc['id']}/plan-matches")
            assert r.status == 200, await r.text()
            return [(m["plan_id"], m["factors"]["type"]) for m in await r.json()]

        first = await ranking()
        assert first[0][0] == oil["id"] and first[0][1] < 1 and await ranking(op2) == first
        ammonia = await create(op, ammonia_plan())
        assert [p for p, _ in await ranking()] == [ammonia["id"], oil["id"]]
        r = await op.request("PUT", f"/api/v1/plans/{oil['id']}", json=ammonia_plan(
            title="江河溢油应急预案", event_types=["hazchem_leak"], pollutants=[{"name": "柴油"}]))
        assert r.status == 200, await r.text()
        assert dict(await ranking())[oil["id"]] == 1
        assert (await op.delete(f"/api/v1/plans/{ammonia['id']}")).status == 204
        assert await ranking() == [(oil["id"], 1)]
        for _ in range(50):  # the other process: its pump delivers the three changes
            if await ranking(op2) == [(oil["id"], 1)]:
                break
            await asyncio.sleep(0.1)
        assert await ranking(op2) == [(oil["id"], 1)]
    finally:
        await other.client.close()


async def test_start_response_creates_everything_at_once(api: Api) -> None:
    from command_server.incidents.models import Task
    from command_server.notify.models import Notification

    op = await api.as_user("operator")
    commander_id = await user_id(await api.as_user("commander"))
    plan = await create(op, ammonia_plan(notifications={
        "IV": {"user_ids": [commander_id], "roles": ["operator"], "unit_ids": []}}))
    inc = await make_incident(op)
    r = await op.post(f"/api/v1/incidents/{inc['id']}/response", json={"plan_id": plan["id"]})
    assert r.status == 201, await r.text()
    out = await r.json()
    assert out["state"] == "responding" and out["plan_id"] == plan["id"]
    assert [t["plan_step_order"] for t in out["tasks"]] == [1, 2]
    assert all(t["source"] == "plan" and t["due_at"] for t in out["tasks"])
    assert out["tasks"][0]["assignee_user_id"] is None or isinstance(out["tasks"][0]["assignee_user_id"], int)
    notified = sorted(n["user_id"] for n in out["notifications"])
    assert commander_id in notified and await user_id(op) in notified
    assert await _count(api, Task, Task.incident_id == inc["id"]) == 2
    assert await _count(api, Notification, Notification.incident_id == inc["id"]) == len(notified)
    assert await _events(api, "response.started", inc["id"]) == 1
    got = await (await op.get(f"/api/v1/incidents/{inc['id']}")).json()
    assert got["state"] == "responding" and got["plan_id"] == plan["id"]
    # a second start is refused: the incident is no longer reported/verifying
    r = await op.post(f"/api/v1/incidents/{inc['id']}/response", json={"plan_id": plan["id"]})
    assert r.status == 409 and (await r.json())["error"]["code"] == "invalid_state"


async def test_closed_incident_is_refused(api: Api) -> None:
    op = await api.as_user("operator")
    plan = await create(op, ammonia_plan())
    inc = await make_incident(op)
    for to in ("responding", "disposing", "closed"):
        r = await op.post(f"/api/v1/incidents/{inc['id']}/transitions", json={"to": to, "reason": "测试"})
        assert r.status == 200, await r.text()
    r = await op.post(f"/api/v1/incidents/{inc['id']}/response", json={"plan_id": plan["id"]})
    assert r.status == 409
    body = (await r.json())["error"]
    assert body["code"] == "invalid_state" and body["details"]["state"] == "closed"
    assert await _events(api, "response.started", inc["id"]) == 0


async def test_unknown_user_in_notifications_fails_before_any_write(api: Api) -> None:
    from command_server.incidents.models import Task
    from command_server.plans.models import Plan

    op = await api.as_user("operator")
    plan = await create(op, ammonia_plan())
    # The user existed when the plan was saved and is gone now: written straight to the table.
    async with services(api.app).db.write() as s:
        row = await s.get(Plan, plan["id"])
        assert row is not None
        row.notifications = {"IV": {"user_ids": [987654], "roles": [], "unit_ids": []}}
    inc = await make_incident(op)
    r = await op.post(f"/api/v1/incidents/{inc['id']}/response", json={"plan_id": plan["id"]})
    assert r.status == 422, await r.text()
    assert "987654" in str((await r.json())["error"]["details"])
    assert await _count(api, Task, Task.incident_id == inc["id"]) == 0
    got = await (await op.get(f"/api/v1/incidents/{inc['id']}")).json()
    assert got["state"] == "reported" and got["plan_id"] is None
    r = await op.post(f"/api/v1/incidents/{inc['id']}/response", json={"plan_id": 424242})
    assert r.status == 422


async def test_failure_after_tasks_rolls_everything_back(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from command_server.incidents.models import Task
    from command_server.notify import service as notify_service

    op = await api.as_user("operator")
    plan = await create(op, ammonia_plan())
    inc = await make_incident(op)

    async def broken(*_a: Any, **_kw: Any) -> Any:
        raise RuntimeError("SMS gateway exploded")

    monkeypatch.setattr(notify_service, "notify", broken)
    r = await op.post(f"/api/v1/incidents/{inc['id']}/response", json={"plan_id": plan["id"]})
    assert r.status == 500
    assert await _count(api, Task, Task.incident_id == inc["id"]) == 0
    assert await _events(api, "task.created", inc["id"]) == 0
    assert await _events(api, "response.started", inc["id"]) == 0
    got = await (await op.get(f"/api/v1/incidents/{inc['id']}")).json()
    assert got["state"] == "reported" and got["plan_id"] is None
    monkeypatch.undo()
    r = await op.post(f"/api/v1/incidents/{inc['id']}/response", json={"plan_id": plan["id"]})
    assert r.status == 201, await r.text()


async def test_response_permissions(api: Api) -> None:
    op = await api.as_user("operator")
    plan = await create(op, ammonia_plan())
    inc = await make_incident(op)
    field = await api.as_user("field")
    r = await field.post(f"/api/v1/incidents/{inc['id']}/response", json={"plan_id": plan["id"]})
    assert r.status == 403 and (await r.json())["error"]["details"]["permission"] == "response:start"
    assert (await field.get(f"/api/v1/incidents/{inc['id']}/plan-matches")).status == 200
