"""Circle, rectangle, polygon and nearest-k searches over LayerIndexes.

All indexes searched together must share one LocalProjection (a catalog
guarantees it). Selection is done in metres and is exact geodesically:
planar distances in the azimuthal equidistant CRS are never shorter than
geodesic ones and at most (1 + eps) longer, so only the thin band between
r and r·(1 + eps) is confirmed with pyproj.Geod.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box

from gis.errors import GisInputError
from gis.features import Feature
from gis.geojson import parse_area
from gis.hits import Hit, Hits, exact_distances
from gis.layer_index import LayerIndex
from gis.point_store import PointView
from gis.projection import LocalProjection, distortion_bound
from gis.validate import check_count, check_lonlat, check_positive

Kinds = Iterable[str] | None


def _projection(indexes: Sequence[LayerIndex]) -> LocalProjection:
    if not indexes:
        raise GisInputError("no layers to search")
    proj = indexes[0].projection
    if any(ix.projection is not proj for ix in indexes):
        raise GisInputError("layers searched together must share one projection (use a SpatialCatalog)")
    return proj


def _kinds(kinds: Kinds) -> list[str] | None:
    if kinds is None:
        return None
    return [kinds] if isinstance(kinds, str) else list(kinds)


def search_circle(
    indexes: Sequence[LayerIndex], lon: float, lat: float, radius_m: float, *, kinds: Kinds = None
) -> Hits:
    """Features within radius_m (geodesic) of (lon, lat); the centre is the reference."""
    lon, lat = check_lonlat(lon, lat, "circle centre")
    radius = check_positive(radius_m, "radius_m")
    proj = _projection(indexes)
    kinds = _kinds(kinds)
    cx, cy = (float(v) for v in proj.forward(lon, lat))
    eps = distortion_bound(float(np.hypot(cx, cy)) + radius)
    parts = []
    for ix in indexes:
        with ix.reading():
            codes = ix.kind_codes(kinds)
            for store in (ix.points, ix.shapes):
                slots, planar = store.within(cx, cy, radius * (1.0 + eps), codes)
                view = store.view()
                band = np.flatnonzero(planar > radius)
                if len(band):
                    exact, _ = exact_distances(view, slots[band], (lon, lat), proj)
                    keep = np.ones(len(slots), dtype=bool)
                    keep[band[exact > radius]] = False
                    slots, planar = slots[keep], planar[keep]
                parts.append((view, slots, planar))
    return Hits((lon, lat), proj, parts, eps)


def _area_search(
    indexes: Sequence[LayerIndex],
    area_ll: shapely.Geometry,
    ref: tuple[float, float],
    kinds: Kinds,
    *,
    lonlat_box: tuple[float, float, float, float] | None = None,
) -> Hits:
    proj = _projection(indexes)
    kinds = _kinds(kinds)
    area = proj.forward_geom(area_ll)
    shapely.prepare(area)
    xmin, ymin, xmax, ymax = area.bounds
    rx, ry = (float(v) for v in proj.forward(*ref))
    rho = max(abs(xmin), abs(xmax)) + max(abs(ymin), abs(ymax))
    eps = distortion_bound(rho)
    parts = []
    for ix in indexes:
        with ix.reading():
            codes = ix.kind_codes(kinds)
            slots = ix.points.in_box(xmin, ymin, xmax, ymax, codes)
            if lonlat_box is not None:
                # A lon/lat rectangle is tested in lon/lat: exact, and cheaper.
                lo, la = ix.points.lonlat(slots)
                w, s, e, n = lonlat_box
                inside = (lo >= w) & (lo <= e) & (la >= s) & (la <= n)
            else:
                inside = shapely.intersects_xy(area, *ix.points.xy(slots))
            slots = slots[inside]
            px, py = ix.points.xy(slots)
            parts.append((ix.points.view(), slots, np.hypot(px - rx, py - ry)))
            sslots = ix.shapes.query(area, "intersects", codes)
            sd = shapely.distance(ix.shapes.geoms(sslots), shapely.Point(rx, ry))
            parts.append((ix.shapes.view(), sslots, sd))
    return Hits(ref, proj, parts, eps)


def search_bbox(
    indexes: Sequence[LayerIndex], west: float, south: float, east: float, north: float, *, kinds: Kinds = None
) -> Hits:
    """Features inside/touching a lon/lat rectangle; its centre is the reference."""
    w, s = check_lonlat(west, south, "rectangle south-west corner")
    e, n = check_lonlat(east, north, "rectangle north-east corner")
    if not (w < e and s < n):
        raise GisInputError("rectangle must have west < east and south < north")
    ref = ((w + e) / 2.0, (s + n) / 2.0)
    return _area_search(indexes, box(w, s, e, n), ref, kinds, lonlat_box=(w, s, e, n))


def search_polygon(indexes: Sequence[LayerIndex], polygon: Any, *, kinds: Kinds = None) -> Hits:
    """Features inside/touching a GeoJSON Polygon/MultiPolygon (validated);
    its centroid is the reference."""
    area = parse_area(polygon, where="search polygon")
    proj = _projection(indexes)
    c = proj.forward_geom(area).centroid
    lon, lat = proj.inverse(c.x, c.y)
    return _area_search(indexes, area, (float(lon), float(lat)), kinds)


def containing(indexes: Sequence[LayerIndex], lon: float, lat: float, *, kinds: Kinds = None) -> list[Feature]:
    """The lines and polygons the point lies on or in — exactly those ``search_nearest`` finds 0 m away — by
    name. One STRtree probe per layer: routing a report to the district that contains it took a nearest
    search with its exact geodesic distances, about 40 % of an alarm intake's CPU (docs/performance.md)."""
    lon, lat = check_lonlat(lon, lat, "point")
    proj = _projection(indexes)
    kinds = _kinds(kinds)
    cx, cy = (float(v) for v in proj.forward(lon, lat))
    pt = shapely.Point(cx, cy)
    found: list[Feature] = []
    for ix in indexes:
        with ix.reading():
            view = ix.shapes.view()
            found += [view.features[i] for i in ix.shapes.query(pt, "intersects", ix.kind_codes(kinds))]
    return sorted(found, key=lambda f: (f.name or "", f.id))


