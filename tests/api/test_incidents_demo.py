"""The incidents demo: 15 incidents across every state and level, with tasks, reports and a timeline."""

from __future__ import annotations

from command_server.core.security import SystemActor
from command_server.core.services import services
from command_server.demo import incidents as demo
from command_server.demo.city import seed_city
from command_server.incidents.service import STATES
from tests.conftest import Api


async def test_demo_incidents(api: Api) -> None:
    svc = services(api.app)
    actor = SystemActor(username="seed")
    await seed_city(svc, actor)
    await demo.seed(svc, actor)
    op = await api.as_user("operator")
    page = await (await op.get("/api/v1/incidents", params={"limit": 100})).json()
    items = page["items"]
    assert page["total"] == 15
    assert {i["state"] for i in items} == set(STATES)
    assert {i["level"] for i in items} >= {"II", "III", "IV", None}
    assert {i["rag"] for i in items} == {"red", "amber", "green"}
    overdue = [i for i in items if i["report_overdue"]]
    assert len(overdue) >= 2 and all(i["rag"] == "red" for i in overdue)
    stats = await (await op.get("/api/v1/incidents/stats")).json()
    assert stats["in_progress"] == sum(1 for i in items if i["state"] in
                                       ("reported", "verifying", "responding", "disposing"))
    assessed = next(i for i in items if i["state"] == "assessed")
    tl = await (await op.get(f"/api/v1/incidents/{assessed['id']}/timeline")).json()
    assert [e["payload"]["to"] for e in tl if e["type"] == "incident.state_changed"] == [
        "verifying", "responding", "disposing", "closed", "assessed"]
    assert any(e["type"] == "task.created" for e in tl) and any(e["kind"] == "report" for e in tl)
    reports = await (await op.get(f"/api/v1/incidents/{assessed['id']}/reports")).json()
    assert [r["kind"] for r in reports["items"]] == ["initial", "follow_up", "final"]
    merged = next(i for i in items if i["state"] == "merged")
    detail = await (await op.get(f"/api/v1/incidents/{merged['id']}")).json()
    assert detail["merged_into_id"] is not None
    tasks = await (await op.get("/api/v1/tasks")).json()
    assert {t["status"] for t in tasks} == {"todo", "doing", "done"}
    field = await api.as_user("field")
    assert await (await field.get("/api/v1/tasks", params={"mine": "true"})).json()
