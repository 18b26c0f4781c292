from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class ReleaseIn(_Strict):
    lon: float = Field(description="source longitude, WGS-84")
    lat: float = Field(description="source latitude, WGS-84")
    rate_gps: float | None = Field(None, description="continuous release rate, g/s (plume)")
    mass_kg: float | None = Field(None, description="instantaneous released mass, kg (puff)")
    height_m: float = Field(0.0, description="release height above ground, m")
    duration_min: float | None = Field(None, description="release duration, minutes (informational for a plume)")


class MeteorologyIn(_Strict):
    wind_speed_ms: float = Field(description="wind speed at 10 m, m/s")
    wind_from_deg: float = Field(description="direction the wind blows FROM, degrees clockwise from north")
    stability: str | None = Field(None, description="Pasquill class A–F; or leave empty and give daytime + …")
    daytime: bool | None = None
    insolation: Literal["strong", "moderate", "slight"] | None = None
    cloud_cover_tenths: float | None = Field(None, ge=0, le=10)
    ceiling_m: float | None = None
    solar_altitude_deg: float | None = None
    terrain: Literal["rural", "urban"] = "rural"
    mixing_height_m: float | None = None


class LevelIn(_Strict):
    name: str = Field(min_length=1, max_length=40)
    value: float
    unit: Literal["ppm", "mg/m3"] = "mg/m3"


class DispersionIn(_Strict):
    release: ReleaseIn
    meteorology: MeteorologyIn
    chemical: str = Field(min_length=1, max_length=100, description="name (Chinese or English), alias or CAS")
    levels: Literal["default", "AEGL", "ERPG", "PAC", "IDLH"] | list[LevelIn] = Field(
        "default", description="'default' (AEGL, else ERPG, else PAC), a family name, or custom thresholds")
    metric: Literal["peak", "dose_average"] = Field("peak", description="puff only: peak or 60-min average")
    direction_uncertainty_deg: float | None = Field(None, gt=0, le=180,
                                                    description="half-angle of the possible zone (default by wind)")
    incident_id: int | None = Field(None, ge=1)


class ZoneProps(BaseModel):
    level: str
    threshold: float
    unit: str
    length_m: float
    width_m: float
    kind: str


class AffectedOut(BaseModel):
    id: int
    layer: str
    kind: str
    kind_label: str
    name: str
    zone: str
    level: str
    possible: bool
    fraction: float
    distance_m: float
    bearing_deg: float
    lon: float
    lat: float
    properties: dict[str, Any]


class RunOut(BaseModel):
    run_id: int
    kind: str
    incident_id: int | None
    created_at: dt.datetime
    summary: dict[str, Any]
    zones: dict[str, Any] | None = Field(None, description="GeoJSON FeatureCollection, one feature per zone")
    affected: list[AffectedOut] = Field(default_factory=list)
    result: dict[str, Any] | None = Field(None, description="river runs: concentration curves and arrivals")


class RiverRunIn(_Strict):
    mass_kg: float = Field(gt=0, description="spilled mass, kg")
    lon: float | None = Field(None, description="spill point: hydraulics from the nearest river, facilities traced")
    lat: float | None = None
    velocity_ms: float | None = Field(None, gt=0)
    dispersion_m2s: float | None = Field(None, gt=0)
    area_m2: float | None = Field(None, gt=0)
    width_m: float | None = Field(None, gt=0)
    depth_m: float | None = Field(None, gt=0)
    decay_per_s: float = Field(0.0, ge=0)
    distances_m: list[float] | None = Field(None, max_length=50, description="where to report (m downstream)")
    threshold_mg_l: float | None = Field(None, gt=0, description="arrival and clear times for this level")
    max_distance_m: float = Field(50_000, gt=0, le=1_000_000)
    curve_points: int = Field(60, ge=10, le=500)
    incident_id: int | None = Field(None, ge=1)


class RunsQuery(_Strict):
    incident_id: int | None = None
    kind: Literal["plume", "puff", "river"] | None = None
    limit: int = Field(50, ge=1, le=500)
    before: int | None = Field(None, ge=1, description="only runs with a smaller id (paging, newest first)")


class RunListItem(BaseModel):
    id: int
    kind: str
    incident_id: int | None
    summary: dict[str, Any]
    created_by: int | None
    created_by_name: str | None
    created_at: dt.datetime


class RunDetail(RunListItem):
    inputs: dict[str, Any]
    zones: dict[str, Any] | None
    affected: list[dict[str, Any]]
    result: dict[str, Any] | None
