"""Warning rules and warnings (ALM-3, ALM-4): every rule kind fires exactly when it should, never twice while
open (also under concurrent ingests), per-recipient acknowledgement, escalation with an injected clock,
notifications + SMS, turning a warning into an alarm, CAP 1.2 export."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import select

from command_server.core.events import Event
from command_server.core.services import SERVICES
from command_server.notify.service import dispatcher
from command_server.warnings.engine import run_checks
from tests.api.test_monitoring import T0, ingest, make_source, row
from tests.conftest import Api, AuthedApi

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


async def user_id(api: Api, username: str) -> int:
    c = await api.as_user(username)
    return (await (await c.get("/api/v1/auth/me")).json())["id"]


async def make_rule(admin: AuthedApi, **kw: Any) -> dict[str, Any]:
    body = {"name": "测试规则", "metric": "NH3-N", "level": "orange", "notify_duty": True, **kw}
    r = await admin.post("/api/v1/warning-rules", json=body)
    assert r.status == 201, await r.text()
    return await r.json()


async def warnings_of(client: AuthedApi, state: str = "all") -> list[dict[str, Any]]:
    r = await client.get("/api/v1/warnings", params={"state": state})
    assert r.status == 200, await r.text()
    return (await r.json())["items"]


@pytest.fixture
async def env(api: Api) -> dict[str, Any]:
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "青溪河一号水质站", lon=121.45, lat=31.2)
    return {"admin": admin, "src": src, "sid": src["id"]}


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


async def test_rule_validation(env: dict[str, Any]) -> None:
    admin: AuthedApi = env["admin"]
    base = {"name": "氨氮超标", "metric": "NH3-N", "level": "red", "scope_kind": "water_station"}
    bad = [
        {**base, "kind": "threshold"},  # no op/threshold
        {**base, "kind": "threshold", "op": "=>", "threshold": 1},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "sustain_count": 3},
        {**base, "kind": "sustained", "op": ">", "threshold": 1},
        {**base, "kind": "sustained", "op": ">", "threshold": 1, "sustain_count": 3, "sustain_minutes": 30},
        {**base, "kind": "rate", "op": ">", "threshold": 1},
        {**base, "kind": "missing"},
        {**base, "kind": "missing", "missing_minutes": 30, "op": ">"},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "scope_source_id": env["sid"]},
        {**{k: v for k, v in base.items() if k != "scope_kind"}, "kind": "threshold", "op": ">", "threshold": 1},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "scope_kind": "bakery"},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "metric": "XYZ"},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "level": "purple"},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "escalate_after_min": 10},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "escalate_to_roles": ["commander"]},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "notify_duty": False},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "responsible_user_ids": [9999]},
        {**base, "kind": "threshold", "op": ">", "threshold": 1, "responsible_unit_id": 9999},
        {**{k: v for k, v in base.items() if k != "scope_kind"}, "scope_source_id": env["sid"], "metric": "SO2",
         "kind": "threshold", "op": ">", "threshold": 1},
    ]
    for body in bad:
        r = await admin.post("/api/v1/warning-rules", json=body)
        assert r.status == 422, (body, await r.text())
    r = await admin.post("/api/v1/warning-rules", data='{"name": "x", "metric": "pH", "level": "red", '
                         '"scope_kind": "water_station", "kind": "threshold", "op": ">", "threshold": NaN}',
                         headers={"Content-Type": "application/json"})
    assert r.status == 422
    rule = await make_rule(admin, **{**base, "kind": "sustained", "op": ">=", "threshold": 2,
                                     "sustain_minutes": 30, "escalate_after_min": 15,
                                     "escalate_to_roles": ["commander"]})
    assert rule["condition"] == "氨氮 >=2mg/L，持续30分钟" and rule["scope_label"] == "水质自动监测站"
    r = await admin.request("PUT", f"/api/v1/warning-rules/{rule['id']}", json={**base, "kind": "threshold", "op": "<",
                                                                      "threshold": 0.5})
    assert r.status == 200 and (await r.json())["kind"] == "threshold"
    assert (await admin.get(f"/api/v1/warning-rules/{rule['id']}")).status == 200
    assert (await admin.delete(f"/api/v1/warning-rules/{rule['id']}")).status == 204
    assert (await admin.get(f"/api/v1/warning-rules/{rule['id']}")).status == 404
    ev = await (await admin.get("/api/v1/events", params={"type": "warning_rule."})).json()
    assert [e["type"] for e in ev["items"]] == ["warning_rule.deleted", "warning_rule.updated",
                                                "warning_rule.created"]


async def test_series_shows_the_rules_threshold_lines(api: Api, env: dict[str, Any]) -> None:
    """A station chart's threshold lines: the enabled threshold and sustained rules on that source's metric (by
    its kind or the source itself), by id; a change to a rule shows on the very next chart."""
    admin, sid = env["admin"], env["sid"]
    other = await make_source(admin, "stations", "water_station", "青溪河二号水质站")
    by_kind = await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=2.0,
                              level="red")
    own = await make_rule(admin, scope_source_id=sid, scope_kind=None, kind="sustained", op="<",
                          threshold=0.1, sustain_count=3, level="blue")
    await make_rule(admin, scope_source_id=other["id"], kind="threshold", op=">", threshold=1.0)  # another source
    await make_rule(admin, scope_kind="water_station", kind="rate", op=">", threshold=1.0, rate_per="minute")
    await make_rule(admin, scope_kind="water_station", kind="missing", missing_minutes=30)
    await make_rule(admin, scope_kind="water_station", metric="pH", kind="threshold", op=">", threshold=9.0)
    await make_rule(admin, scope_kind="air_station", kind="threshold", op=">", threshold=3.0)
    await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=4.0, enabled=False)

    async def lines() -> list[tuple[int, str, float]]:
        r = await admin.get("/api/v1/monitoring/series", params={
            "source_id": sid, "metric": "NH3-N", "from": "2026-03-10T00:00:00Z", "to": "2026-03-11T00:00:00Z"})
        assert r.status == 200, await r.text()
        return [(x["rule_id"], x["op"], x["value"]) for x in (await r.json())["thresholds"]]

    assert await lines() == [(by_kind["id"], ">", 2.0), (own["id"], "<", 0.1)]
    r = await admin.request("PUT", f"/api/v1/warning-rules/{by_kind['id']}", json={
        "name": "氨氮超标", "metric": "NH3-N", "level": "red", "scope_kind": "water_station", "kind": "threshold",
        "op": ">", "threshold": 2.5, "notify_duty": True})
    assert r.status == 200, await r.text()
    assert await lines() == [(by_kind["id"], ">", 2.5), (own["id"], "<", 0.1)]
    assert (await admin.delete(f"/api/v1/warning-rules/{own['id']}")).status == 204
    assert await lines() == [(by_kind["id"], ">", 2.5)]


async def test_threshold_fires_exactly_and_once_while_open(api: Api, env: dict[str, Any]) -> None:
    admin, sid = env["admin"], env["sid"]
    rule = await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=2.0, level="red")
    status, body = await ingest(admin, [row(sid, "NH3-N", T0, 1.5), row(sid, "NH3-N", T0 + minutes(10), 2.0)])
    assert status == 200 and body["warnings_opened"] == []  # equal to the threshold is not above it
    status, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(20), 2.01), row(sid, "pH", T0, 9.9)])
    assert len(body["warnings_opened"]) == 1
    wid = body["warnings_opened"][0]
    # firing again while open (and after acknowledging) opens nothing
    status, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(30), 5.0)])
    assert body["warnings_opened"] == []
    items = await warnings_of(admin, "open")
    assert len(items) == 1
    w = items[0]
    assert w["id"] == wid and w["level"] == "red" and w["value"] == 2.01 and w["threshold"] == 2.0
    assert w["source_name"] == "青溪河一号水质站" and w["metric"] == "NH3-N" and w["state"] == "open"
    assert (w["lon"], w["lat"]) == (121.45, 31.2) and w["rule_id"] == rule["id"]
    assert w["title"] == "青溪河一号水质站 氨氮超标" and w["created_at"].endswith("Z")
    detail = await (await admin.get(f"/api/v1/warnings/{wid}")).json()
    assert "2.01mg/L" in detail["message"] and ">2mg/L" in detail["message"] and "红色预警" in detail["message"]
    assert "121.45000" in detail["message"] and "2026-03-10 08:20" in detail["message"]  # Asia/Shanghai time
    # closing frees the key: the next breach opens a new warning
    r = await admin.post(f"/api/v1/warnings/{wid}/close", json={"reason": "现场核实，已处置"})
    assert r.status == 200 and (await r.json())["state"] == "closed"
    assert (await admin.post(f"/api/v1/warnings/{wid}/close", json={})).status == 409
    status, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(40), 2.5)])
    assert len(body["warnings_opened"]) == 1 and body["warnings_opened"][0] != wid
    # a rule for another kind of source does not apply
    air = await make_source(admin, "stations", "air_station", "空气站")
    await make_rule(admin, scope_kind="air_station", metric="SO2", kind="threshold", op=">", threshold=100)
    status, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(50), 1.0),
                                        row(air["id"], "SO2", T0, 90)])
    assert body["warnings_opened"] == []
    listed = await (await admin.get("/api/v1/warnings", params={"state": "closed"})).json()
    assert listed["total"] == 1
    listed = await (await admin.get("/api/v1/warnings", params={"state": "all", "level": "red,orange"})).json()
    assert listed["total"] == 2
    assert (await admin.get("/api/v1/warnings", params={"state": "nope"})).status == 422


async def test_sustained_n_readings_across_batches(env: dict[str, Any]) -> None:
    admin, sid = env["admin"], env["sid"]
    await make_rule(admin, scope_source_id=sid, kind="sustained", op=">", threshold=1.0, sustain_count=3)
    values = [1.2, 1.3, 0.9, 1.4, 1.5]  # breach, breach, ok, breach, breach → still only two in a row
    for k, v in enumerate(values):
        _, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(10 * k), v)])
        assert body["warnings_opened"] == [], k
    _, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(50), 1.6)])
    assert len(body["warnings_opened"]) == 1
    w = (await warnings_of(admin))[0]
    assert w["value"] == 1.6 and w["kind"] == "sustained"


async def test_sustained_minutes(env: dict[str, Any]) -> None:
    admin, sid = env["admin"], env["sid"]
    await make_rule(admin, scope_kind="water_station", kind="sustained", op=">=", threshold=3.0,
                    sustain_minutes=30)
    # one batch: breaching from 00:10 to 00:30 only (20 minutes), then a normal value
    _, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(m), v) for m, v in
                                   ((0, 2.0), (10, 3.0), (20, 3.5), (30, 3.1), (40, 2.9))])
    assert body["warnings_opened"] == []
    _, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(m), 3.2) for m in (50, 60, 70)])
    assert body["warnings_opened"] == []  # 00:50 → 01:10 is 20 minutes
    _, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(80), 3.3)])
    assert len(body["warnings_opened"]) == 1  # 00:50 → 01:20 = 30 minutes
    detail = await (await admin.get(f"/api/v1/warnings/{body['warnings_opened'][0]}")).json()
    assert detail["details"]["minutes"] == 30.0 and "持续30.0分钟" in detail["message"]


async def test_rate_of_change(env: dict[str, Any]) -> None:
    admin, sid = env["admin"], env["sid"]
    await make_rule(admin, scope_kind="water_station", metric="pH", kind="rate", op=">", threshold=6.0,
                    rate_per="hour", level="yellow")
    # +0.5 per 10 min = 3/h; +1.0 per 10 min = 6/h (not above); then +1.2 per 10 min = 7.2/h
    _, body = await ingest(admin, [row(sid, "pH", T0, 7.0), row(sid, "pH", T0 + minutes(10), 7.5),
                                   row(sid, "pH", T0 + minutes(20), 8.5)])
    assert body["warnings_opened"] == []
    _, body = await ingest(admin, [row(sid, "pH", T0 + minutes(30), 9.7)])
    assert len(body["warnings_opened"]) == 1
    d = await (await env["admin"].get(f"/api/v1/warnings/{body['warnings_opened'][0]}")).json()
    assert d["details"]["rate"] == pytest.approx(7.2) and d["details"]["previous_value"] == 8.5
    assert d["title"].endswith("pH值突变") and d["level"] == "yellow"


async def test_one_batch_many_rules_and_sources(api: Api, env: dict[str, Any]) -> None:
    """A batch for two sources under three history-reading rules: the rules' stored series are fetched
    together (``fetch_series``), and each rule still sees only its own source's and metric's readings."""
    admin, sid = env["admin"], env["sid"]
    other = (await make_source(admin, "stations", "water_station", "青溪河二号水质站", lon=121.46, lat=31.2))["id"]
    await make_rule(admin, scope_kind="water_station", kind="sustained", op=">", threshold=1.0, sustain_count=3)
    await make_rule(admin, scope_kind="water_station", metric="pH", kind="rate", op=">", threshold=6.0,
                    rate_per="hour", level="yellow")
    await make_rule(admin, scope_source_id=other, metric="DO", kind="sustained", op="<", threshold=5.0,
                    sustain_minutes=30)
    # history: sid has two NH3-N breaches in a row; other has one, then a normal value; pH rises slowly on both
    history = [row(sid, "NH3-N", T0 + minutes(m), 1.5) for m in (0, 10)]
    history += [row(other, "NH3-N", T0, 1.5), row(other, "NH3-N", T0 + minutes(10), 0.5)]
    history += [row(x, "pH", T0 + minutes(10), 7.0) for x in (sid, other)]
    history += [row(other, "DO", T0 + minutes(m), 4.0) for m in (0, 10)]
    _, body = await ingest(admin, history)
    assert body["warnings_opened"] == []
    # the batch: a third NH3-N breach on both (fires for sid only), pH +1.2 in 10 min on other only (7.2/h),
    # DO still low on other at 00:30 (30 minutes since 00:00: fires)
    _, body = await ingest(admin, [row(sid, "NH3-N", T0 + minutes(20), 1.6), row(other, "NH3-N", T0 + minutes(20), 1.6),
                                   row(sid, "pH", T0 + minutes(20), 7.1), row(other, "pH", T0 + minutes(20), 8.2),
                                   row(other, "DO", T0 + minutes(30), 4.5)])
    fired = {(w["source_id"], w["kind"], w["metric"]) for w in await warnings_of(admin)}
    assert fired == {(sid, "sustained", "NH3-N"), (other, "rate", "pH"), (other, "sustained", "DO")}
    assert len(body["warnings_opened"]) == 3


async def test_sustained_minutes_on_a_dense_series_matches_a_reference(api: Api, env: dict[str, Any]) -> None:
    """Only the breach run's boundaries before a batch are read for a sustained-minutes rule (``runs_of``);
    on random one-minute series the first warning still opens exactly where a plain reading of the whole
    history says the breach has lasted the span."""
    import random

    admin = env["admin"]
    await make_rule(admin, scope_kind="water_station", metric="DO", kind="sustained", op="<", threshold=5.0,
                    sustain_minutes=20)
    for seed in range(4):
        rnd = random.Random(seed)
        sid = (await make_source(admin, "stations", "water_station", f"密集站{seed}", lon=121.4 + seed / 50))["id"]
        values, v = [], 6.0
        for _ in range(7 * 30):
            if rnd.random() < 0.08:
                v = 4.0 if v >= 5 else 6.0  # runs of breaches and of normal values, mostly 5–25 minutes long
            values.append(v + rnd.uniform(-0.5, 0.4))
        expected = None
        start = None
        for i, x in enumerate(values):
            start = (start if start is not None else i) if x < 5.0 else None
            if start is not None and i - start >= 20:
                expected = i // 7  # the batch holding the first reading at which the run has lasted 20 min
                break
        opened_at = None
        for b in range(30):
            batch = [row(sid, "DO", T0 + minutes(7 * b + j), values[7 * b + j]) for j in range(7)]
            _, body = await ingest(admin, batch)
            if body["warnings_opened"]:
                opened_at = b
                break
        assert opened_at == expected, (seed, opened_at, expected)


async def test_missing_data_by_checker(api: Api, env: dict[str, Any]) -> None:
    admin, sid = env["admin"], env["sid"]
    svc = api.app[SERVICES]
    await make_rule(admin, scope_kind="water_station", metric="DO", kind="missing", missing_minutes=30,
                    level="blue")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    await ingest(admin, [row(sid, "DO", now - minutes(5), 6.0)])
    assert (await run_checks(svc, now + minutes(24)))["missing"] == []  # silent 29 minutes
    assert (await run_checks(svc, now + minutes(25)))["missing"] == []  # exactly 30 minutes: not more than
    opened = (await run_checks(svc, now + minutes(26)))["missing"]
    assert len(opened) == 1
    # two checkers at once (two processes) and later passes never open it again
    again = await asyncio.gather(run_checks(svc, now + minutes(40)), run_checks(svc, now + minutes(40)))
    assert again[0]["missing"] == again[1]["missing"] == []
    items = await warnings_of(admin, "open")
    assert len(items) == 1 and items[0]["kind"] == "missing" and items[0]["title"] == "青溪河一号水质站 溶解氧数据缺失"
    # a source that never reported counts from its registration
    other = await make_source(admin, "stations", "water_station", "新建水质站")
    opened = (await run_checks(svc, now + minutes(200)))["missing"]
    assert len(opened) == 1
    w = await (await admin.get(f"/api/v1/warnings/{opened[0]}")).json()
    assert w["source_id"] == other["id"]


async def test_many_silent_sources_open_their_warnings_one_transaction_each(
        api: Api, env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A network outage silences many stations at once: each warning is opened in a transaction of its own,
    so the checker never holds the write lock (and, inline, the event loop) for all of them."""
    admin = env["admin"]
    svc = api.app[SERVICES]
    await make_rule(admin, scope_kind="water_station", metric="DO", kind="missing", missing_minutes=30,
                    level="blue")
    for k in range(5):
        await make_source(admin, "stations", "water_station", f"断网水质站{k}")
    writes = 0
    write = svc.write

    def counting(*args: Any, **kw: Any) -> Any:
        nonlocal writes
        writes += 1
        return write(*args, **kw)

    monkeypatch.setattr(svc, "write", counting)
    now = dt.datetime.now(dt.UTC)
    opened = (await run_checks(svc, now + minutes(60)))["missing"]
    assert len(opened) == 6  # the five new stations and the fixture's, which never reported either
    assert writes == 6
    assert len(await warnings_of(admin, "open")) == 6


