"""Duty tables: shift templates, the roster (shifts and who fills them), the duty log and handovers.

A generated shift copies its times and position requirements from the template ("snapshot"), so editing a
template later never rewrites a roster that people have already been told about.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import Base, UtcDateTime, utcnow


class DutyTemplate(Base):
    """How a day is cut into shifts and who each shift needs (see ``schemas.ShiftDefIn``)."""

    __tablename__ = "duty_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # The units whose people are rostered by default (a generation request may override them).
    unit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    include_sub_units: Mapped[bool] = mapped_column(default=True)
    # [{key, name, start "HH:MM", end "HH:MM", positions: [{key, name, count, roles, lead}]}], Asia/Shanghai wall time
    shifts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    remark: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class DutyShift(Base):
    """One shift on one duty day of a roster; ``day`` is the Shanghai date the shift starts on."""

    __tablename__ = "duty_shifts"
    __table_args__ = (
        UniqueConstraint("template_id", "day", "shift_key", name="uq_duty_shifts_template_day_key"),
        Index("ix_duty_shifts_starts_ends", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("duty_templates.id", ondelete="RESTRICT"), index=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    shift_key: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    positions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # snapshot of the template's positions
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DutyAssignment(Base):
    """A person in a position of a shift.

    The person reference is RESTRICT: who was on duty is a record, so a person on a roster is taken off it
    (or the roster replaced) before they can leave the directory.
    """

    __tablename__ = "duty_assignments"
    __table_args__ = (UniqueConstraint("shift_id", "person_id", name="uq_duty_assignments_shift_person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shifts.id", ondelete="CASCADE"), index=True)
    position_key: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DutyLogEntry(Base):
    """Something the duty staff recorded during a shift (a call taken, an action, a handover remark)."""

    __tablename__ = "duty_log_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    category: Mapped[str] = mapped_column(String(16))  # intake | disposal | handover | other
    text: Mapped[str] = mapped_column(Text)
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("duty_shifts.id", ondelete="SET NULL"), nullable=True,
                                                 index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"), index=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DutyHandover(Base):
    """Notes from an outgoing shift to the next; closed when the incoming shift's leader acknowledges."""

    __tablename__ = "duty_handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shifts.id", ondelete="RESTRICT"), unique=True)
    to_shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shifts.id", ondelete="RESTRICT"), index=True)
    notes: Mapped[str] = mapped_column(Text)
    pending_items: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"),
                                                             nullable=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"),
                                                                  nullable=True)
    ack_remark: Mapped[str | None] = mapped_column(Text, nullable=True)
