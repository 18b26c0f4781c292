"""LayerIndex: one map layer's features, indexed for search and kept current.

Points go to a PointStore (grid + KD-tree), everything else to a ShapeStore
(STRtree). Both are updated incrementally by upsert/remove (one call per data
change event) and rebuild themselves lazily; `rebuilds` counts those rebuilds
so that callers and tests can see that a change did not trigger one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from gis.errors import GisInputError
from gis.features import Feature
from gis.point_store import PointStore
from gis.projection import LocalProjection
from gis.shape_store import ShapeStore


class LayerIndex:
    """Spatial index over the features of one layer in a fixed metric CRS."""

    def __init__(self, name: str, projection: LocalProjection, features: Iterable[Feature] = ()) -> None:
        if not isinstance(name, str) or not name:
            raise GisInputError("layer name must be a non-empty string")
        self.name = name
        self.projection = projection
        self.points = PointStore()
        self.shapes = ShapeStore()
        self._kind_codes: dict[str, int] = {}
        #: Largest planar distance of any feature from the CRS origin; bounds
        #: the projection distortion for queries (see distortion_bound).
        self.max_rho = 0.0
        # Queries can rebuild lazily, so they take the lock as well; the
        # command server calls us from worker threads.
        self._lock = threading.RLock()
        self.upsert_many(features)
        self.rebuild()

    # -- changes ---------------------------------------------------------

    def upsert(self, feature: Feature) -> None:
        """Add or replace one feature (a data-change event)."""
        self.upsert_many([feature])

    def upsert_many(self, features: Iterable[Feature]) -> None:
        """Add or replace features; later duplicates of an id win."""
        batch: dict[str, Feature] = {}
        for f in features:
            if not isinstance(f, Feature):
                raise GisInputError(f"layer {self.name}: expected Feature, got {type(f).__name__}")
            if f.layer != self.name:
                raise GisInputError(f"feature {f.id} belongs to layer {f.layer!r}, not {self.name!r}")
            batch[f.id] = f
        if not batch:
            return
        pts = [f for f in batch.values() if f.is_point]
        shp = [f for f in batch.values() if not f.is_point]
        with self._lock:
            for fid in batch:
                self._remove_locked(fid)
            if pts:
                x, y = self.projection.forward([f.geometry.x for f in pts], [f.geometry.y for f in pts])
                self.points.add_many(pts, x, y, self._codes_for(pts))
                self.max_rho = max(self.max_rho, float(np.hypot(x, y).max()))
            if shp:
                # Stored data can carry slightly invalid polygons; GEOS overlay
                # (sensitive-area fractions) would fail on them, so repair once
                # here, in lon/lat, before densifying and projecting.
                geoms = [
                    self.projection.forward_geom(f.geometry if f.geometry.is_valid else shapely.make_valid(f.geometry))
                    for f in shp
                ]
                self.shapes.add_many(shp, geoms, self._codes_for(shp))
                b = shapely.bounds(np.asarray(geoms, dtype=object))
                corner = np.hypot(
                    np.maximum(np.abs(b[:, 0]), np.abs(b[:, 2])), np.maximum(np.abs(b[:, 1]), np.abs(b[:, 3]))
                )
                self.max_rho = max(self.max_rho, float(corner.max()))

    def remove(self, fid: str) -> bool:
        """Remove a feature by id; False if it was not there."""
        with self._lock:
            return self._remove_locked(fid)

    def _remove_locked(self, fid: str) -> bool:
        return self.points.remove(fid) or self.shapes.remove(fid)

    def apply(self, change: Mapping[str, Any]) -> None:
        """Apply one change event: {"op": "add"|"update"|"upsert", "feature": Feature}
        or {"op": "remove", "id": str}."""
        op = change.get("op")
        if op in ("add", "update", "upsert"):
            self.upsert(change["feature"])
        elif op == "remove":
            self.remove(str(change["id"]))
        else:
            raise GisInputError(f"unknown change op {op!r}")

    def rebuild(self) -> None:
        """Force a full rebuild (normally never needed: rebuilds are lazy)."""
        with self._lock:
            self.points.rebuild()
            self.shapes.rebuild()

    # -- reading ---------------------------------------------------------

    def __len__(self) -> int:
        return len(self.points) + len(self.shapes)

    def __contains__(self, fid: object) -> bool:
        return fid in self.points or fid in self.shapes

    def get(self, fid: str) -> Feature | None:
        return self.points.get(fid) or self.shapes.get(fid)

    def features(self) -> list[Feature]:
        return self.points.features() + self.shapes.features()

    @property
    def rebuilds(self) -> int:
        """How many times a store rebuilt its base structure."""
        return self.points.rebuilds + self.shapes.rebuilds

    def kind_codes(self, kinds: Iterable[str] | None) -> NDArray[np.int32] | None:
        """Kind filter as codes; None means no filter (unknown kinds match nothing)."""
        if kinds is None:
            return None
        if isinstance(kinds, str):
            kinds = [kinds]
        return np.array([self._kind_codes[k] for k in kinds if k in self._kind_codes], dtype=np.int32)

    @contextmanager
    def reading(self) -> Iterator[LayerIndex]:
        """Hold the lock for a query, after bringing the structures up to date."""
        with self._lock:
            self.points.maybe_rebuild()
            self.shapes.maybe_rebuild()
            yield self

    def _codes_for(self, feats: list[Feature]) -> NDArray[np.int32]:
        codes = self._kind_codes
        return np.array([codes.setdefault(f.kind, len(codes)) for f in feats], dtype=np.int32)
