"""Duty roster (DUTY-1, DUTY-4): templates, fair generation, gaps, overlaps, hand edits, XLSX, today on duty."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections import Counter
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.test_contacts import make_person, make_unit
from tests.conftest import Api, AuthedApi

DAY = {"key": "day", "name": "白班", "start": "08:30", "end": "17:30", "positions": [
    {"key": "leader", "name": "带班领导", "count": 1, "roles": ["leader"], "lead": True},
    {"key": "officer", "name": "值班员", "count": 2, "roles": ["officer"]}]}
NIGHT = {**DAY, "key": "night", "name": "夜班", "start": "17:30", "end": "08:30"}
SH = dt.timezone(dt.timedelta(hours=8))


async def duty_org(api: Api) -> dict[str, Any]:
    """3 leaders (the first linked to the commander account), 5 officers, a driver; a 白班/夜班 template."""
    admin = await api.as_user("admin")
    city = await make_unit(admin, "滨江市生态环境局", "city")
    office = await make_unit(admin, "应急管理处", "department", city["id"])
    commander = await api.as_user("commander")
    commander_id = (await (await commander.get("/api/v1/auth/me")).json())["id"]
    leaders = [await make_person(admin, city["id"], "赵局长", duty_roles=["leader"], mobile="13800000001",
                                 user_id=commander_id)]
    leaders += [await make_person(admin, office["id"], n, duty_roles=["leader"]) for n in ("钱处长", "孙副处长")]
    officers = [await make_person(admin, office["id"], n, duty_roles=["officer"], mobile=f"1390000000{i}")
                for i, n in enumerate(("李一", "周二", "吴三", "郑四", "王五"), start=1)]
    driver = await make_person(admin, office["id"], "冯司机", duty_roles=["driver"])
    r = await admin.post("/api/v1/duty/templates", json={"name": "局应急值班", "unit_ids": [city["id"]],
                                                         "shifts": [DAY, NIGHT]})
    assert r.status == 201, await r.text()
    return {"admin": admin, "commander": commander, "city": city, "office": office, "template": await r.json(),
            "leaders": leaders, "officers": officers, "driver": driver}


async def generate(client: AuthedApi, template_id: int, start: str, end: str, **extra: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/duty/roster/generate",
                          json={"template_id": template_id, "start_date": start, "end_date": end, **extra})
    assert r.status == 201, await r.text()
    return await r.json()


async def roster(client: AuthedApi, start: str, end: str, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/duty/roster", params={"from": start, "to": end, **params})
    assert r.status == 200, await r.text()
    return await r.json()


def names(shift: dict[str, Any], key: str) -> list[str]:
    return [p["name"] for slot in shift["positions"] if slot["key"] == key for p in slot["people"]]


def find(items: list[dict[str, Any]], day: str, key: str) -> dict[str, Any]:
    return next(s for s in items if s["day"] == day and s["shift_key"] == key)


@pytest.fixture
async def org(api: Api) -> dict[str, Any]:
    return await duty_org(api)


async def test_template_validation(api: Api, org: dict[str, Any]) -> None:
    admin = org["admin"]
    t = org["template"]
    assert [(s["name"], s["hours"]) for s in t["shifts"]] == [("白班", 9.0), ("夜班", 15.0)]

    async def refused(body: dict[str, Any], where: list[str] | str, status: int = 422) -> dict[str, Any]:
        r = await admin.post("/api/v1/duty/templates", json={"name": "新模板", "shifts": [DAY], **body})
        assert r.status == status, (body, await r.text())
        err = (await r.json())["error"]
        if status == 422:
            locs = [e["loc"] for e in err["details"]["errors"]]
            assert where in locs, locs
        else:
            assert err["code"] == where
        return err

    await refused({"shifts": [{**DAY, "start": "24:00"}]}, ["body", "shifts", "0", "start"])
    await refused({"shifts": [{**DAY, "end": "8:30"}]}, ["body", "shifts", "0", "end"])
    await refused({"shifts": []}, ["body", "shifts"])
    err = await refused({"shifts": [DAY, {**NIGHT, "start": "17:00"}]}, ["body"])
    assert "overlap" in err["details"]["errors"][0]["msg"]
    await refused({"shifts": [DAY, {**DAY, "start": "18:00", "end": "20:00"}]}, ["body"])  # duplicate key
    bad_pos = [{"key": "leader", "name": "带班领导", "count": 0, "roles": ["leader"]}]
    await refused({"shifts": [{**DAY, "positions": bad_pos}]}, ["body", "shifts", "0", "positions", "0", "count"])
    bad_role = [{"key": "leader", "name": "带班领导", "count": 1, "roles": ["boss"]}]
    await refused({"shifts": [{**DAY, "positions": bad_role}]},
                  ["body", "shifts", "0", "positions", "0", "roles", "0"])
    twice = [DAY["positions"][0], {**DAY["positions"][0], "key": "leader2"}]
    await refused({"shifts": [{**DAY, "positions": twice}]}, ["body", "shifts", "0"])  # two lead positions
    await refused({"shifts": [{**DAY, "positions": [DAY["positions"][0]] * 2}]}, ["body", "shifts", "0"])
    await refused({"unit_ids": [999999]}, ["body", "unit_ids"])
    await refused({"name": "局应急值班"}, "duplicate_name", 409)
    # A 24-hour shift (start == end) is valid on its own, not together with another shift.
    r = await admin.post("/api/v1/duty/templates", json={"name": "24小时", "shifts": [{**DAY, "end": "08:30"}]})
    assert r.status == 201 and (await r.json())["shifts"][0]["hours"] == 24.0
    await refused({"shifts": [{**DAY, "end": "08:30"}, {**NIGHT, "key": "x"}]}, ["body"])
    # patch and delete
    r = await admin.patch(f"/api/v1/duty/templates/{t['id']}", json={"remark": "每日两班"})
    assert r.status == 200 and (await r.json())["remark"] == "每日两班"
    await generate(admin, t["id"], "2026-03-01", "2026-03-01")
    r = await admin.delete(f"/api/v1/duty/templates/{t['id']}")
    assert r.status == 409 and (await r.json())["error"]["code"] == "template_in_use"


async def test_generation_is_fair_and_never_overlaps(api: Api, org: dict[str, Any]) -> None:
    admin = org["admin"]
    t = org["template"]
    out = await generate(admin, t["id"], "2026-03-01", "2026-03-10")
    assert out["shifts"] == 20 and out["gaps"] == 0 and out["assignments"] == 60
    data = await roster(admin, "2026-03-01", "2026-03-10")
    assert len(data["items"]) == 20 and data["gaps"] == 0
    per_leader = Counter(n for s in data["items"] for n in names(s, "leader"))
    per_officer = Counter(n for s in data["items"] for n in names(s, "officer"))
    assert set(per_leader) == {p["name"] for p in org["leaders"]}
    assert set(per_officer) == {p["name"] for p in org["officers"]}
    assert max(per_leader.values()) - min(per_leader.values()) <= 1
    assert max(per_officer.values()) - min(per_officer.values()) <= 1
    assert sorted(per_officer.values()) == [8] * 5  # 40 officer slots over 5 people
    assert out["counts"]["officer"] == {str(p["id"]): 8 for p in org["officers"]}
    assert "冯司机" not in per_leader and "冯司机" not in per_officer
    # Times: 白班 2026-03-01 08:30–17:30 Shanghai, 夜班 17:30 → next day 08:30.
    night = find(data["items"], "2026-03-01", "night")
    assert dt.datetime.fromisoformat(night["starts_at"]) == dt.datetime(2026, 3, 1, 17, 30, tzinfo=SH)
    assert dt.datetime.fromisoformat(night["ends_at"]) == dt.datetime(2026, 3, 2, 8, 30, tzinfo=SH)
    # Nobody has two overlapping shifts, and nobody appears twice in one shift.
    spans: dict[str, list[tuple[str, str]]] = {}
    for s in data["items"]:
        people = [p["person_id"] for slot in s["positions"] for p in slot["people"]]
        assert len(people) == len(set(people))
        for pid in people:
            spans.setdefault(str(pid), []).append((s["starts_at"], s["ends_at"]))
    for spans_of in spans.values():
        spans_of.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans_of))
    # A second generation over the same days is refused unless it replaces.
    r = await admin.post("/api/v1/duty/roster/generate",
                         json={"template_id": t["id"], "start_date": "2026-03-10", "end_date": "2026-03-12"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "roster_exists"
    again = await generate(admin, t["id"], "2026-03-09", "2026-03-10", replace=True)
    assert again["replaced"] == 4 and again["shifts"] == 4
    assert len((await roster(admin, "2026-03-01", "2026-03-10"))["items"]) == 20
    # Range checks.
    r = await admin.post("/api/v1/duty/roster/generate",
                         json={"template_id": t["id"], "start_date": "2026-03-10", "end_date": "2026-03-01"})
    assert r.status == 422
    r = await admin.post("/api/v1/duty/roster/generate",
                         json={"template_id": t["id"], "start_date": "2026-01-01", "end_date": "2026-06-01"})
    assert r.status == 422
    r = await admin.get("/api/v1/duty/roster", params={"from": "2026-03-01"})
    assert r.status == 422


async def test_second_roster_avoids_people_already_on_duty(api: Api, org: dict[str, Any]) -> None:
    admin = org["admin"]
    await generate(admin, org["template"]["id"], "2026-03-01", "2026-03-02")
    r = await admin.post("/api/v1/duty/templates", json={
        "name": "专项值守", "unit_ids": [org["office"]["id"]], "shifts": [
            {"key": "special", "name": "专项班", "start": "09:00", "end": "17:00",
             "positions": [{"key": "officer", "name": "值班员", "count": 4, "roles": ["officer"]}]}]})
    special = await r.json()
    out = await generate(admin, special["id"], "2026-03-01", "2026-03-01")
    # Two of five officers are on the 白班 of 03-01 (08:30–17:30): only three remain, one slot is a gap.
    assert out["assignments"] == 3 and out["gaps"] == 1
    data = await roster(admin, "2026-03-01", "2026-03-01", template_id=special["id"])
    shift = data["items"][0]
    assert shift["gap"] and shift["missing"] == 1 and shift["positions"][0]["missing"] == 1
    day_shift = find((await roster(admin, "2026-03-01", "2026-03-01",
                                   template_id=org["template"]["id"]))["items"], "2026-03-01", "day")
    assert not set(names(day_shift, "officer")) & set(names(shift, "officer"))


async def test_gaps_overlap_and_manual_edits(api: Api, org: dict[str, Any]) -> None:
    admin = org["admin"]
    await generate(admin, org["template"]["id"], "2026-03-01", "2026-03-02")
    items = (await roster(admin, "2026-03-01", "2026-03-02"))["items"]
    day1 = find(items, "2026-03-01", "day")
    officer_slot = next(sl for sl in day1["positions"] if sl["key"] == "officer")
    removed = officer_slot["people"][0]

    r = await admin.delete(f"/api/v1/duty/assignments/{removed['assignment_id']}")
    assert r.status == 204
    data = await roster(admin, "2026-03-01", "2026-03-02")
    day1 = find(data["items"], "2026-03-01", "day")
    assert data["gaps"] == 1 and day1["gap"] and day1["missing"] == 1
    assert [sl["missing"] for sl in day1["positions"]] == [0, 1]

    # Someone on the same day's 白班 already cannot be added again (same shift overlaps itself) …
    stay = next(sl for sl in day1["positions"] if sl["key"] == "officer")["people"][0]
    r = await admin.post(f"/api/v1/duty/shifts/{day1['id']}/assignments",
                         json={"position_key": "officer", "person_id": stay["person_id"]})
    assert r.status == 409 and (await r.json())["error"]["code"] == "duty_overlap"
    # … nor someone on another roster's overlapping shift.
    r = await admin.post("/api/v1/duty/templates", json={
        "name": "夜间巡查", "shifts": [{"key": "patrol", "name": "巡查班", "start": "20:00", "end": "23:00",
                                      "positions": [{"key": "officer", "name": "巡查员", "count": 1,
                                                     "roles": ["officer"]}]}]})
    patrol_t = await r.json()
    await generate(admin, patrol_t["id"], "2026-03-01", "2026-03-01", unit_ids=[org["office"]["id"]])
    patrol = (await roster(admin, "2026-03-01", "2026-03-01", template_id=patrol_t["id"]))["items"][0]
    night1 = find(data["items"], "2026-03-01", "night")
    on_night = next(sl for sl in night1["positions"] if sl["key"] == "officer")["people"][0]
    r = await admin.patch(f"/api/v1/duty/assignments/{patrol['positions'][0]['people'][0]['assignment_id']}",
                          json={"person_id": on_night["person_id"]})
    assert r.status == 409
    err = (await r.json())["error"]
    assert err["code"] == "duty_overlap" and err["details"]["shift_id"] == night1["id"]

    # Filling the gap: wrong role → 422, unknown position → 422, the freed officer → 201, then full → 409.
    r = await admin.post(f"/api/v1/duty/shifts/{day1['id']}/assignments",
                         json={"position_key": "officer", "person_id": org["driver"]["id"]})
    assert r.status == 422 and (await r.json())["error"]["details"]["errors"][0]["type"] == "role_mismatch"
    r = await admin.post(f"/api/v1/duty/shifts/{day1['id']}/assignments",
                         json={"position_key": "cook", "person_id": removed["person_id"]})
    assert r.status == 422
    r = await admin.get(f"/api/v1/duty/shifts/{day1['id']}/candidates", params={"position_key": "officer"})
    cands = {c["person_id"]: c for c in await r.json()}
    assert cands[removed["person_id"]]["busy"] is False and cands[stay["person_id"]]["busy"] is True
    assert org["driver"]["id"] not in cands
    r = await admin.post(f"/api/v1/duty/shifts/{day1['id']}/assignments",
                         json={"position_key": "officer", "person_id": removed["person_id"]})
    assert r.status == 201, await r.text()
    shift = await r.json()
    assert not shift["gap"] and removed["name"] in names(shift, "officer")
    outsider = next(p for p in org["officers"] if p["name"] not in names(shift, "officer"))
    r = await admin.post(f"/api/v1/duty/shifts/{day1['id']}/assignments",
                         json={"position_key": "officer", "person_id": outsider["id"]})
    assert r.status == 409 and (await r.json())["error"]["code"] == "position_full"

    # Replace the leader of 03-02 白班 by hand.
    day2 = find(data["items"], "2026-03-02", "day")
    leader_slot = next(sl for sl in day2["positions"] if sl["key"] == "leader")
    # The night shifts either side only touch 白班 (17:30 / 08:30), so any other leader fits.
    other = next(p for p in org["leaders"] if p["name"] != leader_slot["people"][0]["name"])
    r = await admin.patch(f"/api/v1/duty/assignments/{leader_slot['people'][0]['assignment_id']}",
                          json={"person_id": other["id"]})
    assert r.status == 200, await r.text()
    assert names(await r.json(), "leader") == [other["name"]]
    r = await admin.get("/api/v1/events", params={"type": "duty.assignment."})
    types = [e["type"] for e in (await r.json())["items"]]
    assert {"duty.assignment.deleted", "duty.assignment.created", "duty.assignment.updated"} <= set(types)
    r = await admin.delete("/api/v1/duty/assignments/999999")
    assert r.status == 404


async def test_xlsx_export(api: Api, org: dict[str, Any]) -> None:
    admin = org["admin"]
    await generate(admin, org["template"]["id"], "2026-03-10", "2026-03-11")
    data = await roster(admin, "2026-03-10", "2026-03-11")
    gap_shift = find(data["items"], "2026-03-11", "night")
    leader = next(sl for sl in gap_shift["positions"] if sl["key"] == "leader")["people"][0]
    assert (await admin.delete(f"/api/v1/duty/assignments/{leader['assignment_id']}")).status == 204
    data = await roster(admin, "2026-03-10", "2026-03-11")

    screen = await api.as_user("screen")  # duty:read without contacts:sensitive: phones masked
    r = await screen.get("/api/v1/duty/roster/export.xlsx", params={"from": "2026-03-10", "to": "2026-03-11"})
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(await r.read())).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == ["日期", "星期", "班次", "开始时间", "结束时间", "岗位", "应到人数", "实到人数", "值班人员",
                       "联系电话", "缺员"]
    assert len(rows) == 1 + 4 * 2
    expected = []
    for s in data["items"]:
        for sl in s["positions"]:
            expected.append([s["day"], s["name"], sl["name"], "、".join(p["name"] for p in sl["people"]),
                             sl["missing"] or None])
    assert [[r_[0], r_[2], r_[5], r_[8] or "", r_[10]] for r_ in rows[1:]] == \
        [[e[0], e[1], e[2], e[3], e[4]] for e in expected]
    assert rows[1][1] == "星期二" and rows[1][3] == "2026-03-10 08:30" and rows[3][4] == "2026-03-11 08:30"
    gap_row = next(r_ for r_ in rows[1:] if r_[0] == "2026-03-11" and r_[2] == "夜班" and r_[5] == "带班领导")
    assert gap_row[7] == 0 and gap_row[10] == 1
    phones = " ".join(r_[9] or "" for r_ in rows[1:])
    assert "****" in phones and "13900000001" not in phones


async def test_today_on_duty_across_midnight(api: Api, org: dict[str, Any]) -> None:
    admin = org["admin"]
    await generate(admin, org["template"]["id"], "2026-03-10", "2026-03-11")
    screen = await api.as_user("screen")
    r = await screen.get("/api/v1/duty/today", params={"at": "2026-03-11T02:00:00+08:00"})
    assert r.status == 200, await r.text()
    today = await r.json()
    assert today["template"]["name"] == "局应急值班"
    assert today["current"]["day"] == "2026-03-10" and today["current"]["shift_key"] == "night"
    assert today["next"]["day"] == "2026-03-11" and today["next"]["shift_key"] == "day"
    people = [p for sl in today["current"]["positions"] for p in sl["people"]]
    assert len(people) == 3
    assert {sl["name"] for sl in today["current"]["positions"]} == {"带班领导", "值班员"}
    officers = next(sl for sl in today["current"]["positions"] if sl["key"] == "officer")["people"]
    assert all(p["mobile"] and "****" in p["mobile"] for p in officers)  # masked by the contacts rules
    assert all(p["duty_roles"] == ["officer"] and p["unit_name"] == "应急管理处" for p in officers)
    full = await (await admin.get("/api/v1/duty/today", params={"at": "2026-03-11T02:00:00+08:00"})).json()
    assert all("*" not in p["mobile"] for sl in full["current"]["positions"] if sl["key"] == "officer"
               for p in sl["people"])
    # Boundaries: 08:30 belongs to the 白班; 08:29:59 still to the 夜班; after the last shift nothing is current.
    at_830 = await (await screen.get("/api/v1/duty/today", params={"at": "2026-03-11T00:30:00Z"})).json()
    assert at_830["current"]["shift_key"] == "day" and at_830["next"]["shift_key"] == "night"
    before = await (await screen.get("/api/v1/duty/today", params={"at": "2026-03-11T08:29:59+08:00"})).json()
    assert before["current"]["day"] == "2026-03-10"
    after = await (await screen.get("/api/v1/duty/today", params={"at": "2026-03-13T09:00:00+08:00"})).json()
    assert after["current"] is None and after["next"] is None
    assert (await screen.get("/api/v1/duty/today", params={"at": "2026-03-11T02:00:00"})).status == 422
    nothing_yet = await (await screen.get("/api/v1/duty/today")).json()  # now: 2026-03 is long past
    assert nothing_yet["current"] is None


async def test_today_picks_the_template_and_the_shifts(api: Api, org: dict[str, Any]) -> None:
    """Which roster "today" shows: the one running now (the oldest template when two run), else the next one to
    start; a template asked for by id shows its own shifts, or nothing ahead; an unknown one is 404."""
    admin = org["admin"]
    first = org["template"]
    r = await admin.post("/api/v1/duty/templates", json={"name": "夜间值守", "unit_ids": [org["city"]["id"]],
                                                         "shifts": [{**NIGHT, "key": "n2"}]})
    assert r.status == 201, await r.text()
    second = await r.json()
    await generate(admin, second["id"], "2026-03-09", "2026-03-12")
    await generate(admin, first["id"], "2026-03-11", "2026-03-11")
    screen = await api.as_user("screen")

    async def today(at: str, **params: Any) -> dict[str, Any]:
        r = await screen.get("/api/v1/duty/today", params={"at": at, **params})
        assert r.status == 200, await r.text()
        return await r.json()

    # 03-10 20:00: only the second template runs (its night of 03-10); its next is the night of 03-11.
    t = await today("2026-03-10T20:00:00+08:00")
    assert t["template"] == {"id": second["id"], "name": "夜间值守"}
    assert (t["current"]["day"], t["next"]["day"]) == ("2026-03-10", "2026-03-11")
    # 03-11 20:00: both run; the older template wins, and its current shift is that night, nothing after it.
    t = await today("2026-03-11T20:00:00+08:00")
    assert t["template"]["id"] == first["id"]
    assert (t["current"]["day"], t["current"]["shift_key"], t["next"]) == ("2026-03-11", "night", None)
    # 03-11 12:00: the older template's day shift runs; its night follows.
    t = await today("2026-03-11T12:00:00+08:00")
    assert (t["current"]["shift_key"], t["next"]["shift_key"]) == ("day", "night")
    # 03-09 12:00: nothing runs; the second template's first night is the next to start.
    t = await today("2026-03-09T12:00:00+08:00")
    assert t["template"]["id"] == second["id"] and t["current"] is None and t["next"]["day"] == "2026-03-09"
    # Asked by id: the first template before its roster has only a next shift; after it, nothing ahead.
    t = await today("2026-03-10T20:00:00+08:00", template_id=first["id"])
    assert t["template"]["id"] == first["id"] and t["current"] is None
    assert (t["next"]["day"], t["next"]["shift_key"]) == ("2026-03-11", "day")
    t = await today("2026-03-20T12:00:00+08:00", template_id=first["id"])
    assert t == {**t, "template": {"id": first["id"], "name": "局应急值班"}, "current": None, "next": None}
    r = await screen.get("/api/v1/duty/today", params={"template_id": 999999})
    assert r.status == 404


async def test_permissions(api: Api, org: dict[str, Any]) -> None:
    await generate(org["admin"], org["template"]["id"], "2026-03-10", "2026-03-10")
    screen = await api.as_user("screen")
    field = await api.as_user("field")
    assert (await screen.get("/api/v1/duty/templates")).status == 200
    assert (await screen.get("/api/v1/duty/roster", params={"from": "2026-03-10", "to": "2026-03-10"})).status == 200
    assert (await field.get("/api/v1/duty/today")).status == 200
    body = {"template_id": org["template"]["id"], "start_date": "2026-03-11", "end_date": "2026-03-11"}
    for client in (screen, field):
        assert (await client.post("/api/v1/duty/roster/generate", json=body)).status == 403
        assert (await client.post("/api/v1/duty/templates", json={"name": "x", "shifts": [DAY]})).status == 403
        assert (await client.post("/api/v1/duty/log", json={"text": "x"})).status == 403
    assert (await (await api.as_user("enterprise")).get("/api/v1/duty/today")).status == 403
    operator = await api.as_user("operator")
    assert (await operator.post("/api/v1/duty/roster/generate", json=body)).status == 201


async def test_demo_roster(api: Api) -> None:
    """The demo seed: this month and the next rostered, exactly the deliberate gaps, a week of history."""
    from command_server.core.security import SystemActor
    from command_server.core.services import SERVICES
    from command_server.demo import duty as demo_duty
    from command_server.demo.city import seed_city

    svc = api.app[SERVICES]
    actor = SystemActor(username="seed")
    await seed_city(svc, actor)
    await demo_duty.seed(svc, actor)
    commander = await api.as_user("commander")
    today = await (await commander.get("/api/v1/duty/today")).json()
    assert today["template"]["name"] == "市局应急值班"
    assert today["current"] is not None and today["next"] is not None
    now_day = dt.datetime.now(SH).date()
    first, last = demo_duty.period(now_day)
    assert first <= now_day.replace(day=1) and (last + dt.timedelta(days=1)).day == 1 and last > now_day
    data = await roster(commander, first.isoformat(), last.isoformat())
    assert data["items"][0]["day"] == first.isoformat() and data["items"][-1]["day"] == last.isoformat()
    assert data["gaps"] == len(demo_duty.GAPS)
    gap_days = {(s["day"], s["shift_key"]) for s in data["items"] if s["gap"]}
    assert gap_days == {((now_day + dt.timedelta(days=d)).isoformat(), k) for d, k, _ in demo_duty.GAPS}
    per_officer = Counter(n for s in data["items"] if s["day"] < (first + dt.timedelta(days=28)).isoformat()
                          for n in names(s, "officer"))
    assert len(per_officer) == 8 and max(per_officer.values()) - min(per_officer.values()) <= 2
    week_ago = (now_day - dt.timedelta(days=7)).isoformat()
    log = await (await commander.get("/api/v1/duty/log", params={"from": week_ago, "to": now_day.isoformat()})).json()
    assert log["total"] >= 20
    handovers = await (await commander.get("/api/v1/duty/handovers", params={"state": "pending"})).json()
    assert len(handovers) == 1 and handovers[0]["to_shift"]["id"] == today["current"]["id"]
