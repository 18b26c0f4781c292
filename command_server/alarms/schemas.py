"""Validated input and output of alarm intake.

Fast intake needs only three things: the event type, a place (an address or coordinates) and a text; every
other field is optional. Naive date-times are read as Asia/Shanghai (what a duty officer types); stored UTC.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..core.crypto import normalize_phone

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

CHANNELS: dict[str, str] = {
    "hotline": "电话报警",
    "upper_assignment": "上级交办",
    "complaint_12369": "12369环保投诉",
    "complaint_12345": "12345政务热线",
    "monitoring": "监测站报警",
    "field_report": "现场上报",
    "external": "外部系统",
}
COMPLAINT_CHANNELS = frozenset({"complaint_12369", "complaint_12345"})

EVENT_TYPES: dict[str, str] = {
    "water": "水污染",
    "air": "大气污染",
    "soil": "土壤污染",
    "hazchem_leak": "危险化学品泄漏",
    "hazardous_waste": "危险废物",
    "radiation": "辐射事故",
    "fire_explosion": "火灾爆炸次生环境事件",
    "other": "其他",
}

STATUSES: dict[str, str] = {
    "open": "待处置",
    "merged": "已合并",
    "converted": "已立案",
    "closed": "已办结",
    "false_alarm": "误报",
}

Channel = Literal["hotline", "upper_assignment", "complaint_12369", "complaint_12345", "monitoring",
                  "field_report", "external"]
EventType = Literal["water", "air", "soil", "hazchem_leak", "hazardous_waste", "radiation", "fire_explosion",
                    "other"]
Status = Literal["open", "merged", "converted", "closed", "false_alarm"]
CoordSystem = Literal["wgs84", "gcj02", "bd09"]

MAX_ATTACHMENTS = 20
MAX_EXTRA_BYTES = 8_000
CLOCK_SKEW = dt.timedelta(minutes=5)  # a caller's clock may run a little fast; more than this is an error

_PHONE_CHARS = re.compile(r"^[+\d\s\-()转]+$")
_EXTERNAL = re.compile(r"^[A-Za-z0-9_.:\-]+$")


def to_utc(v: dt.datetime | None) -> dt.datetime | None:
    if v is None:
        return None
    if v.tzinfo is None:
        v = v.replace(tzinfo=LOCAL_TZ)
    return v.astimezone(dt.UTC)


def _blank_to_none(v: object) -> object:
    if isinstance(v, str) and not v.strip():
        return None
    return v


def clean_phone(v: str) -> str:
    """A reporter's phone as given (mobile, landline, with extension); only the shape is checked."""
    raw = v.strip()
    if not _PHONE_CHARS.match(raw):
        raise ValueError("phone may contain only digits, spaces, dashes, brackets and a + prefix")
    digits = normalize_phone(raw)
    if not 5 <= len(digits) <= 20:
        raise ValueError("phone must have 5 to 20 digits")
    return re.sub(r"\s+", " ", raw)


