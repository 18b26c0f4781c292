from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Category = Literal["water", "air", "meteorology", "risk_source"]
MAX_BATCH = 20_000


class _Strict(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


def _aware(v: dt.datetime | None, name: str) -> dt.datetime | None:
    if v is not None and v.tzinfo is None:
        raise ValueError(f"{name} must include a time-zone offset (e.g. 2026-03-16T08:00:00+08:00)")
    return v


class ReadingsIn(BaseModel):
    """Rows are checked one by one (a bad row is reported, the others are stored)."""

    model_config = ConfigDict(extra="forbid")
    readings: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH, description=(
        "[{source_id, metric, at (ISO-8601 with offset), value (finite number)}]"))


class RowError(BaseModel):
    index: int
    source_id: Any = None
    metric: Any = None
    error: str


class IngestOut(BaseModel):
    received: int
    accepted: int
    inserted: int
    duplicates: int
    rejected: list[RowError]
    warnings_opened: list[int]


class SourceIn(_Strict):
    map_feature_id: int = Field(ge=1, description="a feature of layer stations or risk_sources")
    code: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str | None = Field(None, min_length=1, max_length=200, description="default: the feature's name")
    metrics: list[str] | None = Field(None, max_length=40, description="default: the kind's usual metrics")
    active: bool = True


class SourcePatch(_Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    metrics: list[str] | None = Field(None, min_length=1, max_length=40)
    active: bool | None = None


class SourcesQuery(_Strict):
    category: Category | None = None
    kind: str | None = Field(None, max_length=64)
    q: str | None = Field(None, max_length=100)
    limit: int = Field(500, ge=1, le=2000)


class MetricOut(BaseModel):
    code: str
    name: str
    name_en: str
    unit: str
    last_at: dt.datetime | None = None
    last_value: float | None = None


class SourceOut(BaseModel):
    id: int
    code: str
    name: str
    category: str
    feature_kind: str
    kind_label: str
    map_feature_id: int
    lon: float | None
    lat: float | None
    district: str | None
    address: str | None
    metrics: list[MetricOut]
    active: bool
    last_at: dt.datetime | None


class SourcesOut(BaseModel):
    items: list[SourceOut]
    total: int


class SeriesQuery(_Strict):
    source_id: int = Field(ge=1)
    metric: str = Field(min_length=1, max_length=32)
    from_: dt.datetime = Field(alias="from")
    to: dt.datetime
    points: int = Field(500, ge=2, le=5000, description="at most this many buckets")

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", populate_by_name=True)

    @field_validator("from_", "to")
    @classmethod
    def _tz(cls, v: dt.datetime) -> dt.datetime:
        return _aware(v, "from/to")  # type: ignore[return-value]

    @model_validator(mode="after")
    def _range(self) -> SeriesQuery:
        if self.to <= self.from_:
            raise ValueError("to must be after from")
        if self.to - self.from_ > dt.timedelta(days=366):
            raise ValueError("the range may span at most 366 days")
        return self


class SeriesPoint(BaseModel):
    t: dt.datetime = Field(description="bucket start")
    avg: float
    min: float
    max: float
    n: int


class ThresholdLine(BaseModel):
    rule_id: int
    name: str
    level: str
    op: str
    value: float


class SeriesOut(BaseModel):
    source_id: int
    source_name: str
    metric: str
    metric_name: str
    unit: str
    from_: dt.datetime = Field(serialization_alias="from")
    to: dt.datetime
    bucket_s: int
    raw_count: int
    points: list[SeriesPoint]
    thresholds: list[ThresholdLine]


class CatalogueMetric(BaseModel):
    code: str
    name: str
    name_en: str
    unit: str
