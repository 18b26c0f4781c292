"""Monitoring (ALM-2): sources linked to map features, bulk ingestion with per-row errors, down-sampled series."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
from typing import Any

import pytest
from sqlalchemy import func, select

from command_server.core.services import services
from command_server.monitoring.models import Reading
from tests.conftest import Api, AuthedApi

T0 = dt.datetime(2026, 3, 10, 0, 0, tzinfo=dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def make_feature(admin: AuthedApi, layer: str, kind: str, name: str, lon: float = 121.5,
                       lat: float = 31.0, **props: Any) -> int:
    r = await admin.post("/api/v1/gis/features", json={
        "layer": layer, "kind": kind, "name": name, "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"district": "江北区", "address": f"滨江市江北区{name}", **props}})
    assert r.status == 201, await r.text()
    return (await r.json())["id"]


async def make_source(admin: AuthedApi, layer: str, kind: str, name: str, **kw: Any) -> dict[str, Any]:
    fid = await make_feature(admin, layer, kind, name, **{k: v for k, v in kw.items() if k in ("lon", "lat")})
    body = {"map_feature_id": fid, **{k: v for k, v in kw.items() if k not in ("lon", "lat")}}
    r = await admin.post("/api/v1/monitoring/sources", json=body)
    assert r.status == 201, await r.text()
    return await r.json()


async def ingest(client: AuthedApi, rows: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    r = await client.post("/api/v1/monitoring/readings", json={"readings": rows})
    return r.status, await r.json()


def row(source_id: int, metric: str, at: dt.datetime, value: float) -> dict[str, Any]:
    return {"source_id": source_id, "metric": metric, "at": iso(at), "value": value}


async def test_source_links_to_map_feature_and_validates(api: Api) -> None:
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "青溪河一号水质站", lon=121.45, lat=31.2)
    assert src["category"] == "water" and src["feature_kind"] == "water_station"
    assert (src["lon"], src["lat"]) == (121.45, 31.2) and src["district"] == "江北区"
    assert [m["code"] for m in src["metrics"]] == ["pH", "DO", "CODMn", "NH3-N", "TP", "TN"]
    assert {m["code"]: m["unit"] for m in src["metrics"]}["NH3-N"] == "mg/L"
    # the same feature twice, a feature of another layer, a missing feature, unknown metrics
    r = await admin.post("/api/v1/monitoring/sources", json={"map_feature_id": src["map_feature_id"]})
    assert r.status == 409
    school = await make_feature(admin, "sensitive", "school", "育才小学")
    r = await admin.post("/api/v1/monitoring/sources", json={"map_feature_id": school})
    assert r.status == 422 and (await r.json())["error"]["code"] == "invalid_feature"
    r = await admin.post("/api/v1/monitoring/sources", json={"map_feature_id": 99999})
    assert r.status == 422
    fid = await make_feature(admin, "risk_sources", "chemical_plant", "滨江化工")
    r = await admin.post("/api/v1/monitoring/sources", json={"map_feature_id": fid, "metrics": ["NH3", "XYZ"]})
    assert r.status == 422 and "XYZ" in str(await r.json())
    r = await admin.post("/api/v1/monitoring/sources", json={"map_feature_id": fid, "metrics": ["NH3", "Cl2"]})
    assert r.status == 201 and (await r.json())["category"] == "risk_source"
    listed = await (await admin.get("/api/v1/monitoring/sources", params={"category": "risk_source"})).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "滨江化工"
    async def named(q: str) -> list[str]:
        got = await (await admin.get("/api/v1/monitoring/sources", params={"q": q})).json()
        return [x["name"] for x in got["items"]]
    assert await named("一号") == ["青溪河一号水质站"] and await named("滨江") == ["滨江化工"]
    assert await named("%") == [] and await named("青溪河_号") == []  # wildcards are searched for literally
    metrics = await (await admin.get("/api/v1/monitoring/metrics")).json()
    assert {"code": "SO2", "name": "二氧化硫", "name_en": "SO2", "unit": "μg/m³"} in metrics
    # patch and delete emit events
    r = await admin.patch(f"/api/v1/monitoring/sources/{src['id']}", json={"metrics": ["pH", "BAD"]})
    assert r.status == 422
    r = await admin.patch(f"/api/v1/monitoring/sources/{src['id']}", json={"name": "青溪河水质站", "active": False})
    assert r.status == 200 and (await r.json())["active"] is False
    events = await (await admin.get("/api/v1/events", params={"type": "monitoring_source."})).json()
    assert {e["type"] for e in events["items"]} >= {"monitoring_source.created", "monitoring_source.updated"}


async def test_ingest_thousands_in_one_request_fast(api: Api) -> None:
    admin = await api.as_user("admin")
    sources = [await make_source(admin, "stations", "air_station", f"空气站{i}", lon=121.3 + i / 100)
               for i in range(5)]
    metrics = ["SO2", "NO2", "CO", "O3", "PM10", "PM2.5"]
    rows = [row(s["id"], m, T0 + dt.timedelta(minutes=10 * k), 10 + k % 7)
            for s in sources for m in metrics for k in range(170)]
    assert len(rows) == 5100
    status, body = await ingest(admin, rows)
    assert status == 200, body
    assert body["accepted"] == body["inserted"] == 5100 and body["rejected"] == [] and body["duplicates"] == 0
    # re-sending is idempotent: every row is a duplicate
    status, body = await ingest(admin, rows[:1000])
    assert status == 200 and body["inserted"] == 0 and body["duplicates"] == 1000
    src = await (await admin.get(f"/api/v1/monitoring/sources/{sources[0]['id']}")).json()
    so2 = next(m for m in src["metrics"] if m["code"] == "SO2")
    assert so2["last_at"] == iso(T0 + dt.timedelta(minutes=10 * 169)) and so2["last_value"] == 10 + 169 % 7
    ev = await (await admin.get("/api/v1/events", params={"type": "monitoring.readings_ingested"})).json()
    assert ev["items"][0]["payload"]["accepted"] == 1000 and ev["items"][1]["payload"]["inserted"] == 5100


async def test_metric_state_keeps_the_newest_reading(api: Api) -> None:
    """The station list's "last value" per metric: the newest reading of any batch, exactly, whatever order
    batches arrive in (a late batch of older readings leaves it), per metric."""
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "最新值站")
    cst = dt.timezone(dt.timedelta(hours=8))

    async def last() -> dict[str, tuple[str, float]]:
        body = await (await admin.get(f"/api/v1/monitoring/sources/{src['id']}")).json()
        return {m["code"]: (m["last_at"], m["last_value"]) for m in body["metrics"] if m["last_at"]}

    t = T0 + dt.timedelta(microseconds=250_001)
    status, _ = await ingest(admin, [
        {"source_id": src["id"], "metric": "pH", "at": (t + dt.timedelta(minutes=k)).astimezone(cst).isoformat(),
         "value": 7 + k / 3} for k in range(5)] + [row(src["id"], "DO", T0, 5.5)])
    assert status == 200
    newest = iso(t + dt.timedelta(minutes=4))
    assert await last() == {"pH": (newest, 7 + 4 / 3), "DO": (iso(T0), 5.5)}
    status, _ = await ingest(admin, [row(src["id"], "pH", T0 - dt.timedelta(hours=1), 1.0),
                                     row(src["id"], "DO", T0 + dt.timedelta(hours=1), 6.25)])
    assert status == 200
    assert await last() == {"pH": (newest, 7 + 4 / 3), "DO": (iso(T0 + dt.timedelta(hours=1)), 6.25)}


async def test_per_row_errors_and_nan_refused(api: Api) -> None:
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "南塘河水质站")
    other = await make_source(admin, "stations", "air_station", "东湖空气站")
    good = row(src["id"], "pH", T0, 7.2)
    raw = ('{"readings": [' + ",".join([
        '{"source_id": SRC, "metric": "pH", "at": "2026-03-10T00:00:00Z", "value": 7.2}',
        '{"source_id": SRC, "metric": "pH", "at": "2026-03-10T00:10:00Z", "value": NaN}',
        '{"source_id": SRC, "metric": "pH", "at": "2026-03-10T00:20:00Z", "value": Infinity}',
        '{"source_id": 99999, "metric": "pH", "at": "2026-03-10T00:30:00Z", "value": 7}',
        '{"source_id": SRC, "metric": "SO2", "at": "2026-03-10T00:30:00Z", "value": 7}',
        '{"source_id": SRC, "metric": "pH", "at": "2026-03-10 08:40:00", "value": 7}',
        '{"source_id": SRC, "metric": "pH", "at": "yesterday", "value": 7}',
        '{"source_id": SRC, "metric": "pH", "at": "2026-03-10T00:50:00Z", "value": "7"}',
        '{"source_id": "SRC", "metric": "pH", "at": "2026-03-10T00:50:00Z", "value": 7}',
        '{"source_id": SRC, "metric": "pH", "at": "2099-01-01T00:00:00Z", "value": 7}',
        '{"source_id": OTH, "metric": "SO2", "at": "2026-03-10T01:00:00+08:00", "value": 12}',
        '{"source_id": SRC, "metric": "pH", "at": "2026-03-10T00:00:00Z", "value": 7.3}',
        '{"source_id": SRC, "metric": "pH", "at": "2026-03-10T01:00:00Z", "value": 7, "x": 1}',
    ]) + "]}").replace("SRC", str(src["id"])).replace("OTH", str(other["id"]))
    r = await admin.post("/api/v1/monitoring/readings", data=raw, headers={"Content-Type": "application/json"})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["accepted"] == 2 and body["received"] == 13
    errors = {e["index"]: e["error"] for e in body["rejected"]}
    assert set(errors) == {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12}
    assert "finite" in errors[1] and "finite" in errors[2]
    assert "unknown source 99999" in errors[3] and "SO2" in errors[4]
    assert "offset" in errors[5] and "ISO-8601" in errors[6]
    assert "number" in errors[7] and "integer" in errors[8] and "future" in errors[9]
    assert "duplicate" in errors[11] and "unexpected" in errors[12]
    # the +08:00 reading was stored at 17:00 UTC the day before
    s = await (await admin.get(f"/api/v1/monitoring/sources/{other['id']}")).json()
    assert s["metrics"][0]["last_at"] == "2026-03-09T17:00:00Z"
    # nothing valid → 422 with the row errors; a malformed envelope → 422
    status, body = await ingest(admin, [{**good, "value": None}])
    assert status == 422 and body["error"]["details"]["errors"][0]["index"] == 0
    status, body = await ingest(admin, [])
    assert status == 422
    r = await admin.post("/api/v1/monitoring/readings", json={"rows": []})
    assert r.status == 422


async def test_series_downsampling_matches_python(api: Api) -> None:
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "滨江水质站")
    rnd = random.Random(7)
    pts = [(T0 + dt.timedelta(minutes=10 * k, seconds=rnd.randint(0, 59)), round(rnd.uniform(0, 20), 3))
           for k in range(1008)]  # a week at 10-minute intervals
    status, _ = await ingest(admin, [row(src["id"], "CODMn", t, v) for t, v in pts])
    assert status == 200
    t_from, t_to, points = T0 + dt.timedelta(hours=5), T0 + dt.timedelta(days=6, hours=3), 97
    r = await admin.get("/api/v1/monitoring/series", params={
        "source_id": src["id"], "metric": "CODMn", "from": iso(t_from), "to": iso(t_to), "points": points})
    assert r.status == 200, await r.text()
    body = await r.json()
    width = math.ceil((t_to - t_from).total_seconds() / points)
    assert body["bucket_s"] == width and body["unit"] == "mg/L" and body["metric_name"] == "高锰酸盐指数"
    expect: dict[int, list[float]] = {}
    for t, v in pts:
        if t_from <= t < t_to:
            expect.setdefault(int((t - t_from).total_seconds()) // width, []).append(v)
    assert len(body["points"]) == len(expect) <= points
    for p, (b, vals) in zip(body["points"], sorted(expect.items()), strict=True):
        assert p["t"] == iso(t_from + dt.timedelta(seconds=b * width))
        assert p["n"] == len(vals)
        assert math.isclose(p["avg"], sum(vals) / len(vals), rel_tol=1e-9)
        assert p["min"] == min(vals) and p["max"] == max(vals)
    assert body["raw_count"] == sum(len(v) for v in expect.values())
    # validation
    for params in ({"source_id": src["id"], "metric": "CODMn", "from": iso(t_to), "to": iso(t_from)},
                   {"source_id": src["id"], "metric": "CODMn", "from": "2026-03-10T00:00:00", "to": iso(t_to)},
                   {"source_id": src["id"], "metric": "CODMn", "from": iso(t_from), "to": iso(t_to), "points": 1}):
        r = await admin.get("/api/v1/monitoring/series", params=params)
        assert r.status == 422, params
    r = await admin.get("/api/v1/monitoring/series", params={"source_id": src["id"], "metric": "SO2",
                                                             "from": iso(t_from), "to": iso(t_to)})
    assert r.status == 422
    r = await admin.get("/api/v1/monitoring/series", params={"source_id": 9999, "metric": "pH",
                                                             "from": iso(t_from), "to": iso(t_to)})
    assert r.status == 404


async def test_monitoring_permissions(api: Api) -> None:
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "权限水质站")
    for role in ("operator", "commander", "field", "screen"):
        c = await api.as_user(role)
        status, body = await ingest(c, [row(src["id"], "pH", T0, 7)])
        assert status == 403 and body["error"]["details"]["permission"] == "monitoring:ingest"
        r = await c.get("/api/v1/monitoring/sources")
        assert r.status == 200
    enterprise = await api.as_user("enterprise")
    assert (await enterprise.get("/api/v1/monitoring/sources")).status == 403
    screen = await api.as_user("screen")
    fid = await make_feature(admin, "stations", "air_station", "大屏空气站")
    assert (await screen.post("/api/v1/monitoring/sources", json={"map_feature_id": fid})).status == 403
    r = await api.client.post("/api/v1/monitoring/readings", json={"readings": [row(src["id"], "pH", T0, 7)]})
    assert r.status == 401


async def test_ingest_with_api_key(api: Api) -> None:
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "接口水质站")
    r = await admin.post("/api/v1/integrations/api-keys", json={"name": "station-gateway",
                                                                "scopes": ["monitoring:ingest"]})
    if r.status == 404:
        import pytest

        pytest.skip("API keys (integrations module) not available")
    assert r.status == 201, await r.text()
    key = (await r.json())["key"]
    r = await api.client.post("/api/v1/monitoring/readings", headers={"X-API-Key": key},
                              json={"readings": [row(src["id"], "pH", T0, 7.1)]})
    assert r.status == 200, await r.text()
    assert (await r.json())["inserted"] == 1
    r = await api.client.post("/api/v1/monitoring/readings", headers={"X-API-Key": "ecs_" + "x" * 43},
                              json={"readings": [row(src["id"], "pH", T0, 7.1)]})
    assert r.status == 401


async def _stored(api: Api, source_id: int) -> int:
    async with services(api.app).db.read() as s:
        return await s.scalar(select(func.count()).select_from(Reading).where(Reading.source_id == source_id)) or 0


async def test_deleting_a_source_deletes_its_readings(api: Api) -> None:
    """Readings have no per-row foreign key (monitoring/models.py): the source's deletion removes them."""
    admin = await api.as_user("admin")
    gone = await make_source(admin, "stations", "water_station", "待撤站")
    kept = await make_source(admin, "stations", "water_station", "保留站")
    rows = [row(x["id"], "pH", T0 + dt.timedelta(minutes=k), 7.0) for x in (gone, kept) for k in range(30)]
    assert (await ingest(admin, rows))[0] == 200
    assert await _stored(api, gone["id"]) == await _stored(api, kept["id"]) == 30
    r = await admin.delete(f"/api/v1/monitoring/sources/{gone['id']}")
    assert r.status == 204
    assert await _stored(api, gone["id"]) == 0 and await _stored(api, kept["id"]) == 30
    status, body = await ingest(admin, rows[:5])
    assert status == 422 and "unknown source" in body["error"]["details"]["errors"][0]["error"]