async def test_no_duplicate_under_concurrent_ingests(api: Api, env: dict[str, Any]) -> None:
    admin, sid = env["admin"], env["sid"]
    await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=2.0)
    other = await api.as_user("admin")
    results = await asyncio.gather(*[
        ingest(c, [row(sid, "NH3-N", T0 + minutes(k * 10 + i), 3.0 + i) for i in range(3)])
        for k, c in enumerate([admin, other, admin, other])])
    assert all(status == 200 for status, _ in results), results
    assert sum(len(body["warnings_opened"]) for _, body in results) == 1
    assert len(await warnings_of(admin)) == 1


async def _people(api: Api, admin: AuthedApi) -> dict[str, Any]:
    r = await admin.post("/api/v1/org/units", json={"name": "滨江市生态环境局", "kind": "city"})
    assert r.status == 201, await r.text()
    district = (await r.json())["id"]
    r = await admin.post("/api/v1/org/units", json={"name": "江北区生态环境分局", "kind": "department",
                                                    "parent_id": district})
    assert r.status == 201, await r.text()
    unit = (await r.json())["id"]
    ids = {u: await user_id(api, u) for u in ("admin", "commander", "operator", "field")}
    r = await admin.post("/api/v1/people", json={"name": "张指挥", "unit_id": unit, "mobile": "13900000001",
                                                 "user_id": ids["commander"]})
    assert r.status == 201, await r.text()
    r = await admin.post("/api/v1/people", json={"name": "李现场", "unit_id": unit, "mobile": "13900000002",
                                                 "user_id": ids["field"]})
    assert r.status == 201, await r.text()
    return {"unit": unit, "district": district, **ids}


