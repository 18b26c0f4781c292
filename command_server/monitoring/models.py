"""Monitoring sources (stations and risk-source monitors) and their time series.

Where a source is comes from its map feature (layers ``stations`` / ``risk_sources``); this table only links
to it (``map_feature_id``) and says which metrics the source reports.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import Base, UtcDateTime, utcnow


class MonitoringSource(Base):
    __tablename__ = "monitoring_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # water | air | meteorology | risk_source
    category: Mapped[str] = mapped_column(String(20), index=True)
    # the linked map feature and its kind (air_station, water_station, met_station, chemical_plant, …);
    # the kind is copied so that rules per risk-source type match without reading the map
    map_feature_id: Mapped[int] = mapped_column(ForeignKey("map_features.id", ondelete="RESTRICT"), unique=True)
    feature_kind: Mapped[str] = mapped_column(String(64), index=True)
    metrics: Mapped[list[str]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Reading(Base):
    """One value of one metric at one time. The primary key (source_id, metric, at) is the series index and
    makes a re-sent reading a no-op.

    No foreign key to the source, on purpose: PostgreSQL checks a foreign key with a trigger per inserted row,
    and for a 500-row batch that was 2.9–3.4 ms of the INSERT's 7.6 ms (``EXPLAIN ANALYZE``, docs/performance.md,
    seventh round) — time the ingest spends holding the write lock. The guarantee is kept per batch instead:
    the same transaction upserts ``MetricState`` for every (source, metric) it stores, and that table's key
    does reference the source, so a batch for a deleted source fails as a whole, and a source being deleted
    waits for a batch in flight to commit (its row lock). ``delete_source`` deletes the readings after the
    source row, so readings committed while it waited are deleted too."""

    __tablename__ = "monitoring_readings"

    source_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class MetricState(Base):
    """The newest reading per (source, metric): what the missing-data check and the station list read."""

    __tablename__ = "monitoring_metric_state"

    source_id: Mapped[int] = mapped_column(ForeignKey("monitoring_sources.id", ondelete="CASCADE"),
                                           primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_value: Mapped[float] = mapped_column(Float)