class _AlarmFields(BaseModel):
    """Rules shared by intake and edit; each format rule lives here once."""

    @field_validator("address", "pollutant", "reporter_name", "reporter_phone", "external_source",
                     "external_id", mode="before", check_fields=False)
    @classmethod
    def _blank(cls, v: object) -> object:
        return _blank_to_none(v)

    @field_validator("address", "pollutant", "reporter_name", check_fields=False)
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return None if v is None else re.sub(r"\s+", " ", v.strip())

    @field_validator("description", check_fields=False)
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip()
        if not v:
            raise ValueError("description must not be blank")
        return v

    @field_validator("reporter_phone", check_fields=False)
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return None if v is None else clean_phone(v)

    @field_validator("attachments", check_fields=False)
    @classmethod
    def _attachments(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if len(v) > MAX_ATTACHMENTS:
            raise ValueError(f"at most {MAX_ATTACHMENTS} attachments")
        if any(i <= 0 for i in v):
            raise ValueError("attachment ids are positive integers")
        return list(dict.fromkeys(v))  # keep order, drop repeats

    @field_validator("received_at", "occurred_at", check_fields=False)
    @classmethod
    def _utc(cls, v: dt.datetime | None) -> dt.datetime | None:
        return to_utc(v)

    @model_validator(mode="after")
    def _pairs(self) -> Any:
        values = self.__dict__
        if "lon" in values and (values["lon"] is None) != (values.get("lat") is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class AlarmIn(_AlarmFields):
    """A new alarm. Required: ``event_type``, a place (``address`` or ``lon``+``lat``), ``description``."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel = "hotline"
    event_type: EventType
    description: str = Field(min_length=1, max_length=4000)
    address: str | None = Field(None, max_length=300)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    coord_system: CoordSystem = Field("wgs84", description="datum of lon/lat; stored as WGS-84")
    received_at: dt.datetime | None = Field(None, description="default: now; naive = Asia/Shanghai")
    occurred_at: dt.datetime | None = None
    pollutant: str | None = Field(None, max_length=200)
    reporter_name: str | None = Field(None, max_length=64)
    reporter_phone: str | None = Field(None, max_length=40)
    attachments: list[int] = Field(default_factory=list, description="file ids from POST /api/v1/files")
    external_source: str | None = Field(None, max_length=64, description="default for API keys: the key's name")
    external_id: str | None = Field(None, max_length=128, description="the caller's id; retries are idempotent")
    extra: dict[str, Any] = Field(default_factory=dict, description="the external system's own fields")

    @field_validator("external_source", "external_id")
    @classmethod
    def _ext(cls, v: str | None) -> str | None:
        if v is not None and not _EXTERNAL.match(v.strip()):
            raise ValueError("may contain only letters, digits and _ . : -")
        return None if v is None else v.strip()

    @field_validator("extra")
    @classmethod
    def _extra(cls, v: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(v, ensure_ascii=False)) > MAX_EXTRA_BYTES:
            raise ValueError(f"extra is limited to {MAX_EXTRA_BYTES} bytes of JSON")
        return v

    @model_validator(mode="after")
    def _place_and_times(self) -> AlarmIn:
        if self.address is None and self.lon is None:
            raise ValueError("a place is required: an address or lon/lat coordinates")
        now = dt.datetime.now(dt.UTC)
        if self.received_at is not None and self.received_at > now + CLOCK_SKEW:
            raise ValueError("received_at lies in the future")
        if self.occurred_at is not None and self.occurred_at > (self.received_at or now) + CLOCK_SKEW:
            raise ValueError("occurred_at is later than received_at")
        return self


class AlarmPatchIn(_AlarmFields):
    """Corrections after intake; fields left out are unchanged. Status moves through close/merge/incident."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel | None = None
    event_type: EventType | None = None
    description: str | None = Field(None, min_length=1, max_length=4000)
    address: str | None = Field(None, max_length=300)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    coord_system: CoordSystem = "wgs84"
    occurred_at: dt.datetime | None = None
    pollutant: str | None = Field(None, max_length=200)
    reporter_name: str | None = Field(None, max_length=64)
    reporter_phone: str | None = Field(None, max_length=40)
    attachments: list[int] | None = None
    opinion_flag: bool | None = None

    @field_validator("channel", "event_type", "description", "opinion_flag", "attachments")
    @classmethod
    def _not_null(cls, v: object) -> object:
        # Validators run only for fields present in the JSON, so this rejects an explicit null only.
        if v is None:
            raise ValueError("may be omitted but not null")
        return v


class CloseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)
    false_alarm: bool = Field(False, description="close as 误报 (false alarm) rather than 办结")

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("a reason is required")
        return v


class MergeIn(BaseModel):
    into_id: int = Field(gt=0, description="the alarm this one is a duplicate of")


class AlarmQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    status: list[Status] | None = None
    type: list[EventType] | None = None
    channel: list[Channel] | None = None
    from_: dt.datetime | None = Field(None, alias="from", description="received at or after")
    to: dt.datetime | None = Field(None, description="received before")
    q: str | None = Field(None, max_length=100)
    district: int | None = Field(None, description="unit id of the district")
    routed_to: int | None = None
    opinion: bool | None = Field(None, description="only complaints flagged (true) / not flagged (false)")
    ids: list[int] | None = Field(None, description="these alarms only (e.g. ?ids=1,2)")
    incident_id: int | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=200)

    @field_validator("from_", "to")
    @classmethod
    def _utc(cls, v: dt.datetime | None) -> dt.datetime | None:
        return to_utc(v)

    @field_validator("q", mode="before")
    @classmethod
    def _q(cls, v: object) -> object:
        return _blank_to_none(v)

    @field_validator("ids")
    @classmethod
    def _ids(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and len(v) > 200:
            raise ValueError("at most 200 ids")
        return v


class DuplicateOut(BaseModel):
    id: int
    distance_m: float
    minutes_apart: float
    event_type: str
    channel: str
    status: str
    received_at: dt.datetime
    address: str | None
    description: str


class AlarmOut(BaseModel):
    id: int
    channel: str
    channel_label: str
    event_type: str
    event_type_label: str
    status: str
    status_label: str
    received_at: dt.datetime
    occurred_at: dt.datetime | None
    address: str | None
    lon: float | None
    lat: float | None
    pollutant: str | None
    pollutant_cas: str | None
    description: str
    reporter_name: str | None
    reporter_phone: str | None = Field(description="masked unless the caller holds contacts:sensitive")
    attachments: list[int]
    district_unit_id: int | None
    district_name: str | None
    routed_to_unit_id: int | None
    opinion_flag: bool
    opinion_keywords: list[str]
    external_source: str | None
    external_id: str | None
    merged_into_id: int | None
    merged_alarm_ids: list[int] = []
    incident_id: int | None
    source_warning_id: int | None
    close_reason: str | None
    closed_at: dt.datetime | None
    created_by_name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    duplicates: list[DuplicateOut] | None = Field(None, description="on create and GET …/duplicates only")


class AlarmPage(BaseModel):
    items: list[AlarmOut]
    total: int = Field(description="matching alarms, counted up to 10,000 (see total_capped)")
    total_capped: bool = Field(False, description="more than `total` alarms match; narrow the filter to count them")
    page: int
    page_size: int
