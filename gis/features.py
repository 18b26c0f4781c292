"""The feature record every index, search and tracer works with."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import GisInputError
from gis.validate import MAX_ABS_LAT, check_lonlat_arrays


@dataclass(frozen=True, slots=True)
class Feature:
    """One map object: a school, a monitoring station, a warehouse, a reach.

    geometry is WGS-84 lon/lat (the stored form). The record is immutable so
    that search results can keep referring to it after the index changed.
    """

    id: str
    layer: str
    kind: str
    name: str
    geometry: BaseGeometry
    properties: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise GisInputError(f"feature id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.layer, str) or not self.layer:
            raise GisInputError(f"feature {self.id}: layer must be a non-empty string")
        if not isinstance(self.geometry, BaseGeometry):
            raise GisInputError(f"feature {self.id}: geometry must be a shapely geometry")
        if self.geometry.is_empty:
            raise GisInputError(f"feature {self.id}: geometry is empty")
        if self.geometry.geom_type == "Point":
            # Fast path: loading 100k resource points should not pay for
            # the generic coordinate extraction.
            x, y = self.geometry.x, self.geometry.y
            if not (math.isfinite(x) and math.isfinite(y) and abs(x) <= 180.0 and abs(y) <= MAX_ABS_LAT):
                check_lonlat_arrays([x], [y], f"feature {self.id}")
        else:
            coords = shapely.get_coordinates(self.geometry)
            check_lonlat_arrays(coords[:, 0], coords[:, 1], f"feature {self.id}")
        # A read-only view: a shared dict mutated elsewhere must not change
        # what an index already holds.
        object.__setattr__(self, "properties", MappingProxyType(dict(self.properties)))

    def __hash__(self) -> int:
        # properties is a mapping (unhashable); identity is layer + id.
        return hash((self.layer, self.id))

    @property
    def is_point(self) -> bool:
        return self.geometry.geom_type == "Point"

    @property
    def lonlat(self) -> tuple[float, float]:
        """The point itself, or a point guaranteed on the geometry."""
        g = self.geometry if self.is_point else self.geometry.representative_point()
        return float(g.x), float(g.y)

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON Feature dict (id, geometry, properties incl. layer/kind/name)."""
        props: dict[str, Any] = dict(self.properties)
        props.update(layer=self.layer, kind=self.kind, name=self.name)
        return {
            "type": "Feature",
            "id": self.id,
            "geometry": shapely.geometry.mapping(self.geometry),
            "properties": _jsonable(props),
        }


def _jsonable(value: Any) -> Any:
    # numpy scalars sneak into properties from vectorised code; json can't.
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
