"""Validated input and output of the cameras domain.

An RTSP URL must be ``rtsp://`` or ``rtsps://`` with a host; credentials written into the URL are taken out
of it (into ``username``/``password``) so the stored and returned URL never carries a secret. Naive
date-times are read as Asia/Shanghai (what an operator types); everything is stored and returned in UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

KINDS: dict[str, str] = {
    "fixed": "固定摄像机",
    "ptz_dome": "云台球机",
    "deployable_ball": "布控球",
    "body_cam": "执法记录仪",
    "vehicle": "车载摄像机",
    "drone": "无人机",
}
PROTOCOLS: dict[str, str] = {"rtsp": "RTSP", "gb28181": "GB/T 28181"}
RECORDING_MODES: dict[str, str] = {"none": "不录像", "continuous": "连续录像", "emergency": "仅紧急录像"}
STATUSES: dict[str, str] = {"online": "在线", "offline": "离线", "unknown": "未知"}
# layout → number of cells; "1+5" and "1+7" have one large main picture
LAYOUTS: dict[str, int] = {"1": 1, "4": 4, "9": 9, "16": 16, "1+5": 6, "1+7": 8}
TOUR_LAYOUTS = ("1", "4", "9", "16")

Kind = Literal["fixed", "ptz_dome", "deployable_ball", "body_cam", "vehicle", "drone"]
Protocol = Literal["rtsp", "gb28181"]
Transport = Literal["tcp", "udp"]
RecordingMode = Literal["none", "continuous", "emergency"]
Status = Literal["online", "offline", "unknown"]
Layout = Literal["1", "4", "9", "16", "1+5", "1+7"]

MAX_TAGS = 20
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_SDP_MAX = 64_000


def to_utc(v: dt.datetime | None) -> dt.datetime | None:
    if v is None:
        return None
    if v.tzinfo is None:
        v = v.replace(tzinfo=LOCAL_TZ)
    return v.astimezone(dt.UTC)


def split_rtsp_url(raw: str) -> tuple[str, str | None, str | None]:
    """(URL without credentials, username, password) of an rtsp:// or rtsps:// URL; ValueError otherwise."""
    url = raw.strip()
    if not url:
        raise ValueError("the URL must not be blank")
    if any(c.isspace() for c in url):
        raise ValueError("the URL must not contain spaces")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError:
        raise ValueError("the URL is malformed") from None
    if parts.scheme.lower() not in ("rtsp", "rtsps"):
        raise ValueError("an RTSP URL must start with rtsp:// or rtsps://")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{port}" if port is not None else "")
    clean = urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, ""))
    if len(clean) > 500:
        raise ValueError("the URL is longer than 500 characters")
    return clean, user or None, password or None


class ScheduleWindow(BaseModel):
    """A weekly window for continuous recording (Asia/Shanghai); ``end`` before ``start`` runs past midnight."""

    model_config = ConfigDict(extra="forbid")

    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], description="ISO weekdays, 1 = Monday")
    start: str = Field("00:00", description="HH:MM")
    end: str = Field("24:00", description="HH:MM, or 24:00")

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("at least one weekday")
        if any(d < 1 or d > 7 for d in v):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return sorted(set(v))

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        v = v.strip()
        if v != "24:00" and not _HHMM.match(v):
            raise ValueError("times are HH:MM")
        return v


def _clean_tags(v: list[str] | None) -> list[str] | None:
    if v is None:
        return None
    out: list[str] = []
    for t in v:
        t = re.sub(r"\s+", " ", str(t).strip())
        if not t:
            continue
        if len(t) > 40:
            raise ValueError("a tag is at most 40 characters")
        if t not in out:
            out.append(t)
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return out


