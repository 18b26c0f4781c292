"""Warning rules (ALM-3) and the warnings they open (ALM-4), with per-recipient acknowledgement."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import Base, UtcDateTime, utcnow


class WarningRule(Base):
    __tablename__ = "warning_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # scope: every source of a feature kind (chemical_plant, water_station…) or one source
    scope_kind: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    scope_source_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_sources.id", ondelete="CASCADE"),
                                                        nullable=True, index=True)
    metric: Mapped[str] = mapped_column(String(32), index=True)
    # threshold | sustained | rate | missing
    kind: Mapped[str] = mapped_column(String(16))
    op: Mapped[str | None] = mapped_column(String(2), nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    sustain_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sustain_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate_per: Mapped[str | None] = mapped_column(String(8), nullable=True)  # minute | hour
    missing_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    level: Mapped[str] = mapped_column(String(8))  # blue | yellow | orange | red
    responsible_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    responsible_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"),
                                                            nullable=True)
    notify_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    escalate_after_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    escalate_to_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    escalate_to_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class WarningRecord(Base):
    __tablename__ = "warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("warning_rules.id", ondelete="SET NULL"), nullable=True,
                                                index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_sources.id", ondelete="SET NULL"),
                                                  nullable=True, index=True)
    # "<rule>:<source>" while not closed, NULL once closed: the unique index is the guard that two writers
    # (two requests, two processes) never open the same warning twice
    open_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    state: Mapped[str] = mapped_column(String(8), index=True)  # open | acked | closed
    level: Mapped[str] = mapped_column(String(8), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    source_name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    op: Mapped[str | None] = mapped_column(String(2), nullable=True)
    unit: Mapped[str] = mapped_column(String(16), default="")
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    observed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    acked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acked_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    close_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    alarm_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class WarningRecipient(Base):
    """Who was told about a warning, why (responsible | duty | escalation) and when they acknowledged."""

    __tablename__ = "warning_recipients"

    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    notified_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    acked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