async def test_the_same_batch_sent_concurrently_is_stored_once(api: Api) -> None:
    """A client's retries racing its first attempt. On PostgreSQL the readings INSERT runs before the write lock
    (``Database.write(unlocked=…)``), so the copies' INSERTs wait in the server for each other's commits, more
    of them than may wait before the lock at once: every request completes and each reading is stored once."""
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "重发站")
    rows = [row(src["id"], "pH", T0 + dt.timedelta(minutes=k), 7.0 + k / 1000) for k in range(300)]
    async with asyncio.timeout(60):
        results = await asyncio.gather(*(ingest(admin, rows) for _ in range(8)))
    assert [status for status, _ in results] == [200] * 8, results
    assert sum(body["inserted"] for _, body in results) == 300
    assert all(body["inserted"] + body["duplicates"] == 300 for _, body in results)
    assert await _stored(api, src["id"]) == 300


async def test_a_batch_partly_stored_before_stores_the_rest(api: Api) -> None:
    """A batch is first stored expecting every reading to be new (PostgreSQL: a plain INSERT); one stored
    before fails that attempt, and the batch is stored again skipping it — the new readings once, counts and
    metric state as for any batch, one event, nothing left of the first attempt."""
    from command_server.core.events import Event

    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "部分重发站")
    first = [row(src["id"], "pH", T0 + dt.timedelta(minutes=k), 7.0) for k in range(0, 200, 2)]
    assert (await ingest(admin, first))[0] == 200
    mixed = [row(src["id"], "pH", T0 + dt.timedelta(minutes=k), 8.0) for k in range(200)]
    status, body = await ingest(admin, mixed)
    assert status == 200, body
    assert (body["accepted"], body["inserted"], body["duplicates"]) == (200, 100, 100)
    assert await _stored(api, src["id"]) == 200
    async with services(api.app).db.read() as s:
        odd = (await s.scalars(select(Reading.value).where(Reading.source_id == src["id"])
                               .order_by(Reading.at))).all()
        events = (await s.scalars(select(Event.payload).where(Event.type == "monitoring.readings_ingested")
                                  .order_by(Event.id))).all()
    assert list(odd) == [7.0, 8.0] * 100  # the stored ones kept, the new ones added
    assert [(e["accepted"], e["inserted"]) for e in events] == [(100, 100), (200, 100)]
    got = await (await admin.get(f"/api/v1/monitoring/sources/{src['id']}")).json()
    assert got["metrics"][0]["last_at"] == iso(T0 + dt.timedelta(minutes=199))