class _CameraFields(BaseModel):
    """Rules shared by create and edit."""

    @field_validator("name", "address", "username", "description", mode="before", check_fields=False)
    @classmethod
    def _strip(cls, v: object) -> object:
        if isinstance(v, str):
            v = re.sub(r"[ \t]+", " ", v.strip())
            return v or None
        return v

    @field_validator("tags", check_fields=False)
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return _clean_tags(v)

    @model_validator(mode="after")
    def _url_and_place(self) -> Any:
        values = self.__dict__
        if values.get("url") is not None:
            clean, user, password = split_rtsp_url(values["url"])
            values["url"] = clean
            if user is not None:
                if values.get("username") not in (None, user):
                    raise ValueError("the URL names a different user than the username field")
                values["username"] = user
                self.model_fields_set.add("username")
            if password is not None:
                if values.get("password") not in (None, "", password):
                    raise ValueError("the URL carries a different password than the password field")
                values["password"] = password
                self.model_fields_set.add("password")
        if ("lon" in values or "lat" in values) and (values.get("lon") is None) != (values.get("lat") is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class CameraIn(_CameraFields):
    """A new camera. Required: ``name``, ``kind`` and an RTSP ``url``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    kind: Kind = "fixed"
    protocol: Literal["rtsp"] = Field("rtsp", description="rtsp now; gb28181 devices come with their own issue")
    url: str = Field(max_length=1000, description="rtsp:// or rtsps://; credentials in it move to the fields")
    transport: Transport = "tcp"
    username: str | None = Field(None, max_length=100)
    password: str | None = Field(None, max_length=128, description="write-only; stored SM4-encrypted")
    lon: float | None = Field(None, ge=-180, le=180, description="WGS-84")
    lat: float | None = Field(None, ge=-90, le=90, description="WGS-84")
    address: str | None = Field(None, max_length=300)
    unit_id: int | None = Field(None, ge=1)
    feature_id: int | None = Field(None, ge=1, description="the map feature the camera watches")
    tags: list[str] = Field(default_factory=list)
    recording_mode: RecordingMode = "emergency"
    recording_schedule: list[ScheduleWindow] = Field(default_factory=list, max_length=50)
    retention_days: int = Field(30, ge=1, le=3650)
    transcode_h265: bool = Field(False, description="transcode H.265 to H.264 for viewers (costs CPU)")
    enabled: bool = True
    description: str | None = Field(None, max_length=2000)


class CameraPatchIn(_CameraFields):
    """Change some fields; ``password`` null or "" clears it, an absent ``password`` keeps it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    kind: Kind | None = None
    url: str | None = Field(None, max_length=1000)
    transport: Transport | None = None
    username: str | None = Field(None, max_length=100)
    password: str | None = Field(None, max_length=128)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    address: str | None = Field(None, max_length=300)
    unit_id: int | None = Field(None, ge=1)
    feature_id: int | None = Field(None, ge=1)
    tags: list[str] | None = None
    recording_mode: RecordingMode | None = None
    recording_schedule: list[ScheduleWindow] | None = Field(None, max_length=50)
    retention_days: int | None = Field(None, ge=1, le=3650)
    transcode_h265: bool | None = None
    enabled: bool | None = None
    description: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _not_null(self) -> CameraPatchIn:
        for name in ("name", "kind", "url", "transport", "tags", "recording_mode", "recording_schedule",
                     "retention_days", "transcode_h265", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class CameraOut(BaseModel):
    id: int
    name: str
    kind: str
    protocol: str
    url: str
    transport: str
    username: str | None = Field(None, description="only for callers who may edit cameras")
    has_password: bool
    lon: float | None
    lat: float | None
    address: str | None
    unit_id: int | None
    unit_name: str | None
    feature_id: int | None
    tags: list[str]
    recording_mode: str
    recording_schedule: list[dict[str, Any]]
    retention_days: int
    transcode_h265: bool
    enabled: bool
    status: str
    status_detail: str | None
    status_changed_at: dt.datetime | None
    last_seen: dt.datetime | None
    media_info: dict[str, Any]
    description: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class CameraPage(BaseModel):
    items: list[CameraOut]
    total: int
    page: int
    page_size: int


class CameraQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(None, max_length=100, description="name, address or tag contains")
    kind: list[Kind] | None = None
    status: list[Status] | None = None
    unit_id: int | None = None
    tag: str | None = Field(None, max_length=40)
    enabled: bool | None = None
    ids: list[int] | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(500, ge=1, le=2000)


class ProbeIn(BaseModel):
    """Connection test of a URL that is not saved yet."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=1000)
    transport: Transport = "tcp"
    username: str | None = Field(None, max_length=100)
    password: str | None = Field(None, max_length=128)
    timeout_s: float = Field(5.0, ge=0.5, le=30)

    @model_validator(mode="after")
    def _url(self) -> ProbeIn:
        clean, user, password = split_rtsp_url(self.url)
        self.url = clean
        self.username = self.username or user
        self.password = self.password or password
        return self


class ProbeOut(BaseModel):
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None
    first_packet_ms: float | None = None
    has_audio: bool | None = None


class SdpIn(BaseModel):
    """A WebRTC SDP offer (JSON form; ``application/sdp`` bodies are accepted as well)."""

    model_config = ConfigDict(extra="ignore")

    sdp: str = Field(min_length=10, max_length=_SDP_MAX)

    @field_validator("sdp")
    @classmethod
    def _sdp(cls, v: str) -> str:
        if not v.lstrip().startswith("v=0"):
            raise ValueError("not an SDP offer (it must start with v=0)")
        return v


class WebRTCOut(BaseModel):
    session_id: str
    sdp: str
    type: str = "answer"
    location: str


class SnapshotOut(BaseModel):
    camera_id: int
    taken_at: dt.datetime
    file_id: int
    sha256: str
    size: int
    content_type: str
    filename: str
    url: str
    width: int | None = None
    height: int | None = None


class RecordingStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_s: float | None = Field(None, ge=1, le=24 * 3600, description="stop by itself after this long")


class RecordingSessionOut(BaseModel):
    recording_id: str
    camera_id: int
    started_at: dt.datetime
    duration_s: float | None
    location: str


class RecordingOut(BaseModel):
    id: int
    camera_id: int
    camera_name: str
    recording_id: str
    emergency: bool
    released: bool
    start_at: dt.datetime
    end_at: dt.datetime
    duration_s: float
    size: int
    has_audio: bool
    download_url: str


class GapOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    seconds: float


class RecordingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    camera_id: int | None = None
    from_: dt.datetime | None = Field(None, alias="from", description="naive = Asia/Shanghai")
    to: dt.datetime | None = None
    emergency: bool | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(500, ge=1, le=5000)

    @field_validator("from_", "to")
    @classmethod
    def _utc(cls, v: dt.datetime | None) -> dt.datetime | None:
        return to_utc(v)

    @model_validator(mode="after")
    def _order(self) -> RecordingQuery:
        if self.from_ and self.to and self.to <= self.from_:
            raise ValueError("to must be later than from")
        return self


class RecordingPage(BaseModel):
    items: list[RecordingOut]
    total: int
    page: int
    page_size: int
    gaps: list[GapOut] = Field(default_factory=list,
                               description="with camera_id and a time range: stretches without a recording")


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: dt.datetime = Field(alias="from", description="naive = Asia/Shanghai")
    to: dt.datetime

    @field_validator("from_", "to")
    @classmethod
    def _utc(cls, v: dt.datetime) -> dt.datetime:
        out = to_utc(v)
        assert out is not None
        return out

    @model_validator(mode="after")
    def _order(self) -> TimeRange:
        if self.to <= self.from_:
            raise ValueError("to must be later than from")
        if self.to - self.from_ > dt.timedelta(hours=24):
            raise ValueError("a range is at most 24 hours")
        return self


class PlaybackIn(TimeRange):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sdp: str = Field(min_length=10, max_length=_SDP_MAX)
    speed: float = Field(1.0, ge=0.25, le=16)

    @field_validator("sdp")
    @classmethod
    def _sdp(cls, v: str) -> str:
        if not v.lstrip().startswith("v=0"):
            raise ValueError("not an SDP offer (it must start with v=0)")
        return v


class PlaybackOut(BaseModel):
    session_id: str
    sdp: str
    type: str = "answer"
    camera_id: int
    start: dt.datetime
    end: dt.datetime
    speed: float
    segments: int
    location: str


class PlaybackControlIn(BaseModel):
    """``pause``/``resume``; ``seek`` (value: a date-time to jump to, naive = Asia/Shanghai, or seconds from the
    session's start); ``speed`` (value: 0.25–16)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["pause", "resume", "seek", "speed"]
    value: float | dt.datetime | None = None

    @model_validator(mode="after")
    def _value(self) -> PlaybackControlIn:
        if self.action == "seek":
            if isinstance(self.value, dt.datetime):
                self.value = to_utc(self.value)
            elif not isinstance(self.value, (int, float)) or self.value < 0:
                raise ValueError("seek needs value: a date-time, or seconds from the start (≥ 0)")
        elif self.action == "speed":
            if not isinstance(self.value, (int, float)) or not 0.25 <= float(self.value) <= 16:
                raise ValueError("speed needs value: a number from 0.25 to 16")
            self.value = float(self.value)
        else:
            self.value = None
        return self


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    errors: list[dict[str, Any]]


# --- tours and wall layouts ---------------------------------------------------------------------------------


def _unique_ids(v: list[int] | None) -> list[int] | None:
    if v is None:
        return None
    if any(i <= 0 for i in v):
        raise ValueError("camera ids are positive integers")
    return list(dict.fromkeys(v))


class TourIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    dwell_s: int = Field(15, ge=3, le=3600, description="seconds per camera (cell) or per wall page")
    layout: Literal["1", "4", "9", "16"] = "4"
    camera_ids: list[int] = Field(min_length=1, max_length=256)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("name must not be blank")
        return v

    @field_validator("camera_ids")
    @classmethod
    def _ids(cls, v: list[int]) -> list[int]:
        out = _unique_ids(v)
        assert out is not None
        return out


class TourPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    dwell_s: int | None = Field(None, ge=3, le=3600)
    layout: Literal["1", "4", "9", "16"] | None = None
    camera_ids: list[int] | None = Field(None, min_length=1, max_length=256)

    @field_validator("camera_ids")
    @classmethod
    def _ids(cls, v: list[int] | None) -> list[int] | None:
        return _unique_ids(v)

    @model_validator(mode="after")
    def _not_null(self) -> TourPatchIn:
        for name in ("name", "dwell_s", "layout", "camera_ids"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.name is not None:
            self.name = self.name.strip()
            if not self.name:
                raise ValueError("name must not be blank")
        return self


class TourOut(BaseModel):
    id: int
    name: str
    description: str | None
    dwell_s: int
    layout: str
    camera_ids: list[int]
    created_by_name: str
    created_at: dt.datetime
    updated_at: dt.datetime


class WallLayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    layout: Layout = "4"
    cells: list[int | None] = Field(default_factory=list, description="camera id per cell, null = empty")
    is_default: bool = False
    shared: bool = Field(False, description="visible to everyone (needs the camera write permission)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("name must not be blank")
        return v

    @model_validator(mode="after")
    def _cells(self) -> WallLayoutIn:
        n = LAYOUTS[self.layout]
        if len(self.cells) > n:
            raise ValueError(f"layout {self.layout} has {n} cells, {len(self.cells)} given")
        if any(c is not None and c <= 0 for c in self.cells):
            raise ValueError("camera ids are positive integers")
        self.cells = list(self.cells) + [None] * (n - len(self.cells))
        return self


class WallLayoutOut(BaseModel):
    id: int
    name: str
    layout: str
    cells: list[int | None]
    is_default: bool
    shared: bool
    mine: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class MediaUnavailableOut(BaseModel):
    available: bool
    reason: str | None
