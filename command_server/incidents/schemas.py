"""Validated input and output of the incidents and tasks API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

IncidentType = Literal["water", "air", "soil", "hazchem_leak", "hazardous_waste", "radiation", "fire_explosion",
                       "other"]
INCIDENT_TYPES: dict[str, tuple[str, str]] = {
    "water": ("水污染", "water pollution"),
    "air": ("大气污染", "air pollution"),
    "soil": ("土壤污染", "soil pollution"),
    "hazchem_leak": ("危险化学品泄漏", "hazardous chemical leak"),
    "hazardous_waste": ("危险废物", "hazardous waste"),
    "radiation": ("辐射", "radiation"),
    "fire_explosion": ("火灾爆炸次生环境事件", "fire/explosion with environmental impact"),
    "other": ("其他", "other"),
}
Level = Literal["I", "II", "III", "IV"]
State = Literal["reported", "verifying", "responding", "disposing", "closed", "assessed", "false_alarm", "merged"]
WaterIntake = Literal["township", "county", "city"]
Radiation = Literal["class_i_ii_wide_contamination", "class_i_ii_lost", "class_iii", "class_iv_v"]
CrossBoundary = Literal["international", "province", "city", "county"]
ReportKind = Literal["initial", "follow_up", "final"]
TaskStatus = Literal["todo", "doing", "done"]
TimelineKind = Literal["state", "level", "plan", "task", "notice", "note", "file", "simulation", "report", "unit",
                       "alarm", "other"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


def _blank_to_none(v: object) -> object:
    if isinstance(v, str) and not v.strip():
        return None
    return v


class LevelCriteria(_In):
    """The criteria of the level table; zero / null means "not applicable"."""

    deaths: int = Field(0, ge=0, le=1_000_000)
    poisoned_or_injured: int = Field(0, ge=0, le=10_000_000)
    evacuated: int = Field(0, ge=0, le=100_000_000)
    direct_loss_cny: int = Field(0, ge=0, le=10**15, description="direct economic loss in CNY (yuan)")
    water_intake_cutoff: WaterIntake | None = None
    radiation: Radiation | None = None
    cross_boundary: CrossBoundary | None = None

    @field_validator("deaths", "poisoned_or_injured", "evacuated", "direct_loss_cny", mode="before")
    @classmethod
    def _null_is_zero(cls, v: object) -> object:
        return 0 if v is None or v == "" else v

    @field_validator("water_intake_cutoff", "radiation", "cross_boundary", mode="before")
    @classmethod
    def _blank_enums(cls, v: object) -> object:
        return _blank_to_none(v)


CRITERIA_FIELDS = tuple(LevelCriteria.model_fields)


class LevelFactor(BaseModel):
    criterion: str
    value: Any
    level: Level
    text: str
    text_en: str
    decisive: bool


class LevelSuggestionOut(BaseModel):
    level: Level
    level_name: str
    reasons: list[str]
    reasons_en: list[str]
    factors: list[LevelFactor]


class _Place(_In):
    lon: float | None = Field(None, ge=-180, le=180, description="WGS-84 longitude")
    lat: float | None = Field(None, ge=-90, le=90, description="WGS-84 latitude")
    address: str | None = Field(None, max_length=300)
    pollutant: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    district_unit_id: int | None = Field(None, ge=1)
    lead_unit_id: int | None = Field(None, ge=1)
    occurred_at: AwareDatetime | None = None

    @field_validator("address", "pollutant", "description", mode="before")
    @classmethod
    def _blank_text(cls, v: object) -> object:
        return _blank_to_none(v)


class IncidentCreateIn(_Place, LevelCriteria):
    alarm_ids: list[int] = Field(default_factory=list, max_length=50,
                                 description="alarms the incident is created from; place, type and pollutant "
                                             "are copied from the first one when not given")
    type: IncidentType | None = None
    title: str | None = Field(None, max_length=200)

    @field_validator("title", mode="before")
    @classmethod
    def _blank_title(cls, v: object) -> object:
        return _blank_to_none(v)

    @field_validator("alarm_ids")
    @classmethod
    def _unique(cls, v: list[int]) -> list[int]:
        if any(i < 1 for i in v):
            raise ValueError("alarm ids are positive integers")
        if len(set(v)) != len(v):
            raise ValueError("an alarm is listed twice")
        return v

    @model_validator(mode="after")
    def _lonlat(self) -> IncidentCreateIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class IncidentPatchIn(_Place):
    title: str | None = Field(None, min_length=1, max_length=200)
    type: IncidentType | None = None
    deaths: int | None = Field(None, ge=0, le=1_000_000)
    poisoned_or_injured: int | None = Field(None, ge=0, le=10_000_000)
    evacuated: int | None = Field(None, ge=0, le=100_000_000)
    direct_loss_cny: int | None = Field(None, ge=0, le=10**15)
    water_intake_cutoff: WaterIntake | None = None
    radiation: Radiation | None = None
    cross_boundary: CrossBoundary | None = None

    @field_validator("title", "type", "deaths", "poisoned_or_injured", "evacuated", "direct_loss_cny")
    @classmethod
    def _not_null(cls, v: object) -> object:
        if v is None:
            raise ValueError("may be omitted but not null")
        return v

    @field_validator("water_intake_cutoff", "radiation", "cross_boundary", mode="before")
    @classmethod
    def _blank_enums(cls, v: object) -> object:
        return _blank_to_none(v)


class IncidentsQuery(BaseModel):
    state: Literal["open", "reported", "verifying", "responding", "disposing", "closed", "assessed",
                   "false_alarm", "merged"] | None = Field(
        None, description="'open' = not closed/assessed/false_alarm/merged")
    type: IncidentType | None = None
    level: Literal["I", "II", "III", "IV", "none"] | None = Field(None, description="'none': not yet confirmed")
    from_: AwareDatetime | None = Field(None, alias="from", description="created at or after (ISO-8601 with zone)")
    to: AwareDatetime | None = Field(None, description="created before (ISO-8601 with zone)")
    q: str | None = Field(None, max_length=100, description="text in title, address or pollutant")
    limit: int = Field(50, ge=1, le=500)
    page: int = Field(1, ge=1, le=100_000)


class IncidentListItem(BaseModel):
    id: int
    title: str
    type: str
    level: str | None
    level_suggested: str | None
    state: str
    rag: Literal["red", "amber", "green"]
    created_at: dt.datetime
    lon: float | None
    lat: float | None
    address: str | None
    report_overdue: bool


class IncidentsPage(BaseModel):
    items: list[IncidentListItem]
    total: int = Field(description="matching incidents, counted up to 10,000 (see total_capped)")
    total_capped: bool = Field(False, description="more than `total` incidents match")


class IncidentStats(BaseModel):
    alarms_this_year: int | None
    incidents_this_year: int
    in_progress: int
    closed_this_year: int


class ReportStatus(BaseModel):
    limit_hours: int
    due_at: dt.datetime
    submitted_at: dt.datetime | None
    overdue: bool
    seconds_remaining: int


class IncidentOut(BaseModel):
    id: int
    title: str
    type: str
    level: str | None
    level_suggested: str | None
    level_reason: str | None
    level_suggestion: LevelSuggestionOut
    state: str
    allowed_transitions: list[str]
    rag: Literal["red", "amber", "green"]
    lon: float | None
    lat: float | None
    address: str | None
    district_unit_id: int | None
    district_unit_name: str | None
    lead_unit_id: int | None
    lead_unit_name: str | None
    forwarded_unit_ids: list[int]
    pollutant: str | None
    description: str | None
    occurred_at: dt.datetime | None
    deaths: int
    poisoned_or_injured: int
    evacuated: int
    direct_loss_cny: int
    water_intake_cutoff: str | None
    radiation: str | None
    cross_boundary: str | None
    alarm_ids: list[int]
    plan_id: int | None
    merged_into_id: int | None
    initial_report: ReportStatus
    created_at: dt.datetime
    updated_at: dt.datetime
    state_changed_at: dt.datetime
    closed_at: dt.datetime | None


class TransitionIn(_In):
    to: State
    reason: str | None = Field(None, max_length=2000)
    merged_into_id: int | None = Field(None, ge=1, description="required when to = merged")

    @field_validator("reason", mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        return _blank_to_none(v)


class LevelDecisionIn(_In):
    level: Level
    reason: str | None = Field(None, max_length=2000, description="required when the level differs from the "
                                                                  "suggestion")
    criteria: LevelCriteria | None = Field(None, description="update the figures first (the suggestion is "
                                                             "recomputed in the same transaction)")

    @field_validator("reason", mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        return _blank_to_none(v)


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=4000)
    file_ids: list[int] = Field(default_factory=list, max_length=20)


class ForwardIn(_In):
    unit_id: int = Field(ge=1)
    note: str | None = Field(None, max_length=2000)


class LeadUnitIn(_In):
    unit_id: int = Field(ge=1)
    reason: str | None = Field(None, max_length=2000)


class ReportIn(_In):
    kind: ReportKind
    content: str = Field(min_length=1, max_length=20_000)
    file_ids: list[int] = Field(default_factory=list, max_length=20)


class ReportOut(BaseModel):
    id: int
    incident_id: int
    kind: ReportKind
    content: str
    file_ids: list[int]
    level_at_submit: str | None
    due_at: dt.datetime | None
    on_time: bool | None
    submitted_by: int | None
    submitted_by_name: str | None
    submitted_at: dt.datetime


class ReportsOut(BaseModel):
    limit_hours: int
    due_at: dt.datetime
    overdue: bool
    seconds_remaining: int
    initial_submitted_at: dt.datetime | None
    items: list[ReportOut]


class TimelineQuery(BaseModel):
    after: int | None = Field(None, ge=0, description="only events with a larger id")
    kind: TimelineKind | None = None
    limit: int = Field(500, ge=1, le=2000)


class TimelineItem(BaseModel):
    id: int
    type: str
    kind: str
    at: dt.datetime
    actor: dict[str, Any] | None
    subject_type: str | None
    subject_id: str | None
    incident_id: int | None
    payload: dict[str, Any]


# --- tasks ---------------------------------------------------------------------------------------------------


class TaskSpec(_In):
    """A task to create: from a plan step (``source="plan"``) or by hand. At most one kind of assignee."""

    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    assignee_user_id: int | None = Field(None, ge=1)
    assignee_unit_id: int | None = Field(None, ge=1)
    assignee_role: str | None = Field(None, max_length=32)
    due_at: AwareDatetime | None = None
    plan_step_order: int | None = Field(None, ge=0)
    source: Literal["plan", "manual"] = "manual"

    @field_validator("description", "assignee_role", mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        return _blank_to_none(v)

    @model_validator(mode="after")
    def _one_assignee(self) -> TaskSpec:
        given = [n for n in ("assignee_user_id", "assignee_unit_id", "assignee_role") if getattr(self, n)]
        if len(given) > 1:
            raise ValueError("give one assignee: a user, a unit or a role")
        return self


class TaskCreateIn(TaskSpec):
    source: Literal["manual"] = "manual"


class TaskPatchIn(_In):
    status: TaskStatus | None = None
    feedback: str | None = Field(None, max_length=10_000)
    feedback_file_ids: list[int] | None = Field(None, max_length=20)
    # staff only:
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    due_at: AwareDatetime | None = None
    assignee_user_id: int | None = Field(None, ge=1)
    assignee_unit_id: int | None = Field(None, ge=1)
    assignee_role: str | None = Field(None, max_length=32)

    @field_validator("status", "title")
    @classmethod
    def _not_null(cls, v: object) -> object:
        if v is None:
            raise ValueError("may be omitted but not null")
        return v


class TaskOut(BaseModel):
    id: int
    incident_id: int
    incident_title: str | None = None
    title: str
    description: str | None
    assignee_user_id: int | None
    assignee_unit_id: int | None
    assignee_role: str | None
    due_at: dt.datetime | None
    overdue: bool
    plan_step_order: int | None
    source: str
    status: TaskStatus
    feedback: str | None
    feedback_file_ids: list[int]
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    done_at: dt.datetime | None


class TasksQuery(BaseModel):
    mine: bool = Field(False, description="only tasks assigned to me, my role or my unit")
    status: TaskStatus | None = None
    incident_id: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=500)
