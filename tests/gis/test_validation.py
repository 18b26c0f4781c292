"""Every bad input raises GisInputError with a message naming the problem."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Point

from gis import Feature, GisInputError, SpatialCatalog, parse_geometry
from tests.gis.gis_testdata import BOUNDS, random_points


@pytest.fixture
def cat(rng) -> SpatialCatalog:
    return SpatialCatalog(BOUNDS, random_points(rng, 200))


SQUARE = [[118.7, 32.0], [118.8, 32.0], [118.8, 32.1], [118.7, 32.1], [118.7, 32.0]]


@pytest.mark.parametrize(
    ("geojson", "words"),
    [
        ("not a dict", "GeoJSON object"),
        ({"coordinates": [SQUARE]}, "type"),
        ({"type": "Polygon"}, "coordinates"),
        ({"type": "Circle", "coordinates": [0, 0]}, "unsupported"),
        ({"type": "Polygon", "coordinates": "abc"}, "list"),
        ({"type": "Polygon", "coordinates": [[[118.7, 32.0], [118.8]]]}, "position"),
        ({"type": "Polygon", "coordinates": [[["a", 32.0], [118.8, 32], [118.8, 32.1], ["a", 32.0]]]}, "numbers"),
        ({"type": "Polygon", "coordinates": []}, "empty polygon"),
        ({"type": "Polygon", "coordinates": [[]]}, "at least 4"),
        ({"type": "Polygon", "coordinates": [[[118.7, 32.0], [118.8, 32.0], [118.7, 32.0], [118.7, 32.0]]]}, "empty"),
        ({"type": "Polygon", "coordinates": [[[118.7, 32], [118.8, 32], [118.9, 32], [118.7, 32]]]}, "empty polygon"),
        ({"type": "Polygon", "coordinates": [[*SQUARE[:-1], [118.75, 32.05]]]}, "closed"),
        # A bow tie: its two edges cross.
        (
            {
                "type": "Polygon",
                "coordinates": [[[118.7, 32.0], [118.8, 32.1], [118.8, 32.0], [118.7, 32.1], [118.7, 32.0]]],
            },
            "Self-intersection",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 90], [10, 89], [20, 89], [0, 90]]]}, "pole"),
        (
            {"type": "Polygon", "coordinates": [[[118.7, math.nan], [118.8, 32], [118.8, 32.1], [118.7, math.nan]]]},
            "NaN",
        ),
        ({"type": "Polygon", "coordinates": [[[200, 32], [118.8, 32], [118.8, 32.1], [200, 32]]]}, "longitude"),
        ({"type": "Point", "coordinates": [118.7, 32.0]}, "Polygon"),
    ],
)
def test_bad_polygons(cat: SpatialCatalog, geojson: object, words: str) -> None:
    with pytest.raises(GisInputError, match=words) as info:
        cat.search_polygon(geojson)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("lon", "lat", "radius", "words"),
    [
        (math.nan, 32.0, 100, "NaN"),
        (118.8, math.inf, 100, "NaN or infinity"),
        (118.8, 90.0, 100, "pole"),
        (118.8, 32.0, -5, "radius"),
        (118.8, 32.0, math.nan, "radius"),
        ("x", 32.0, 100, "numbers"),
    ],
)
def test_bad_circles(cat: SpatialCatalog, lon: object, lat: object, radius: object, words: str) -> None:
    with pytest.raises(GisInputError, match=words):
        cat.search_circle(lon, lat, radius)  # type: ignore[arg-type]


def test_bad_nearest_bbox_and_limits(cat: SpatialCatalog) -> None:
    with pytest.raises(GisInputError, match="k must"):
        cat.search_nearest(118.8, 32.0, 0)
    with pytest.raises(GisInputError, match="k must"):
        cat.search_nearest(118.8, 32.0, True)  # type: ignore[arg-type]
    with pytest.raises(GisInputError, match="west < east"):
        cat.search_bbox(118.9, 32.0, 118.8, 32.1)
    with pytest.raises(GisInputError, match="limit"):
        cat.search_circle(118.8, 32.0, 100).top(limit=-1)
    with pytest.raises(GisInputError, match="order"):
        cat.search_circle(118.8, 32.0, 100).top(order="size")  # type: ignore[arg-type]


def test_bad_features() -> None:
    with pytest.raises(GisInputError, match="NaN"):
        Feature("a", "l", "k", "n", Point(math.nan, 1.0))
    with pytest.raises(GisInputError, match="pole"):
        Feature("a", "l", "k", "n", Point(0.0, 89.99))
    with pytest.raises(GisInputError, match="empty"):
        Feature("a", "l", "k", "n", Point())
    with pytest.raises(GisInputError, match="id"):
        Feature("", "l", "k", "n", Point(1, 1))


def test_feature_collection_as_polygon_rejected() -> None:
    with pytest.raises(GisInputError):
        parse_geometry({"type": "FeatureCollection", "features": []})
