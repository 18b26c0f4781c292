from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..core.permissions import ROLES
from ..monitoring.catalogue import DEFAULT_METRICS, METRICS

Level = Literal["blue", "yellow", "orange", "red"]
RuleKind = Literal["threshold", "sustained", "rate", "missing"]
Op = Literal[">", "<", ">=", "<="]
State = Literal["open", "acked", "closed", "all"]
RoleName = Literal["admin", "commander", "operator", "field", "pilot", "screen", "enterprise"]
assert set(RoleName.__args__) == set(ROLES)  # type: ignore[attr-defined]

SCOPE_KINDS = tuple(DEFAULT_METRICS)  # water_station, air_station, met_station, chemical_plant, …

# fields each rule kind uses; any other condition field must be left out or null
KIND_FIELDS: dict[str, set[str]] = {
    "threshold": {"op", "threshold"},
    "sustained": {"op", "threshold", "sustain_count", "sustain_minutes"},
    "rate": {"op", "threshold", "rate_per"},
    "missing": {"missing_minutes"},
}
CONDITION_FIELDS = {"op", "threshold", "sustain_count", "sustain_minutes", "rate_per", "missing_minutes"}


class RuleIn(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    scope_kind: str | None = Field(None, description=f"every source of this kind: {', '.join(SCOPE_KINDS)}")
    scope_source_id: int | None = Field(None, ge=1, description="or one monitoring source")
    metric: str = Field(min_length=1, max_length=32)
    kind: RuleKind
    op: Op | None = None
    threshold: float | None = Field(None, description="the value (threshold, sustained) or the change per "
                                                      "minute/hour (rate)")
    sustain_count: int | None = Field(None, ge=2, le=1000, description="sustained: for N consecutive readings")
    sustain_minutes: int | None = Field(None, ge=1, le=10080, description="sustained: for T minutes")
    rate_per: Literal["minute", "hour"] | None = None
    missing_minutes: int | None = Field(None, ge=1, le=10080, description="missing: no data for T minutes")
    level: Level
    responsible_user_ids: list[int] = Field(default_factory=list, max_length=100)
    responsible_unit_id: int | None = Field(None, ge=1, description="the unit's people with an account are "
                                                                    "notified too")
    notify_duty: bool = Field(True, description="also notify the duty officers")
    escalate_after_min: int | None = Field(None, ge=1, le=1440)
    escalate_to_user_ids: list[int] = Field(default_factory=list, max_length=100)
    escalate_to_roles: list[RoleName] = Field(default_factory=list)
    description: str | None = Field(None, max_length=2000)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("name must not be blank")
        return v

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if v not in METRICS:
            raise ValueError(f"unknown metric {v!r}; see GET /api/v1/monitoring/metrics")
        return v

    @field_validator("scope_kind")
    @classmethod
    def _scope_kind(cls, v: str | None) -> str | None:
        if v is not None and v not in SCOPE_KINDS:
            raise ValueError(f"scope_kind must be one of {', '.join(SCOPE_KINDS)}")
        return v

    @field_validator("responsible_user_ids", "escalate_to_user_ids")
    @classmethod
    def _ids(cls, v: list[int]) -> list[int]:
        if any(i <= 0 for i in v):
            raise ValueError("user ids are positive integers")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _consistent(self) -> RuleIn:
        if (self.scope_kind is None) == (self.scope_source_id is None):
            raise ValueError("give exactly one of scope_kind (a kind of source) or scope_source_id (one source)")
        used = KIND_FIELDS[self.kind]
        stray = sorted(f for f in CONDITION_FIELDS - used if getattr(self, f) is not None)
        if stray:
            raise ValueError(f"a {self.kind} rule does not use {', '.join(stray)}")
        if self.kind != "missing" and (self.op is None or self.threshold is None):
            raise ValueError(f"a {self.kind} rule needs op and threshold")
        if self.kind == "sustained" and (self.sustain_count is None) == (self.sustain_minutes is None):
            raise ValueError("a sustained rule needs exactly one of sustain_count or sustain_minutes")
        if self.kind == "rate" and self.rate_per is None:
            raise ValueError("a rate rule needs rate_per (minute or hour)")
        if self.kind == "missing" and self.missing_minutes is None:
            raise ValueError("a missing-data rule needs missing_minutes")
        escalates = bool(self.escalate_to_user_ids or self.escalate_to_roles)
        if (self.escalate_after_min is not None) != escalates:
            raise ValueError("escalation needs both escalate_after_min and someone to escalate to "
                             "(escalate_to_user_ids or escalate_to_roles)")
        if not (self.responsible_user_ids or self.responsible_unit_id or self.notify_duty):
            raise ValueError("a rule must notify someone: responsible users, a responsible unit or the duty "
                             "officers")
        return self


class RuleOut(BaseModel):
    id: int
    name: str
    enabled: bool
    scope_kind: str | None
    scope_source_id: int | None
    scope_label: str
    metric: str
    metric_name: str
    unit: str
    kind: str
    op: str | None
    threshold: float | None
    sustain_count: int | None
    sustain_minutes: int | None
    rate_per: str | None
    missing_minutes: int | None
    level: str
    responsible_user_ids: list[int]
    responsible_unit_id: int | None
    notify_duty: bool
    escalate_after_min: int | None
    escalate_to_user_ids: list[int]
    escalate_to_roles: list[str]
    description: str | None
    condition: str
    created_at: dt.datetime
    updated_at: dt.datetime


class RulesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str | None = Field(None, max_length=32)
    scope_kind: str | None = Field(None, max_length=64)
    source_id: int | None = Field(None, ge=1, description="rules that apply to this source")
    enabled: bool | None = None


class WarningsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: State = "open"
    level: list[Level] | None = None
    source_id: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class WarningItem(BaseModel):
    id: int
    level: str
    title: str
    source_id: int | None
    source_name: str
    metric: str
    metric_name: str
    unit: str
    value: float | None
    threshold: float | None
    op: str | None
    kind: str
    lon: float | None
    lat: float | None
    address: str | None
    observed_at: dt.datetime | None
    created_at: dt.datetime
    state: str
    rule_id: int | None
    acked_at: dt.datetime | None
    closed_at: dt.datetime | None
    escalation_level: int
    alarm_id: int | None
    my_ack: bool | None = Field(None, description="the caller is a recipient: did they acknowledge?")


class WarningsOut(BaseModel):
    items: list[WarningItem]
    total: int


class RecipientOut(BaseModel):
    user_id: int
    name: str
    role: str
    notified_at: dt.datetime
    acked_at: dt.datetime | None


class WarningDetail(WarningItem):
    message: str
    details: dict[str, Any]
    recipients: list[RecipientOut]
    close_reason: str | None


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=500)


class ToAlarmOut(BaseModel):
    warning_id: int
    alarm_id: int