async def test_source_deleted_while_its_batch_waits_for_the_write_lock(api: Api, monkeypatch: pytest.MonkeyPatch
                                                                       ) -> None:
    """PostgreSQL: the batch's readings are inserted, uncommitted, before its transaction takes the write lock.
    The source's deletion meanwhile takes the lock and commits without waiting for them (no foreign key); the
    batch then fails as a whole on the metric state (409) and leaves no reading behind."""
    from command_server.monitoring import service

    db = services(api.app).db
    if db.is_sqlite:
        pytest.skip("SQLite runs the readings INSERT under the write lock: nothing can happen in between")
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "撤销中站二")
    insert = service.bulk_insert_readings

    async def insert_then_delete(session: Any, rows: list[dict[str, Any]], **kw: Any) -> int:
        n = await insert(session, rows, **kw)
        async with asyncio.timeout(10):  # would hang if the deletion waited for this transaction
            r = await admin.delete(f"/api/v1/monitoring/sources/{src['id']}")
        assert r.status == 204
        return n

    monkeypatch.setattr(service, "bulk_insert_readings", insert_then_delete)
    status, body = await ingest(admin, [row(src["id"], "pH", T0 + dt.timedelta(minutes=k), 7.0) for k in range(20)])
    assert status == 409 and body["error"]["code"] == "source_deleted", body
    assert await _stored(api, src["id"]) == 0


