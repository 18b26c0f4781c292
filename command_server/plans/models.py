"""The plan library's tables: the current version of each plan, and every version as an immutable snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import Base, UtcDateTime, utcnow


class Plan(Base):
    """An emergency plan as structured data (CMD-2, PRE-6). The columns hold the current version; matching
    and search read them. ``search_tokens`` is jieba's token set with chemical synonyms (see ``text.py``)."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active | retired
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # comprehensive | special | department | enterprise
    issuing_unit: Mapped[str] = mapped_column(String(100))
    issuing_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    event_types: Mapped[list[str]]
    levels: Mapped[list[str]]
    pollutants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    district_unit_ids: Mapped[list[int]] = mapped_column(JSON)
    area_polygon: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    guide: Mapped[str] = mapped_column(Text, default="")
    notifications: Mapped[dict[str, Any]]
    resources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    attachment_ids: Mapped[list[int]] = mapped_column(JSON)
    search_tokens: Mapped[str] = mapped_column(Text, default=" ")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class PlanVersion(Base):
    """One saved version of a plan: the full content as it was, never changed afterwards."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]]
    change_note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
