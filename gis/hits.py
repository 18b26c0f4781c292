"""Search results: cheap numpy arrays first, dicts only when asked for.

A 20 km circle over a city can match thousands of points. A search therefore
returns `Hits`, which holds only slot indices and planar (screening)
distances. Exact geodesic distance and bearing and the `Hit` records are made
by `top(limit=..., order=...)` for the rows actually wanted; without a limit
every row is materialised (about 1 µs per row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import NDArray

from gis.errors import GisInputError
from gis.features import Feature
from gis.geodesy import inverse
from gis.point_store import PointView
from gis.projection import LocalProjection
from gis.shape_store import ShapeView

View = PointView | ShapeView
IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result with its geodesic distance/bearing from the reference."""

    feature: Feature
    distance_m: float
    bearing_deg: float

    @property
    def id(self) -> str:
        return self.feature.id

    @property
    def layer(self) -> str:
        return self.feature.layer

    @property
    def kind(self) -> str:
        return self.feature.kind

    @property
    def name(self) -> str:
        return self.feature.name

    def to_dict(self) -> dict[str, Any]:
        lon, lat = self.feature.lonlat
        return {
            "id": self.id,
            "layer": self.layer,
            "kind": self.kind,
            "name": self.name,
            "lon": lon,
            "lat": lat,
            "distance_m": round(self.distance_m, 2),
            "bearing_deg": round(self.bearing_deg, 2),
            "properties": dict(self.feature.properties),
        }


def exact_distances(
    view: View, slots: IntArray, ref: tuple[float, float], proj: LocalProjection
) -> tuple[FloatArray, FloatArray]:
    """Geodesic distance (m) and bearing (deg) from ref to each feature.

    For a line or polygon the distance is to its nearest point (0 when ref is
    inside) and the bearing points there, or to the feature's representative
    point when ref is inside it.
    """
    if len(slots) == 0:
        return np.empty(0), np.empty(0)
    if isinstance(view, PointView):
        return inverse(ref[0], ref[1], view.lon[slots], view.lat[slots])
    geoms = np.empty(len(slots), dtype=object)
    geoms[:] = [view.geoms[i] for i in slots]
    rx, ry = proj.forward(ref[0], ref[1])
    rp = shapely.Point(float(rx), float(ry))
    near = shapely.get_coordinates(shapely.shortest_line(geoms, rp))[0::2]
    lon, lat = proj.inverse(near[:, 0], near[:, 1])
    dist, brg = inverse(ref[0], ref[1], lon, lat)
    inside = shapely.distance(geoms, rp) == 0.0
    if inside.any():
        dist[inside] = 0.0
        rep = [view.features[s].lonlat for s in slots[inside]]
        _, brg[inside] = inverse(ref[0], ref[1], [p[0] for p in rep], [p[1] for p in rep])
    return dist, brg


class Hits:
    """The rows a search matched, across one or more stores and layers."""

    def __init__(
        self,
        ref: tuple[float, float],
        projection: LocalProjection,
        parts: Sequence[tuple[View, IntArray, FloatArray]],
        eps: float,
        exact: tuple[FloatArray, FloatArray] | None = None,
    ) -> None:
        self.ref = ref
        self.projection = projection
        self.eps = eps
        self._views = [p[0] for p in parts]
        self._part = np.concatenate(
            [np.full(len(p[1]), i, dtype=np.intp) for i, p in enumerate(parts)] or [np.empty(0, dtype=np.intp)]
        )
        self._slot = np.concatenate([np.asarray(p[1], dtype=np.intp) for p in parts] or [np.empty(0, dtype=np.intp)])
        self._planar = np.concatenate([np.asarray(p[2], dtype=np.float64) for p in parts] or [np.empty(0)])
        self._exact = exact

    def __len__(self) -> int:
        return len(self._slot)

    @property
    def planar_distances_m(self) -> FloatArray:
        """Screening distances in the index CRS (≥ geodesic, within 1 + eps)."""
        return self._planar

    def _feature(self, row: int) -> Feature:
        return self._views[self._part[row]].features[self._slot[row]]

    def features(self) -> list[Feature]:
        """All matched features, unordered."""
        return [self._feature(i) for i in range(len(self))]

    def ids(self) -> list[str]:
        return [f.id for f in self.features()]

    def _exact_rows(self, rows: IntArray) -> tuple[FloatArray, FloatArray]:
        if self._exact is not None:
            return self._exact[0][rows], self._exact[1][rows]
        dist = np.empty(len(rows))
        brg = np.empty(len(rows))
        parts = self._part[rows]
        for p in np.unique(parts):
            sel = np.flatnonzero(parts == p)
            dist[sel], brg[sel] = exact_distances(self._views[p], self._slot[rows[sel]], self.ref, self.projection)
        return dist, brg

    def top(self, limit: int | None = None, *, order: Literal["distance", "name"] = "distance") -> list[Hit]:
        """Materialise rows as Hit records, sorted by distance (then name) or
        by name (then distance), at most `limit` of them."""
        n = len(self)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise GisInputError(f"limit must be a non-negative integer, got {limit!r}")
        if order not in ("distance", "name"):
            raise GisInputError(f"order must be 'distance' or 'name', got {order!r}")
        take = n if limit is None else min(limit, n)
        if take == 0:
            return []
        if order == "distance":
            rows = np.arange(n, dtype=np.intp)
            if take < n and self._exact is None:
                # Only rows that could still be in the first `take` once exact
                # distances are known: planar overstates by at most 1 + eps.
                kth = np.partition(self._planar, take - 1)[take - 1]
                rows = np.flatnonzero(self._planar <= kth * (1.0 + self.eps))
            dist, brg = self._exact_rows(rows)
            names = [self._feature(r).name for r in rows]
            idx = sorted(range(len(rows)), key=lambda i: (dist[i], names[i]))[:take]
        else:
            names_all = np.array([self._feature(r).name for r in range(n)], dtype=str)
            rows = np.lexsort((self._planar, names_all))[:take]
            dist, brg = self._exact_rows(rows)
            idx = list(range(take))
        return [Hit(self._feature(rows[i]), float(dist[i]), float(brg[i])) for i in idx]

    def to_dicts(
        self, limit: int | None = None, *, order: Literal["distance", "name"] = "distance"
    ) -> list[dict[str, Any]]:
        return [h.to_dict() for h in self.top(limit, order=order)]
