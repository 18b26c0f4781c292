"""Changes are applied without rebuilding; rebuilds are lazy and counted."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Point

from gis import Feature, SpatialCatalog
from tests.gis.gis_testdata import BOUNDS, random_points, random_polygons


def _cat(rng: np.random.Generator) -> SpatialCatalog:
    return SpatialCatalog(BOUNDS, random_points(rng, 20000) + random_polygons(rng, 2000))


def test_add_then_find_without_rebuild(rng: np.random.Generator) -> None:
    cat = _cat(rng)
    before = cat.rebuilds
    new = Feature("new-team", "resources", "team", "New team", Point(118.80001, 32.05001))
    cat.upsert(new)
    hits = cat.search_circle(118.8, 32.05, 50, layers="resources")
    assert "new-team" in hits.ids()
    assert cat.search_nearest(118.8, 32.05, 1, layers="resources").top()[0].id == "new-team"
    school = Feature("new-school", "sensitive", "school", "New school", shapely.box(118.9, 32.1, 118.901, 32.101))
    cat.upsert(school)
    assert "new-school" in cat.search_circle(118.9005, 32.1005, 10, layers="sensitive").ids()
    assert cat.rebuilds == before


def test_remove_and_update_without_rebuild(rng: np.random.Generator) -> None:
    cat = _cat(rng)
    before = cat.rebuilds
    victim = cat.layer("resources").features()[123]
    lon, lat = victim.geometry.x, victim.geometry.y
    assert victim.id in cat.search_circle(lon, lat, 1, layers="resources").ids()
    assert cat.remove("resources", victim.id)
    assert victim.id not in cat.search_circle(lon, lat, 1, layers="resources").ids()
    assert all(h.id != victim.id for h in cat.search_nearest(lon, lat, 5, layers="resources").top())
    # Update: the same id moves; it is found at the new place only.
    cat.apply({"op": "add", "feature": victim})
    moved = Feature(victim.id, "resources", victim.kind, victim.name, Point(118.6, 31.9))
    cat.apply({"op": "update", "feature": moved})
    assert victim.id not in cat.search_circle(lon, lat, 1, layers="resources").ids()
    assert cat.search_circle(118.6, 31.9, 1, layers="resources").ids().count(victim.id) == 1
    poly = cat.layer("sensitive").features()[7]
    c = poly.geometry.centroid
    cat.apply({"op": "remove", "layer": "sensitive", "id": poly.id})
    assert poly.id not in cat.search_circle(c.x, c.y, 1, layers="sensitive").ids()
    assert cat.rebuilds == before
    assert len(cat.layer("resources")) == 20000


def test_many_changes_rebuild_lazily_once(rng: np.random.Generator) -> None:
    cat = _cat(rng)
    ix = cat.layer("resources")
    before = ix.rebuilds
    extra = random_points(rng, 3000, layer="resources")
    extra = [Feature("x" + f.id, f.layer, f.kind, f.name, f.geometry) for f in extra]
    for f in extra:
        ix.upsert(f)
    # No query yet: no rebuild paid during the changes themselves.
    assert ix.rebuilds == before
    hits = cat.search_circle(118.8, 32.05, 30000, layers="resources")
    assert ix.rebuilds == before + 1
    assert sum(fid.startswith("x") for fid in hits.ids()) > 0
    cat.search_circle(118.8, 32.05, 30000, layers="resources")
    assert ix.rebuilds == before + 1


def test_hits_stay_valid_after_changes(rng: np.random.Generator) -> None:
    cat = _cat(rng)
    hits = cat.search_circle(118.8, 32.05, 3000, layers="resources")
    ids = hits.ids()
    for fid in ids:
        cat.remove("resources", fid)
    cat.layer("resources").rebuild()
    assert hits.ids() == ids
    assert len(hits.top()) == len(ids)
