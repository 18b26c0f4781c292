"""Fixtures for the gis tests."""

from __future__ import annotations

import numpy as np
import pytest

from gis import SpatialCatalog
from tests.gis.gis_testdata import BOUNDS, random_points, random_polygons


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def catalog(rng: np.random.Generator) -> SpatialCatalog:
    feats = (
        random_points(rng, 3000)
        + random_points(rng, 500, layer="monitors", kinds=("air", "water"))
        + random_polygons(rng, 400)
    )
    return SpatialCatalog(BOUNDS, feats)
