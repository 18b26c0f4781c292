"""Alarm intake (ALM-1, ALM-5): fast intake, coordinates, validation, attachments, duplicates, merge, close,
the hand-over to incidents, complaint routing by district with live delivery to that district only."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp
import pytest

import gis
from command_server.alarms import service as alarm_service
from command_server.alarms.schemas import AlarmIn
from command_server.core.errors import ApiError
from command_server.core.security import SystemActor
from command_server.core.services import services
from tests.conftest import DEMO_PASSWORD, Api, AuthedApi
from tests.realtime_client import Listener

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
P = (121.48, 31.13)  # a point in the demo city's 江北区 (WGS-84)


def _iso(t: dt.datetime) -> str:
    return t.isoformat()


async def _post(client: AuthedApi, **body: Any) -> tuple[int, dict[str, Any]]:
    r = await client.post("/api/v1/alarms", json=body)
    return r.status, await r.json()


async def _ok(client: AuthedApi, **body: Any) -> dict[str, Any]:
    status, data = await _post(client, **body)
    assert status == 201, data
    return data


async def test_minimal_intake_needs_only_type_place_and_text(api: Api) -> None:
    op = await api.as_user("operator")
    a = await _ok(op, event_type="hazchem_leak", address="滨江市临港区化工园区纬三路", description="液氨储罐阀门泄漏")
    assert a["status"] == "open" and a["channel"] == "hotline"
    assert a["event_type_label"] == "危险化学品泄漏" and a["status_label"] == "待处置"
    assert a["lon"] is None and a["duplicates"] == []
    assert a["created_by_name"] == "operator"
    b = await _ok(op, event_type="water", lon=P[0], lat=P[1], description="河面漂浮大量死鱼")
    assert (b["lon"], b["lat"]) == P
    got = await (await op.get(f"/api/v1/alarms/{b['id']}")).json()
    assert got["description"] == "河面漂浮大量死鱼" and got["merged_alarm_ids"] == []
    r = await op.get("/api/v1/alarms", params={"type": "water"})
    page = await r.json()
    assert [x["id"] for x in page["items"]] == [b["id"]] and page["total"] == 1


async def test_gcj02_and_bd09_input_is_stored_as_wgs84(api: Api) -> None:
    op = await api.as_user("operator")
    glon, glat = (float(v) for v in gis.wgs84_to_gcj02(*P))
    assert gis.distance_m(glon, glat, *P) > 100  # the offset is real, so the test can fail
    a = await _ok(op, event_type="air", lon=glon, lat=glat, coord_system="gcj02", description="刺激性气味")
    assert gis.distance_m(a["lon"], a["lat"], *P) < 1.0
    blon, blat = (float(v) for v in gis.wgs84_to_bd09(*P))
    b = await _ok(op, event_type="air", lon=blon, lat=blat, coord_system="bd09", description="刺激性气味")
    assert gis.distance_m(b["lon"], b["lat"], *P) < 1.0


async def test_validation_errors_are_clear_422s(api: Api) -> None:
    op = await api.as_user("operator")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"address": "某地", "description": "x"}, "event_type"),
        ({"event_type": "water", "description": "无地点"}, "place"),
        ({"event_type": "water", "address": "某地"}, "description"),
        ({"event_type": "water", "address": "某地", "description": "   "}, "description"),
        ({"event_type": "volcano", "address": "某地", "description": "x"}, "event_type"),
        ({"event_type": "water", "lon": 121.4, "description": "x"}, "lon and lat"),
        ({"event_type": "water", "lon": 200, "lat": 31, "description": "x"}, "lon"),
        ({"event_type": "water", "lon": 121, "lat": 31, "coord_system": "utm", "description": "x"}, "coord_system"),
        ({"event_type": "water", "address": "某地", "description": "x", "channel": "fax"}, "channel"),
        ({"event_type": "water", "address": "某地", "description": "x", "reporter_phone": "abc"}, "phone"),
        ({"event_type": "water", "address": "某地", "description": "x",
          "received_at": _iso(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))}, "future"),
        ({"event_type": "water", "address": "某地", "description": "x", "surprise": 1}, "surprise"),
        ({"event_type": "water", "address": "某地", "description": "x", "external_id": "A-1"}, "external_source"),
    ]
    for body, needle in cases:
        status, data = await _post(op, **body)
        assert status == 422, (body, data)
        assert needle in str(data["error"]), (needle, data)
    r = await op.post("/api/v1/alarms", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400


async def test_attachments_must_exist(api: Api) -> None:
    op = await api.as_user("operator")
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="现场照片.png", content_type="image/png")
    f = await (await op.post("/api/v1/files", data=form)).json()
    a = await _ok(op, event_type="water", address="某地", description="排污口冒黑水", attachments=[f["id"]])
    assert a["attachments"] == [f["id"]]
    status, data = await _post(op, event_type="water", address="某地", description="x",
                               attachments=[f["id"], 987654])
    assert status == 422 and data["error"]["details"]["errors"][0]["loc"] == ["body", "attachments", 1]
    r = await op.patch(f"/api/v1/alarms/{a['id']}", json={"attachments": [987654]})
    assert r.status == 422
    r = await op.patch(f"/api/v1/alarms/{a['id']}", json={"attachments": []})
    assert (await r.json())["attachments"] == []


async def test_reporter_phone_is_encrypted_and_masked_without_contacts_sensitive(api: Api) -> None:
    op = await api.as_user("operator")
    a = await _ok(op, event_type="air", address="某小区", description="夜间异味", reporter_name="王先生",
                  reporter_phone="138 1234 5678", pollutant="液氨")
    assert a["reporter_phone"] == "138 1234 5678"
    assert a["pollutant_cas"] == "7664-41-7"
    screen = await api.as_user("screen")
    seen = await (await screen.get(f"/api/v1/alarms/{a['id']}")).json()
    assert seen["reporter_phone"] == "138****5678"
    async with services(api.app).db.engine.connect() as conn:
        raw = (await conn.exec_driver_sql(f"SELECT reporter_phone FROM alarms WHERE id = {int(a['id'])}")).scalar()
    assert raw.startswith("sm4g1:") and "5678" not in raw


async def _at(op: AuthedApi, t: dt.datetime, lon: float, lat: float, type_: str = "air") -> dict[str, Any]:
    return await _ok(op, event_type=type_, lon=lon, lat=lat, received_at=_iso(t), description="异味扰民")


async def test_duplicate_suggestion_boundaries_in_space_and_time(api: Api) -> None:
    op = await api.as_user("operator")
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=6)
    base = await _at(op, t0, *P)
    assert base["duplicates"] == []
    near = gis.destination(*P, 90.0, 999.0)
    far = gis.destination(*P, 90.0, 1001.0)
    a = await _at(op, t0, *near)
    assert [d["id"] for d in a["duplicates"]] == [base["id"]]
    assert 998.5 < a["duplicates"][0]["distance_m"] < 999.5
    b = await _at(op, t0, *far)
    assert base["id"] not in [d["id"] for d in b["duplicates"]]
    c = await _at(op, t0 + dt.timedelta(hours=1, minutes=59), *P)
    assert base["id"] in [d["id"] for d in c["duplicates"]]
    d = await _at(op, t0 - dt.timedelta(hours=2, minutes=1), *P)
    assert base["id"] not in [x["id"] for x in d["duplicates"]]
    e = await _at(op, t0, *P, type_="water")  # another type is not a duplicate
    assert e["duplicates"] == []
    dups = await (await op.get(f"/api/v1/alarms/{base['id']}/duplicates")).json()
    assert {x["id"] for x in dups} == {a["id"], c["id"]}  # b is 1001 m away, d 2 h 01 min earlier


async def test_merge_keeps_both_records_linked(api: Api) -> None:
    op = await api.as_user("operator")
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    first = await _at(op, t0, *P)
    second = await _at(op, t0, *gis.destination(*P, 0.0, 200.0))
    assert [d["id"] for d in second["duplicates"]] == [first["id"]]
    r = await op.post(f"/api/v1/alarms/{second['id']}/merge", json={"into_id": first["id"]})
    merged = await r.json()
    assert r.status == 200 and merged["status"] == "merged" and merged["merged_into_id"] == first["id"]
    parent = await (await op.get(f"/api/v1/alarms/{first['id']}")).json()
    assert parent["merged_alarm_ids"] == [second["id"]] and parent["status"] == "open"
    r = await op.post(f"/api/v1/alarms/{second['id']}/merge", json={"into_id": first["id"]})
    assert r.status == 409 and (await r.json())["error"]["code"] == "alarm_not_open"
    r = await op.post(f"/api/v1/alarms/{first['id']}/merge", json={"into_id": first["id"]})
    assert r.status == 422
    r = await op.post(f"/api/v1/alarms/{first['id']}/merge", json={"into_id": 999999})
    assert r.status == 422
    r = await op.post(f"/api/v1/alarms/{first['id']}/merge", json={"into_id": second["id"]})
    assert r.status == 409 and (await r.json())["error"]["code"] == "target_not_open"
    # a merged alarm is no longer offered as a duplicate
    third = await _at(op, t0, *P)
    assert [d["id"] for d in third["duplicates"]] == [first["id"]]
    ev = await (await op.get("/api/v1/events", params={"type": "alarm.merged"})).json()
    assert ev["items"][0]["payload"]["into_id"] == first["id"]


async def test_close_and_false_alarm(api: Api) -> None:
    op = await api.as_user("operator")
    a = await _ok(op, event_type="other", address="某地", description="路边焚烧垃圾")
    r = await op.post(f"/api/v1/alarms/{a['id']}/close", json={"reason": " "})
    assert r.status == 422
    r = await op.post(f"/api/v1/alarms/{a['id']}/close", json={"reason": "经核实为误报", "false_alarm": True})
    body = await r.json()
    assert body["status"] == "false_alarm" and body["close_reason"] == "经核实为误报" and body["closed_at"]
    r = await op.post(f"/api/v1/alarms/{a['id']}/close", json={"reason": "again"})
    assert r.status == 409
    r = await op.get("/api/v1/alarms", params={"status": "open,closed"})
    assert a["id"] not in [x["id"] for x in (await r.json())["items"]]
    assert (await op.get("/api/v1/alarms/999999")).status == 404


async def test_patch_reroutes_and_validates(api: Api) -> None:
    op = await api.as_user("operator")
    a = await _ok(op, event_type="water", address="某地", description="河水发黑")
    r = await op.patch(f"/api/v1/alarms/{a['id']}", json={"event_type": None})
    assert r.status == 422
    r = await op.patch(f"/api/v1/alarms/{a['id']}", json={"address": None})
    assert r.status == 422  # it would leave the alarm without a place
    glon, glat = (float(v) for v in gis.wgs84_to_gcj02(*P))
    r = await op.patch(f"/api/v1/alarms/{a['id']}", json={"lon": glon, "lat": glat, "coord_system": "gcj02",
                                                        "pollutant": "氯气"})
    body = await r.json()
    assert r.status == 200 and gis.distance_m(body["lon"], body["lat"], *P) < 1.0
    assert body["pollutant_cas"] == "7782-50-5"
    ev = await (await op.get("/api/v1/events", params={"type": "alarm.updated"})).json()
    assert set(ev["items"][0]["payload"]["fields"]) == {"location", "pollutant"}


async def test_list_filters(api: Api) -> None:
    op = await api.as_user("operator")
    now = dt.datetime.now(dt.UTC)
    old = await _ok(op, event_type="soil", address="老厂区", description="土壤有油污", channel="field_report",
                    received_at=_iso(now - dt.timedelta(days=3)))
    new = await _ok(op, event_type="soil", address="新厂区", description="堆放危废", channel="upper_assignment")

    async def ids(**params: Any) -> list[int]:
        r = await op.get("/api/v1/alarms", params=params)
        assert r.status == 200, await r.text()
        return [x["id"] for x in (await r.json())["items"]]

    assert await ids(type="soil") == [new["id"], old["id"]]
    assert await ids(channel="field_report") == [old["id"]]
    assert await ids(**{"from": _iso(now - dt.timedelta(days=1))}) == [new["id"]]
    assert await ids(to=_iso(now - dt.timedelta(days=1))) == [old["id"]]
    assert await ids(q="危废") == [new["id"]]
    assert await ids(q="100%") == []
    assert await ids(ids=f"{old['id']}") == [old["id"]]
    assert await ids(type="soil", page_size=1, page=2) == [old["id"]]
    r = await op.get("/api/v1/alarms", params={"status": "bogus"})
    assert r.status == 422
    r = await op.get("/api/v1/alarms", params={"page_size": 1000})
    assert r.status == 422


async def test_permissions(api: Api) -> None:
    body = {"event_type": "water", "address": "某地", "description": "x"}
    for role, read, write in (("screen", 200, 403), ("field", 200, 201), ("enterprise", 403, 403),
                              ("commander", 200, 201)):
        c = await api.as_user(role)
        assert (await c.get("/api/v1/alarms")).status == read, role
        assert (await c.post("/api/v1/alarms", json=body)).status == write, role
    assert (await api.client.post("/api/v1/alarms", json=body)).status == 401


async def test_link_to_incident_converts_and_refuses_twice(api: Api) -> None:
    op = await api.as_user("operator")
    a = await _ok(op, event_type="water", lon=P[0], lat=P[1], description="取水口异味")
    b = await _ok(op, event_type="water", lon=P[0], lat=P[1], description="取水口异味（重复）")
    await op.post(f"/api/v1/alarms/{b['id']}/merge", json={"into_id": a["id"]})
    svc = services(api.app)
    actor = SystemActor(username="incidents-test")
    async with svc.write(actor) as uow:
        rows = await alarm_service.link_to_incident(uow, [a["id"]], 4242)
    assert [(x.id, x.status, x.incident_id) for x in rows] == [(a["id"], "converted", 4242)]
    got = await (await op.get(f"/api/v1/alarms/{b['id']}")).json()
    assert got["status"] == "merged" and got["incident_id"] == 4242
    for ids in ([a["id"]], [b["id"]]):
        try:
            async with svc.write(actor) as uow:
                await alarm_service.link_to_incident(uow, ids, 4343)
        except ApiError as exc:
            assert exc.status == 409 and exc.code == "alarm_not_open"
        else:
            raise AssertionError("converted/merged alarms must be refused")
    ev = await (await op.get("/api/v1/events", params={"type": "alarm.converted"})).json()
    assert len(ev["items"]) == 1 and ev["items"][0]["incident_id"] == 4242
    # create_alarm_in: inside a caller's unit of work (e.g. a warning turned into an alarm)
    async with svc.write(actor) as uow:
        c = await alarm_service.create_alarm_in(
            uow, AlarmIn(channel="monitoring", event_type="water", lon=P[0], lat=P[1], description="COD超标"),
            source_warning_id=77)
    got = await (await op.get(f"/api/v1/alarms/{c.id}")).json()
    assert got["source_warning_id"] == 77 and got["channel"] == "monitoring"


# --- complaint routing (ALM-5) ----------------------------------------------------------------------------


async def _district_setup(api: Api) -> dict[str, Any]:
    """Two districts as units and map polygons, and a console user linked to a person in each."""
    admin = await api.as_user("admin")

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await admin.post(path, json=body)
        assert r.status == 201, await r.text()
        return await r.json()

    city = await post("/api/v1/org/units", {"name": "测试市", "kind": "city", "code": "T"})
    out: dict[str, Any] = {"admin": admin}
    for key, code, (w, s, e, n) in (("north", "T-N", (121.40, 31.10, 121.60, 31.30)),
                                    ("south", "T-S", (121.40, 30.90, 121.60, 31.10))):
        unit = await post("/api/v1/org/units", {"name": f"{key}区", "kind": "district", "code": code,
                                                "parent_id": city["id"]})
        await post("/api/v1/gis/features", {
            "layer": "districts", "kind": "district", "name": f"{key}区",
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
            "properties": {"unit_code": code}})
        user = await post("/api/v1/users", {"username": f"staff_{key}", "display_name": f"{key}值班",
                                            "password": DEMO_PASSWORD, "roles": ["operator"]})
        await post("/api/v1/people", {"name": f"{key}值班员", "unit_id": unit["id"], "user_id": user["id"]})
        out[key] = {"unit": unit, "user": user, "client": await api.as_user(f"staff_{key}")}
    return out


async def test_routing_follows_a_unit_whose_code_changes(api: Api) -> None:
    """The unit a district polygon names (by ``unit_code``) is remembered between intakes; a unit event makes
    the next intake look again."""
    ctx = await _district_setup(api)
    op = await api.as_user("operator")
    north = ctx["north"]["unit"]
    complaint = {"channel": "complaint_12369", "event_type": "air", "lon": 121.5, "lat": 31.2, "description": "异味"}
    assert (await _ok(op, **complaint))["routed_to_unit_id"] == north["id"]
    assert (await _ok(op, **complaint))["routed_to_unit_id"] == north["id"]  # (remembered)
    # the polygon says "T-N"; the north unit now has another code and a new unit takes "T-N"
    r = await ctx["admin"].patch(f"/api/v1/org/units/{north['id']}", json={"code": "T-N-OLD"})
    assert r.status == 200, await r.text()
    r = await ctx["admin"].post("/api/v1/org/units", json={"name": "新北区", "kind": "district", "code": "T-N",
                                                                 "parent_id": north["parent_id"]})
    assert r.status == 201, await r.text()
    new_north = (await r.json())["id"]
    deadline = asyncio.get_running_loop().time() + 5
    while (routed := (await _ok(op, **complaint))["routed_to_unit_id"]) != new_north:
        assert asyncio.get_running_loop().time() < deadline, f"still routed to {routed}"
        await asyncio.sleep(0.05)


async def test_complaints_are_routed_to_the_district_and_only_its_staff_see_them_live(api: Api) -> None:
    ctx = await _district_setup(api)
    url = str(api.client.make_url("/"))
    listeners = {}
    for key in ("north", "south"):
        lst = Listener(url, "/console")
        await lst.connect(ctx[key]["client"].tokens["access_token"])
        listeners[key] = lst
    try:
        op = await api.as_user("operator")
        a = await _ok(op, channel="complaint_12369", event_type="air", lon=121.5, lat=31.2,
                      description="化工厂夜间排放刺鼻气体，已有多名居民头晕，网络上已有人发帖曝光")
        north_id = ctx["north"]["unit"]["id"]
        assert a["district_unit_id"] == north_id and a["routed_to_unit_id"] == north_id
        assert a["district_name"] == "north区"
        assert a["opinion_flag"] is True and "media:曝光" in a["opinion_keywords"]
        ev = await listeners["north"].wait_for(lambda e: e["type"] == "alarm.created")
        assert ev["payload"]["id"] == a["id"] and ev["payload"]["routed_to_unit_id"] == north_id
        # a hotline call in the same place is located but not routed: everyone who reads alarms sees it
        b = await _ok(op, channel="hotline", event_type="air", lon=121.5, lat=31.0, description="异味")
        assert b["district_unit_id"] == ctx["south"]["unit"]["id"] and b["routed_to_unit_id"] is None
        await listeners["south"].wait_for(lambda e: e["type"] == "alarm.created" and e["payload"]["id"] == b["id"])
        await asyncio.sleep(0.3)
        assert a["id"] not in [e["payload"].get("id") for e in listeners["south"].events
                               if e["type"].startswith("alarm.")]
        # a complaint outside every district is not routed and goes to all alarm readers
        c = await _ok(op, channel="complaint_12345", event_type="water", lon=121.0, lat=31.0, description="河水变色")
        assert c["routed_to_unit_id"] is None and c["district_unit_id"] is None and c["opinion_flag"] is False
        await listeners["south"].wait_for(lambda e: e["type"] == "alarm.created" and e["payload"]["id"] == c["id"])
        r = await op.get("/api/v1/alarms", params={"routed_to": north_id})
        assert [x["id"] for x in (await r.json())["items"]] == [a["id"]]
        r = await op.get("/api/v1/alarms", params={"opinion": "true"})
        assert [x["id"] for x in (await r.json())["items"]] == [a["id"]]
        r = await op.get("/api/v1/alarms", params={"district": ctx["south"]["unit"]["id"]})
        assert [x["id"] for x in (await r.json())["items"]] == [b["id"]]
    finally:
        for lst in listeners.values():
            await lst.close()


async def test_text_search_uses_the_bigram_index_with_substring_semantics(api: Api) -> None:
    """q= is a substring search over description, address, pollutant, reporter, district and external id; the
    bigram index (alarms/search.py) must neither lose a match nor add one, and must follow edits."""
    from command_server.alarms import search

    op = await api.as_user("operator")
    a = await _ok(op, event_type="hazchem_leak", address="化工园区3号路", description="液氨储罐泄漏，现场有刺鼻气味")
    b = await _ok(op, event_type="water", address="江边", description="泄漏的液体流入河道", reporter_name="王先生")
    c = await _ok(op, event_type="air", address="Riverside Rd 12", description="Smoke near PLANT gate")

    async def ids(q: str) -> set[int]:
        r = await op.get("/api/v1/alarms", params={"q": q, "page_size": 100})
        assert r.status == 200, await r.text()
        return {x["id"] for x in (await r.json())["items"]} & {a["id"], b["id"], c["id"]}

    assert search.query_phrases("储罐泄漏") == [["储罐", "罐泄", "泄漏"]]
    assert await ids("储罐泄漏") == {a["id"]}
    assert await ids("泄漏") == {a["id"], b["id"]}
    assert await ids("漏液") == set()          # bigrams 泄漏 and 液体 exist in b, but not "漏液" in one run
    assert await ids("泄漏，现场") == {a["id"]}  # two phrases, and the punctuation must match literally
    assert await ids("罐泄漏，液") == set()
    assert await ids("王先生") == {b["id"]}
    assert await ids("plant") == {c["id"]}     # case-folded
    assert await ids("3号路") == {a["id"]}
    assert await ids("氨") == {a["id"]}        # one character: no index, the scan still finds it
    # Chinese/digit-only queries are answered by the index alone (no ILIKE recheck): runs must not join
    assert search.is_exact("储罐泄漏") and search.is_exact("3号") and not search.is_exact("plant")
    assert not search.is_exact("泄漏，现场") and not search.is_exact(" 泄漏") and not search.is_exact("氨")
    assert await ids("漏现") == set()           # 泄漏 and 现场 are neighbours only across the comma
    assert await ids("泄漏现场") == set()
    assert await ids("区3") == {a["id"]}
    r = await op.patch(f"/api/v1/alarms/{a['id']}", json={"description": "储罐区发现白色烟雾"})
    assert r.status == 200
    assert await ids("泄漏") == {b["id"]}      # the edit re-indexed the alarm
    assert await ids("白色烟雾") == {a["id"]}


async def test_text_search_with_many_hits_pages_in_the_same_order(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above TEXT_HITS_WALK matches, SQLite pages a text search by walking the newest-first index instead of
    sorting the hits: the pages and the total must be exactly those of the other plan."""
    from command_server.alarms import service

    op = await api.as_user("operator")
    made = [await _ok(op, event_type="water", address=f"江边{i}号", description=f"第{i}次发现死鱼，{'漂浮' * (i % 3)}")
            for i in range(7)]
    await _ok(op, event_type="water", address="江边", description="水面有油污")  # no match

    async def pages() -> tuple[list[int], int]:
        got: list[int] = []
        total = 0
        for page in (1, 2, 3, 4):
            r = await op.get("/api/v1/alarms", params={"q": "死鱼", "page_size": 2, "page": page})
            assert r.status == 200, await r.text()
            body = await r.json()
            got += [x["id"] for x in body["items"]]
            total = body["total"]
        return got, total

    sorted_hits = await pages()
    monkeypatch.setattr(service, "TEXT_HITS_WALK", 1)
    walked = await pages()
    assert walked == sorted_hits
    assert set(walked[0]) >= {m["id"] for m in made} and walked[1] >= 7


