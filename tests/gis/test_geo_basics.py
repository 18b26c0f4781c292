"""Projection, geodesy and GeoJSON helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from gis import (
    Feature,
    GisInputError,
    LocalProjection,
    SpatialCatalog,
    bearing_deg,
    destination,
    distance_m,
    feature_collection,
    feature_from_geojson,
    features_from_collection,
    inverse,
    utm_crs_for,
)
from gis.projection import distortion_bound


def test_distance_and_bearing_by_hand() -> None:
    # Along the equator the geodesic is the equator itself, so one degree of
    # longitude is a * pi / 180 = 6378137 * 0.017453292519943295 = 111319.4908 m.
    assert distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111319.4908, abs=1e-3)
    assert bearing_deg(0.0, 0.0, 1.0, 0.0) == pytest.approx(90.0)
    assert bearing_deg(0.0, 0.0, -1.0, 0.0) == pytest.approx(270.0)
    assert bearing_deg(118.8, 32.0, 118.8, 31.0) == pytest.approx(180.0)
    lon, lat = destination(118.8, 32.0, 45.0, 10000.0)
    assert distance_m(118.8, 32.0, lon, lat) == pytest.approx(10000.0, abs=1e-6)
    d, b = inverse(118.8, 32.0, [118.8, 118.8], [32.0, 32.1])
    assert d[0] == 0.0 and b[0] == 0.0 and b[1] == pytest.approx(0.0)


def test_aeqd_is_exact_from_centre_and_within_bound(rng) -> None:
    proj = LocalProjection.aeqd(118.8, 32.05)
    lon = rng.uniform(118.3, 119.3, 2000)
    lat = rng.uniform(31.6, 32.5, 2000)
    x, y = proj.forward(lon, lat)
    d, _ = inverse(118.8, 32.05, lon, lat)
    np.testing.assert_allclose(np.hypot(x, y), d, rtol=1e-9)
    back = proj.inverse(x, y)
    np.testing.assert_allclose(back[0], lon, atol=1e-9)
    np.testing.assert_allclose(back[1], lat, atol=1e-9)
    # Between arbitrary pairs: geodesic <= planar <= (1 + eps) * geodesic.
    i, j = rng.integers(0, 2000, (2, 500))
    geo, _ = inverse(lon[i], lat[i], lon[j], lat[j])
    planar = np.hypot(x[i] - x[j], y[i] - y[j])
    eps = distortion_bound(float(np.hypot(x, y).max()))
    assert (planar >= geo * (1 - 1e-12)).all()
    assert (planar <= geo * (1 + eps) + 1e-9).all()


def test_geometry_round_trip_and_utm() -> None:
    proj = LocalProjection.for_bounds(118.5, 31.8, 119.1, 32.35)
    poly = shapely.box(118.7, 32.0, 118.8, 32.1)
    back = proj.inverse_geom(proj.forward_geom(poly))
    assert back.symmetric_difference(poly).area < 1e-12
    assert utm_crs_for(118.8, 32.0).to_epsg() == 32650
    assert utm_crs_for(-70.0, -33.0).to_epsg() == 32719
    utm = LocalProjection.utm(118.8, 32.0)
    x, y = utm.forward(117.0, 0.0)
    assert float(x) == pytest.approx(500000.0) and float(y) == pytest.approx(0.0, abs=1e-6)


def test_feature_collection_bbox_filter() -> None:
    feats = [
        Feature("a", "resources", "team", "A", Point(118.75, 32.05), {"phone": "110"}),
        Feature("b", "resources", "team", "B", Point(118.95, 32.25)),
        Feature("c", "sensitive", "school", "C", shapely.box(118.79, 32.09, 118.81, 32.11)),
    ]
    fc = feature_collection(feats, bbox=(118.7, 32.0, 118.8, 32.1))
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == ["a", "c"]  # c straddles the edge
    assert fc["features"][0]["properties"] == {"phone": "110", "layer": "resources", "kind": "team", "name": "A"}
    assert len(feature_collection(feats)["features"]) == 3
    back = features_from_collection(fc)
    assert [f.id for f in back] == ["a", "c"] and back[1].geometry.equals(feats[2].geometry)
    cat = SpatialCatalog((118.5, 31.8, 119.1, 32.35), feats)
    assert [f["id"] for f in cat.to_geojson(layers="resources", bbox=(118.7, 32.0, 118.8, 32.1))["features"]] == ["a"]
    with pytest.raises(GisInputError, match="bbox"):
        feature_collection(feats, bbox=(1, 2, 3))
    with pytest.raises(GisInputError, match="west"):
        feature_collection(feats, bbox=(119, 32, 118, 33))


def test_feature_from_geojson() -> None:
    f = feature_from_geojson(
        {
            "type": "Feature",
            "id": 7,
            "geometry": {"type": "Point", "coordinates": [118.8, 32.0]},
            "properties": {"layer": "resources", "kind": "team", "name": "Team 7", "size": 12},
        }
    )
    assert (f.id, f.layer, f.kind, f.name, dict(f.properties)) == ("7", "resources", "team", "Team 7", {"size": 12})
    with pytest.raises(GisInputError, match="layer"):
        feature_from_geojson({"type": "Feature", "id": 1, "geometry": {"type": "Point", "coordinates": [1, 1]}})
    with pytest.raises(GisInputError, match="NaN"):
        feature_from_geojson(
            {"type": "Feature", "id": 1, "geometry": {"type": "Point", "coordinates": [math.nan, 1]}}, layer="x"
        )
