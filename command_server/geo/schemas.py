from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Layer = Literal["sensitive", "resources", "risk_sources", "stations", "facilities", "districts"]
Crs = Literal["wgs84", "gcj02", "bd09"]


class _Strict(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class FeatureIn(_Strict):
    layer: Layer
    kind: str = Field(min_length=1, max_length=64, description="e.g. school, hospital, depot, water_intake")
    name: str = Field(min_length=1, max_length=200)
    geometry: dict[str, Any] = Field(description="GeoJSON geometry in WGS-84 (Point, LineString, Polygon, Multi*)")
    properties: dict[str, Any] = Field(default_factory=dict,
                                       description="free attributes: capacity, contact, phone, quantity, address…")


class FeaturePatch(_Strict):
    layer: Layer | None = None
    kind: str | None = Field(None, min_length=1, max_length=64)
    name: str | None = Field(None, min_length=1, max_length=200)
    geometry: dict[str, Any] | None = None
    properties: dict[str, Any] | None = Field(None, description="replaces the whole properties object")


class FeatureOut(BaseModel):
    id: int
    layer: str
    kind: str
    name: str
    geometry: dict[str, Any]
    properties: dict[str, Any]
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class RiverIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    geometry: dict[str, Any] = Field(description="GeoJSON LineString in flow direction (WGS-84)")
    properties: dict[str, Any] = Field(default_factory=dict,
                                       description="velocity_ms, width_m, depth_m, dispersion_m2s")


class RiverPatch(_Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    geometry: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None


class RiverOut(BaseModel):
    id: int
    name: str
    geometry: dict[str, Any]
    properties: dict[str, Any]
    updated_at: dt.datetime | None = None


class LayerQuery(_Strict):
    bbox: list[float] | None = Field(None, description="west,south,east,north (WGS-84 unless crs says otherwise)")
    kind: list[str] | None = Field(None, description="only these kinds (comma-separated)")
    crs: Crs = Field("wgs84", description="coordinate system of bbox and of the returned geometries")


class LayerInfo(BaseModel):
    layer: str
    count: int
    kinds: dict[str, int]


class SearchQuery(_Strict):
    shape: Literal["circle", "rectangle", "nearest"] = "circle"
    lon: float | None = None
    lat: float | None = None
    radius_m: float | None = Field(None, gt=0, le=500_000)
    bbox: list[float] | None = Field(None, description="rectangle: west,south,east,north")
    layers: list[str] | None = None
    kinds: list[str] | None = None
    limit: int = Field(100, ge=1, le=5000)
    order: Literal["distance", "name"] = "distance"
    max_distance_m: float | None = Field(None, gt=0, description="nearest: ignore anything farther")
    crs: Crs = "wgs84"


class SearchIn(_Strict):
    shape: Literal["circle", "rectangle", "polygon", "nearest"]
    lon: float | None = None
    lat: float | None = None
    radius_m: float | None = Field(None, gt=0, le=500_000)
    bbox: list[float] | None = Field(None, min_length=4, max_length=4, description="west, south, east, north")
    polygon: dict[str, Any] | None = Field(None, description="GeoJSON Polygon/MultiPolygon")
    layers: list[str] | None = None
    kinds: list[str] | None = None
    limit: int = Field(100, ge=1, le=5000)
    order: Literal["distance", "name"] = "distance"
    max_distance_m: float | None = Field(None, gt=0)
    crs: Crs = Field("wgs84", description="coordinate system of the inputs and of lon/lat in the answer")


class SearchItem(BaseModel):
    id: int
    layer: str
    kind: str
    name: str
    distance_m: float
    bearing_deg: float
    lon: float
    lat: float
    properties: dict[str, Any]


class SearchOut(BaseModel):
    total: int
    reference: dict[str, float]
    items: list[SearchItem]


class ConvertQuery(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", populate_by_name=True)

    lon: float
    lat: float
    from_: Crs = Field(alias="from")
    to: Crs


class ConvertOut(BaseModel):
    lon: float
    lat: float
    crs: str
    source: dict[str, Any]


class TraceIn(_Strict):
    lon: float
    lat: float
    max_distance_m: float = Field(50_000, gt=0, le=1_000_000)
    max_snap_m: float = Field(5000, gt=0, le=100_000, description="how far the spill may be from a river")
    mass_kg: float | None = Field(None, gt=0, description="spilled mass: enables the advection–dispersion model")
    velocity_ms: float | None = Field(None, gt=0, description="override the rivers' velocity")
    dispersion_m2s: float | None = Field(None, gt=0, description="override longitudinal dispersion")
    area_m2: float | None = Field(None, gt=0, description="override cross-section area (else width × depth)")
    decay_per_s: float = Field(0.0, ge=0)
    threshold_mg_l: float | None = Field(None, gt=0, description="arrival = first time C reaches this")
    kinds: list[str] | None = Field(None, description="only these facility kinds")
    crs: Crs = "wgs84"


class TraceItem(BaseModel):
    id: int
    kind: str
    name: str
    lon: float
    lat: float
    river_id: int
    river_name: str
    river_distance_m: float
    arrival_s: float | None
    peak_s: float | None
    peak_mg_l: float | None
    properties: dict[str, Any]


class TraceOut(BaseModel):
    snap: dict[str, Any]
    length_m: float
    reaches: list[dict[str, Any]]
    path: dict[str, Any] = Field(description="GeoJSON Feature: the downstream path")
    model: dict[str, Any]
    items: list[TraceItem]


class ChemicalsQuery(_Strict):
    q: str | None = Field(None, max_length=100, description="CAS, English or Chinese name or alias (substring)")
    limit: int = Field(50, ge=1, le=500)


class ChemicalSummary(BaseModel):
    cas: str
    name_en: str
    name_zh: str
    aliases: list[str]
    state: str
    hazard_category: str
    molecular_weight: float


class MapConfigOut(BaseModel):
    tile_url: str | None = Field(None, description="base-layer tile URL template ({z}/{x}/{y}, {s}); none = offline")
    tile_crs: Crs = Field("wgs84", description="coordinate system of the tiles: gcj02 for AMap/Tencent")
    subdomains: str = ""
    attribution: str = ""
    min_zoom: int = 3
    max_zoom: int = 18
    bounds: list[float] | None = Field(None, description="west, south, east, north of the mapped data (WGS-84)")
