"""Map layers, searches, incremental index updates, coordinate conversion, river tracing, chemicals.

The searches are checked against brute force over the seeded demo map (GeoJSON from the layer endpoint,
distances with pyproj), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
import math
from typing import Any

import numpy as np
import pytest
import shapely
from openpyxl import load_workbook
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Point, box, shape

from command_server.core.security import SystemActor
from command_server.core.services import services
from command_server.demo.geodata import seed_geodata
from command_server.geo.index import LAYERS, geo_index
from tests.conftest import Api, start_api

GEOD = Geod(ellps="WGS84")


async def seed_map(api: Api) -> None:
    """Seed the demo map and wait until the running app has reloaded its index from the event."""
    index = geo_index(api.app)
    before = index.full_loads
    assert await seed_geodata(services(api.app), SystemActor(username="seed"))
    for _ in range(100):
        if index.full_loads > before and len(index.catalog.layer("sensitive")) >= 300:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the map index did not reload after the seed event")


async def all_features(client: Any) -> list[dict[str, Any]]:
    out = []
    for layer in LAYERS:
        r = await client.get(f"/api/v1/gis/layers/{layer}")
        assert r.status == 200, await r.text()
        out += (await r.json())["features"]
    return out


def _aeqd(lon: float, lat: float) -> Any:
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform


def brute_distances(features: list[dict[str, Any]], lon: float, lat: float) -> dict[int, float]:
    """Distance (m) from the point to each feature: geodesic for points, and in an equidistant projection
    centred on the point for shapes (exact at the centre, so exact for the distance from it)."""
    fwd = _aeqd(lon, lat)
    out = {}
    for f in features:
        g = shape(f["geometry"])
        if g.geom_type == "Point":
            out[f["id"]] = GEOD.inv(lon, lat, g.x, g.y)[2]
        else:
            out[f["id"]] = shapely.transform(g, lambda c: np.column_stack(fwd(c[:, 0], c[:, 1]))).distance(
                Point(0, 0))
    return out


async def test_search_shapes_match_brute_force(api: Api) -> None:
    await seed_map(api)
    op = await api.as_user("operator")
    feats = await all_features(op)
    assert len(feats) >= 300 + 100 + 80
    by_id = {f["id"]: f for f in feats}

    # circle, all layers and one layer + kind
    for lon, lat, radius in ((121.48, 31.12, 3000.0), (121.70, 30.88, 5000.0), (121.30, 31.05, 1500.0)):
        dist = brute_distances(feats, lon, lat)
        expected = {i for i, d in dist.items() if d <= radius}
        borderline = {i for i, d in dist.items() if abs(d - radius) < 1.0}
        r = await op.post("/api/v1/gis/search", json={"shape": "circle", "lon": lon, "lat": lat,
                                                        "radius_m": radius, "limit": 5000})
        assert r.status == 200, await r.text()
        body = await r.json()
        got = {it["id"] for it in body["items"]}
        assert body["total"] == len(got)
        assert got - borderline == expected - borderline
        assert expected, "the test circle should contain something"
        ds = [it["distance_m"] for it in body["items"]]
        assert ds == sorted(ds)
        for it in body["items"]:
            assert it["distance_m"] == pytest.approx(dist[it["id"]], abs=1.0)
            g = shape(by_id[it["id"]]["geometry"])
            if g.geom_type == "Point" and it["distance_m"] > 1:
                az = GEOD.inv(lon, lat, g.x, g.y)[0]
                assert (it["bearing_deg"] - az + 180) % 360 - 180 == pytest.approx(0, abs=0.05)
        # layer + kind filter through GET
        r = await op.get(f"/api/v1/gis/search?shape=circle&lon={lon}&lat={lat}&radius_m={radius}"
                         "&layers=sensitive&kinds=school,hospital&limit=5000")
        assert r.status == 200, await r.text()
        got = {it["id"] for it in (await r.json())["items"]}
        exp = {i for i in expected if by_id[i]["properties"]["layer"] == "sensitive"
               and by_id[i]["properties"]["kind"] in ("school", "hospital")}
        assert got - borderline == exp - borderline

    # rectangle
    w, s, e, n = 121.40, 31.00, 121.52, 31.10
    rect = box(w, s, e, n)
    expected = {f["id"] for f in feats if rect.intersects(shape(f["geometry"]))}
    edge = {f["id"] for f in feats if rect.boundary.distance(shape(f["geometry"])) < 1e-5}
    r = await op.post("/api/v1/gis/search", json={"shape": "rectangle", "bbox": [w, s, e, n], "limit": 5000})
    assert r.status == 200, await r.text()
    got = {it["id"] for it in (await r.json())["items"]}
    assert expected and got - edge == expected - edge

    # polygon (a triangle over the chemical park and the river mouth)
    tri = {"type": "Polygon", "coordinates": [[[121.62, 30.84], [121.78, 30.86], [121.70, 31.02], [121.62, 30.84]]]}
    poly = shape(tri)
    expected = {f["id"] for f in feats if poly.intersects(shape(f["geometry"]))}
    edge = {f["id"] for f in feats if poly.boundary.distance(shape(f["geometry"])) < 1e-5}
    r = await op.post("/api/v1/gis/search", json={"shape": "polygon", "polygon": tri,
                                                    "layers": ["risk_sources", "sensitive"], "limit": 5000})
    assert r.status == 200, await r.text()
    got = {it["id"] for it in (await r.json())["items"]}
    expected = {i for i in expected if by_id[i]["properties"]["layer"] in ("risk_sources", "sensitive")}
    assert expected and got - edge == expected - edge

    # nearest k, ordered
    lon, lat = 121.55, 31.02
    dist = brute_distances([f for f in feats if f["properties"]["layer"] == "resources"], lon, lat)
    ranked = sorted(dist, key=lambda i: dist[i])[:15]
    r = await op.get(f"/api/v1/gis/search?shape=nearest&lon={lon}&lat={lat}&layers=resources&limit=15")
    assert r.status == 200, await r.text()
    items = (await r.json())["items"]
    assert [it["id"] for it in items] == ranked
    assert [it["distance_m"] for it in items] == pytest.approx([dist[i] for i in ranked], abs=0.5)

    # order by name with a limit: the first names of the whole result, total still counts everything
    r = await op.post("/api/v1/gis/search", json={"shape": "circle", "lon": 121.48, "lat": 31.12, "radius_m": 6000,
                                                    "limit": 10, "order": "name"})
    body = await r.json()
    assert len(body["items"]) == 10 < body["total"]
    names = [it["name"] for it in body["items"]]
    assert names == sorted(names)


async def test_search_export_xlsx(api: Api) -> None:
    await seed_map(api)
    op = await api.as_user("commander")
    q = {"shape": "circle", "lon": 121.48, "lat": 31.12, "radius_m": 3000, "layers": ["sensitive"], "limit": 500}
    items = (await (await op.post("/api/v1/gis/search", json=q)).json())["items"]
    r = await op.post("/api/v1/gis/search/export.xlsx", json=q)
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(await r.read()))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[1][:4] == ("序号", "名称", "图层", "类型")
    assert len(rows) == 2 + len(items)
    assert [row[1] for row in rows[2:]] == [it["name"] for it in items]
    assert rows[2][4] == pytest.approx(items[0]["distance_m"], abs=0.1)


async def test_incremental_updates_without_reload(api: Api) -> None:
    index = geo_index(api.app)
    loads = index.full_loads
    op = await api.as_user("operator")
    school = {"layer": "sensitive", "kind": "school", "name": "测试小学",
              "geometry": {"type": "Point", "coordinates": [121.5, 31.2]},
              "properties": {"students": 800, "contact": "王老师"}}
    r = await op.post("/api/v1/gis/features", json=school)
    assert r.status == 201, await r.text()
    fid = (await r.json())["id"]
    q = {"shape": "circle", "lon": 121.5, "lat": 31.2, "radius_m": 200}
    items = (await (await op.post("/api/v1/gis/search", json=q)).json())["items"]
    assert [it["id"] for it in items] == [fid]
    assert items[0]["properties"]["students"] == 800 and items[0]["distance_m"] == 0

    # move it 5 km east: gone from the old place, found at the new one
    r = await op.patch(f"/api/v1/gis/features/{fid}", json={"geometry": {"type": "Point", "coordinates": [121.55,
                                                                                                          31.2]}})
    assert r.status == 200, await r.text()
    assert (await (await op.post("/api/v1/gis/search", json=q)).json())["items"] == []
    q2 = {**q, "lon": 121.55}
    assert [it["id"] for it in (await (await op.post("/api/v1/gis/search", json=q2)).json())["items"]] == [fid]
    # change its layer: the old layer's search no longer finds it
    r = await op.patch(f"/api/v1/gis/features/{fid}", json={"layer": "resources", "kind": "depot"})
    assert r.status == 200
    assert (await (await op.post("/api/v1/gis/search", json={**q2, "layers": ["sensitive"]})).json())["total"] == 0
    assert (await (await op.post("/api/v1/gis/search", json={**q2, "layers": ["resources"]})).json())["total"] == 1

    r = await op.delete(f"/api/v1/gis/features/{fid}")
    assert r.status == 204
    assert (await (await op.post("/api/v1/gis/search", json=q2)).json())["total"] == 0
    assert (await op.get(f"/api/v1/gis/features/{fid}")).status == 404
    assert index.full_loads == loads, "a single change must not reload the whole index"

    # the change events are in the log, for the other processes and the map clients
    r = await op.get("/api/v1/events?type=map_feature.&limit=10")
    types = [e["type"] for e in (await r.json())["items"]]
    assert types == ["map_feature.deleted", "map_feature.updated", "map_feature.updated", "map_feature.created"]


async def test_another_process_follows_changes(api: Api, settings_factory: Any) -> None:
    """A second app on the same database keeps its own index current from the event table."""
    other = await start_api(settings_factory())
    try:
        op = await api.as_user("operator")
        op2 = await other.as_user("operator")
        r = await op.post("/api/v1/gis/features", json={
            "layer": "resources", "kind": "team", "name": "江北区环境应急救援队",
            "geometry": {"type": "Point", "coordinates": [121.45, 31.15]}})
        fid = (await r.json())["id"]
        q = {"shape": "nearest", "lon": 121.45, "lat": 31.15, "limit": 1}
        for _ in range(60):
            items = (await (await op2.post("/api/v1/gis/search", json=q)).json())["items"]
            if items:
                break
            await asyncio.sleep(0.1)
        assert [it["id"] for it in items] == [fid]
        await op.delete(f"/api/v1/gis/features/{fid}")
        for _ in range(60):
            if (await (await op2.post("/api/v1/gis/search", json=q)).json())["total"] == 0:
                break
            await asyncio.sleep(0.1)
        assert (await (await op2.post("/api/v1/gis/search", json=q)).json())["total"] == 0
    finally:
        await other.client.close()


async def test_layer_geojson_with_bbox_and_kind(api: Api) -> None:
    await seed_map(api)
    screen = await api.as_user("screen")
    full = (await (await screen.get("/api/v1/gis/layers/sensitive")).json())["features"]
    assert len(full) >= 300
    bbox = (121.42, 31.05, 121.55, 31.15)
    r = await screen.get("/api/v1/gis/layers/sensitive?bbox=" + ",".join(map(str, bbox)) + "&kind=school,residential")
    assert r.status == 200, await r.text()
    fc = await r.json()
    assert fc["type"] == "FeatureCollection"
    win = box(*bbox)
    expected = {f["id"] for f in full if f["properties"]["kind"] in ("school", "residential")
                and win.intersects(shape(f["geometry"]))}
    assert expected and {f["id"] for f in fc["features"]} == expected
    # the layer list, the districts and the rivers
    layers = {x["layer"]: x for x in await (await screen.get("/api/v1/gis/layers")).json()}
    assert layers["sensitive"]["count"] >= 300 and layers["resources"]["count"] >= 100
    assert layers["risk_sources"]["count"] >= 80
    assert layers["facilities"]["kinds"].keys() >= {"water_intake", "monitoring_section", "dam", "gate",
                                                    "emergency_pond"}
    districts = (await (await screen.get("/api/v1/gis/layers/districts")).json())["features"]
    names = {d["properties"]["name"] for d in districts}
    assert names == {"江北区", "江南区", "临港区", "滨海新区", "青山县", "东湖区"}
    rivers = (await (await screen.get("/api/v1/gis/layers/rivers")).json())["features"]
    assert len(rivers) >= 3 and all(r["geometry"]["type"] == "LineString" for r in rivers)
    # GCJ-02 output for a Chinese base map: shifted by a few hundred metres
    r = await screen.get("/api/v1/gis/layers/districts?crs=gcj02")
    shifted = (await r.json())["features"][0]["geometry"]["coordinates"][0][0]
    orig = districts[0]["geometry"]["coordinates"][0][0]
    assert 100 < GEOD.inv(orig[0], orig[1], shifted[0], shifted[1])[2] < 1000
    assert (await screen.get("/api/v1/gis/layers/nope")).status == 404
    r = await screen.get("/api/v1/gis/layers/sensitive?bbox=1,2,3")
    assert r.status == 422 and "bbox" in (await r.json())["error"]["message"]


async def test_convert_round_trip(api: Api) -> None:
    field = await api.as_user("field")
    lon, lat = 121.4737, 31.2304
    r = await field.get(f"/api/v1/gis/convert?lon={lon}&lat={lat}&from=wgs84&to=gcj02")
    assert r.status == 200, await r.text()
    g = await r.json()
    assert g["crs"] == "gcj02"
    assert 300 < GEOD.inv(lon, lat, g["lon"], g["lat"])[2] < 800
    b = await (await field.get(f"/api/v1/gis/convert?lon={g['lon']}&lat={g['lat']}&from=gcj02&to=bd09")).json()
    w = await (await field.get(f"/api/v1/gis/convert?lon={b['lon']}&lat={b['lat']}&from=bd09&to=wgs84")).json()
    assert GEOD.inv(lon, lat, w["lon"], w["lat"])[2] < 0.01
    r = await field.get(f"/api/v1/gis/convert?lon={lon}&lat=95&from=wgs84&to=gcj02")
    assert r.status == 422 and "latitude" in (await r.json())["error"]["message"]
    r = await field.get(f"/api/v1/gis/convert?lon={lon}&lat={lat}&from=wgs84&to=mercator")
    assert r.status == 422


async def test_river_trace_order_and_arrival_times(api: Api) -> None:
    await seed_map(api)
    op = await api.as_user("operator")
    rivers = {r["name"]: r for r in await (await op.get("/api/v1/gis/rivers")).json()}
    assert {"滨江", "青溪河", "南塘河"} <= rivers.keys()
    qx = rivers["青溪河"]["geometry"]["coordinates"]
    spill = qx[2]  # near the source of the north tributary
    # plain advection, each reach at its own velocity
    r = await op.post("/api/v1/gis/rivers/trace", json={"lon": spill[0], "lat": spill[1],
                                                         "max_distance_m": 200_000})
    assert r.status == 200, await r.text()
    t = await r.json()
    assert t["snap"]["river_name"] == "青溪河" and t["snap"]["distance_m"] < 1
    assert [x["name"] for x in t["reaches"]] == ["青溪河", "滨江"]
    items = t["items"]
    assert len(items) >= 5
    dists = [it["river_distance_m"] for it in items]
    assert dists == sorted(dists)
    assert {it["river_name"] for it in items} == {"青溪河", "滨江"}
    v = {x["name"]: x["velocity_ms"] for x in t["reaches"]}
    first_len = t["reaches"][0]["to_m"] - t["reaches"][0]["from_m"]
    for it in items:
        d = it["river_distance_m"]
        expected = d / v["青溪河"] if d <= first_len else first_len / v["青溪河"] + (d - first_len) / v["滨江"]
        assert it["arrival_s"] == pytest.approx(expected, rel=1e-3)
    path = shape(t["path"]["geometry"])
    assert path.geom_type in ("LineString", "MultiLineString")
    geod_len = GEOD.geometry_length(path)
    assert geod_len == pytest.approx(t["length_m"], rel=0.01)
    # a spill with mass and a uniform velocity override: the peak passes at ≈ distance / velocity,
    # the leading edge earlier, and further facilities see it later and weaker
    r = await op.post("/api/v1/gis/rivers/trace", json={"lon": spill[0], "lat": spill[1], "max_distance_m": 200_000,
                                                         "mass_kg": 2000, "velocity_ms": 0.5,
                                                         "dispersion_m2s": 20, "area_m2": 200})
    items = (await r.json())["items"]
    for it in items:
        d = it["river_distance_m"]
        assert it["peak_s"] == pytest.approx(d / 0.5, rel=0.05)
        assert it["arrival_s"] < it["peak_s"]
    peaks = [it["peak_mg_l"] for it in items]
    assert peaks == sorted(peaks, reverse=True)
    # only intakes; off the river; invalid
    r = await op.post("/api/v1/gis/rivers/trace", json={"lon": spill[0], "lat": spill[1], "max_distance_m": 200_000,
                                                         "kinds": ["water_intake"]})
    assert {it["kind"] for it in (await r.json())["items"]} == {"water_intake"}
    r = await op.post("/api/v1/gis/rivers/trace", json={"lon": 121.21, "lat": 30.81, "max_snap_m": 100})
    assert r.status == 422 and "no river within" in (await r.json())["error"]["message"]
    r = await op.post("/api/v1/gis/rivers/trace", json={"lon": 121.5, "lat": 89.9})
    assert r.status == 422 and "pole" in (await r.json())["error"]["message"]


async def test_trace_without_rivers_is_409(api: Api) -> None:
    op = await api.as_user("operator")
    r = await op.post("/api/v1/gis/rivers/trace", json={"lon": 121.5, "lat": 31.0})
    assert r.status == 409 and (await r.json())["error"]["code"] == "no_rivers"


async def test_river_crud_updates_network(api: Api) -> None:
    op = await api.as_user("operator")
    r = await op.post("/api/v1/gis/rivers", json={"name": "试验河", "geometry": {
        "type": "LineString", "coordinates": [[121.30, 31.00], [121.40, 31.00]]},
        "properties": {"velocity_ms": 1.0, "width_m": 20, "depth_m": 2}})
    assert r.status == 201, await r.text()
    rid = (await r.json())["id"]
    await op.post("/api/v1/gis/features", json={"layer": "facilities", "kind": "water_intake", "name": "试验取水口",
                                               "geometry": {"type": "Point", "coordinates": [121.35, 31.0003]}})
    t = await (await op.post("/api/v1/gis/rivers/trace", json={"lon": 121.31, "lat": 31.0})).json()
    assert [it["name"] for it in t["items"]] == ["试验取水口"]
    assert t["items"][0]["arrival_s"] == pytest.approx(t["items"][0]["river_distance_m"] / 1.0, rel=1e-3)
    r = await op.patch(f"/api/v1/gis/rivers/{rid}", json={"properties": {"velocity_ms": 2.0}})
    assert r.status == 200
    t = await (await op.post("/api/v1/gis/rivers/trace", json={"lon": 121.31, "lat": 31.0})).json()
    assert t["items"][0]["arrival_s"] == pytest.approx(t["items"][0]["river_distance_m"] / 2.0, rel=1e-3)
    r = await op.post("/api/v1/gis/rivers", json={"name": "坏河", "geometry": {
        "type": "Polygon", "coordinates": [[[121.3, 31.0], [121.4, 31.0], [121.4, 31.1], [121.3, 31.0]]]}})
    assert r.status == 422 and "LineString" in (await r.json())["error"]["message"]
    r = await op.post("/api/v1/gis/rivers", json={"name": "坏河", "geometry": {
        "type": "LineString", "coordinates": [[121.3, 31.0], [121.4, 31.0]]}, "properties": {"velocity_ms": -1}})
    assert r.status == 422 and "velocity_ms" in (await r.json())["error"]["message"]
    assert (await op.delete(f"/api/v1/gis/rivers/{rid}")).status == 204
    r = await op.post("/api/v1/gis/rivers/trace", json={"lon": 121.31, "lat": 31.0})
    assert r.status == 409


@pytest.mark.parametrize("geometry, fragment", [
    ({"type": "Polygon", "coordinates": [[[121.0, 31.0], [121.1, 31.1], [121.1, 31.0], [121.0, 31.1],
                                          [121.0, 31.0]]]}, "self-intersecting"),
    ({"type": "Polygon", "coordinates": [[[121.0, 31.0], [121.1, 31.0], [121.1, 31.1]]]}, "at least 4"),
    ({"type": "Point", "coordinates": [121.0, 90.0]}, "pole"),
    ({"type": "Point", "coordinates": [181.0, 31.0]}, "longitude"),
    ({"type": "Circle", "coordinates": [121.0, 31.0]}, "unsupported"),
    ({"type": "Point"}, "coordinates"),
    ({"type": "Point", "coordinates": ["a", 31]}, "numbers"),
])
async def test_invalid_geojson_is_422_with_the_reason(api: Api, geometry: dict[str, Any], fragment: str) -> None:
    op = await api.as_user("operator")
    r = await op.post("/api/v1/gis/features", json={"layer": "sensitive", "kind": "school", "name": "x",
                                                     "geometry": geometry})
    assert r.status == 422
    err = (await r.json())["error"]
    assert fragment in err["message"], err


async def test_bad_search_input(api: Api) -> None:
    op = await api.as_user("operator")
    cases = [
        ({"shape": "circle", "lon": 121.5, "lat": 31.0}, "radius_m"),
        ({"shape": "circle", "lon": 121.5, "lat": 31.0, "radius_m": 100, "layers": ["nope"]}, "unknown layer"),
        ({"shape": "rectangle", "bbox": [121.6, 31.0, 121.5, 31.1]}, "west < east"),
        ({"shape": "polygon", "polygon": {"type": "Point", "coordinates": [121.5, 31.0]}}, "Polygon"),
        ({"shape": "nearest", "lon": 121.5, "lat": 91}, "latitude"),
    ]
    for body, fragment in cases:
        r = await op.post("/api/v1/gis/search", json=body)
        assert r.status == 422, body
        assert fragment in (await r.json())["error"]["message"], (body, await r.text())
    r = await op.client.post("/api/v1/gis/search", data='{"shape": "circle", "lon": NaN, "lat": 31, "radius_m": 5}',
                             headers={**op.headers, "Content-Type": "application/json"})
    assert r.status == 422
    assert (await r.json())["error"]["details"]["errors"][0]["loc"] == ["body", "lon"]


async def test_chemicals(api: Api) -> None:
    pilot = await api.as_user("pilot")
    found = await (await pilot.get("/api/v1/chemicals?q=氨")).json()
    assert found[0]["cas"] == "7664-41-7"
    r = await pilot.get("/api/v1/chemicals/7664-41-7")
    assert r.status == 200
    c = await r.json()
    assert c["name_zh"] == "氨" and c["levels"]["AEGL-2"]["value"] == 160
    assert c["levels"]["AEGL-2"]["source"] and c["levels"]["AEGL-2"]["mg_m3"] == pytest.approx(160 * 17.03 / 24.45,
                                                                                                 rel=1e-3)
    assert c["disposal_zh"] and c["first_aid_zh"] and c["default_levels"] == ["AEGL-3", "AEGL-2", "AEGL-1"]
    assert (await pilot.get("/api/v1/chemicals/chlorine")).status == 200
    assert (await pilot.get("/api/v1/chemicals/9999-99-9")).status == 404
    assert len(await (await pilot.get("/api/v1/chemicals")).json()) >= 20


async def test_permissions(api: Api) -> None:
    screen = await api.as_user("screen")
    assert (await screen.get("/api/v1/gis/layers/sensitive")).status == 200
    assert (await screen.post("/api/v1/gis/search", json={"shape": "nearest", "lon": 121.5, "lat": 31,
                                                           "limit": 3})).status == 200
    r = await screen.post("/api/v1/gis/features", json={"layer": "sensitive", "kind": "school", "name": "x",
                                                         "geometry": {"type": "Point", "coordinates": [121.5, 31]}})
    assert r.status == 403 and (await r.json())["error"]["details"]["permission"] == "map:write"
    commander = await api.as_user("commander")
    r = await commander.post("/api/v1/gis/features", json={})
    assert r.status == 403
    enterprise = await api.as_user("enterprise")
    for path in ("/api/v1/gis/layers/sensitive", "/api/v1/gis/layers", "/api/v1/chemicals",
                 "/api/v1/gis/convert?lon=121&lat=31&from=wgs84&to=gcj02"):
        assert (await enterprise.get(path)).status == 403, path


def test_demo_map_is_generated_fast_and_valid() -> None:

    from command_server.demo.geodata import CITY_BBOX, generate

    rows, rivers = generate()
    rows2, _ = generate()
    assert [r.name for r in rows] == [r.name for r in rows2], "fixed seed: the same map every time"
    by_layer: dict[str, int] = {}
    for r in rows:
        by_layer[r.layer] = by_layer.get(r.layer, 0) + 1
        assert r.geometry.is_valid, r.name
        w, s, e, n = r.geometry.bounds
        assert CITY_BBOX[0] - 0.05 <= w and e <= CITY_BBOX[2] + 0.05 and CITY_BBOX[1] - 0.05 <= s
        assert n <= CITY_BBOX[3] + 0.05
    assert by_layer["sensitive"] >= 300 and by_layer["resources"] >= 100 and by_layer["risk_sources"] >= 80
    assert len({r.name for r in rows if r.layer != "sensitive" or r.kind != "water_source_protection"}) == \
        len([r for r in rows if r.layer != "sensitive" or r.kind != "water_source_protection"])
    assert len(rivers) >= 3
    main = rivers[0][1]
    assert main.coords[0][0] < main.coords[-1][0], "the main river flows west to east"
    for _name, line, props in rivers[1:]:
        assert main.distance(Point(line.coords[-1])) < 1e-9, "tributaries end on the main river"
        assert props["velocity_ms"] > 0 and props["width_m"] > 0 and props["depth_m"] > 0
    assert math.isfinite(shapely.area(main.buffer(0.001)))
