"""Response tasks (CMD-1): manual tasks, progress and feedback by the assignee, field staff's own list, and
the incident room over Socket.IO."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp
import pytest

from command_server.core.security import SystemActor
from command_server.core.services import services
from command_server.incidents.schemas import TaskSpec
from command_server.incidents.service import add_tasks_in
from tests.conftest import Api, AuthedApi
from tests.realtime_client import Listener

BASE = {"type": "water", "title": "滨江干流油污带", "lon": 121.45, "lat": 31.02, "pollutant": "柴油"}


async def _incident(client: AuthedApi, **extra: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/incidents", json={**BASE, **extra})
    assert r.status == 201, await r.text()
    return await r.json()


async def _me(client: AuthedApi) -> int:
    return (await (await client.get("/api/v1/auth/me")).json())["id"]


async def test_manual_tasks_crud_and_progress(api: Api) -> None:
    op = await api.as_user("operator")
    field = await api.as_user("field")
    pilot = await api.as_user("pilot")
    field_id = await _me(field)
    inc = await _incident(op)
    url = f"/api/v1/incidents/{inc['id']}/tasks"
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    r = await op.post(url, json={"title": "下游 2 km 布设围油栏", "assignee_user_id": field_id, "due_at": due,
                                 "description": "沿岸设置两道围油栏"})
    assert r.status == 201, await r.text()
    task = await r.json()
    assert task["status"] == "todo" and task["source"] == "manual" and not task["overdue"]
    for bad in ({"title": ""}, {"title": "x", "assignee_user_id": 9999}, {"title": "x", "assignee_role": "boss"},
                {"title": "x", "assignee_user_id": field_id, "assignee_role": "field"},
                {"title": "x", "due_at": "2026-03-01T10:00:00"}, {"title": "x", "source": "plan"}):
        r = await op.post(url, json=bad)
        assert r.status == 422, (bad, await r.text())
    assert (await field.post(url, json={"title": "x"})).status == 403
    assert (await op.post("/api/v1/incidents/9999/tasks", json={"title": "x"})).status == 404
    # Another field account (the pilot) is not the assignee.
    r = await pilot.patch(f"/api/v1/tasks/{task['id']}", json={"status": "doing"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "not_assignee"
    # The assignee progresses it, may not reassign it, and may not go backwards.
    r = await field.patch(f"/api/v1/tasks/{task['id']}", json={"status": "doing", "feedback": "已出发"})
    assert r.status == 200 and (await r.json())["started_at"]
    assert (await field.patch(f"/api/v1/tasks/{task['id']}", json={"assignee_role": "pilot"})).status == 403
    r = await field.patch(f"/api/v1/tasks/{task['id']}", json={"status": "todo"})
    assert r.status == 409 and (await r.json())["error"]["details"]["allowed"] == ["done"]
    assert (await field.patch(f"/api/v1/tasks/{task['id']}", json={"status": "finished"})).status == 422
    assert (await field.patch(f"/api/v1/tasks/{task['id']}", json={"feedback_file_ids": [4242]})).status == 422
    form = aiohttp.FormData()
    form.add_field("file", b"\xff\xd8\xff\xe0" + b"\x00" * 64, filename="围油栏.jpg", content_type="image/jpeg")
    up = await field.post("/api/v1/files", data=form)
    assert up.status == 201, await up.text()
    file_id = (await up.json())["id"]
    r = await field.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done", "feedback": "两道围油栏已布设",
                                                                "feedback_file_ids": [file_id]})
    done = await r.json()
    assert r.status == 200 and done["status"] == "done" and done["feedback_file_ids"] == [file_id]
    assert (await field.patch(f"/api/v1/tasks/{task['id']}", json={"status": "doing"})).status == 409
    # Staff reschedule and rename.
    r = await op.patch(f"/api/v1/tasks/{task['id']}", json={"title": "布设围油栏（已完成）"})
    assert r.status == 200
    assert (await op.patch("/api/v1/tasks/9999", json={"status": "doing"})).status == 404
    tasks = await (await op.get(url)).json()
    assert [t["title"] for t in tasks] == ["布设围油栏（已完成）"]
    tl = await (await op.get(f"/api/v1/incidents/{inc['id']}/timeline", params={"kind": "task"})).json()
    assert [(e["type"], e["payload"]["status"]) for e in tl] == [
        ("task.created", "todo"), ("task.updated", "doing"), ("task.updated", "done"), ("task.updated", "done")]
    assert tl[2]["payload"]["from"] == "doing" and tl[2]["actor"]["username"] == "field"


async def test_mine_for_field_staff_by_user_role_and_unit(api: Api) -> None:
    admin = await api.as_user("admin")
    op = await api.as_user("operator")
    field = await api.as_user("field")
    field_id = await _me(field)
    r = await admin.post("/api/v1/org/units", json={"name": "滨江市生态环境局", "kind": "city"})
    city = (await r.json())["id"]
    r = await admin.post("/api/v1/org/units", json={"name": "江北区分局", "kind": "district", "parent_id": city})
    district = (await r.json())["id"]
    r = await admin.post("/api/v1/org/units", json={"name": "环境监察大队", "kind": "team", "parent_id": district})
    team = (await r.json())["id"]
    r = await admin.post("/api/v1/people", json={"name": "周晓东", "unit_id": team, "user_id": field_id})
    assert r.status == 201, await r.text()
    inc = await _incident(op)
    other_unit = (await (await admin.post("/api/v1/org/units", json={"name": "临港区生态环境分局", "kind": "district",
                                                                     "parent_id": city})).json())["id"]
    svc = services(api.app)
    specs = [TaskSpec(title="to me", assignee_user_id=field_id, source="plan", plan_step_order=1),
             TaskSpec(title="to my role", assignee_role="field", source="plan", plan_step_order=2),
             TaskSpec(title="to my district", assignee_unit_id=district, source="plan", plan_step_order=3),
             TaskSpec(title="to pilots", assignee_role="pilot", source="plan", plan_step_order=4),
             TaskSpec(title="to another district", assignee_unit_id=other_unit, source="plan", plan_step_order=5)]
    async with svc.write(SystemActor(username="plans")) as uow:
        created = await add_tasks_in(uow, inc["id"], specs)
    assert [t.plan_step_order for t in created] == [1, 2, 3, 4, 5] and all(t.id for t in created)
    mine = await (await field.get("/api/v1/tasks", params={"mine": "true"})).json()
    assert [t["title"] for t in mine] == ["to me", "to my role", "to my district"]
    assert mine[0]["incident_title"] == BASE["title"]
    # Through the unit, a team member may work on the district's task; not on another district's.
    by_title = {t["title"]: t["id"] for t in await (await op.get(f"/api/v1/incidents/{inc['id']}/tasks")).json()}
    assert (await field.patch(f"/api/v1/tasks/{by_title['to my district']}", json={"status": "doing"})).status == 200
    assert (await field.patch(f"/api/v1/tasks/{by_title['to another district']}",
                              json={"status": "doing"})).status == 403
    everything = await (await op.get("/api/v1/tasks")).json()
    assert len(everything) == 5
    doing = await (await op.get("/api/v1/tasks", params={"status": "doing"})).json()
    assert [t["title"] for t in doing] == ["to my district"]
    assert (await field.get("/api/v1/tasks", params={"mine": "perhaps"})).status == 422
    screen = await api.as_user("screen")
    assert (await screen.get("/api/v1/tasks")).status == 403
    # No new tasks on a closed incident.
    for to in ("responding", "disposing", "closed"):
        assert (await op.post(f"/api/v1/incidents/{inc['id']}/transitions", json={"to": to})).status == 200
    r = await op.post(f"/api/v1/incidents/{inc['id']}/tasks", json={"title": "late"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "incident_closed"


def _url(api: Api) -> str:
    return str(api.client.make_url("/"))


async def test_incident_room_join_over_socketio(api: Api) -> None:
    op = await api.as_user("operator")
    inc = await _incident(op)
    other = await _incident(op, title="另一起事件")
    lst = Listener(_url(api), "/console")
    await lst.connect(op.tokens["access_token"])
    try:
        # Notes go to the incident's room only: not delivered before joining.
        r = await op.post(f"/api/v1/incidents/{inc['id']}/notes", json={"text": "before join"})
        before = (await r.json())["id"]
        marker = await (await op.post(f"/api/v1/incidents/{inc['id']}/transitions", json={"to": "verifying"})).json()
        await lst.wait_for(lambda e: e["type"] == "incident.state_changed" and e["incident_id"] == inc["id"])
        assert before not in [e["id"] for e in lst.events]
        assert marker["state"] == "verifying"
        ack = await lst.sio.call("incident.join", {"incident_id": inc["id"]}, namespace="/console", timeout=5)
        assert ack == {"ok": True, "room": f"incident:{inc['id']}"}
        r = await op.post(f"/api/v1/incidents/{inc['id']}/notes", json={"text": "after join"})
        after = (await r.json())["id"]
        e = await lst.wait_for(lambda e: e["id"] == after)
        assert e["type"] == "incident.note_added" and e["payload"]["text"] == "after join"
        # Only that incident's room: another incident's note does not arrive.
        r = await op.post(f"/api/v1/incidents/{other['id']}/notes", json={"text": "elsewhere"})
        elsewhere = (await r.json())["id"]
        r = await op.post(f"/api/v1/incidents/{inc['id']}/notes", json={"text": "marker"})
        marker_id = (await r.json())["id"]
        await lst.wait_for(lambda e: e["id"] == marker_id)  # delivered in id order: "elsewhere" came first
        assert elsewhere not in [e["id"] for e in lst.events]
        bad = await lst.sio.call("incident.join", {"incident_id": 99999}, namespace="/console", timeout=5)
        assert bad["error"]["code"] == "not_found"
        bad = await lst.sio.call("incident.join", {"incident_id": "x"}, namespace="/console", timeout=5)
        assert bad["error"]["code"] == "bad_request"
        left = await lst.sio.call("incident.leave", {"incident_id": inc["id"]}, namespace="/console", timeout=5)
        assert left["ok"]
    finally:
        await lst.close()


async def test_role_without_incidents_read_cannot_join(api: Api) -> None:
    op = await api.as_user("operator")
    inc = await _incident(op)
    ent = await api.as_user("enterprise")
    lst = Listener(_url(api), "/console")
    await lst.connect(ent.tokens["access_token"])
    try:
        ack = await lst.sio.call("incident.join", {"incident_id": inc["id"]}, namespace="/console", timeout=5)
        assert ack["error"]["code"] == "forbidden"
        r = await op.post(f"/api/v1/incidents/{inc['id']}/notes", json={"text": "secret"})
        note = (await r.json())["id"]
        await asyncio.sleep(0.5)
        assert note not in [e["id"] for e in lst.events]
    finally:
        await lst.close()


@pytest.mark.parametrize("bad", [{"title": "x" * 201}, {"title": "x", "plan_step_order": -1}])
def test_task_spec_validation(bad: dict[str, Any]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        TaskSpec(**bad)
