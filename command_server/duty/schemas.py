"""Validated input and output of the duty API (DUTY-1, DUTY-3, DUTY-4).

Shift times are Asia/Shanghai wall-clock "HH:MM": that is how a duty plan is written and read. An end at or
before the start means the shift ends the next day (夜班 17:30–08:30); start == end is a 24-hour shift.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from ..org.schemas import DutyRole

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_RANGE_DAYS = 92  # a roster request covers at most a quarter
MAX_STATS_DAYS = 400
DAY_MINUTES = 24 * 60

LogCategory = Literal["intake", "disposal", "handover", "other"]
# Labels used in the XLSX export and by the demo data; the console has its own i18n copy.
CATEGORY_LABELS: dict[str, str] = {"intake": "接报", "disposal": "处置", "handover": "交接", "other": "其他"}


def minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def span_minutes(start: str, end: str) -> int:
    """Length of a shift in minutes; an end at or before the start is on the next day."""
    d = (minutes(end) - minutes(start)) % DAY_MINUTES
    return d or DAY_MINUTES


class _Strict(BaseModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}


class PositionIn(_Strict):
    key: str = Field(description="slug, unique within the shift, e.g. leader")
    name: str = Field(min_length=1, max_length=32, description="e.g. 带班领导")
    count: int = Field(ge=1, le=20, description="people required in this position")
    roles: list[DutyRole] = Field(min_length=1, description="duty roles of people who may fill the position")
    lead: bool = Field(False, description="the position that leads the shift (acknowledges handovers)")

    @field_validator("key")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError("key must be lower-case letters, digits and _, starting with a letter (max 32)")
        return v

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class ShiftDefIn(_Strict):
    key: str = Field(description="slug, unique within the template, e.g. day")
    name: str = Field(min_length=1, max_length=32, description="e.g. 白班")
    start: str = Field(description="HH:MM, Asia/Shanghai")
    end: str = Field(description="HH:MM, Asia/Shanghai; at or before start means the next day")
    positions: list[PositionIn] = Field(min_length=1, max_length=10)

    @field_validator("key")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError("key must be lower-case letters, digits and _, starting with a letter (max 32)")
        return v

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not HHMM_RE.match(v):
            raise ValueError("time must be HH:MM between 00:00 and 23:59, e.g. 08:30")
        return v

    @model_validator(mode="after")
    def _positions(self) -> ShiftDefIn:
        keys = [p.key for p in self.positions]
        if len(set(keys)) != len(keys):
            raise ValueError("position keys must be unique within a shift")
        if sum(p.lead for p in self.positions) > 1:
            raise ValueError("at most one position of a shift may lead it")
        return self


class TemplateIn(_Strict):
    name: str = Field(min_length=1, max_length=64)
    unit_ids: list[int] = Field(default_factory=list, max_length=20,
                                description="units whose people are rostered by default")
    include_sub_units: bool = True
    shifts: list[ShiftDefIn] = Field(min_length=1, max_length=6)
    remark: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _shifts(self) -> TemplateIn:
        check_shifts(self.shifts)
        return self


class TemplatePatchIn(_Strict):
    name: str | None = Field(None, min_length=1, max_length=64)
    unit_ids: list[int] | None = Field(None, max_length=20)
    include_sub_units: bool | None = None
    shifts: list[ShiftDefIn] | None = Field(None, min_length=1, max_length=6)
    remark: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _shifts(self) -> TemplatePatchIn:
        if self.shifts is not None:
            check_shifts(self.shifts)
        return self


def check_shifts(shifts: list[ShiftDefIn]) -> None:
    """Shift keys unique; the shifts of one day do not overlap (else "the current shift" is ambiguous)."""
    keys = [s.key for s in shifts]
    if len(set(keys)) != len(keys):
        raise ValueError("shift keys must be unique within a template")
    # Lay each shift on a two-day minute line; a shift that wraps past midnight also reaches into day 2, so
    # comparing every pair on both the same day and shifted by a day finds any overlap.
    spans = [(minutes(s.start), minutes(s.start) + span_minutes(s.start, s.end), s.name) for s in shifts]
    for i, (a0, a1, an) in enumerate(spans):
        for b0, b1, bn in spans[i + 1:]:
            for shift in (-DAY_MINUTES, 0, DAY_MINUTES):
                if a0 < b1 + shift and b0 + shift < a1:
                    raise ValueError(f"shifts {an} and {bn} overlap")
    if sum(a1 - a0 for a0, a1, _ in spans) > DAY_MINUTES:
        raise ValueError("the shifts of a template cover more than 24 hours")


class PositionOut(BaseModel):
    key: str
    name: str
    count: int
    roles: list[str]
    lead: bool = False


class ShiftDefOut(BaseModel):
    key: str
    name: str
    start: str
    end: str
    hours: float
    positions: list[PositionOut]


class TemplateOut(BaseModel):
    id: int
    name: str
    unit_ids: list[int]
    include_sub_units: bool
    shifts: list[ShiftDefOut]
    remark: str | None
    shift_count: int = Field(description="shifts generated from this template")
    created_at: dt.datetime
    updated_at: dt.datetime


# --- roster ---------------------------------------------------------------------------------------------------


class GenerateIn(_Strict):
    template_id: int
    start_date: dt.date
    end_date: dt.date
    unit_ids: list[int] | None = Field(None, max_length=20, description="default: the template's units")
    include_sub_units: bool | None = Field(None, description="default: the template's setting")
    exclude_person_ids: list[int] = Field(default_factory=list, max_length=500,
                                          description="people not to roster (leave, training)")
    replace: bool = Field(False, description="replace shifts of this template already in the range")

    @model_validator(mode="after")
    def _range(self) -> GenerateIn:
        check_range(self.start_date, self.end_date, MAX_RANGE_DAYS)
        return self


def check_range(start: dt.date, end: dt.date, max_days: int) -> None:
    if end < start:
        raise ValueError("the end date is before the start date")
    if (end - start).days + 1 > max_days:
        raise ValueError(f"a range covers at most {max_days} days")


class RangeQuery(BaseModel):
    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")
    template_id: int | None = None
    person_id: int | None = None

    model_config = {"populate_by_name": True}

    @model_validator(mode="after")
    def _range(self) -> RangeQuery:
        check_range(self.date_from, self.date_to, MAX_RANGE_DAYS)
        return self


class DutyPersonOut(BaseModel):
    assignment_id: int
    person_id: int
    name: str
    unit_name: str
    job_title: str | None = Field(description="the person's post in the directory")
    duty_roles: list[str]
    mobile: str | None = Field(description="full or masked per contacts:sensitive, as in the directory")
    office_phone: str | None


class SlotOut(BaseModel):
    key: str
    name: str
    count: int
    roles: list[str]
    lead: bool
    people: list[DutyPersonOut]
    missing: int = Field(description="people still required in this position")


class ShiftOut(BaseModel):
    id: int
    template_id: int
    day: dt.date
    shift_key: str
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    positions: list[SlotOut]
    missing: int
    gap: bool


class RosterOut(BaseModel):
    date_from: dt.date = Field(serialization_alias="from")
    date_to: dt.date = Field(serialization_alias="to")
    items: list[ShiftOut]
    gaps: int = Field(description="shifts without their required people")


class GenerateOut(BaseModel):
    template_id: int
    shifts: int
    assignments: int
    gaps: int
    replaced: int
    counts: dict[str, dict[str, int]] = Field(description="position key → person id → shifts given")


class AssignIn(_Strict):
    position_key: str
    person_id: int


class ReplaceIn(_Strict):
    person_id: int


class TodayQuery(BaseModel):
    at: AwareDatetime | None = Field(None, description="the moment to answer for (default: now), with a zone")
    template_id: int | None = None


class TodayOut(BaseModel):
    at: dt.datetime
    template: dict[str, Any] | None
    current: ShiftOut | None
    next: ShiftOut | None


# --- log, handover, statistics ---------------------------------------------------------------------------------


class LogIn(_Strict):
    text: str = Field(min_length=1, max_length=4000)
    category: LogCategory = "other"
    at: AwareDatetime | None = Field(None, description="when it happened (default: now)")
    person_id: int | None = Field(None, description="who records it (default: the caller's directory entry)")
    shift_id: int | None = Field(None, description="default: the caller's shift at that time")


class LogQuery(BaseModel):
    date_from: dt.date | None = Field(None, alias="from")
    date_to: dt.date | None = Field(None, alias="to")
    person_id: int | None = None
    shift_id: int | None = None
    category: LogCategory | None = None
    q: str | None = Field(None, max_length=100)
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=500)

    model_config = {"populate_by_name": True}

    @model_validator(mode="after")
    def _range(self) -> LogQuery:
        if self.date_from and self.date_to:
            check_range(self.date_from, self.date_to, MAX_STATS_DAYS)
        return self


class LogOut(BaseModel):
    id: int
    at: dt.datetime
    category: str
    text: str
    shift_id: int | None
    shift_name: str | None
    shift_day: dt.date | None
    person_id: int
    person_name: str
    created_by_name: str | None
    created_at: dt.datetime


class LogPage(BaseModel):
    items: list[LogOut]
    total: int
    page: int
    page_size: int


class HandoverIn(_Strict):
    from_shift_id: int
    to_shift_id: int | None = Field(None, description="default: the next shift of the same roster")
    notes: str = Field(min_length=1, max_length=4000)
    pending_items: str | None = Field(None, max_length=4000)


class AckIn(_Strict):
    remark: str | None = Field(None, max_length=1000)


class HandoverQuery(BaseModel):
    date_from: dt.date | None = Field(None, alias="from")
    date_to: dt.date | None = Field(None, alias="to")
    state: Literal["pending", "acknowledged"] | None = None
    person_id: int | None = Field(None, description="handovers from or to a shift this person was on")
    limit: int = Field(100, ge=1, le=500)

    model_config = {"populate_by_name": True}


class ShiftRef(BaseModel):
    id: int
    day: dt.date
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    leader: str | None


class HandoverOut(BaseModel):
    id: int
    from_shift: ShiftRef
    to_shift: ShiftRef
    notes: str
    pending_items: str | None
    created_by_name: str | None
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    ack_remark: str | None
    state: Literal["pending", "acknowledged"]


class StatsQuery(BaseModel):
    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")
    person_id: int | None = None
    template_id: int | None = None

    model_config = {"populate_by_name": True}

    @model_validator(mode="after")
    def _range(self) -> StatsQuery:
        check_range(self.date_from, self.date_to, MAX_STATS_DAYS)
        return self


class StatsRow(BaseModel):
    person_id: int | None = None
    name: str | None = None
    unit_name: str | None = None
    month: str | None = None
    shifts: int
    hours: float
    log_entries: int


class StatsOut(BaseModel):
    date_from: dt.date = Field(serialization_alias="from")
    date_to: dt.date = Field(serialization_alias="to")
    people: list[StatsRow]
    months: list[StatsRow]
    rows: list[StatsRow] = Field(description="per person and month")