async def test_recipients_ack_notifications_and_sms(api: Api, env: dict[str, Any]) -> None:
    admin, sid = env["admin"], env["sid"]
    p = await _people(api, admin)
    await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=2.0, level="red",
                    responsible_user_ids=[p["commander"]], responsible_unit_id=p["district"])
    _, body = await ingest(admin, [row(sid, "NH3-N", T0, 4.2)])
    wid = body["warnings_opened"][0]
    d = await (await admin.get(f"/api/v1/warnings/{wid}")).json()
    roles = {r["user_id"]: r["role"] for r in d["recipients"]}
    # responsible: the named user and the linked users of the unit and its sub-units; duty: role operator
    assert roles == {p["commander"]: "responsible", p["field"]: "responsible", p["operator"]: "duty"}
    # in-app: each recipient has a notification, the event goes to user:<id>
    commander, operator, field = [await api.as_user(u) for u in ("commander", "operator", "field")]
    notes = await (await commander.get("/api/v1/notifications", params={"unread": "true"})).json()
    assert notes["unread"] == 1 and notes["items"][0]["subject"] == {"type": "warning", "id": str(wid)}
    assert notes["items"][0]["level"] == "red" and "4.2mg/L" in notes["items"][0]["body"]
    async with api.app[SERVICES].db.read() as s:
        evs = (await s.scalars(select(Event).where(Event.type == "notification.created"))).all()
    assert sorted(e.audience for e in evs) == sorted([f"user:{u}"] for u in roles)
    assert all(set(e.payload) >= {"id", "title", "body", "level", "subject"} for e in evs)
    mine = await (await commander.get("/api/v1/events", params={"type": "notification.created"})).json()
    assert [e["payload"]["id"] for e in mine["items"]] == [notes["items"][0]["id"]]  # only one's own
    # SMS after commit: the two people with a mobile; the operator has none → skipped
    await dispatcher(api.app).drain()
    log = api.app[SERVICES].settings.var_dir / "sms.log"
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert sorted(x["phone"] for x in lines) == ["13900000001", "13900000002"]
    text = lines[0]["text"]
    for part in ("【滨江环境应急】", "红色预警", "青溪河一号水质站", "氨氮", "4.2mg/L", ">2mg/L", "江北区"):
        assert part in text, (part, text)
    op_notes = await (await operator.get("/api/v1/notifications")).json()
    assert op_notes["items"][0]["sms_status"] == "skipped"
    assert (await (await commander.get("/api/v1/notifications")).json())["items"][0]["sms_status"] == "sent"
    # the duty officer acknowledges: recorded, but the warning waits for a responsible person
    r = await operator.post(f"/api/v1/warnings/{wid}/ack")
    assert r.status == 200 and (await r.json())["state"] == "open" and (await r.json())["my_ack"] is True
    # the responsible person acknowledges through the notification: the warning is acked
    r = await commander.post(f"/api/v1/notifications/{notes['items'][0]['id']}/ack")
    assert r.status == 200 and (await r.json())["acked_at"]
    d = await (await admin.get(f"/api/v1/warnings/{wid}")).json()
    assert d["state"] == "acked"
    acked = {r["user_id"]: r["acked_at"] is not None for r in d["recipients"]}
    assert acked == {p["commander"]: True, p["field"]: False, p["operator"]: True}
    # field acks later: still recorded; acking twice is idempotent (no second event)
    assert (await field.post(f"/api/v1/warnings/{wid}/ack")).status == 200
    assert (await field.post(f"/api/v1/warnings/{wid}/ack")).status == 200
    ev = await (await admin.get("/api/v1/events", params={"type": "warning.acked"})).json()
    assert len(ev["items"]) == 3
    assert (await (await field.get("/api/v1/notifications", params={"unread": "true"})).json())["unread"] == 0
    # someone else's notification is not yours
    assert (await operator.post(f"/api/v1/notifications/{notes['items'][0]['id']}/ack")).status == 404
    assert (await admin.post("/api/v1/warnings/9999/ack")).status == 404


