"""Incrementally updated index of line/polygon features (shapely STRtree).

Same scheme as PointStore: an immutable STRtree over the base slots, a small
delta scanned with vectorised shapely predicates, tombstones for removals and
a lazy rebuild once delta plus tombstones exceed a fraction of the base.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gis.features import Feature

IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]

#: Shapes are costlier to test than points, so the delta is kept smaller.
MIN_PENDING = 64
PENDING_FRACTION = 0.05


@dataclass(frozen=True)
class ShapeView:
    """What a search result needs to materialise its hits later."""

    features: list[Feature]
    geoms: list[BaseGeometry]


class ShapeStore:
    """Non-point features of one layer, projected into the owner's metric CRS."""

    def __init__(self) -> None:
        self._geoms: list[BaseGeometry] = []
        self._features: list[Feature] = []
        self._kind = np.empty(0, dtype=np.int32)
        self._alive = np.empty(0, dtype=bool)
        self._slot_of: dict[str, int] = {}
        self._n_base = 0
        self._dead_in_base = 0
        self._tree = shapely.STRtree([])
        self._delta_cache: NDArray[np.object_] | None = None
        self.rebuilds = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, fid: str) -> bool:
        return fid in self._slot_of

    # -- changes ---------------------------------------------------------

    def add_many(self, feats: list[Feature], geoms: list[BaseGeometry], kinds: NDArray[np.int32]) -> None:
        n = len(self._geoms)
        for i, f in enumerate(feats):
            self._slot_of[f.id] = n + i
        self._features.extend(feats)
        self._geoms.extend(geoms)
        # Concatenation makes new arrays, so old views keep their own.
        self._kind = np.concatenate([self._kind, np.asarray(kinds, dtype=np.int32)])
        self._alive = np.concatenate([self._alive, np.ones(len(feats), dtype=bool)])
        self._delta_cache = None

    def remove(self, fid: str) -> bool:
        slot = self._slot_of.pop(fid, None)
        if slot is None:
            return False
        self._alive[slot] = False
        if slot < self._n_base:
            self._dead_in_base += 1
        return True

    def get(self, fid: str) -> Feature | None:
        slot = self._slot_of.get(fid)
        return None if slot is None else self._features[slot]

    def features(self) -> list[Feature]:
        return [self._features[s] for s in self._slot_of.values()]

    @property
    def pending(self) -> int:
        return (len(self._geoms) - self._n_base) + self._dead_in_base

    def maybe_rebuild(self) -> None:
        if self.pending > max(MIN_PENDING, PENDING_FRACTION * self._n_base):
            self.rebuild()

    def rebuild(self) -> None:
        keep = np.flatnonzero(self._alive)
        self._geoms = [self._geoms[i] for i in keep]
        self._features = [self._features[i] for i in keep]
        self._kind = self._kind[keep].copy()
        self._alive = np.ones(len(keep), dtype=bool)
        self._slot_of = {f.id: i for i, f in enumerate(self._features)}
        self._n_base = len(keep)
        self._dead_in_base = 0
        self._tree = shapely.STRtree(self._geoms)
        self._delta_cache = None
        self.rebuilds += 1

    # -- queries ---------------------------------------------------------

    def view(self) -> ShapeView:
        return ShapeView(self._features, self._geoms)

    def geoms(self, slots: IntArray) -> NDArray[np.object_]:
        out = np.empty(len(slots), dtype=object)
        out[:] = [self._geoms[i] for i in slots]
        return out

    def _delta(self) -> NDArray[np.object_]:
        if self._delta_cache is None:
            self._delta_cache = self.geoms(np.arange(self._n_base, len(self._geoms)))
        return self._delta_cache

    def _filter(self, slots: IntArray, kinds: NDArray[np.int32] | None) -> IntArray:
        ok = self._alive[slots]
        if kinds is not None:
            ok &= np.isin(self._kind[slots], kinds)
        return slots[ok]

    def query(
        self, geom: BaseGeometry, predicate: str, kinds: NDArray[np.int32] | None, distance: float | None = None
    ) -> IntArray:
        """Slots whose geometry satisfies predicate(geom, feature) (STRtree semantics)."""
        kw = {} if distance is None else {"distance": distance}
        base = np.asarray(self._tree.query(geom, predicate=predicate, **kw), dtype=np.intp)
        delta = self._delta()
        if len(delta):
            if predicate == "dwithin":
                hit = shapely.dwithin(delta, geom, distance)
            else:
                # STRtree predicates read "input geom <predicate> tree geom".
                hit = getattr(shapely, predicate)(geom, delta)
            base = np.concatenate([base, np.flatnonzero(hit) + self._n_base])
        return self._filter(base, kinds)

    def within(
        self, cx: float, cy: float, radius: float, kinds: NDArray[np.int32] | None
    ) -> tuple[IntArray, FloatArray]:
        pt = shapely.Point(cx, cy)
        slots = self.query(pt, "dwithin", kinds, distance=radius)
        return slots, shapely.distance(self.geoms(slots), pt)

    def nearest(
        self, cx: float, cy: float, k: int, eps: float, kinds: NDArray[np.int32] | None, start_radius: float
    ) -> tuple[IntArray, FloatArray]:
        """Candidates certain to contain the k geodesically nearest shapes.

        Grows a dwithin radius until k matches are found and the radius
        covers (1 + eps) times the k-th planar distance.
        """
        total = len(self._slot_of)
        if total == 0:
            return np.empty(0, dtype=np.intp), np.empty(0)
        radius = max(start_radius, 1.0)
        while True:
            slots, dist = self.within(cx, cy, radius, kinds)
            if len(slots) >= k:
                kth = np.partition(dist, k - 1)[k - 1]
                if kth * (1.0 + eps) <= radius:
                    keep = dist <= kth * (1.0 + eps)
                    return slots[keep], dist[keep]
                radius = kth * (1.0 + eps)
                continue
            if len(slots) == total or radius > 4.0e7:
                return slots, dist
            radius *= 4.0
