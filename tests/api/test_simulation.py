"""Dispersion runs through the API: threat zones, affected sensitive features, stored runs and events,
bad input, permissions."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from shapely.geometry import Point, shape

from dispersion import river_spill
from gis import bearing_deg, destination, distance_m
from tests.conftest import Api

SRC = (121.50, 31.20)
AMMONIA = {
    "release": {"lon": SRC[0], "lat": SRC[1], "rate_gps": 5000, "height_m": 1, "duration_min": 30},
    "meteorology": {"wind_speed_ms": 3, "wind_from_deg": 270, "stability": "D"},
    "chemical": "氨",
}


async def add_school(client: Any, name: str, lon: float, lat: float) -> int:
    r = await client.post("/api/v1/gis/features", json={
        "layer": "sensitive", "kind": "school", "name": name,
        "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {"students": 600}})
    assert r.status == 201, await r.text()
    return (await r.json())["id"]


async def test_ammonia_plume_zones_and_affected(api: Api) -> None:
    op = await api.as_user("operator")
    down = await add_school(op, "下风向小学", *destination(*SRC, 90.0, 300.0))
    up = await add_school(op, "上风向小学", *destination(*SRC, 270.0, 300.0))
    r = await op.post("/api/v1/dispersion/plume", json=AMMONIA)
    assert r.status == 201, await r.text()
    run = await r.json()
    zones = run["zones"]["features"]
    assert [z["properties"]["kind"] for z in zones] == ["threat", "threat", "threat", "possible"]
    assert [z["properties"]["level"] for z in zones[:3]] == ["AEGL-3", "AEGL-2", "AEGL-1"]
    polys = [shape(z["geometry"]) for z in zones]
    for p in polys:
        assert p.is_valid and not p.is_empty
    for inner, outer in itertools.pairwise(polys):  # nested: each inside the next
        assert inner.difference(outer).area <= 1e-3 * inner.area
    lengths = [z["properties"]["length_m"] for z in zones[:3]]
    assert lengths == sorted(lengths) and lengths[0] > 300
    # wind from the west: the zones lie east of the source
    c = polys[2].centroid
    assert c.x > SRC[0] and bearing_deg(*SRC, c.x, c.y) == pytest.approx(90, abs=5)
    assert all(z["properties"]["width_m"] > 0 and z["properties"]["threshold"] > 0 for z in zones)

    affected = {a["id"]: a for a in run["affected"]}
    assert down in affected and up not in affected
    a = affected[down]
    assert a["zone"] == "AEGL-3" and a["possible"] is False and a["kind_label"] == "学校"
    assert a["distance_m"] == pytest.approx(300, abs=1) and a["fraction"] == 1.0
    s = run["summary"]
    assert s["stability"] == "D" and s["chemical"]["cas"] == "7664-41-7"
    assert s["max_length_m"] == pytest.approx(lengths[2], abs=0.2)
    assert s["counts"] == {"school": 1} and s["counts_labelled"] == {"学校": 1}


async def test_possible_zone_is_flagged(api: Api) -> None:
    op = await api.as_user("operator")
    run = await (await op.post("/api/v1/dispersion/plume", json=AMMONIA)).json()
    threat = [shape(z["geometry"]) for z in run["zones"]["features"] if z["properties"]["kind"] == "threat"]
    possible = shape(run["zones"]["features"][-1]["geometry"])
    aegl1_len = run["zones"]["features"][2]["properties"]["length_m"]
    # a point in the swept envelope but outside every threat zone: off the axis, half way out
    spot = None
    for off in range(5, 31):
        lon, lat = destination(*SRC, 90.0 + off, aegl1_len * 0.5)
        if possible.contains(Point(lon, lat)) and not any(t.intersects(Point(lon, lat)) for t in threat):
            spot = (lon, lat)
            break
    assert spot is not None
    sid = await add_school(op, "侧风向小学", *spot)
    run = await (await op.post("/api/v1/dispersion/plume", json=AMMONIA)).json()
    hit = next(a for a in run["affected"] if a["id"] == sid)
    assert hit["possible"] is True and hit["zone"] == "possible" and hit["level"] == "AEGL-1"
    assert run["summary"]["counts_by_zone"] == {"possible": {"school": 1}}


async def test_run_is_stored_and_on_the_incident_timeline(api: Api) -> None:
    op = await api.as_user("commander")
    r = await op.post("/api/v1/dispersion/plume", json={**AMMONIA, "incident_id": 999_999})
    assert r.status == 422
    assert (await r.json())["error"]["code"] == "unknown_incident"
    r = await op.post("/api/v1/incidents", json={"title": "液氨泄漏", "type": "hazchem_leak",
                                                 "lon": AMMONIA["release"]["lon"], "lat": AMMONIA["release"]["lat"]})
    assert r.status == 201, await r.text()
    incident_id = (await r.json())["id"]
    r = await op.post("/api/v1/dispersion/plume", json={**AMMONIA, "incident_id": incident_id})
    run = await r.json()
    rid = run["run_id"]
    r = await op.get(f"/api/v1/dispersion/runs/{rid}")
    assert r.status == 200
    stored = await r.json()
    assert stored["kind"] == "plume" and stored["incident_id"] == incident_id
    assert stored["inputs"]["chemical"] == "氨" and stored["inputs"]["release"]["rate_gps"] == 5000
    assert stored["zones"] == run["zones"] and stored["summary"] == run["summary"]
    assert stored["created_by_name"] == "commander"
    await op.post("/api/v1/dispersion/plume", json=AMMONIA)  # no incident
    listed = await (await op.get(f"/api/v1/dispersion/runs?incident_id={incident_id}")).json()
    assert [x["id"] for x in listed] == [rid]
    assert len(await (await op.get("/api/v1/dispersion/runs")).json()) == 2
    events = (await (await op.get(f"/api/v1/events?incident_id={incident_id}&type=simulation.")).json())["items"]
    assert [e["type"] for e in events] == ["simulation.completed"]
    assert events[0]["payload"]["run_id"] == rid and events[0]["incident_id"] == incident_id
    assert events[0]["payload"]["summary"]["stability"] == "D"
    assert (await op.get("/api/v1/dispersion/runs/99999")).status == 404
    # the big screen may look at runs
    screen = await api.as_user("screen")
    assert (await screen.get(f"/api/v1/dispersion/runs/{rid}")).status == 200


async def test_puff_with_derived_stability_and_custom_levels(api: Api) -> None:
    field = await api.as_user("field")
    body = {
        "release": {"lon": SRC[0], "lat": SRC[1], "mass_kg": 500},
        "meteorology": {"wind_speed_ms": 2.5, "wind_from_deg": 0, "daytime": True, "insolation": "strong"},
        "chemical": "chlorine",
        "levels": [{"name": "高", "value": 20, "unit": "ppm"}, {"name": "低", "value": 2, "unit": "ppm"}],
    }
    r = await field.post("/api/v1/dispersion/puff", json=body)
    assert r.status == 201, await r.text()
    run = await r.json()
    assert run["kind"] == "puff" and run["summary"]["stability"] in ("A", "B")
    props = [z["properties"] for z in run["zones"]["features"]]
    assert [p["level"] for p in props] == ["高", "低", "低"] and props[-1]["kind"] == "possible"
    c = shape(run["zones"]["features"][1]["geometry"]).centroid
    assert c.y < SRC[1], "wind from the north carries the cloud south"
    # a family of levels
    r = await field.post("/api/v1/dispersion/puff", json={**body, "levels": "ERPG"})
    assert (await r.json())["zones"]["features"][0]["properties"]["level"] == "ERPG-3"
    # too little to reach anything: no zones, a note
    r = await field.post("/api/v1/dispersion/puff", json={**body, "release": {**body["release"], "mass_kg": 1e-9},
                                                           "levels": "default"})
    assert r.status == 201
    run = await r.json()
    assert run["zones"]["features"] == [] and run["summary"]["note"]


@pytest.mark.parametrize("patch, status, fragment", [
    ({"meteorology": {"wind_speed_ms": -2, "wind_from_deg": 270, "stability": "D"}}, 422, "wind_speed_ms"),
    ({"meteorology": {"wind_speed_ms": 3, "wind_from_deg": 270, "stability": "Z"}}, 422, "stability class"),
    ({"meteorology": {"wind_speed_ms": 3, "wind_from_deg": 270}}, 422, "stability"),
    ({"chemical": "kryptonite"}, 422, "unknown chemical"),
    ({"release": {"lon": 121.5, "lat": 89.99, "rate_gps": 100}}, 422, "pole"),
    ({"release": {"lon": 121.5, "lat": 95, "rate_gps": 100}}, 422, "latitude"),
    ({"release": {"lon": 121.5, "lat": 31.2, "mass_kg": 100}}, 422, "rate_gps"),
    ({"release": {"lon": 121.5, "lat": 31.2, "rate_gps": -5}}, 422, "rate_gps"),
    ({"levels": []}, 422, "levels"),
    ({"levels": [{"name": "x", "value": -1, "unit": "ppm"}]}, 422, "level"),
    ({"levels": "TEEL"}, 422, "invalid request body"),
    ({"meteorology": {"wind_speed_ms": 3, "wind_from_deg": 270, "stability": "D", "gust": 1}}, 422,
     "invalid request body"),
])
async def test_bad_dispersion_input(api: Api, patch: dict[str, Any], status: int, fragment: str) -> None:
    op = await api.as_user("operator")
    r = await op.post("/api/v1/dispersion/plume", json={**AMMONIA, **patch})
    assert r.status == status, await r.text()
    err = (await r.json())["error"]
    assert fragment in err["message"], err
    assert not (await (await op.get("/api/v1/dispersion/runs")).json()), "a refused run is not stored"


async def test_nan_and_missing_body(api: Api) -> None:
    op = await api.as_user("operator")
    raw = ('{"release": {"lon": 121.5, "lat": 31.2, "rate_gps": 100}, "chemical": "氨", '
           '"meteorology": {"wind_speed_ms": NaN, "wind_from_deg": 270, "stability": "D"}}')
    r = await op.client.post("/api/v1/dispersion/plume", data=raw,
                             headers={**op.headers, "Content-Type": "application/json"})
    assert r.status == 422
    err = (await r.json())["error"]
    assert err["details"]["errors"][0]["loc"] == ["body", "meteorology", "wind_speed_ms"]
    assert "finite" in err["details"]["errors"][0]["msg"]
    r = await op.post("/api/v1/dispersion/plume")
    assert r.status == 400
    r = await op.post("/api/v1/dispersion/puff", json={**AMMONIA})
    assert r.status == 422 and "mass_kg" in (await r.json())["error"]["message"]


async def test_river_run(api: Api) -> None:
    op = await api.as_user("operator")
    r = await op.post("/api/v1/incidents", json={"title": "河道泄漏", "type": "water", "lon": 121.4, "lat": 31.0})
    incident_id = (await r.json())["id"]
    body = {"mass_kg": 1000, "velocity_ms": 0.5, "dispersion_m2s": 50, "area_m2": 1000,
            "distances_m": [1000, 5000, 20000], "threshold_mg_l": 0.01, "incident_id": incident_id}
    r = await op.post("/api/v1/dispersion/river", json=body)
    assert r.status == 201, await r.text()
    run = await r.json()
    pts = run["result"]["points"]
    ref = river_spill(1000, 0.5, 50, 1000)
    for p in pts:
        x = p["distance_m"]
        assert p["peak_s"] == pytest.approx(float(ref.peak_time(x)), rel=1e-6)
        assert p["peak_mg_l"] == pytest.approx(float(ref.peak_concentration(x)), rel=1e-6)
        assert p["arrival_s"] < p["peak_s"] < p["clear_s"]
        assert p["peak_s"] == pytest.approx(x / 0.5, rel=0.1)
        peak_on_curve = max(pt["c_mg_l"] for pt in p["curve"])
        assert peak_on_curve == pytest.approx(p["peak_mg_l"], rel=0.05)
    assert [p["peak_mg_l"] for p in pts] == sorted([p["peak_mg_l"] for p in pts], reverse=True)
    assert run["summary"]["first_arrival_s"] == pts[0]["arrival_s"]
    events = (await (await op.get(f"/api/v1/events?incident_id={incident_id}&type=simulation.")).json())["items"]
    assert events[0]["type"] == "simulation.completed" and events[0]["payload"]["kind"] == "river"
    # with a spill point on a river: the river's hydraulics and the downstream facilities
    await op.post("/api/v1/gis/rivers", json={"name": "试验河", "geometry": {
        "type": "LineString", "coordinates": [[121.30, 31.00], [121.50, 31.00]]},
        "properties": {"velocity_ms": 0.8, "width_m": 40, "depth_m": 2.5}})
    await op.post("/api/v1/gis/features", json={"layer": "facilities", "kind": "water_intake", "name": "试验取水口",
                                               "geometry": {"type": "Point", "coordinates": [121.40, 31.0002]}})
    r = await op.post("/api/v1/dispersion/river", json={"mass_kg": 500, "lon": 121.31, "lat": 31.0})
    run = await r.json()
    assert run["result"]["model"]["velocity_ms"] == 0.8 and run["result"]["model"]["area_m2"] == 100
    intake = run["result"]["downstream"]["items"][0]
    assert intake["name"] == "试验取水口"
    assert [p["distance_m"] for p in run["result"]["points"]] == [intake["river_distance_m"]]
    assert run["result"]["points"][0]["peak_s"] == pytest.approx(intake["peak_s"], rel=1e-3)
    assert run["zones"]["features"][0]["properties"]["kind"] == "river_path"
    r = await op.post("/api/v1/dispersion/river", json={"mass_kg": 500, "lon": 121.31})
    assert r.status == 422
    r = await op.post("/api/v1/dispersion/river", json={"mass_kg": 500, "distances_m": [-5]})
    assert r.status == 422 and "distances_m" in (await r.json())["error"]["message"]


async def test_simulation_permissions(api: Api) -> None:
    screen = await api.as_user("screen")
    r = await screen.post("/api/v1/dispersion/plume", json=AMMONIA)
    assert r.status == 403 and (await r.json())["error"]["details"]["permission"] == "simulation:run"
    assert (await screen.get("/api/v1/dispersion/runs")).status == 200
    pilot = await api.as_user("pilot")
    assert (await pilot.post("/api/v1/dispersion/plume", json=AMMONIA)).status == 403
    enterprise = await api.as_user("enterprise")
    assert (await enterprise.post("/api/v1/dispersion/plume", json=AMMONIA)).status == 403
    assert (await enterprise.get("/api/v1/dispersion/runs")).status == 403
    field = await api.as_user("field")
    assert (await field.post("/api/v1/dispersion/plume", json=AMMONIA)).status == 201


async def test_affected_over_the_demo_map(api: Api) -> None:
    """A release in the chemical park reaches schools/residential areas of the demo city; counts add up."""
    from tests.api.test_geo import seed_map

    await seed_map(api)
    op = await api.as_user("operator")
    body = {**AMMONIA, "release": {"lon": 121.70, "lat": 30.88, "rate_gps": 5000, "height_m": 2},
            "meteorology": {"wind_speed_ms": 2, "wind_from_deg": 180, "stability": "E"}}
    run = await (await op.post("/api/v1/dispersion/plume", json=body)).json()
    s = run["summary"]
    assert s["affected_total"] == len(run["affected"]) > 0
    assert sum(s["counts"].values()) == s["affected_total"]
    d = [a["distance_m"] for a in run["affected"]]
    assert d == sorted(d)
    for a in run["affected"]:
        assert 0 < a["fraction"] <= 1 and a["layer"] in ("sensitive", "facilities")
        if a["layer"] == "facilities":
            assert a["kind"] == "water_intake"
        assert distance_m(121.70, 30.88, a["lon"], a["lat"]) >= a["distance_m"] - 1