async def test_batch_for_a_source_deleted_meanwhile_stores_nothing(api: Api, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    """The source is deleted after the batch was validated, before it is written: the metric state's foreign
    key fails the whole batch (409), and no reading of it is left behind."""
    from command_server.warnings import engine

    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "撤销中站")
    find_hits = engine.find_hits

    async def delete_first(*args: object, **kw: object) -> object:
        r = await admin.delete(f"/api/v1/monitoring/sources/{src['id']}")
        assert r.status == 204
        return await find_hits(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "find_hits", delete_first)
    status, body = await ingest(admin, [row(src["id"], "pH", T0 + dt.timedelta(minutes=k), 7.0) for k in range(20)])
    assert status == 409 and body["error"]["code"] == "source_deleted", body
    assert await _stored(api, src["id"]) == 0


async def test_values_and_instants_are_stored_exactly(api: Api) -> None:
    """PostgreSQL receives a batch as array literals in text (``monitoring.service._pg_arrays``): every finite
    double comes back bit for bit, and every instant at its microsecond, whatever offset it was sent with."""
    admin = await api.as_user("admin")
    src = await make_source(admin, "stations", "water_station", "精度站")
    values = [0.1 + 0.2, -1.5, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 123456789.12345679,
              1e16, 7]
    cst = dt.timezone(dt.timedelta(hours=8))
    instants = [T0 + dt.timedelta(seconds=k, microseconds=k * 111_111 % 1_000_000) for k in range(len(values))]
    rows = [{"source_id": src["id"], "metric": "pH", "at": t.astimezone(cst).isoformat(), "value": v}
            for t, v in zip(instants, values, strict=True)]
    status, body = await ingest(admin, rows)
    assert status == 200 and body["inserted"] == len(values), body
    async with services(api.app).db.read() as s:
        got = (await s.execute(select(Reading.at, Reading.value).where(Reading.source_id == src["id"])
                               .order_by(Reading.at))).all()
    assert [at for at, _ in got] == instants
    assert [v.hex() for _, v in got] == [float(v).hex() for v in values]
    # the literal's quoting, for codes the catalogue does not have today
    from command_server.monitoring.service import _pg_text

    assert _pg_text('a"b\\c') == '"a\\"b\\\\c"'
