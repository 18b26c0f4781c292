"""SpatialCatalog: several LayerIndexes sharing one metric CRS."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gis import search
from gis.errors import GisInputError
from gis.features import Feature
from gis.geojson import feature_collection
from gis.hits import Hits
from gis.layer_index import LayerIndex
from gis.projection import LocalProjection

Layers = str | Iterable[str] | None


class SpatialCatalog:
    """All map layers of one deployment (a city or a province).

    The CRS is an azimuthal equidistant projection centred on the extent
    given at construction; it stays fixed so that layers can be searched
    together and indexes never need reprojecting.
    """

    def __init__(self, bounds: Sequence[float], features: Iterable[Feature] = ()) -> None:
        if len(bounds) != 4:
            raise GisInputError("bounds must be (west, south, east, north)")
        self.bounds = tuple(float(b) for b in bounds)
        self.projection = LocalProjection.for_bounds(*self.bounds)
        self._layers: dict[str, LayerIndex] = {}
        self._lock = threading.Lock()
        by_layer: dict[str, list[Feature]] = {}
        for f in features:
            by_layer.setdefault(f.layer, []).append(f)
        for name, feats in by_layer.items():
            self._layers[name] = LayerIndex(name, self.projection, feats)

    # -- layers and changes ------------------------------------------------

    def layer(self, name: str) -> LayerIndex:
        """The layer's index, created empty on first use."""
        with self._lock:
            ix = self._layers.get(name)
            if ix is None:
                ix = self._layers[name] = LayerIndex(name, self.projection)
            return ix

    @property
    def layer_names(self) -> list[str]:
        return sorted(self._layers)

    def upsert(self, feature: Feature) -> None:
        self.layer(feature.layer).upsert(feature)

    def upsert_many(self, features: Iterable[Feature]) -> None:
        by_layer: dict[str, list[Feature]] = {}
        for f in features:
            by_layer.setdefault(f.layer, []).append(f)
        for name, feats in by_layer.items():
            self.layer(name).upsert_many(feats)

    def remove(self, layer: str, fid: str) -> bool:
        ix = self._layers.get(layer)
        return False if ix is None else ix.remove(fid)

    def apply(self, change: Mapping[str, Any]) -> None:
        """One change event: {"op": "add"|"update"|"upsert", "feature": Feature}
        or {"op": "remove", "layer": str, "id": str}."""
        if change.get("op") == "remove":
            self.remove(str(change.get("layer")), str(change.get("id")))
        else:
            feature = change.get("feature")
            if not isinstance(feature, Feature):
                raise GisInputError("change event needs a Feature under 'feature'")
            self.layer(feature.layer).apply(change)

    def get(self, layer: str, fid: str) -> Feature | None:
        ix = self._layers.get(layer)
        return None if ix is None else ix.get(fid)

    @property
    def rebuilds(self) -> int:
        return sum(ix.rebuilds for ix in self._layers.values())

    def indexes(self, layers: Layers = None) -> list[LayerIndex]:
        """Indexes of the named layers (all when None); unknown names are skipped."""
        if layers is None:
            return [self._layers[n] for n in self.layer_names]
        names = [layers] if isinstance(layers, str) else list(layers)
        return [self._layers[n] for n in names if n in self._layers]

    # -- searches ------------------------------------------------------------

    def _targets(self, layers: Layers) -> list[LayerIndex]:
        # An empty layer keeps the search API uniform when nothing matches.
        return self.indexes(layers) or [LayerIndex("_empty", self.projection)]

    def search_circle(
        self, lon: float, lat: float, radius_m: float, *, layers: Layers = None, kinds: search.Kinds = None
    ) -> Hits:
        return search.search_circle(self._targets(layers), lon, lat, radius_m, kinds=kinds)

    def search_bbox(
        self, west: float, south: float, east: float, north: float, *, layers: Layers = None, kinds: search.Kinds = None
    ) -> Hits:
        return search.search_bbox(self._targets(layers), west, south, east, north, kinds=kinds)

    def search_polygon(self, polygon: Any, *, layers: Layers = None, kinds: search.Kinds = None) -> Hits:
        return search.search_polygon(self._targets(layers), polygon, kinds=kinds)

    def containing(self, lon: float, lat: float, *, layers: Layers = None, kinds: search.Kinds = None
                   ) -> list[Feature]:
        """Lines and polygons the point lies on or in (0 m away), by name."""
        return search.containing(self._targets(layers), lon, lat, kinds=kinds)

    def search_nearest(
        self,
        lon: float,
        lat: float,
        k: int,
        *,
        layers: Layers = None,
        kinds: search.Kinds = None,
        max_distance_m: float | None = None,
    ) -> Hits:
        return search.search_nearest(self._targets(layers), lon, lat, k, kinds=kinds, max_distance_m=max_distance_m)

    def to_geojson(self, *, layers: Layers = None, bbox: Sequence[float] | None = None) -> dict[str, Any]:
        """The layers' features as a FeatureCollection, optionally bbox-filtered."""
        feats = [f for ix in self.indexes(layers) for f in ix.features()]
        return feature_collection(feats, bbox=bbox)
