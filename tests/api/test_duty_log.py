"""Duty log, handovers and statistics (DUTY-3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_contacts import make_person, make_unit
from tests.api.test_duty import DAY, duty_org, find, generate, names, roster
from tests.conftest import Api


@pytest.fixture
async def org(api: Api) -> dict[str, Any]:
    return await duty_org(api)


async def test_log_entries_and_queries(api: Api, org: dict[str, Any]) -> None:
    admin = org["admin"]
    operator = await api.as_user("operator")
    await generate(admin, org["template"]["id"], "2026-03-10", "2026-03-11")
    items = (await roster(admin, "2026-03-10", "2026-03-11"))["items"]
    night = find(items, "2026-03-10", "night")
    officer_id = next(sl for sl in night["positions"] if sl["key"] == "officer")["people"][0]["person_id"]

    call = "接到群众来电，反映江北区河道有异味"
    r = await operator.post("/api/v1/duty/log", json={"text": call, "category": "intake",
                                                      "at": "2026-03-11T01:15:00+08:00", "person_id": officer_id})
    assert r.status == 201, await r.text()
    entry = await r.json()
    # The shift is found from the time and the person: the night shift that started the day before.
    assert entry["shift_id"] == night["id"] and entry["shift_day"] == "2026-03-10" and entry["shift_name"] == "夜班"
    assert entry["at"] == "2026-03-10T17:15:00Z"
    r = await operator.post("/api/v1/duty/log", json={"text": "通知江北分局现场核查", "category": "disposal",
                                                      "at": "2026-03-11T09:00:00+08:00", "person_id": officer_id})
    assert (await r.json())["shift_name"] == "白班"  # not on it, but it is the shift running then

    async def refused(body: dict[str, Any], where: str) -> None:
        r = await operator.post("/api/v1/duty/log", json=body)
        assert r.status == 422, (body, await r.text())
        assert ["body", where] in [e["loc"] for e in (await r.json())["error"]["details"]["errors"]]

    await refused({"text": "x"}, "person_id")  # the operator account is not linked to a person
    await refused({"text": " ", "person_id": officer_id}, "text")
    await refused({"text": "x", "person_id": officer_id, "category": "gossip"}, "category")
    await refused({"text": "x", "person_id": officer_id, "at": "2099-01-01T00:00:00Z"}, "at")
    await refused({"text": "x", "person_id": officer_id, "at": "2026-03-11T01:00:00"}, "at")  # no zone
    await refused({"text": "x", "person_id": 999999}, "person_id")
    await refused({"text": "x", "person_id": officer_id, "shift_id": night["id"],
                   "at": "2026-03-11T12:00:00+08:00"}, "at")
    # An entry on a day without a roster belongs to no shift.
    r = await org["admin"].post("/api/v1/duty/log", json={"text": "管理员补录", "person_id": org["leaders"][1]["id"],
                                                          "at": "2026-03-09T10:00:00+08:00"})
    assert r.status == 201 and (await r.json())["shift_id"] is None  # no roster that day

    async def log(**params: Any) -> list[str]:
        r = await admin.get("/api/v1/duty/log", params=params)
        assert r.status == 200, await r.text()
        return [e["text"] for e in (await r.json())["items"]]

    assert await log() == ["通知江北分局现场核查", "接到群众来电，反映江北区河道有异味", "管理员补录"]
    # Days are Shanghai days: 01:15 on 03-11 in Shanghai is 03-10 in UTC, yet it is listed under 03-11.
    assert await log(**{"from": "2026-03-11", "to": "2026-03-11"}) == ["通知江北分局现场核查", call]
    assert await log(**{"from": "2026-03-09", "to": "2026-03-10"}) == ["管理员补录"]
    assert await log(person_id=officer_id, category="intake") == ["接到群众来电，反映江北区河道有异味"]
    assert await log(q="异味") == ["接到群众来电，反映江北区河道有异味"]
    assert await log(shift_id=night["id"]) == ["接到群众来电，反映江北区河道有异味"]
    r = await admin.get("/api/v1/events", params={"type": "duty.log."})
    assert len((await r.json())["items"]) == 3


async def test_handover_must_be_acknowledged_by_the_incoming_leader(api: Api, org: dict[str, Any]) -> None:
    admin = org["admin"]
    operator = await api.as_user("operator")
    await generate(admin, org["template"]["id"], "2026-03-10", "2026-03-11")
    items = (await roster(admin, "2026-03-10", "2026-03-11"))["items"]
    night, day = find(items, "2026-03-10", "night"), find(items, "2026-03-11", "day")
    # Make the commander's person (赵局长) the leader of the incoming 白班.
    zhao = org["leaders"][0]
    slot = next(sl for sl in day["positions"] if sl["key"] == "leader")["people"][0]
    if slot["person_id"] != zhao["id"]:
        r = await admin.patch(f"/api/v1/duty/assignments/{slot['assignment_id']}", json={"person_id": zhao["id"]})
        assert r.status == 200, await r.text()

    r = await operator.post("/api/v1/duty/handovers", json={"from_shift_id": night["id"], "notes": "夜间接报1起",
                                                            "pending_items": "江北区河道异味待复查"})
    assert r.status == 201, await r.text()
    h = await r.json()
    assert h["to_shift"]["id"] == day["id"] and h["to_shift"]["leader"] == "赵局长" and h["state"] == "pending"
    r = await operator.post("/api/v1/duty/handovers", json={"from_shift_id": night["id"], "notes": "again"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "handover_exists"
    last = find(items, "2026-03-11", "night")
    r = await operator.post("/api/v1/duty/handovers", json={"from_shift_id": last["id"], "notes": "x"})
    assert r.status == 422  # nothing after the last shift
    r = await operator.post("/api/v1/duty/handovers", json={"from_shift_id": day["id"], "to_shift_id": night["id"],
                                                            "notes": "x"})
    assert r.status == 422  # the incoming shift must come later

    # Not the incoming leader: the operator (not linked), a screen account, the outgoing leader.
    for who in ("operator", "screen"):
        r = await (await api.as_user(who)).post(f"/api/v1/duty/handovers/{h['id']}/ack", json={})
        assert r.status == 403, who
        err = (await r.json())["error"]
        assert err["code"] == "not_incoming_leader" and err["details"]["leaders"] == ["赵局长"]
    assert (await (await api.as_user("enterprise")).post(f"/api/v1/duty/handovers/{h['id']}/ack",
                                                         json={})).status == 403
    r = await org["commander"].post(f"/api/v1/duty/handovers/{h['id']}/ack", json={"remark": "已知悉"})
    assert r.status == 200, await r.text()
    acked = await r.json()
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "赵局长" and acked["ack_remark"] == "已知悉"
    r = await org["commander"].post(f"/api/v1/duty/handovers/{h['id']}/ack", json={})
    assert r.status == 409 and (await r.json())["error"]["code"] == "already_acknowledged"
    assert (await org["commander"].post("/api/v1/duty/handovers/999999/ack", json={})).status == 404

    async def handovers(**params: Any) -> list[int]:
        r = await admin.get("/api/v1/duty/handovers", params=params)
        assert r.status == 200, await r.text()
        return [x["id"] for x in await r.json()]

    assert await handovers() == [h["id"]]
    assert await handovers(state="pending") == []
    assert await handovers(state="acknowledged", person_id=zhao["id"]) == [h["id"]]
    assert await handovers(**{"from": "2026-03-11", "to": "2026-03-11"}) == []  # listed by the outgoing day
    r = await admin.get("/api/v1/events", params={"type": "duty.handover."})
    assert [e["type"] for e in (await r.json())["items"]] == ["duty.handover.acknowledged", "duty.handover.created"]
    # Replacing a roster that carries handovers is refused.
    r = await admin.post("/api/v1/duty/roster/generate", json={"template_id": org["template"]["id"], "replace": True,
                                                               "start_date": "2026-03-10", "end_date": "2026-03-11"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "roster_has_handovers"


async def test_statistics_exact(api: Api) -> None:
    """Two officers on a 24-hour shift over a month boundary; log entries counted in Shanghai months."""
    admin = await api.as_user("admin")
    unit = await make_unit(admin, "应急管理处", "city")
    a = await make_person(admin, unit["id"], "甲", duty_roles=["officer"])
    b = await make_person(admin, unit["id"], "乙", duty_roles=["officer"])
    r = await admin.post("/api/v1/duty/templates", json={"name": "24小时值班", "unit_ids": [unit["id"]], "shifts": [
        {**DAY, "key": "full", "name": "全天班", "end": "08:30",
         "positions": [{"key": "officer", "name": "值班员", "count": 1, "roles": ["officer"]}]}]})
    t = await r.json()
    await generate(admin, t["id"], "2025-12-30", "2026-01-02")
    items = (await roster(admin, "2025-12-30", "2026-01-02"))["items"]
    on = {s["day"]: names(s, "officer")[0] for s in items}
    x = on["2025-12-31"]
    y = ({"甲", "乙"} - {x}).pop()
    assert sorted(on.values()) == ["乙", "乙", "甲", "甲"]
    assert on["2025-12-30"] == on["2026-01-01"] == y and on["2026-01-02"] == x  # strict alternation
    x_id = a["id"] if x == "甲" else b["id"]
    # 20:00 on 12-31 and 07:00 on 01-01 (23:00 UTC on 12-31): both in x's shift of 12-31, different months.
    for at in ("2025-12-31T20:00:00+08:00", "2026-01-01T07:00:00+08:00"):
        r = await admin.post("/api/v1/duty/log", json={"text": "巡查", "at": at, "person_id": x_id})
        assert r.status == 201
    r = await admin.get("/api/v1/duty/stats", params={"from": "2025-12-01", "to": "2026-01-31"})
    assert r.status == 200, await r.text()
    st = await r.json()
    cells = {(row["name"], row["month"]): (row["shifts"], row["hours"], row["log_entries"]) for row in st["rows"]}
    assert cells == {(x, "2025-12"): (1, 24.0, 1), (x, "2026-01"): (1, 24.0, 1),
                     (y, "2025-12"): (1, 24.0, 0), (y, "2026-01"): (1, 24.0, 0)}
    assert [(m["month"], m["shifts"], m["hours"], m["log_entries"]) for m in st["months"]] == \
        [("2025-12", 2, 48.0, 1), ("2026-01", 2, 48.0, 1)]
    assert {p["name"]: (p["shifts"], p["hours"], p["log_entries"]) for p in st["people"]} == \
        {x: (2, 48.0, 2), y: (2, 48.0, 0)}
    # Narrower: one person, one month.
    r = await admin.get("/api/v1/duty/stats", params={"from": "2026-01-01", "to": "2026-01-31", "person_id": x_id})
    st = await r.json()
    assert [(p["name"], p["shifts"], p["hours"], p["log_entries"]) for p in st["people"]] == [(x, 1, 24.0, 1)]
    r = await admin.get("/api/v1/duty/stats", params={"from": "2026-01-31", "to": "2026-01-01"})
    assert r.status == 422
    assert (await (await api.as_user("screen")).get("/api/v1/duty/stats",
                                                    params={"from": "2026-01-01", "to": "2026-01-31"})).status == 200
