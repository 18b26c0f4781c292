"""GeoJSON in (validated) and out (FeatureCollections with a bbox filter)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import shapely
from shapely.geometry import (
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
    box,
)
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from gis.errors import GisInputError
from gis.features import Feature
from gis.validate import check_lonlat_arrays

Position = tuple[float, float]

_GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")


def _position(value: Any, where: str) -> Position:
    if not isinstance(value, (list, tuple)) or len(value) not in (2, 3):
        raise GisInputError(f"{where}: a position must be [lon, lat] (optionally with altitude), got {value!r}")
    out: list[float] = []
    for v in value[:2]:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise GisInputError(f"{where}: coordinates must be numbers, got {value!r}")
        if not math.isfinite(v):
            raise GisInputError(f"{where}: coordinates must be finite numbers (NaN or infinity found)")
        out.append(float(v))
    check_lonlat_arrays([out[0]], [out[1]], where)
    return out[0], out[1]


def _positions(value: Any, where: str, minimum: int) -> list[Position]:
    if not isinstance(value, (list, tuple)):
        raise GisInputError(f"{where}: expected a list of positions, got {type(value).__name__}")
    pts = [_position(p, f"{where}[{i}]") for i, p in enumerate(value)]
    if len(pts) < minimum:
        raise GisInputError(f"{where}: needs at least {minimum} positions, got {len(pts)}")
    return pts


def _ring(value: Any, where: str) -> list[Position]:
    pts = _positions(value, where, 4)
    if pts[0] != pts[-1]:
        raise GisInputError(f"{where}: a polygon ring must be closed (first position equal to the last)")
    return pts


def _polygon(value: Any, where: str) -> Polygon:
    if not isinstance(value, (list, tuple)) or len(value) == 0:
        raise GisInputError(f"{where}: empty polygon (no rings)")
    rings = [_ring(r, f"{where} ring {i}") for i, r in enumerate(value)]
    return Polygon(rings[0], rings[1:])


def _build(kind: str, coords: Any, where: str) -> BaseGeometry:
    if kind == "Point":
        return Point(_position(coords, where))
    if not isinstance(coords, (list, tuple)):
        raise GisInputError(f"{where}: coordinates must be a list")
    if kind == "MultiPoint":
        return MultiPoint(_positions(coords, where, 1))
    if kind == "LineString":
        return LineString(_positions(coords, where, 2))
    if kind == "MultiLineString":
        if not coords:
            raise GisInputError(f"{where}: empty MultiLineString")
        return MultiLineString([_positions(c, f"{where}[{i}]", 2) for i, c in enumerate(coords)])
    if kind == "Polygon":
        return _polygon(coords, where)
    if not coords:
        raise GisInputError(f"{where}: empty MultiPolygon")
    return MultiPolygon([_polygon(c, f"{where}[{i}]") for i, c in enumerate(coords)])


def parse_geometry(obj: Any, *, where: str = "geometry") -> BaseGeometry:
    """A validated shapely geometry from a GeoJSON geometry (or Feature) dict.

    Raises GisInputError for anything that is not well-formed GeoJSON, has
    NaN/out-of-range/polar coordinates, is empty, or is an invalid polygon
    (self-intersection, ...), naming the problem.
    """
    if isinstance(obj, BaseGeometry):
        geom = obj
    else:
        if not isinstance(obj, Mapping):
            raise GisInputError(f"{where}: expected a GeoJSON object, got {type(obj).__name__}")
        if obj.get("type") == "Feature":
            return parse_geometry(obj.get("geometry"), where=where)
        kind = obj.get("type")
        if kind not in _GEOMETRY_TYPES:
            raise GisInputError(
                f"{where}: unsupported or missing GeoJSON type {kind!r}; expected one of {', '.join(_GEOMETRY_TYPES)}"
            )
        if "coordinates" not in obj:
            raise GisInputError(f"{where}: GeoJSON {kind} has no 'coordinates'")
        geom = _build(kind, obj["coordinates"], where)
    if geom.is_empty:
        raise GisInputError(f"{where}: geometry is empty")
    coords = shapely.get_coordinates(geom)
    check_lonlat_arrays(coords[:, 0], coords[:, 1], where)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        if geom.convex_hull.area == 0.0:
            raise GisInputError(f"{where}: empty polygon (all its points lie on one line)")
        if "Self-intersection" in reason:
            raise GisInputError(f"{where}: self-intersecting polygon, edges cross ({reason})")
        if "Too few points" in reason:
            # GEOS drops repeated points first: a ring that collapses encloses nothing.
            raise GisInputError(f"{where}: empty polygon (its ring collapses to fewer than 3 distinct points)")
        raise GisInputError(f"{where}: invalid geometry ({reason})")
    if geom.geom_type in ("Polygon", "MultiPolygon") and geom.area == 0.0:
        raise GisInputError(f"{where}: empty polygon (zero area)")
    return geom


def parse_area(obj: Any, *, where: str = "area") -> Polygon | MultiPolygon:
    """Like parse_geometry but only a Polygon or MultiPolygon is accepted."""
    geom = parse_geometry(obj, where=where)
    if not isinstance(geom, (Polygon, MultiPolygon)):
        raise GisInputError(f"{where}: expected a Polygon or MultiPolygon, got {geom.geom_type}")
    return geom


def feature_from_geojson(obj: Mapping[str, Any], *, layer: str | None = None) -> Feature:
    """A Feature from a GeoJSON Feature dict.

    id comes from the Feature's id (or properties.id); layer/kind/name from
    properties unless layer is forced by the caller.
    """
    if not isinstance(obj, Mapping) or obj.get("type") != "Feature":
        raise GisInputError("expected a GeoJSON Feature object")
    props = dict(obj.get("properties") or {})
    fid = obj.get("id", props.pop("id", None))
    if fid is None:
        raise GisInputError("GeoJSON Feature has no id")
    fid = str(fid)
    geom = parse_geometry(obj.get("geometry"), where=f"feature {fid}")
    layer_name = layer or props.pop("layer", None)
    if not layer_name:
        raise GisInputError(f"feature {fid}: no layer given")
    props.pop("layer", None)
    kind = str(props.pop("kind", props.pop("type", "")) or "")
    name = str(props.pop("name", "") or "")
    return Feature(fid, str(layer_name), kind, name, geom, props)


def features_from_collection(obj: Mapping[str, Any], *, layer: str | None = None) -> list[Feature]:
    """All Features of a GeoJSON FeatureCollection."""
    if not isinstance(obj, Mapping) or obj.get("type") != "FeatureCollection":
        raise GisInputError("expected a GeoJSON FeatureCollection")
    items = obj.get("features")
    if not isinstance(items, list):
        raise GisInputError("FeatureCollection.features must be a list")
    return [feature_from_geojson(f, layer=layer) for f in items]


def feature_collection(features: Iterable[Feature], *, bbox: Sequence[float] | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection; with bbox (west, south, east, north) only
    features whose geometry intersects that lon/lat box are kept."""
    window = None
    if bbox is not None:
        if len(bbox) != 4:
            raise GisInputError("bbox must be [west, south, east, north]")
        w, s, e, n = (float(v) for v in bbox)
        check_lonlat_arrays([w, e], [s, n], "bbox")
        if w > e or s > n:
            raise GisInputError("bbox must satisfy west <= east and south <= north")
        window = prep(box(w, s, e, n))
    out = [f.to_geojson() for f in features if window is None or window.intersects(f.geometry)]
    return {"type": "FeatureCollection", "features": out}
