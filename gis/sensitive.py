"""Sensitive-area identification: what a threat zone touches, and how much.

For each zone (most severe first, e.g. ("threat", poly), ("possible", poly))
every feature of the chosen layers that is inside or touches it is reported
once, under the first zone that touches it, with the covered fraction of its
area (length for lines, share of parts for multipoints, 1.0 for a point) and
its geodesic distance and bearing from the source. Candidate selection is one
bulk STRtree query per zone and the overlap is vectorised shapely, so ten
thousand polygons take a few tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from gis.catalog import SpatialCatalog
from gis.errors import GisInputError
from gis.features import Feature
from gis.geojson import parse_area
from gis.hits import exact_distances
from gis.layer_index import LayerIndex
from gis.validate import check_lonlat

ZoneInput = tuple[str, Any]


@dataclass(frozen=True, slots=True)
class Affected:
    """A sensitive feature reached by a zone."""

    feature: Feature
    zone: str
    zone_rank: int
    fraction: float
    distance_m: float
    bearing_deg: float

    def to_dict(self) -> dict[str, Any]:
        lon, lat = self.feature.lonlat
        return {
            "id": self.feature.id,
            "layer": self.feature.layer,
            "kind": self.feature.kind,
            "name": self.feature.name,
            "lon": lon,
            "lat": lat,
            "zone": self.zone,
            "fraction": round(self.fraction, 4),
            "distance_m": round(self.distance_m, 1),
            "bearing_deg": round(self.bearing_deg, 1),
            "properties": dict(self.feature.properties),
        }


def _zone_polygon(zone: Any, name: str) -> Polygon | MultiPolygon:
    """Validate a zone; model output (shapely) is repaired rather than refused,
    since contouring can yield touching rings that are harmless here."""
    where = f"zone {name!r}"
    if isinstance(zone, BaseGeometry) and not zone.is_valid:
        fixed = shapely.make_valid(zone)
        parts = [g for g in shapely.get_parts(fixed) if isinstance(g, (Polygon, MultiPolygon))]
        zone = shapely.union_all(parts) if parts else Polygon()
    return parse_area(zone, where=where)


def _resolve(
    source: SpatialCatalog | LayerIndex | Sequence[LayerIndex], layers: Iterable[str] | None
) -> list[LayerIndex]:
    if isinstance(source, SpatialCatalog):
        return source.indexes(layers)
    if isinstance(source, LayerIndex):
        return [source]
    return list(source)


def _covered_fraction(geoms: NDArray[np.object_], zone: BaseGeometry) -> NDArray[np.float64]:
    """Share of each geometry inside the zone, by its own dimension."""
    frac = np.ones(len(geoms))
    if len(geoms) == 0:
        return frac
    inter = shapely.intersection(geoms, zone)
    dims = shapely.get_dimensions(geoms)
    poly = dims == 2
    if poly.any():
        frac[poly] = shapely.area(inter[poly]) / shapely.area(geoms[poly])
    line = dims == 1
    if line.any():
        frac[line] = shapely.length(inter[line]) / shapely.length(geoms[line])
    multi = dims == 0
    if multi.any():
        frac[multi] = shapely.get_num_geometries(inter[multi]) / shapely.get_num_geometries(geoms[multi])
    return np.clip(frac, 0.0, 1.0)


def affected_features(
    source: SpatialCatalog | LayerIndex | Sequence[LayerIndex],
    zones: Sequence[ZoneInput],
    source_lonlat: tuple[float, float],
    layers: Iterable[str] | None = ("sensitive",),
    *,
    kinds: Iterable[str] | None = None,
) -> list[Affected]:
    """Features touched by the zones, nearest to the source first.

    zones: (name, polygon) pairs, most severe first; polygon is a shapely
    Polygon/MultiPolygon or GeoJSON in WGS-84. A feature appears once, under
    the first zone touching it. layers applies to a catalog only.
    """
    src = check_lonlat(*source_lonlat, what="source point")
    if isinstance(layers, str):
        layers = [layers]
    indexes = _resolve(source, layers)
    if not indexes:
        return []
    proj = indexes[0].projection
    kinds_list = None if kinds is None else ([kinds] if isinstance(kinds, str) else list(kinds))
    seen: set[str] = set()
    out: list[Affected] = []
    for rank, item in enumerate(zones):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise GisInputError("each zone must be a (name, polygon) pair")
        name = str(item[0])
        zone = proj.forward_geom(_zone_polygon(item[1], name))
        shapely.prepare(zone)
        xmin, ymin, xmax, ymax = zone.bounds
        for ix in indexes:
            with ix.reading():
                codes = ix.kind_codes(kinds_list)
                pslots = ix.points.in_box(xmin, ymin, xmax, ymax, codes)
                pslots = pslots[shapely.intersects_xy(zone, *ix.points.xy(pslots))]
                sslots = ix.shapes.query(zone, "intersects", codes)
                sgeoms = ix.shapes.geoms(sslots)
                groups = (
                    (ix.points.view(), pslots, np.ones(len(pslots))),
                    (ix.shapes.view(), sslots, _covered_fraction(sgeoms, zone)),
                )
                for view, slots, frac in groups:
                    new = np.array([view.features[s].id not in seen for s in slots], dtype=bool)
                    slots, frac = slots[new], frac[new]
                    dist, brg = exact_distances(view, slots, src, proj)
                    for s, fr, d, b in zip(slots, frac, dist, brg, strict=True):
                        f = view.features[s]
                        seen.add(f.id)
                        out.append(Affected(f, name, rank, float(fr), float(d), float(b)))
    out.sort(key=lambda a: (a.distance_m, a.zone_rank, a.feature.name))
    return out
