"""Validated input and output of the plan library, plan matching and starting the response."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from shapely.geometry import shape

from ..core.permissions import ROLES
from ..org.schemas import DUTY_ROLES
from . import text as ptext

EventType = Literal["water", "air", "soil", "hazchem_leak", "hazardous_waste", "radiation", "fire_explosion",
                    "other"]
EVENT_TYPES: tuple[str, ...] = ("water", "air", "soil", "hazchem_leak", "hazardous_waste", "radiation",
                                "fire_explosion", "other")
Level = Literal["I", "II", "III", "IV"]
LEVELS: tuple[str, ...] = ("I", "II", "III", "IV")
PlanKind = Literal["comprehensive", "special", "department", "enterprise"]
KIND_LABELS = {"comprehensive": "综合", "special": "专项", "department": "部门", "enterprise": "企业"}
# Roles a step or a notification list may name: duty roles of people (org) and login roles.
ASSIGNABLE_ROLES: tuple[str, ...] = tuple(DUTY_ROLES) + tuple(r for r in ROLES if r not in DUTY_ROLES)
MAX_DEADLINE_MIN = 7 * 24 * 60


def _strip(v: Any) -> Any:
    return v.strip() if isinstance(v, str) else v


def _unique(values: list[Any], what: str) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v in out:
            raise ValueError(f"{what} {v!r} is listed twice")
        out.append(v)
    return out


class PollutantIn(BaseModel):
    name: str = Field("", max_length=64, description="chemical or class name, e.g. 液氨, 石油类")
    cas: str | None = Field(None, max_length=16, description="CAS registry number, e.g. 7664-41-7")

    @field_validator("name", mode="before")
    @classmethod
    def _n(cls, v: Any) -> Any:
        return "" if v is None else _strip(v)

    @field_validator("cas", mode="before")
    @classmethod
    def _c(cls, v: Any) -> Any:
        v = _strip(v)
        return None if v == "" else v

    @model_validator(mode="after")
    def _check(self) -> PollutantIn:
        if self.cas is not None and not ptext.cas_valid(self.cas):
            raise ValueError(f"CAS number {self.cas!r} is not valid (format 7664-41-7 with a correct check digit)")
        if not self.name and not self.cas:
            raise ValueError("a pollutant needs a name or a CAS number")
        return self

    def normalised(self) -> dict[str, Any]:
        return ptext.normalise_chemical(self.name, self.cas)


class AreaIn(BaseModel):
    district_unit_ids: list[int] = Field(default_factory=list, max_length=100)
    polygon: dict[str, Any] | None = Field(None, description="GeoJSON Polygon or MultiPolygon, WGS-84")

    @field_validator("district_unit_ids")
    @classmethod
    def _ids(cls, v: list[int]) -> list[int]:
        return _unique(v, "district unit")

    @field_validator("polygon")
    @classmethod
    def _poly(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return None
        if v.get("type") == "Feature":
            v = v.get("geometry") or {}
        if v.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("the area must be a GeoJSON Polygon or MultiPolygon")
        try:
            geom = shape(v)
        except Exception:
            raise ValueError("the area polygon is not valid GeoJSON (coordinates)") from None
        if geom.is_empty or not geom.is_valid:
            raise ValueError("the area polygon is empty or self-intersecting")
        minx, miny, maxx, maxy = geom.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise ValueError("polygon coordinates must be WGS-84 longitude/latitude")
        return {"type": v["type"], "coordinates": v["coordinates"]}


class StepIn(BaseModel):
    order: int = Field(ge=1, le=999)
    action: str = Field(min_length=1, max_length=1000)
    responsible_role: str | None = Field(None, description="duty role (leader, officer, monitor…) or login role")
    responsible_unit_id: int | None = None
    deadline_minutes: int = Field(ge=1, le=MAX_DEADLINE_MIN, description="minutes after the response starts")

    @field_validator("action", mode="before")
    @classmethod
    def _a(cls, v: Any) -> Any:
        return _strip(v)

    @field_validator("responsible_role", mode="before")
    @classmethod
    def _r(cls, v: Any) -> Any:
        v = _strip(v)
        if v in ("", None):
            return None
        if v not in ASSIGNABLE_ROLES:
            raise ValueError(f"unknown role {v!r}; use one of {', '.join(ASSIGNABLE_ROLES)}")
        return v

    @model_validator(mode="after")
    def _one(self) -> StepIn:
        if (self.responsible_role is None) == (self.responsible_unit_id is None):
            raise ValueError("a step needs exactly one responsible: a role or a unit")
        return self


class NotifyListIn(BaseModel):
    user_ids: list[int] = Field(default_factory=list, max_length=500)
    roles: list[str] = Field(default_factory=list, max_length=20)
    unit_ids: list[int] = Field(default_factory=list, max_length=100)

    @field_validator("user_ids", "unit_ids")
    @classmethod
    def _ids(cls, v: list[int]) -> list[int]:
        return _unique(v, "id")

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[str]) -> list[str]:
        for r in v:
            if r not in ASSIGNABLE_ROLES:
                raise ValueError(f"unknown role {r!r}; use one of {', '.join(ASSIGNABLE_ROLES)}")
        return _unique(v, "role")


class ResourceIn(BaseModel):
    type: str = Field(min_length=1, max_length=64, description="e.g. 吸附棉, 围油栏, 应急监测车")
    quantity: float = Field(gt=0, le=1e9)
    unit: str | None = Field(None, max_length=16, description="e.g. 件, 米, 吨, 台")

    @field_validator("type", "unit", mode="before")
    @classmethod
    def _s(cls, v: Any) -> Any:
        return _strip(v)


class PlanIn(BaseModel):
    title: str = Field(min_length=2, max_length=200)
    code: str | None = Field(None, max_length=64)
    kind: PlanKind
    issuing_unit: str = Field(min_length=1, max_length=100)
    issuing_unit_id: int | None = None
    event_types: list[EventType] = Field(min_length=1)
    levels: list[Level] = Field(min_length=1)
    pollutants: list[PollutantIn] = Field(default_factory=list, max_length=50)
    area: AreaIn = Field(default_factory=AreaIn)
    steps: list[StepIn] = Field(min_length=1, max_length=100)
    guide: str = Field("", max_length=50000, description="处置要点: the operating guide")
    notifications: dict[Level, NotifyListIn] = Field(default_factory=dict)
    resources: list[ResourceIn] = Field(default_factory=list, max_length=100)
    attachment_ids: list[int] = Field(default_factory=list, max_length=20)

    @field_validator("title", "issuing_unit", "code", "guide", mode="before")
    @classmethod
    def _s(cls, v: Any) -> Any:
        return _strip(v)

    @field_validator("event_types", "levels")
    @classmethod
    def _u(cls, v: list[str]) -> list[str]:
        return _unique(v, "value")

    @field_validator("attachment_ids")
    @classmethod
    def _att(cls, v: list[int]) -> list[int]:
        return _unique(v, "file")

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[StepIn]) -> list[StepIn]:
        orders = [s.order for s in v]
        dup = sorted({o for o in orders if orders.count(o) > 1})
        if dup:
            raise ValueError(f"step order {', '.join(map(str, dup))} is used twice")
        return sorted(v, key=lambda s: s.order)

    @field_validator("resources")
    @classmethod
    def _res(cls, v: list[ResourceIn]) -> list[ResourceIn]:
        _unique([r.type for r in v], "resource type")
        return v


class PlanWriteIn(PlanIn):
    change_note: str | None = Field(None, max_length=500)
    base_version: int | None = Field(None, ge=1, description="the version being edited; 409 if it is stale")


class PlanOut(BaseModel):
    id: int
    version: int
    status: str
    code: str | None
    title: str
    kind: str
    issuing_unit: str
    issuing_unit_id: int | None
    event_types: list[str]
    levels: list[str]
    pollutants: list[dict[str, Any]]
    area: dict[str, Any]
    steps: list[dict[str, Any]]
    guide: str
    notifications: dict[str, Any]
    resources: list[dict[str, Any]]
    attachment_ids: list[int]
    created_at: dt.datetime
    updated_at: dt.datetime


class PlanSummary(BaseModel):
    id: int
    version: int
    status: str
    code: str | None
    title: str
    kind: str
    issuing_unit: str
    event_types: list[str]
    levels: list[str]
    pollutants: list[str]
    step_count: int
    updated_at: dt.datetime
    score: float | None = None


class PlanPage(BaseModel):
    items: list[PlanSummary]
    total: int
    page: int
    page_size: int


class PlanQuery(BaseModel):
    q: str | None = Field(None, max_length=200)
    type: EventType | None = None
    level: Level | None = None
    kind: PlanKind | None = None
    status: Literal["active", "retired", "all"] = "active"
    page: int = Field(1, ge=1, le=10000)
    page_size: int = Field(20, ge=1, le=100)


class VersionOut(BaseModel):
    version: int
    title: str
    change_note: str | None
    created_by: int | None
    created_by_name: str | None
    created_at: dt.datetime
    current: bool


class VersionDetail(VersionOut):
    data: dict[str, Any]


class DiffQuery(BaseModel):
    from_: int = Field(alias="from", ge=1)
    to: int = Field(ge=1)


class DiffOut(BaseModel):
    plan_id: int
    from_version: int
    to_version: int
    changes: list[dict[str, Any]]


class ImportResult(BaseModel):
    created: list[dict[str, Any]]
    errors: list[dict[str, Any]]


class MatchOut(BaseModel):
    plan_id: int
    title: str
    version: int
    score: float
    factors: dict[str, float]
    weights: dict[str, float]
    explanation: dict[str, str]
    explanation_en: dict[str, str]


class ResponseIn(BaseModel):
    plan_id: int = Field(ge=1)
    reason: str | None = Field(None, max_length=500)


class ResponseOut(BaseModel):
    incident_id: int
    plan_id: int
    plan_version: int
    level: str
    state: str
    tasks: list[dict[str, Any]]
    notifications: list[dict[str, Any]]
    warnings: list[str]
