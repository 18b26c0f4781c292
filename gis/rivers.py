"""River networks with flow direction, spill snapping and downstream tracing.

A reach is a LineString whose coordinate order is the flow direction. Where
a reach's last point lies within `snap_tolerance_m` of another reach, the
water continues there: at that reach's start (a continuation) or part-way
along it (a tributary joining). Facilities such as drinking-water intakes,
monitoring sections, dams, gates and emergency ponds are attached to the
nearest reach at a position along it. Positions and distances along the
river are geodesic metres (planar lengths in the network's local projection
rescaled per reach by its geodesic length).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely import ops
from shapely.geometry import LineString, MultiLineString, Point

from gis.errors import GisInputError
from gis.features import Feature
from gis.geodesy import WGS84_GEOD
from gis.geojson import features_from_collection
from gis.projection import LocalProjection
from gis.validate import check_lonlat, check_positive

#: arrival_model(distances_m) -> one dict per distance with arrival_s,
#: peak_s and peak_mg_l (e.g. a wrapper around dispersion.river_spill).
ArrivalModel = Callable[[Sequence[float]], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class Snap:
    """A point snapped onto a reach."""

    reach_id: str
    position_m: float
    distance_m: float
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class PathSegment:
    """A stretch of one reach covered by a trace, and where it starts on the path."""

    reach_id: str
    name: str
    from_m: float
    to_m: float
    path_start_m: float


@dataclass(frozen=True, slots=True)
class Downstream:
    """A facility met downstream, with river distance and arrival estimates."""

    feature: Feature
    reach_id: str
    river_distance_m: float
    arrival_s: float | None
    peak_s: float | None
    peak_mg_l: float | None

    def to_dict(self) -> dict[str, Any]:
        lon, lat = self.feature.lonlat
        return {
            "id": self.feature.id,
            "kind": self.feature.kind,
            "name": self.feature.name,
            "lon": lon,
            "lat": lat,
            "reach_id": self.reach_id,
            "river_distance_m": round(self.river_distance_m, 1),
            "arrival_s": self.arrival_s,
            "peak_s": self.peak_s,
            "peak_mg_l": self.peak_mg_l,
            "properties": dict(self.feature.properties),
        }


@dataclass(frozen=True)
class Trace:
    """Result of a downstream trace."""

    snap: Snap
    segments: list[PathSegment]
    length_m: float
    geometry: LineString | MultiLineString
    items: list[Downstream]

    def to_dict(self) -> dict[str, Any]:
        return {
            "snap": {
                "reach_id": self.snap.reach_id,
                "position_m": round(self.snap.position_m, 1),
                "distance_m": round(self.snap.distance_m, 1),
                "lon": self.snap.lon,
                "lat": self.snap.lat,
            },
            "length_m": round(self.length_m, 1),
            "reaches": [s.reach_id for s in self.segments],
            "geometry": shapely.geometry.mapping(self.geometry),
            "items": [i.to_dict() for i in self.items],
        }


@dataclass
class _Reach:
    feature: Feature
    line: LineString  # projected
    scale: float  # geodesic metres per planar metre along this reach
    length_m: float  # geodesic
    outlet: tuple[str, float] | None = None  # receiving reach id, position (m)
    attached: list[tuple[float, Feature]] | None = None


class RiverNetwork:
    """Reaches (flow-ordered LineStrings) with confluences and attached facilities."""

    def __init__(
        self,
        reaches: Iterable[Feature],
        *,
        projection: LocalProjection | None = None,
        snap_tolerance_m: float = 50.0,
    ) -> None:
        feats = list(reaches)
        if not feats:
            raise GisInputError("a river network needs at least one reach")
        for f in feats:
            if not isinstance(f.geometry, LineString):
                raise GisInputError(f"reach {f.id}: geometry must be a LineString in flow order")
        if len({f.id for f in feats}) != len(feats):
            raise GisInputError("reach ids must be unique")
        self.snap_tolerance_m = check_positive(snap_tolerance_m, "snap_tolerance_m")
        if projection is None:
            w, s, e, n = shapely.total_bounds([f.geometry for f in feats])
            projection = LocalProjection.for_bounds(w, s, e, n)
        self.projection = projection
        self._reaches: dict[str, _Reach] = {}
        for f in feats:
            line = projection.forward_geom(f.geometry)
            geo = float(WGS84_GEOD.geometry_length(f.geometry))
            self._reaches[f.id] = _Reach(f, line, geo / line.length if line.length else 1.0, geo, attached=[])
        self._ids = list(self._reaches)
        self._tree = shapely.STRtree([self._reaches[i].line for i in self._ids])
        self._link_confluences()

    @classmethod
    def from_geojson(cls, collection: Mapping[str, Any], **kwargs: Any) -> RiverNetwork:
        """Build from a FeatureCollection of LineString reaches."""
        return cls(features_from_collection(collection, layer="rivers"), **kwargs)

    # -- structure ---------------------------------------------------------

    def _link_confluences(self) -> None:
        tol = self.snap_tolerance_m
        for rid, reach in self._reaches.items():
            end = Point(reach.line.coords[-1])
            best: tuple[int, float, str, float] | None = None
            for j in self._tree.query(end, predicate="dwithin", distance=tol / reach.scale):
                other_id = self._ids[int(j)]
                if other_id == rid:
                    continue
                other = self._reaches[other_id]
                pos = other.line.project(end)
                if other.line.length - pos <= tol / other.scale:
                    # Meeting another reach at its end is two rivers sharing
                    # a mouth, not one flowing into the other.
                    continue
                starts_here = pos <= tol / other.scale
                dist = other.line.distance(end)
                key = (0 if starts_here else 1, dist, other_id, 0.0 if starts_here else pos * other.scale)
                if best is None or key < best:
                    best = key
            if best is not None:
                reach.outlet = (best[2], best[3])

    @property
    def reach_ids(self) -> list[str]:
        return list(self._ids)

    def outlet_of(self, reach_id: str) -> tuple[str, float] | None:
        """(receiving reach id, position_m on it) or None at a network outlet."""
        return self._reach(reach_id).outlet

    def _reach(self, reach_id: str) -> _Reach:
        try:
            return self._reaches[reach_id]
        except KeyError:
            raise GisInputError(f"unknown reach {reach_id!r}") from None

    # -- snapping and attachment -------------------------------------------

    def snap(self, lon: float, lat: float, max_distance_m: float | None = None) -> Snap | None:
        """The nearest reach and the position along it, or None beyond max_distance_m."""
        lon, lat = check_lonlat(lon, lat, "point to snap")
        x, y = self.projection.forward(lon, lat)
        pt = Point(float(x), float(y))
        kw = {} if max_distance_m is None else {"max_distance": check_positive(max_distance_m, "max_distance_m") * 1.01}
        found = self._tree.query_nearest(pt, **kw)
        if len(found) == 0:
            return None
        rid = self._ids[int(found[0])]
        reach = self._reaches[rid]
        pos = reach.line.project(pt)
        on = reach.line.interpolate(pos)
        slon, slat = self.projection.inverse(on.x, on.y)
        _, _, dist = WGS84_GEOD.inv(lon, lat, float(slon), float(slat))
        if max_distance_m is not None and dist > max_distance_m:
            return None
        return Snap(rid, pos * reach.scale, float(dist), float(slon), float(slat))

    def attach(self, feature: Feature, max_distance_m: float = 500.0) -> Snap:
        """Attach a facility (intake, section, dam, gate, pond...) to its reach."""
        lon, lat = feature.lonlat
        snap = self.snap(lon, lat, max_distance_m)
        if snap is None:
            raise GisInputError(f"{feature.kind or 'feature'} {feature.id}: no river within {max_distance_m:g} m")
        attached = self._reaches[snap.reach_id].attached
        assert attached is not None
        attached.append((snap.position_m, feature))
        attached.sort(key=lambda t: (t[0], t[1].id))
        return snap

    def attach_many(self, features: Iterable[Feature], max_distance_m: float = 500.0) -> list[Snap]:
        return [self.attach(f, max_distance_m) for f in features]

    # -- tracing -------------------------------------------------------------

    def trace_downstream(
        self,
        lon: float,
        lat: float,
        max_distance_m: float,
        *,
        max_snap_m: float = 5000.0,
        velocity_ms: float | None = None,
        arrival_model: ArrivalModel | None = None,
        kinds: Iterable[str] | None = None,
    ) -> Trace:
        """Follow the water from a spill point for up to max_distance_m.

        Facilities on the path are listed in flow order with river distance
        and, if arrival_model is given, its arrival/peak figures; otherwise
        with velocity_ms plain advection (arrival = distance / velocity).
        """
        limit = check_positive(max_distance_m, "max_distance_m")
        snap = self.snap(lon, lat, max_snap_m)
        if snap is None:
            raise GisInputError(f"no river within {max_snap_m:g} m of the spill point")
        wanted = None if kinds is None else ({kinds} if isinstance(kinds, str) else set(kinds))
        segments: list[PathSegment] = []
        found: list[tuple[float, str, Feature]] = []
        rid, pos, travelled = snap.reach_id, snap.position_m, 0.0
        visited: set[str] = set()
        while rid not in visited and travelled < limit:
            visited.add(rid)
            reach = self._reaches[rid]
            end = min(reach.length_m, pos + (limit - travelled))
            segments.append(PathSegment(rid, reach.feature.name, pos, end, travelled))
            for p, f in reach.attached or ():
                if pos <= p <= end and (wanted is None or f.kind in wanted):
                    found.append((travelled + p - pos, rid, f))
            travelled += end - pos
            if reach.outlet is None or end < reach.length_m:
                break
            rid, pos = reach.outlet
        found.sort(key=lambda t: (t[0], t[2].name))
        items = self._with_arrivals(found, velocity_ms, arrival_model)
        return Trace(snap, segments, travelled, self._path_geometry(segments), items)

    def _with_arrivals(
        self,
        found: list[tuple[float, str, Feature]],
        velocity_ms: float | None,
        arrival_model: ArrivalModel | None,
    ) -> list[Downstream]:
        dists = [d for d, _, _ in found]
        arrivals: list[tuple[float | None, float | None, float | None]]
        if arrival_model is not None and dists:
            rows = list(arrival_model(dists))
            if len(rows) != len(dists):
                raise ValueError("arrival_model must return one result per distance")
            arrivals = [(_opt(r.get("arrival_s")), _opt(r.get("peak_s")), _opt(r.get("peak_mg_l"))) for r in rows]
        elif velocity_ms is not None:
            v = check_positive(velocity_ms, "velocity_ms")
            arrivals = [(d / v, d / v, None) for d in dists]
        else:
            arrivals = [(None, None, None)] * len(dists)
        return [Downstream(f, rid, d, *a) for (d, rid, f), a in zip(found, arrivals, strict=True)]

    def _path_geometry(self, segments: list[PathSegment]) -> LineString | MultiLineString:
        parts = []
        for s in segments:
            reach = self._reaches[s.reach_id]
            piece = ops.substring(reach.line, s.from_m / reach.scale, s.to_m / reach.scale)
            if isinstance(piece, LineString) and not piece.is_empty and piece.length > 0:
                parts.append(self.projection.inverse_geom(piece))
        if len(parts) == 1:
            return parts[0]
        return MultiLineString(parts)


def _opt(v: Any) -> float | None:
    return None if v is None else float(v)