async def test_escalation_after_configured_time(api: Api, env: dict[str, Any]) -> None:
    admin, sid = env["admin"], env["sid"]
    svc = api.app[SERVICES]
    ids = {u: await user_id(api, u) for u in ("admin", "commander")}
    await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=2.0,
                    responsible_user_ids=[ids["admin"]], notify_duty=False, escalate_after_min=10,
                    escalate_to_roles=["commander"])
    await make_rule(admin, scope_kind="water_station", metric="pH", kind="threshold", op=">", threshold=9,
                    responsible_user_ids=[ids["admin"]], notify_duty=False, escalate_after_min=10,
                    escalate_to_user_ids=[ids["commander"]])
    _, b1 = await ingest(admin, [row(sid, "NH3-N", T0, 3.0)])
    _, b2 = await ingest(admin, [row(sid, "pH", T0, 9.5)])
    w1, w2 = b1["warnings_opened"][0], b2["warnings_opened"][0]
    await admin.post(f"/api/v1/warnings/{w2}/ack")  # acknowledged in time: never escalates
    now = dt.datetime.now(dt.UTC)
    assert (await run_checks(svc, now + minutes(9)))["escalated"] == []
    results = await asyncio.gather(run_checks(svc, now + minutes(11)), run_checks(svc, now + minutes(11)))
    assert sorted(results[0]["escalated"] + results[1]["escalated"]) == [w1]
    assert (await run_checks(svc, now + minutes(30)))["escalated"] == []
    d = await (await admin.get(f"/api/v1/warnings/{w1}")).json()
    assert d["escalation_level"] == 1
    assert {r["user_id"]: r["role"] for r in d["recipients"]} == {ids["admin"]: "responsible",
                                                                  ids["commander"]: "escalation"}
    commander = await api.as_user("commander")
    notes = await (await commander.get("/api/v1/notifications")).json()
    assert notes["total"] == 1 and notes["items"][0]["title"].startswith("预警升级")
    ev = await (await admin.get("/api/v1/events", params={"type": "warning.escalated"})).json()
    assert len(ev["items"]) == 1 and ev["items"][0]["payload"]["to_user_ids"] == [ids["commander"]]
    # the escalation recipient's acknowledgement settles it
    assert (await (await commander.post(f"/api/v1/warnings/{w1}/ack")).json())["state"] == "acked"


