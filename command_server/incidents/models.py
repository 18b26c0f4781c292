"""Incidents (CMD-1), their reports upward and their tasks.

The timeline is not a table: it is the event log (``core.events.Event`` rows whose ``incident_id`` is the
incident's id). Notes, forwards and level decisions live only there; what must be queried (state, level,
figures, reports, tasks) has columns here.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import Base, UtcDateTime, utcnow


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # The list's pages by state, and by type and level, newest first without sorting (bench/api_latency.py).
        Index("ix_incidents_state_created", "state", "created_at", "id"),
        Index("ix_incidents_type_level_created", "type", "level", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    # water | air | soil | hazchem_leak | hazardous_waste | radiation | fire_explosion | other (as alarms)
    type: Mapped[str] = mapped_column(String(24), index=True)
    # Confirmed level "I".."IV" (null until an operator confirms), the suggestion from the 2014 national plan
    # table and the reason given when the confirmed level differs from the suggestion.
    level: Mapped[str | None] = mapped_column(String(4), nullable=True, index=True)
    level_suggested: Mapped[str | None] = mapped_column(String(4), nullable=True)
    level_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True, default="reported")
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    district_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"),
                                                         nullable=True, index=True)
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True,
                                                     index=True)
    pollutant: Mapped[str | None] = mapped_column(String(200), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Casualty and impact figures: the criteria of the level table.
    deaths: Mapped[int] = mapped_column(Integer, default=0)
    poisoned_or_injured: Mapped[int] = mapped_column(Integer, default=0)
    evacuated: Mapped[int] = mapped_column(Integer, default=0)
    direct_loss_cny: Mapped[int] = mapped_column(BigInteger, default=0)
    water_intake_cutoff: Mapped[str | None] = mapped_column(String(16), nullable=True)  # township|county|city
    radiation: Mapped[str | None] = mapped_column(String(40), nullable=True)
    cross_boundary: Mapped[str | None] = mapped_column(String(16), nullable=True)
    alarm_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    forwarded_unit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    plan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # set when a response is started
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"),
                                                       nullable=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    state_changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    # Reports upward: when the initial report was filed, and when its overdue warning was raised (once).
    initial_report_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    report_overdue_notified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class IncidentReport(Base):
    """A report to the next level of government: initial (首报), follow-up (续报) or final (终报)."""

    __tablename__ = "incident_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # initial | follow_up | final
    content: Mapped[str] = mapped_column(Text)
    file_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    level_at_submit: Mapped[str | None] = mapped_column(String(4), nullable=True)
    due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    submitted_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    submitted_by_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Task(Base):
    """One piece of work in the response: from a plan step or added by hand."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                         nullable=True, index=True)
    assignee_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"),
                                                         nullable=True, index=True)
    assignee_role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    plan_step_order: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str] = mapped_column(String(8), default="manual")  # plan | manual
    status: Mapped[str] = mapped_column(String(8), default="todo", index=True)  # todo | doing | done
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)
    feedback_file_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
