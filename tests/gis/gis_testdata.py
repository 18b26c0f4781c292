"""Random city data for the gis tests (seeded, so failures reproduce)."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Point

from gis import Feature

#: A ~60 km box around Nanjing.
BOUNDS = (118.5, 31.8, 119.1, 32.35)


def random_points(
    rng: np.random.Generator,
    n: int,
    layer: str = "resources",
    kinds: tuple[str, ...] = ("warehouse", "team", "vehicle"),
) -> list[Feature]:
    lon = rng.uniform(BOUNDS[0], BOUNDS[2], n)
    lat = rng.uniform(BOUNDS[1], BOUNDS[3], n)
    return [
        Feature(
            f"{layer}-{i}", layer, kinds[i % len(kinds)], f"{layer} {rng.integers(0, 10**6):06d}", Point(lon[i], lat[i])
        )
        for i in range(n)
    ]


def random_polygons(rng: np.random.Generator, n: int, layer: str = "sensitive") -> list[Feature]:
    lon = rng.uniform(BOUNDS[0], BOUNDS[2], n)
    lat = rng.uniform(BOUNDS[1], BOUNDS[3], n)
    size = rng.uniform(0.001, 0.01, n)
    kinds = ("school", "hospital", "residential", "water_protection", "reserve")
    return [
        Feature(
            f"{layer}-p{i}",
            layer,
            kinds[i % len(kinds)],
            f"{layer} poly {i:05d}",
            shapely.box(lon[i], lat[i], lon[i] + size[i], lat[i] + size[i] * 0.8),
        )
        for i in range(n)
    ]