async def test_to_alarm(api: Api, env: dict[str, Any]) -> None:
    pytest.importorskip("command_server.alarms.service", reason="the alarms module is not in this tree yet")
    admin, sid = env["admin"], env["sid"]
    await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=2.0)
    _, body = await ingest(admin, [row(sid, "NH3-N", T0, 3.0)])
    wid = body["warnings_opened"][0]
    operator = await api.as_user("operator")
    r = await operator.post(f"/api/v1/warnings/{wid}/to-alarm")
    assert r.status == 201, await r.text()
    alarm_id = (await r.json())["alarm_id"]
    alarm = await (await operator.get(f"/api/v1/alarms/{alarm_id}")).json()
    assert alarm["channel"] == "monitoring" and alarm["event_type"] == "water"
    assert alarm["lon"] == pytest.approx(121.45) and "青溪河一号水质站" in alarm["description"]
    w = await (await operator.get(f"/api/v1/warnings/{wid}")).json()
    assert w["alarm_id"] == alarm_id and w["state"] == "acked"
    r = await operator.post(f"/api/v1/warnings/{wid}/to-alarm")
    assert r.status == 409
    screen = await api.as_user("screen")
    assert (await screen.post(f"/api/v1/warnings/{wid}/to-alarm")).status == 403


async def test_cap_xml(env: dict[str, Any]) -> None:
    admin, sid = env["admin"], env["sid"]
    await make_rule(admin, scope_kind="water_station", kind="threshold", op=">", threshold=2.0, level="red")
    _, body = await ingest(admin, [row(sid, "NH3-N", T0, 3.0)])
    wid = body["warnings_opened"][0]
    r = await admin.get(f"/api/v1/warnings/{wid}/cap.xml")
    assert r.status == 200 and r.content_type == "application/cap+xml"
    root = ET.fromstring(await r.read())
    assert root.tag == f"{CAP}alert"
    assert root.findtext(f"{CAP}identifier").startswith(f"ECS-WARNING-{wid}-")
    assert root.findtext(f"{CAP}sender")
    sent = root.findtext(f"{CAP}sent")
    assert sent.endswith("+08:00") and dt.datetime.fromisoformat(sent).utcoffset() == dt.timedelta(hours=8)
    assert [root.findtext(f"{CAP}{t}") for t in ("status", "msgType", "scope")] == ["Actual", "Alert", "Public"]
    info = root.find(f"{CAP}info")
    assert info is not None and info.findtext(f"{CAP}category") == "Env"
    assert "氨氮" in info.findtext(f"{CAP}event")
    assert [info.findtext(f"{CAP}{t}") for t in ("urgency", "severity", "certainty")] == \
        ["Immediate", "Extreme", "Observed"]
    # element order as the CAP schema requires
    order = [c.tag.replace(CAP, "") for c in info]
    assert order.index("category") < order.index("event") < order.index("urgency") < order.index("area")
    circle = info.find(f"{CAP}area/{CAP}circle").text
    latlon, radius = circle.split(" ")
    assert [float(x) for x in latlon.split(",")] == [31.2, 121.45] and float(radius) > 0
    assert (await admin.get("/api/v1/warnings/9999/cap.xml")).status == 404
