"""Incrementally updated index of point features in a metric CRS.

Layout: append-only slot arrays (x, y, lon, lat, kind, alive). Slots below
`n_base` are covered by an immutable base structure built at the last
rebuild: a cell grid in CSR form (points sorted by cell, so a circle or box
is a few contiguous slices per grid row) for range queries and a cKDTree for
k-nearest. Slots from `n_base` on are the delta, scanned with numpy. Removal
is a tombstone (alive=False); an update is removal plus append. The base is
rebuilt (compacting tombstones) lazily, at the next query, once the delta and
tombstones exceed a fraction of the base, so a change costs O(1) and a query
never pays for a rebuild it did not need.

Slot data is never overwritten: a rebuild makes new arrays. Views handed to
search results therefore stay valid after later changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from gis.features import Feature

IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]

#: Points scanned by brute force before a rebuild is worth it (a numpy pass
#: over this many points costs a few microseconds).
MIN_PENDING = 512
#: ... or this fraction of the base, whichever is larger.
PENDING_FRACTION = 0.05
#: Average points per grid cell aimed for: fewer means more slices per
#: query, more means more distance tests.
POINTS_PER_CELL = 8.0
MAX_CELLS = 4_000_000


@dataclass(frozen=True)
class PointView:
    """What a search result needs to materialise its hits later."""

    features: list[Feature]
    lon: FloatArray
    lat: FloatArray


class _Grid:
    """Immutable CSR cell grid over the base points."""

    def __init__(self, x: FloatArray, y: FloatArray, slots: IntArray) -> None:
        n = len(slots)
        if n == 0:
            x0 = y0 = 0.0
            w = h = 1.0
        else:
            x0, y0 = float(x.min()), float(y.min())
            w, h = max(float(x.max()) - x0, 1.0), max(float(y.max()) - y0, 1.0)
        cell = max(np.sqrt(w * h * POINTS_PER_CELL / max(n, 1)), 1.0)
        cell = max(cell, np.sqrt(w * h / MAX_CELLS))
        self.x0, self.y0, self.cell = x0, y0, cell
        self.nx = int(w // cell) + 1
        self.ny = int(h // cell) + 1
        cx = ((x - x0) // cell).astype(np.intp)
        cy = ((y - y0) // cell).astype(np.intp)
        ids = cy * self.nx + cx
        order = np.argsort(ids, kind="stable")
        self.slots = slots[order]
        self.x = np.ascontiguousarray(x[order])
        self.y = np.ascontiguousarray(y[order])
        self.offsets = np.searchsorted(ids[order], np.arange(self.nx * self.ny + 1))

    def in_box(self, xmin: float, ymin: float, xmax: float, ymax: float) -> IntArray:
        """Positions (into the sorted arrays) of points in cells meeting the box."""
        c = self.cell
        i0 = max(int((xmin - self.x0) // c), 0)
        i1 = min(int((xmax - self.x0) // c), self.nx - 1)
        j0 = max(int((ymin - self.y0) // c), 0)
        j1 = min(int((ymax - self.y0) // c), self.ny - 1)
        if i0 > i1 or j0 > j1:
            return np.empty(0, dtype=np.intp)
        rows = np.arange(j0, j1 + 1) * self.nx
        start = self.offsets[rows + i0]
        length = self.offsets[rows + i1 + 1] - start
        total = int(length.sum())
        if total == 0:
            return np.empty(0, dtype=np.intp)
        # Concatenate the per-row slices without a Python loop: position k
        # of the output belongs to row r and is start[r] + (k - first[r]).
        first = np.cumsum(length) - length
        return np.arange(total, dtype=np.intp) + np.repeat(start - first, length)


class PointStore:
    """Points of one layer, projected into the owner's metric CRS."""

    def __init__(self) -> None:
        self._cap = 0
        self._n = 0
        self._n_base = 0
        self._dead_in_base = 0
        self._x = np.empty(0)
        self._y = np.empty(0)
        self._lon = np.empty(0)
        self._lat = np.empty(0)
        self._kind = np.empty(0, dtype=np.int32)
        self._alive = np.empty(0, dtype=bool)
        self._features: list[Feature] = []
        self._slot_of: dict[str, int] = {}
        self._grid = _Grid(np.empty(0), np.empty(0), np.empty(0, dtype=np.intp))
        self._tree: cKDTree | None = None
        self.rebuilds = 0

    # -- changes ---------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, fid: str) -> bool:
        return fid in self._slot_of

    def add_many(self, feats: list[Feature], x: FloatArray, y: FloatArray, kinds: NDArray[np.int32]) -> None:
        """Append features (ids must not be present; the owner ensures it)."""
        m = len(feats)
        self._reserve(self._n + m)
        s = slice(self._n, self._n + m)
        self._x[s], self._y[s] = x, y
        self._lon[s] = [f.geometry.x for f in feats]
        self._lat[s] = [f.geometry.y for f in feats]
        self._kind[s] = kinds
        self._alive[s] = True
        for i, f in enumerate(feats):
            self._slot_of[f.id] = self._n + i
        self._features.extend(feats)
        self._n += m

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

    def _reserve(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, 2 * self._cap, 64)

        # New arrays, never resize in place: views may hold the old ones.
        def grow(a: np.ndarray) -> np.ndarray:
            b = np.empty(cap, dtype=a.dtype)
            b[: self._n] = a[: self._n]
            return b

        self._x, self._y = grow(self._x), grow(self._y)
        self._lon, self._lat = grow(self._lon), grow(self._lat)
        self._kind, self._alive = grow(self._kind), grow(self._alive)
        self._cap = cap

    # -- rebuild ---------------------------------------------------------

    @property
    def pending(self) -> int:
        """Delta points plus tombstones in the base: the work a rebuild saves."""
        return (self._n - self._n_base) + self._dead_in_base

    def maybe_rebuild(self) -> None:
        if self.pending > max(MIN_PENDING, PENDING_FRACTION * self._n_base):
            self.rebuild()

    def rebuild(self) -> None:
        """Compact tombstones and rebuild the grid and KD-tree over everything."""
        keep = np.flatnonzero(self._alive[: self._n])
        n = len(keep)
        self._x, self._y = self._x[keep].copy(), self._y[keep].copy()
        self._lon, self._lat = self._lon[keep].copy(), self._lat[keep].copy()
        self._kind, self._alive = self._kind[keep].copy(), np.ones(n, dtype=bool)
        self._features = [self._features[i] for i in keep]
        self._slot_of = {f.id: i for i, f in enumerate(self._features)}
        self._cap = self._n = self._n_base = n
        self._dead_in_base = 0
        slots = np.arange(n, dtype=np.intp)
        self._grid = _Grid(self._x, self._y, slots)
        self._tree = cKDTree(np.column_stack([self._grid.x, self._grid.y])) if n else None
        self.rebuilds += 1

    # -- queries (all return store slots) ---------------------------------

    def view(self) -> PointView:
        return PointView(self._features, self._lon, self._lat)

    def _ok(self, slots: IntArray, kinds: NDArray[np.int32] | None) -> NDArray[np.bool_]:
        ok = self._alive[slots]
        if kinds is not None:
            ok &= np.isin(self._kind[slots], kinds)
        return ok

    def within(
        self, cx: float, cy: float, radius: float, kinds: NDArray[np.int32] | None
    ) -> tuple[IntArray, FloatArray]:
        """Slots and planar distances of points within radius of (cx, cy)."""
        g = self._grid
        pos = g.in_box(cx - radius, cy - radius, cx + radius, cy + radius)
        d2 = (g.x[pos] - cx) ** 2 + (g.y[pos] - cy) ** 2
        inside = d2 <= radius * radius
        slots = g.slots[pos[inside]]
        dist = np.sqrt(d2[inside])
        ds, dd = self._delta_within(cx, cy, radius)
        if len(ds):
            slots, dist = np.concatenate([slots, ds]), np.concatenate([dist, dd])
        ok = self._ok(slots, kinds)
        return slots[ok], dist[ok]

    def _delta_within(self, cx: float, cy: float, radius: float) -> tuple[IntArray, FloatArray]:
        if self._n == self._n_base:
            return np.empty(0, dtype=np.intp), np.empty(0)
        dx = self._x[self._n_base : self._n] - cx
        dy = self._y[self._n_base : self._n] - cy
        d = np.hypot(dx, dy)
        hit = np.flatnonzero(d <= radius)
        return hit + self._n_base, d[hit]

    def in_box(self, xmin: float, ymin: float, xmax: float, ymax: float, kinds: NDArray[np.int32] | None) -> IntArray:
        """Slots of points inside a projected box (a superset screen for shapes)."""
        g = self._grid
        pos = g.in_box(xmin, ymin, xmax, ymax)
        px, py = g.x[pos], g.y[pos]
        slots = g.slots[pos[(px >= xmin) & (px <= xmax) & (py >= ymin) & (py <= ymax)]]
        if self._n > self._n_base:
            dx = self._x[self._n_base : self._n]
            dy = self._y[self._n_base : self._n]
            hit = np.flatnonzero((dx >= xmin) & (dx <= xmax) & (dy >= ymin) & (dy <= ymax))
            slots = np.concatenate([slots, hit + self._n_base])
        return slots[self._ok(slots, kinds)]

    def xy(self, slots: IntArray) -> tuple[FloatArray, FloatArray]:
        return self._x[slots], self._y[slots]

    def lonlat(self, slots: IntArray) -> tuple[FloatArray, FloatArray]:
        return self._lon[slots], self._lat[slots]

    def nearest(
        self, cx: float, cy: float, k: int, eps: float, kinds: NDArray[np.int32] | None
    ) -> tuple[IntArray, FloatArray]:
        """Candidates certain to contain the k geodesically nearest points.

        Returns every matching point whose planar distance is within
        (1 + eps) of the k-th smallest planar distance, since planar
        distances overstate geodesic ones by at most that factor.
        """
        bs, bd = self._base_nearest(cx, cy, k, eps, kinds)
        if self._n > self._n_base:
            ds, dd = self._delta_within(cx, cy, np.inf)
            ok = self._ok(ds, kinds)
            bs, bd = np.concatenate([bs, ds[ok]]), np.concatenate([bd, dd[ok]])
        if len(bd) > k:
            kth = np.partition(bd, k - 1)[k - 1]
            keep = bd <= kth * (1.0 + eps)
            bs, bd = bs[keep], bd[keep]
        return bs, bd

    def _base_nearest(
        self, cx: float, cy: float, k: int, eps: float, kinds: NDArray[np.int32] | None
    ) -> tuple[IntArray, FloatArray]:
        nb = self._n_base
        if self._tree is None or nb == 0:
            return np.empty(0, dtype=np.intp), np.empty(0)
        want = k + 8
        while True:
            kk = min(want, nb)
            d, pos = self._tree.query((cx, cy), k=kk)
            d, pos = np.atleast_1d(d), np.atleast_1d(pos)
            slots = self._grid.slots[pos]
            ok = self._ok(slots, kinds)
            found = int(ok.sum())
            if kk == nb:
                return slots[ok], d[ok]
            # Complete when k matches are in hand and the first point *not*
            # returned is already beyond the (1 + eps) margin of the k-th.
            if found >= k and d[-1] > d[ok][k - 1] * (1.0 + eps):
                return slots[ok], d[ok]
            if kk > nb // 4:
                # A rare kind or many tombstones: a full numpy pass is cheaper
                # than ever-larger tree queries.
                slots = self._grid.slots
                ok = self._ok(slots, kinds)
                d = np.hypot(self._grid.x[ok] - cx, self._grid.y[ok] - cy)
                return slots[ok], d
            want = kk * 4
