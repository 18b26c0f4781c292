"""Incidents (CMD-1): creation, the level table, the state machine, timeline, forwarding, reports upward."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from command_server.core.services import services
from command_server.incidents import levels
from command_server.incidents.service import CLOCK, TRANSITIONS, check_overdue_reports
from tests.conftest import Api, AuthedApi

BASE = {"type": "hazchem_leak", "title": "滨江化工园区液氨储罐泄漏", "lon": 121.52, "lat": 31.08,
        "address": "临港区化工园区纬三路 8 号", "pollutant": "氨"}


async def _create(client: AuthedApi, **extra: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/incidents", json={**BASE, **extra})
    assert r.status == 201, await r.text()
    return await r.json()


async def _move(client: AuthedApi, incident_id: int, to: str, **extra: Any) -> Any:
    return await client.post(f"/api/v1/incidents/{incident_id}/transitions", json={"to": to, **extra})


# --- the level table -----------------------------------------------------------------------------------------

# (criteria, expected level): both sides of every boundary of every criterion.
LEVEL_CASES: list[tuple[dict[str, Any], str]] = [
    ({}, "IV"),
    ({"deaths": 2}, "IV"), ({"deaths": 3}, "III"), ({"deaths": 9}, "III"), ({"deaths": 10}, "II"),
    ({"deaths": 29}, "II"), ({"deaths": 30}, "I"),
    ({"poisoned_or_injured": 9}, "IV"), ({"poisoned_or_injured": 10}, "III"), ({"poisoned_or_injured": 49}, "III"),
    ({"poisoned_or_injured": 50}, "II"), ({"poisoned_or_injured": 99}, "II"), ({"poisoned_or_injured": 100}, "I"),
    ({"evacuated": 4_999}, "IV"), ({"evacuated": 5_000}, "III"), ({"evacuated": 9_999}, "III"),
    ({"evacuated": 10_000}, "II"), ({"evacuated": 49_999}, "II"), ({"evacuated": 50_000}, "I"),
    ({"direct_loss_cny": 4_999_999}, "IV"), ({"direct_loss_cny": 5_000_000}, "III"),
    ({"direct_loss_cny": 19_999_999}, "III"), ({"direct_loss_cny": 20_000_000}, "II"),
    ({"direct_loss_cny": 99_999_999}, "II"), ({"direct_loss_cny": 100_000_000}, "I"),
    ({"water_intake_cutoff": None}, "IV"), ({"water_intake_cutoff": "township"}, "III"),
    ({"water_intake_cutoff": "county"}, "II"), ({"water_intake_cutoff": "city"}, "I"),
    ({"radiation": "class_iv_v"}, "IV"), ({"radiation": "class_iii"}, "III"), ({"radiation": "class_i_ii_lost"}, "II"),
    ({"radiation": "class_i_ii_wide_contamination"}, "I"),
    ({"cross_boundary": "county"}, "IV"), ({"cross_boundary": "city"}, "III"), ({"cross_boundary": "province"}, "II"),
    ({"cross_boundary": "international"}, "I"),
    # any one criterion decides: the highest level reached
    ({"deaths": 1, "evacuated": 12_000, "water_intake_cutoff": "township"}, "II"),
    ({"deaths": 31, "cross_boundary": "county"}, "I"),
]


@pytest.mark.parametrize(("criteria", "expected"), LEVEL_CASES)
def test_level_table_rule(criteria: dict[str, Any], expected: str) -> None:
    assert levels.suggest(criteria)["level"] == expected


async def test_level_suggestion_endpoint_boundaries(api: Api) -> None:
    op = await api.as_user("operator")
    for criteria, expected in LEVEL_CASES:
        body = {"deaths": 0, "poisoned_or_injured": 0, "evacuated": 0, "direct_loss_cny": 0,
                "water_intake_cutoff": None, **criteria}
        r = await op.post("/api/v1/incidents/level-suggestion", json=body)
        assert r.status == 200, await r.text()
        out = await r.json()
        assert out["level"] == expected, (criteria, out)
        assert out["reasons"] and all(isinstance(x, str) for x in out["reasons"])
    out = await (await op.post("/api/v1/incidents/level-suggestion",
                               json={"deaths": 12, "water_intake_cutoff": "county"})).json()
    assert out["level"] == "II" and len(out["reasons"]) == 2  # both criteria reach II
    assert {f["criterion"] for f in out["factors"] if f["decisive"]} == {"deaths", "water_intake_cutoff"}
    for bad in ({"deaths": -1}, {"water_intake_cutoff": "village"}, {"radiation": "class_x"},
                {"cross_boundary": "planet"}, {"evacuated": "many"}, {"unknown": 1}):
        r = await op.post("/api/v1/incidents/level-suggestion", json=bad)
        assert r.status == 422, bad
        assert (await r.json())["error"]["code"] == "validation_error"


# --- create, read, list --------------------------------------------------------------------------------------


async def test_create_directly_validates_and_lists(api: Api) -> None:
    op = await api.as_user("operator")
    inc = await _create(op, evacuated=6_000)
    assert inc["state"] == "reported" and inc["level"] is None and inc["level_suggested"] == "III"
    assert inc["allowed_transitions"] == list(TRANSITIONS["reported"])
    assert inc["rag"] == "amber"
    for body, field in (({"title": "x"}, "type"), ({"type": "air"}, "title"), ({**BASE, "type": "noise"}, "type"),
                        ({**BASE, "lon": 200}, "lon"), ({**BASE, "lat": None, "lon": 121.0}, None),
                        ({**BASE, "lead_unit_id": 999}, "lead_unit_id")):
        r = await op.post("/api/v1/incidents", json=body)
        assert r.status == 422, (body, await r.text())
        if field:
            assert field in str((await r.json())["error"]["details"])
    r = await op.get(f"/api/v1/incidents/{inc['id']}")
    assert (await r.json())["title"] == BASE["title"]
    assert (await op.get("/api/v1/incidents/99999")).status == 404
    await _create(op, title="江北区内河水体发黑", type="water", deaths=0)
    big = await _create(op, title="青山县尾矿库溃坝", type="water", water_intake_cutoff="county")
    assert big["rag"] == "red"
    page = await (await op.get("/api/v1/incidents", params={"state": "open"})).json()
    assert page["total"] == 3 and page["items"][0]["id"] == big["id"]
    assert set(page["items"][0]) >= {"id", "title", "type", "level", "state", "rag", "created_at", "lon", "lat"}
    assert (await (await op.get("/api/v1/incidents", params={"type": "water"})).json())["total"] == 2
    assert (await (await op.get("/api/v1/incidents", params={"q": "尾矿"})).json())["total"] == 1
    # what is typed is searched for as typed: LIKE's wildcards match only themselves
    for wild in ("%", "_", "尾_库", "尾%坝"):
        assert (await (await op.get("/api/v1/incidents", params={"q": wild})).json())["total"] == 0, wild
    assert (await (await op.get("/api/v1/incidents", params={"level": "none"})).json())["total"] == 3
    p1 = await (await op.get("/api/v1/incidents", params={"limit": 2, "page": 2})).json()
    assert p1["total"] == 3 and len(p1["items"]) == 1
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert (await (await op.get("/api/v1/incidents", params={"from": future})).json())["total"] == 0
    r = await op.get("/api/v1/incidents", params={"state": "nonsense"})
    assert r.status == 422
    r = await op.get("/api/v1/incidents", params={"from": future, "to": "2020-01-01T00:00:00+08:00"})
    assert r.status == 422
    stats = await (await op.get("/api/v1/incidents/stats")).json()
    assert stats["incidents_this_year"] == 3 and stats["in_progress"] == 3 and stats["closed_this_year"] == 0
    assert isinstance(stats["alarms_this_year"], int)


async def test_create_from_alarms_copies_place_and_links(api: Api) -> None:
    alarms = pytest.importorskip("command_server.alarms.models", reason="the alarms domain is not installed yet")
    assert hasattr(alarms, "Alarm")
    op = await api.as_user("operator")
    r = await op.post("/api/v1/alarms", json={"channel": "hotline", "event_type": "hazchem_leak", "lon": 121.51,
                                              "lat": 31.07, "address": "临港区化工园区", "pollutant": "液氨",
                                              "description": "闻到刺鼻氨味"})
    if r.status != 201:
        pytest.skip(f"alarm intake rejected the test alarm ({r.status}); contract not settled yet")
    alarm = await r.json()
    r = await op.post("/api/v1/incidents", json={"alarm_ids": [alarm["id"]]})
    assert r.status == 201, await r.text()
    inc = await r.json()
    assert inc["type"] == "hazchem_leak" and inc["lon"] == 121.51 and inc["pollutant"] == "液氨"
    assert inc["alarm_ids"] == [alarm["id"]] and inc["title"]
    r = await op.post("/api/v1/incidents", json={"alarm_ids": [987654]})
    assert r.status == 422
    # an alarm already converted cannot start a second incident (the alarms domain refuses; nothing is written)
    before = (await (await op.get("/api/v1/incidents")).json())["total"]
    r = await op.post("/api/v1/incidents", json={"alarm_ids": [alarm["id"]]})
    assert r.status == 409, await r.text()
    assert (await (await op.get("/api/v1/incidents")).json())["total"] == before
    tl = await (await op.get(f"/api/v1/incidents/{inc['id']}/timeline")).json()
    assert "alarm.converted" in [e["type"] for e in tl]


# --- the state machine ---------------------------------------------------------------------------------------


async def test_every_legal_edge_and_illegal_ones(api: Api) -> None:
    op = await api.as_user("operator")
    target = await _create(op, title="合并目标")
    # Reach each state by the shortest legal path, then try every edge out of it.
    paths = {"reported": [], "verifying": ["verifying"], "responding": ["verifying", "responding"],
             "disposing": ["verifying", "responding", "disposing"],
             "closed": ["verifying", "responding", "disposing", "closed"],
             "assessed": ["verifying", "responding", "disposing", "closed", "assessed"],
             "false_alarm": ["false_alarm"], "merged": ["merged"]}
    extra = {"false_alarm": {"reason": "现场核实为正常排放"}, "merged": {"merged_into_id": target["id"]}}
    checked_legal = 0
    for state, path in paths.items():
        for to in TRANSITIONS:
            inc = await _create(op, title=f"{state}→{to}")
            for step in path:
                r = await _move(op, inc["id"], step, **extra.get(step, {}))
                assert r.status == 200, await r.text()
            r = await _move(op, inc["id"], to, **extra.get(to, {}))
            if to in TRANSITIONS[state]:
                assert r.status == 200, (state, to, await r.text())
                out = await r.json()
                assert out["state"] == to and out["allowed_transitions"] == list(TRANSITIONS[to])
                checked_legal += 1
            else:
                assert r.status == 409, (state, to, await r.text())
                err = (await r.json())["error"]
                assert err["code"] == "illegal_transition"
                assert err["details"]["allowed"] == list(TRANSITIONS[state])
                assert (await (await op.get(f"/api/v1/incidents/{inc['id']}")).json())["state"] == state
    assert checked_legal == sum(len(v) for v in TRANSITIONS.values()) == 10


async def test_transition_rules_need_reason_and_target(api: Api) -> None:
    op = await api.as_user("operator")
    inc = await _create(op)
    other = await _create(op, title="另一起")
    r = await _move(op, inc["id"], "false_alarm")
    assert r.status == 422 and "reason" in await r.text()
    r = await _move(op, inc["id"], "merged")
    assert r.status == 422 and "merged_into_id" in await r.text()
    assert (await _move(op, inc["id"], "merged", merged_into_id=inc["id"])).status == 422
    assert (await _move(op, inc["id"], "merged", merged_into_id=99999)).status == 422
    assert (await _move(op, inc["id"], "verifying", merged_into_id=other["id"])).status == 422
    assert (await _move(op, inc["id"], "flying")).status == 422
    r = await _move(op, inc["id"], "merged", merged_into_id=other["id"], reason="同一泄漏点")
    assert r.status == 200 and (await r.json())["merged_into_id"] == other["id"]
    tl = await (await op.get(f"/api/v1/incidents/{other['id']}/timeline")).json()
    assert tl[-1]["type"] == "incident.merged_in" and tl[-1]["payload"]["source_id"] == inc["id"]
    closed = await (await op.get("/api/v1/incidents", params={"state": "merged"})).json()
    assert [i["id"] for i in closed["items"]] == [inc["id"]]
    r = await (await op.post("/api/v1/incidents", json={**BASE, "title": "直接响应"})).json()
    r2 = await _move(op, r["id"], "responding")
    assert r2.status == 200 and (await r2.json())["rag"] == "amber"  # responding without a plan


async def test_transition_in_for_other_domains(api: Api) -> None:
    from command_server.core.errors import ApiError
    from command_server.core.security import SystemActor
    from command_server.incidents.models import Incident
    from command_server.incidents.service import transition_in

    op = await api.as_user("operator")
    inc = await _create(op)
    svc = services(api.app)
    async with svc.write(SystemActor(username="plans")) as uow:
        row = await uow.session.get(Incident, inc["id"])
        assert row is not None
        await transition_in(uow, row, "responding", "启动预案")
    with pytest.raises(ApiError) as exc:
        async with svc.write(SystemActor(username="plans")) as uow:
            row = await uow.session.get(Incident, inc["id"])
            assert row is not None
            await transition_in(uow, row, "closed", None)
    assert exc.value.status == 409 and exc.value.details["allowed"] == ["disposing"]
    assert (await (await op.get(f"/api/v1/incidents/{inc['id']}")).json())["state"] == "responding"


# --- level decision ------------------------------------------------------------------------------------------


async def test_level_confirm_and_override_needs_reason(api: Api) -> None:
    op = await api.as_user("operator")
    cmd = await api.as_user("commander")
    inc = await _create(op, poisoned_or_injured=12)
    assert inc["level_suggested"] == "III"
    url = f"/api/v1/incidents/{inc['id']}/level"
    assert (await op.post(url, json={"level": "III"})).status == 403  # operators may not decide
    r = await cmd.post(url, json={"level": "II"})
    assert r.status == 422 and "reason" in await r.text()
    r = await cmd.post(url, json={"level": "II", "reason": "   "})
    assert r.status == 422
    r = await cmd.post(url, json={"level": "III"})
    assert r.status == 200 and (await r.json())["level"] == "III"
    r = await cmd.post(url, json={"level": "II", "reason": "位于饮用水源保护区上游，社会影响大"})
    out = await r.json()
    assert r.status == 200 and out["level"] == "II" and out["level_reason"].startswith("位于")
    assert out["rag"] == "red"
    # New figures in the same call: the suggestion moves and confirming it needs no reason.
    r = await cmd.post(url, json={"level": "I", "criteria": {"deaths": 31}})
    assert r.status == 200 and (await r.json())["level_suggested"] == "I"
    assert (await cmd.post(url, json={"level": "V", "reason": "x"})).status == 422
    tl = await (await op.get(f"/api/v1/incidents/{inc['id']}/timeline", params={"kind": "level"})).json()
    assert [(e["payload"]["to"], e["payload"]["override"]) for e in tl] == [("III", False), ("II", True),
                                                                           ("I", False)]


# --- timeline, notes, forwarding -----------------------------------------------------------------------------


async def _unit(api: Api, name: str, kind: str = "city", parent_id: int | None = None) -> int:
    admin = await api.as_user("admin")
    r = await admin.post("/api/v1/org/units", json={"name": name, "kind": kind, "parent_id": parent_id})
    assert r.status == 201, await r.text()
    return (await r.json())["id"]


async def test_timeline_has_every_action_in_order(api: Api) -> None:
    op = await api.as_user("operator")
    cmd = await api.as_user("commander")
    city = await _unit(api, "滨江市生态环境局")
    district = await _unit(api, "江北区生态环境分局", "district", city)
    inc = await _create(op, district_unit_id=district)
    assert inc["lead_unit_id"] == district and inc["district_unit_name"] == "江北区生态环境分局"
    iid = inc["id"]
    assert (await _move(op, iid, "verifying", reason="派员核实")).status == 200
    assert (await cmd.post(f"/api/v1/incidents/{iid}/level", json={"level": "IV"})).status == 200
    r = await op.patch(f"/api/v1/incidents/{iid}", json={"evacuated": 300, "description": "下风向 300 人疏散"})
    assert r.status == 200
    r = await op.post(f"/api/v1/incidents/{iid}/notes", json={"text": "监测组已到达现场"})
    assert r.status == 201
    note = await r.json()
    r = await op.post(f"/api/v1/incidents/{iid}/forward", json={"unit_id": city, "note": "请市局支援"})
    assert r.status == 200 and (await r.json())["forwarded_unit_ids"] == [city]
    r = await op.post(f"/api/v1/incidents/{iid}/lead-unit", json={"unit_id": city, "reason": "升级由市局牵头"})
    assert r.status == 200 and (await r.json())["lead_unit_name"] == "滨江市生态环境局"
    assert (await op.post(f"/api/v1/incidents/{iid}/lead-unit", json={"unit_id": city})).status == 409
    r = await op.post(f"/api/v1/incidents/{iid}/tasks", json={"title": "布设监测点位", "assignee_role": "field"})
    assert r.status == 201
    r = await op.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "initial", "content": "首报"})
    assert r.status == 201
    assert (await _move(op, iid, "responding")).status == 200
    tl = await (await op.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert [e["type"] for e in tl] == [
        "incident.created", "incident.state_changed", "incident.level_changed", "incident.updated",
        "incident.note_added", "incident.forwarded", "incident.lead_unit_changed", "task.created",
        "incident.report_submitted", "incident.state_changed"]
    assert [e["kind"] for e in tl] == ["state", "state", "level", "other", "note", "unit", "unit", "task", "report",
                                       "state"]
    ids = [e["id"] for e in tl]
    assert ids == sorted(ids) and all(e["incident_id"] == iid for e in tl)
    after = await (await op.get(f"/api/v1/incidents/{iid}/timeline", params={"after": note["id"]})).json()
    assert [e["id"] for e in after] == ids[ids.index(note["id"]) + 1:]
    notes = await (await op.get(f"/api/v1/incidents/{iid}/timeline", params={"kind": "note"})).json()
    assert [e["payload"]["text"] for e in notes] == ["监测组已到达现场"]
    assert (await op.get(f"/api/v1/incidents/{iid}/timeline", params={"kind": "gossip"})).status == 422
    assert (await op.get("/api/v1/incidents/99999/timeline")).status == 404
    # Validation of the actions.
    assert (await op.post(f"/api/v1/incidents/{iid}/notes", json={"text": ""})).status == 422
    assert (await op.post(f"/api/v1/incidents/{iid}/notes", json={"text": "x", "file_ids": [777]})).status == 422
    assert (await op.post(f"/api/v1/incidents/{iid}/forward", json={"unit_id": 999})).status == 422
    assert (await op.patch(f"/api/v1/incidents/{iid}", json={"title": None})).status == 422
    assert (await op.patch(f"/api/v1/incidents/{iid}", json={"deaths": -3})).status == 422


async def test_simulation_runs_land_on_the_timeline(api: Api) -> None:
    op = await api.as_user("operator")
    inc = await _create(op)
    r = await op.post("/api/v1/dispersion/plume", json={
        "release": {"lon": 121.52, "lat": 31.08, "rate_gps": 500}, "chemical": "氨",
        "meteorology": {"wind_speed_ms": 3, "wind_from_deg": 90, "stability": "D"}, "incident_id": inc["id"]})
    if r.status != 201:
        pytest.skip(f"dispersion run not available here ({r.status})")
    tl = await (await op.get(f"/api/v1/incidents/{inc['id']}/timeline", params={"kind": "simulation"})).json()
    assert [e["type"] for e in tl] == ["simulation.completed"]


# --- reports upward ------------------------------------------------------------------------------------------


async def test_report_deadlines_and_overdue_with_injected_clock(api: Api) -> None:
    op = await api.as_user("operator")
    clock = api.app[CLOCK]
    major = await _create(op, title="重大：取水口中断", water_intake_cutoff="county")  # II → 2 h
    general = await _create(op, title="一般：小型泄漏")  # IV → 4 h
    rep = await (await op.get(f"/api/v1/incidents/{major['id']}/reports")).json()
    assert rep["limit_hours"] == 2 and not rep["overdue"] and 7100 < rep["seconds_remaining"] <= 7200
    assert (await (await op.get(f"/api/v1/incidents/{general['id']}/reports")).json())["limit_hours"] == 4
    svc = services(api.app)
    try:
        clock.offset = dt.timedelta(hours=1, minutes=59)
        assert await check_overdue_reports(svc, clock.now()) == []
        clock.offset = dt.timedelta(hours=2, minutes=1)
        rep = await (await op.get(f"/api/v1/incidents/{major['id']}/reports")).json()
        assert rep["overdue"] and rep["seconds_remaining"] < 0
        assert not (await (await op.get(f"/api/v1/incidents/{general['id']}/reports")).json())["overdue"]
        item = (await op.get(f"/api/v1/incidents/{major['id']}"))
        assert (await item.json())["rag"] == "red"
        assert await check_overdue_reports(svc, clock.now()) == [major["id"]]
        assert await check_overdue_reports(svc, clock.now()) == []  # raised once only
        clock.offset = dt.timedelta(hours=4, minutes=1)
        assert await check_overdue_reports(svc, clock.now()) == [general["id"]]
        listed = {i["id"]: i for i in (await (await op.get("/api/v1/incidents")).json())["items"]}
        assert listed[general["id"]]["report_overdue"] and listed[general["id"]]["rag"] == "red"
        tl = await (await op.get(f"/api/v1/incidents/{major['id']}/timeline", params={"kind": "report"})).json()
        assert [e["type"] for e in tl] == ["incident.report_overdue"]
        assert tl[0]["payload"]["limit_hours"] == 2
        # Late initial report: recorded as not on time; the overdue flag clears.
        r = await op.post(f"/api/v1/incidents/{major['id']}/reports",
                          json={"kind": "initial", "content": "首报（迟报）"})
        assert r.status == 201 and (await r.json())["on_time"] is False
        rep = await (await op.get(f"/api/v1/incidents/{major['id']}/reports")).json()
        assert not rep["overdue"] and rep["initial_submitted_at"] and len(rep["items"]) == 1
    finally:
        clock.offset = dt.timedelta(0)


async def test_report_kinds_and_order(api: Api) -> None:
    op = await api.as_user("operator")
    inc = await _create(op)
    url = f"/api/v1/incidents/{inc['id']}/reports"
    r = await op.post(url, json={"kind": "follow_up", "content": "续报"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "initial_report_missing"
    r = await op.post(url, json={"kind": "initial", "content": "首报：泄漏已控制"})
    assert r.status == 201 and (await r.json())["on_time"] is True
    assert (await op.post(url, json={"kind": "initial", "content": "again"})).status == 409
    assert (await op.post(url, json={"kind": "follow_up", "content": "续报一"})).status == 201
    r = await op.post(url, json={"kind": "final", "content": "终报"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "too_early"
    for to in ("verifying", "responding", "disposing"):
        assert (await _move(op, inc["id"], to)).status == 200
    assert (await op.post(url, json={"kind": "final", "content": "终报"})).status == 201
    assert (await op.post(url, json={"kind": "annual", "content": "x"})).status == 422
    assert (await op.post(url, json={"kind": "follow_up", "content": ""})).status == 422
    kinds = [i["kind"] for i in (await (await op.get(url)).json())["items"]]
    assert kinds == ["initial", "follow_up", "final"]


# --- permissions ---------------------------------------------------------------------------------------------


async def test_permissions(api: Api) -> None:
    op = await api.as_user("operator")
    inc = await _create(op)
    field = await api.as_user("field")
    screen = await api.as_user("screen")
    enterprise = await api.as_user("enterprise")
    assert (await field.get(f"/api/v1/incidents/{inc['id']}")).status == 200
    assert (await screen.get("/api/v1/incidents")).status == 200
    assert (await enterprise.get("/api/v1/incidents")).status == 403
    assert (await field.post("/api/v1/incidents", json=BASE)).status == 403
    assert (await field.post(f"/api/v1/incidents/{inc['id']}/transitions", json={"to": "verifying"})).status == 403
    assert (await screen.post(f"/api/v1/incidents/{inc['id']}/notes", json={"text": "x"})).status == 403
    assert (await field.post(f"/api/v1/incidents/{inc['id']}/level", json={"level": "IV"})).status == 403
    assert (await api.client.get("/api/v1/incidents")).status == 401
