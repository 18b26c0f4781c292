"""Sensitive-area identification: coverage fractions, zones, ordering."""

from __future__ import annotations

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point

from gis import Feature, GisInputError, LayerIndex, LocalProjection, SpatialCatalog, affected_features

GEOD = Geod(ellps="WGS84")
BOUNDS = (118.7, 31.95, 118.9, 32.1)


def _feature(fid: str, kind: str, geom, layer: str = "sensitive") -> Feature:
    return Feature(fid, layer, kind, fid.replace("-", " "), geom)


@pytest.fixture
def cat() -> SpatialCatalog:
    return SpatialCatalog(
        BOUNDS,
        [
            _feature("school-a", "school", shapely.box(118.80, 32.00, 118.81, 32.01)),
            _feature("hospital-b", "hospital", Point(118.795, 32.005)),
            _feature("reserve-c", "reserve", shapely.box(118.83, 32.00, 118.85, 32.02)),
            _feature("estate-d", "residential", shapely.box(118.86, 32.00, 118.87, 32.01)),
            _feature("clinic-far", "hospital", Point(118.89, 32.09)),
            _feature("depot", "warehouse", Point(118.796, 32.005), layer="resources"),
        ],
    )


THREAT = shapely.box(118.79, 31.99, 118.805, 32.02)  # covers the west half of school-a
POSSIBLE = shapely.box(118.79, 31.99, 118.84, 32.02)  # reaches half of reserve-c too
SOURCE = (118.78, 32.005)


def test_half_covered_square_and_points(cat: SpatialCatalog) -> None:
    res = affected_features(cat, [("threat", THREAT)], SOURCE)
    by_id = {a.feature.id: a for a in res}
    assert set(by_id) == {"school-a", "hospital-b"}  # the depot is not a sensitive layer
    # school-a spans lon 118.80..118.81; the zone ends at 118.805, the middle.
    assert by_id["school-a"].fraction == pytest.approx(0.5, abs=1e-3)
    assert by_id["hospital-b"].fraction == 1.0
    # Distance to a polygon is to its nearest point: its west edge at the source latitude.
    _, _, d = GEOD.inv(SOURCE[0], SOURCE[1], 118.80, 32.005)
    assert by_id["school-a"].distance_m == pytest.approx(d, abs=0.5)
    _, _, d = GEOD.inv(SOURCE[0], SOURCE[1], 118.795, 32.005)
    assert by_id["hospital-b"].distance_m == pytest.approx(d, abs=1e-6)
    assert by_id["hospital-b"].bearing_deg == pytest.approx(90.0, abs=0.01)


def test_possible_zone_does_not_repeat_threat_features(cat: SpatialCatalog) -> None:
    res = affected_features(cat, [("threat", THREAT), ("possible", POSSIBLE)], SOURCE)
    zones = {a.feature.id: a.zone for a in res}
    assert zones == {"school-a": "threat", "hospital-b": "threat", "reserve-c": "possible"}
    reserve = next(a for a in res if a.feature.id == "reserve-c")
    # reserve-c spans lon 118.83..118.85 and the zone ends at 118.84: half.
    assert reserve.fraction == pytest.approx(0.5, abs=1e-3)
    assert [a.distance_m for a in res] == sorted(a.distance_m for a in res)
    assert [a.feature.id for a in res] == ["hospital-b", "school-a", "reserve-c"]


def test_geojson_zones_layers_kinds_and_index_input(cat: SpatialCatalog) -> None:
    zone = shapely.geometry.mapping(POSSIBLE)
    res = affected_features(cat, [("possible", zone)], SOURCE, kinds=["hospital"])
    assert [a.feature.id for a in res] == ["hospital-b"]
    res = affected_features(cat, [("possible", zone)], SOURCE, layers=["sensitive", "resources"])
    assert "depot" in {a.feature.id for a in res}
    ix = cat.layer("sensitive")
    assert isinstance(ix, LayerIndex)
    assert {a.feature.id for a in affected_features(ix, [("p", POSSIBLE)], SOURCE)} == {
        "school-a",
        "hospital-b",
        "reserve-c",
    }
    d = affected_features(cat, [("p", POSSIBLE)], SOURCE)[0].to_dict()
    assert d["zone"] == "p" and d["kind"] == "hospital"


def test_whole_feature_inside_and_multipolygon_zone(cat: SpatialCatalog) -> None:
    zone = shapely.MultiPolygon(
        [shapely.box(118.855, 31.99, 118.875, 32.02), shapely.box(118.79, 31.99, 118.80, 32.02)]
    )
    res = {a.feature.id: a.fraction for a in affected_features(cat, [("t", zone)], SOURCE)}
    assert res["estate-d"] == pytest.approx(1.0)
    # Touching the school's west edge only: reported, with nothing covered.
    assert res["school-a"] == pytest.approx(0.0, abs=1e-6)


def test_model_polygon_repaired_geojson_refused(cat: SpatialCatalog) -> None:
    bow = shapely.Polygon([(118.79, 31.99), (118.81, 32.02), (118.81, 31.99), (118.79, 32.02)])
    assert not bow.is_valid
    assert affected_features(cat, [("t", bow)], SOURCE)  # contour output is repaired
    with pytest.raises(GisInputError, match="self-intersecting"):
        affected_features(cat, [("t", shapely.geometry.mapping(bow))], SOURCE)
    with pytest.raises(GisInputError, match="source"):
        affected_features(cat, [("t", THREAT)], (float("nan"), 32.0))
    with pytest.raises(GisInputError, match="pair"):
        affected_features(cat, [THREAT], SOURCE)  # type: ignore[list-item]


def test_fraction_against_area_in_local_projection(rng) -> None:
    # Random overlaps, checked with an independent projection of each pair.
    feats = []
    for i in range(50):
        x, y = rng.uniform(118.7, 118.88), rng.uniform(31.96, 32.08)
        feats.append(_feature(f"p{i}", "residential", shapely.box(x, y, x + 0.02, y + 0.015)))
    cat = SpatialCatalog(BOUNDS, feats)
    zone = shapely.Point(118.8, 32.02).buffer(0.04)
    res = affected_features(cat, [("t", zone)], SOURCE)
    assert len(res) > 10
    for a in res:
        proj = LocalProjection.utm(118.8, 32.0)
        g = proj.forward_geom(a.feature.geometry)
        want = g.intersection(proj.forward_geom(zone)).area / g.area
        assert a.fraction == pytest.approx(want, abs=2e-3)


def test_invalid_stored_polygon_is_repaired_not_guessed() -> None:
    # A bow tie whose edges cross at (118.80, 32.005): two triangles, one
    # each side of lon 118.80. A zone west of 118.80 covers exactly one.
    bow = shapely.Polygon([(118.79, 31.99), (118.81, 32.02), (118.81, 31.99), (118.79, 32.02)])
    cat = SpatialCatalog(BOUNDS, [_feature("bow", "residential", bow)])
    (res,) = affected_features(cat, [("t", shapely.box(118.785, 31.98, 118.80, 32.03))], SOURCE)
    assert res.fraction == pytest.approx(0.5, abs=2e-3)