def search_nearest(
    indexes: Sequence[LayerIndex],
    lon: float,
    lat: float,
    k: int,
    *,
    kinds: Kinds = None,
    max_distance_m: float | None = None,
) -> Hits:
    """The k features geodesically nearest to (lon, lat), already exact and ordered."""
    lon, lat = check_lonlat(lon, lat, "reference point")
    k = check_count(k, "k")
    max_d = None if max_distance_m is None else check_positive(max_distance_m, "max_distance_m")
    proj = _projection(indexes)
    kinds = _kinds(kinds)
    cx, cy = (float(v) for v in proj.forward(lon, lat))
    rho_c = float(np.hypot(cx, cy))
    parts = []
    for ix in indexes:
        with ix.reading():
            eps = distortion_bound(rho_c + ix.max_rho)
            codes = ix.kind_codes(kinds)
            ps, pd = ix.points.nearest(cx, cy, k, eps, codes)
            parts.append((ix.points.view(), ps, pd))
            n_sh = max(len(ix.shapes), 1)
            start = max(ix.max_rho, 1000.0) * np.sqrt(k / n_sh)
            ss, sd = ix.shapes.nearest(cx, cy, k, eps, codes, start)
            parts.append((ix.shapes.view(), ss, sd))
    eps = distortion_bound(rho_c + max((ix.max_rho for ix in indexes), default=0.0))
    merged = Hits((lon, lat), proj, parts, eps)
    top = merged.top(k)
    if max_d is not None:
        top = [h for h in top if h.distance_m <= max_d]
    return _from_hits(top, (lon, lat), proj, eps)


def _from_hits(top: list[Hit], ref: tuple[float, float], proj: LocalProjection, eps: float) -> Hits:
    """Wrap already-materialised Hit records back into a Hits (keeps one API)."""
    feats = [h.feature for h in top]
    view = PointView(feats, np.empty(0), np.empty(0))
    dist = np.array([h.distance_m for h in top], dtype=np.float64)
    brg = np.array([h.bearing_deg for h in top], dtype=np.float64)
    return Hits(ref, proj, [(view, np.arange(len(top)), dist)], eps, exact=(dist, brg))
