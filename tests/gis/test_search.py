"""Searches compared with brute force on random data."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point

from gis import Feature, LocalProjection, SpatialCatalog, inverse
from tests.gis.gis_testdata import BOUNDS

GEOD = Geod(ellps="WGS84")


def _points(catalog: SpatialCatalog, layers: list[str]) -> list[Feature]:
    return [f for ix in catalog.indexes(layers) for f in ix.features() if f.is_point]


def _brute_circle_points(feats: list[Feature], lon: float, lat: float, r: float) -> set[str]:
    d, _ = inverse(lon, lat, [f.geometry.x for f in feats], [f.geometry.y for f in feats])
    return {f.id for f, di in zip(feats, d, strict=True) if di <= r}


def _brute_shape_distances(feats: list[Feature], lon: float, lat: float) -> dict[str, float]:
    # In an equidistant projection centred on the query point every distance
    # *from that point* is exact, so the planar distance to a (densified)
    # polygon is its geodesic distance: an independent brute force.
    proj = LocalProjection.aeqd(lon, lat)
    return {f.id: proj.forward_geom(f.geometry).distance(Point(0, 0)) for f in feats}


def test_circle_matches_brute_force(catalog: SpatialCatalog, rng: np.random.Generator) -> None:
    pts = _points(catalog, ["resources", "monitors"])
    shapes = [f for f in catalog.layer("sensitive").features()]
    for _ in range(25):
        lon, lat = rng.uniform(BOUNDS[0], BOUNDS[2]), rng.uniform(BOUNDS[1], BOUNDS[3])
        r = float(rng.uniform(500, 15000))
        hits = catalog.search_circle(lon, lat, r)
        got = set(hits.ids())
        want = _brute_circle_points(pts, lon, lat, r)
        sd = _brute_shape_distances(shapes, lon, lat)
        want |= {fid for fid, d in sd.items() if d <= r}
        borderline = {fid for fid, d in sd.items() if abs(d - r) < 1.0}
        assert got - borderline == want - borderline
        assert len(got) == len(hits)


def test_circle_records_exact_and_sorted(catalog: SpatialCatalog) -> None:
    lon, lat = 118.8, 32.05
    hits = catalog.search_circle(lon, lat, 8000, layers="resources")
    top = hits.top(limit=30)
    assert len(top) == 30
    dists = [h.distance_m for h in top]
    assert dists == sorted(dists)
    for h in top:
        az, _, d = GEOD.inv(lon, lat, h.feature.geometry.x, h.feature.geometry.y)
        assert h.distance_m == pytest.approx(d, abs=1e-6)
        assert h.bearing_deg == pytest.approx(az % 360, abs=1e-6)
    # The first 30 of the full materialisation are the same rows.
    full = hits.top()
    assert [h.id for h in full[:30]] == [h.id for h in top]
    assert len(full) == len(hits)
    by_name = hits.top(limit=10, order="name")
    assert [h.name for h in by_name] == sorted(f.name for f in hits.features())[:10]


def test_kind_and_layer_filters(catalog: SpatialCatalog) -> None:
    hits = catalog.search_circle(118.8, 32.05, 12000, layers=["resources"], kinds=["team"])
    feats = hits.features()
    assert feats and all(f.kind == "team" and f.layer == "resources" for f in feats)
    allk = catalog.search_circle(118.8, 32.05, 12000, layers=["resources"])
    assert len(hits) == sum(f.kind == "team" for f in allk.features())
    assert len(catalog.search_circle(118.8, 32.05, 12000, kinds=["no-such-kind"])) == 0


def test_nearest_matches_brute_force(catalog: SpatialCatalog, rng: np.random.Generator) -> None:
    pts = _points(catalog, ["resources", "monitors"])
    lons = np.array([f.geometry.x for f in pts])
    lats = np.array([f.geometry.y for f in pts])
    for _ in range(25):
        lon, lat = rng.uniform(BOUNDS[0] - 0.1, BOUNDS[2] + 0.1), rng.uniform(BOUNDS[1] - 0.1, BOUNDS[3] + 0.1)
        k = int(rng.integers(1, 30))
        d, _ = inverse(lon, lat, lons, lats)
        want = [pts[i].id for i in np.argsort(d)[:k]]
        got = catalog.search_nearest(lon, lat, k, layers=["resources", "monitors"]).top()
        assert [h.id for h in got] == want
        np.testing.assert_allclose([h.distance_m for h in got], np.sort(d)[:k], rtol=0, atol=1e-6)


def test_nearest_with_rare_kind_and_shapes(catalog: SpatialCatalog) -> None:
    water = [f for f in catalog.layer("monitors").features() if f.kind == "water"]
    d, _ = inverse(118.8, 32.05, [f.geometry.x for f in water], [f.geometry.y for f in water])
    got = catalog.search_nearest(118.8, 32.05, 5, kinds="water").top()
    assert [h.id for h in got] == [water[i].id for i in np.argsort(d)[:5]]
    shapes = catalog.layer("sensitive").features()
    sd = _brute_shape_distances(shapes, 118.8, 32.05)
    got = catalog.search_nearest(118.8, 32.05, 8, layers="sensitive").top()
    want = sorted(sd.values())[:8]
    np.testing.assert_allclose([h.distance_m for h in got], want, atol=0.5)


def test_nearest_max_distance(catalog: SpatialCatalog) -> None:
    got = catalog.search_nearest(118.8, 32.05, 50, layers="resources", max_distance_m=1500).top()
    assert got and all(h.distance_m <= 1500 for h in got)


def test_bbox_matches_brute_force(catalog: SpatialCatalog) -> None:
    w, s, e, n = 118.7, 31.95, 118.85, 32.1
    hits = catalog.search_bbox(w, s, e, n)
    box = shapely.box(w, s, e, n)
    want = {f.id for ix in catalog.indexes() for f in ix.features() if box.intersects(f.geometry)}
    assert set(hits.ids()) == want
    assert hits.ref == pytest.approx(((w + e) / 2, (s + n) / 2))


def test_polygon_matches_brute_force(catalog: SpatialCatalog) -> None:
    ring = [[118.7, 31.95], [118.95, 32.0], [118.9, 32.2], [118.75, 32.15], [118.7, 31.95]]
    poly = shapely.Polygon(ring)
    hits = catalog.search_polygon({"type": "Polygon", "coordinates": [ring]}, layers=["resources", "monitors"])
    near_edge = {f.id for f in _points(catalog, ["resources", "monitors"]) if poly.exterior.distance(f.geometry) < 1e-5}
    want = {f.id for f in _points(catalog, ["resources", "monitors"]) if poly.intersects(f.geometry)}
    assert set(hits.ids()) - near_edge == want - near_edge
    assert len(want) > 100


def test_search_sees_multiple_layers_with_distance_from_reference(catalog: SpatialCatalog) -> None:
    hits = catalog.search_circle(118.8, 32.05, 5000)
    layers = {f.layer for f in hits.features()}
    assert layers == {"resources", "monitors", "sensitive"}
    for h in hits.top(limit=40):
        assert 0 <= h.distance_m <= 5000
        assert 0 <= h.bearing_deg < 360


def test_containing_is_what_nearest_finds_at_zero_metres(catalog: SpatialCatalog, rng: np.random.Generator) -> None:
    shapes = catalog.layer("sensitive").features()
    inside_some = 0
    probes = [(float(rng.uniform(BOUNDS[0], BOUNDS[2])), float(rng.uniform(BOUNDS[1], BOUNDS[3])))
              for _ in range(150)]
    # and points certainly inside: each of the first polygons' representative point
    probes += [(f.geometry.representative_point().x, f.geometry.representative_point().y) for f in shapes[:30]]
    for lon, lat in probes:
        got = [f.id for f in catalog.containing(lon, lat, layers="sensitive")]
        hits = catalog.search_nearest(lon, lat, 5, layers="sensitive").top()
        zero = {h.feature.id for h in hits if h.distance_m == 0.0}
        assert set(got) == zero, (lon, lat)
        names = [catalog.get("sensitive", fid).name for fid in got]
        assert names == sorted(names)
        inside_some += bool(got)
    assert inside_some >= 30
    # point layers are not "containing" anything, and an unknown layer finds nothing
    lon, lat = probes[-1]
    assert catalog.containing(lon, lat, layers=["resources", "monitors"]) == []
    assert catalog.containing(lon, lat, layers="no_such_layer") == []
    with pytest.raises(ValueError):
        catalog.containing(200.0, lat)