async def test_text_only_search_counts_from_the_index_like_the_filtered_count(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A search by text alone is counted from the search index without joining alarms: its total (and the cap)
    must be exactly what the joined count gives when another, always-true filter forces that path."""
    from command_server.alarms import service

    op = await api.as_user("operator")
    for i in range(5):
        await _ok(op, event_type="water", address=f"江堤{i}号", description=f"江面发现油膜第{i}处")
    await _ok(op, event_type="water", address="江堤", description="水面有泡沫")

    async def total(**extra: str) -> tuple[int, bool]:
        r = await op.get("/api/v1/alarms", params={"q": "油膜", "page_size": 1, **extra})
        assert r.status == 200, await r.text()
        body = await r.json()
        return body["total"], body["total_capped"]

    assert service._text_only(service.AlarmQuery(q="油膜"))
    assert not service._text_only(service.AlarmQuery(q="油膜", **{"from": "2000-01-01T00:00:00Z"}))
    assert not service._text_only(service.AlarmQuery(q="oil"))  # needs the ILIKE recheck
    everything = {"from": "2000-01-01T00:00:00Z"}
    index_only, joined = await total(), await total(**everything)
    assert index_only == joined and index_only[0] >= 5 and not index_only[1]
    monkeypatch.setattr(service, "TOTAL_CAP", 3)
    assert await total() == await total(**everything) == (3, True)
