from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Encrypted
from ..core.db import Base, UtcDateTime, utcnow


class Alarm(Base):
    """One report of a (possible) environmental emergency, from any channel.

    Coordinates are WGS-84 whatever the caller sent. ``event_at`` is the best-known time of the event
    (occurred_at, else received_at): duplicate suggestion compares it, so it is a column with an index.
    ``incident_id`` is a plain integer, not a foreign key: incidents are another domain's table and an alarm
    must not depend on its presence; ``link_to_incident`` is the only writer.
    """

    __tablename__ = "alarms"
    __table_args__ = (
        # An external system's retry must never create a second alarm: check first, this closes the race.
        UniqueConstraint("external_source", "external_id", name="uq_alarms_external"),
        Index("ix_alarms_type_status_event_at", "event_type", "status", "event_at"),
        # The list's usual pages: open alarms newest first, and one type over a time range (bench/api_latency.py).
        Index("ix_alarms_status_received", "status", "received_at", "id"),
        Index("ix_alarms_type_received", "event_type", "received_at"),
        Index("ix_alarms_district_received", "district_unit_id", "received_at"),
        # A district's open alarms: the page's count reads only this index (PostgreSQL: 22 → 2 ms for 4,500
        # hits, where the index above read 17,000 heap rows to test their status).
        Index("ix_alarms_district_status_received", "district_unit_id", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(24), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")
    event_type: Mapped[str] = mapped_column(String(24))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    event_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    pollutant: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pollutant_cas: Mapped[str | None] = mapped_column(String(32), nullable=True)
    description: Mapped[str] = mapped_column(Text)
    reporter_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reporter_phone: Mapped[str | None] = mapped_column(Encrypted, nullable=True)
    reporter_phone_masked: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attachments: Mapped[list[int]] = mapped_column(JSON, default=list)
    district_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"),
                                                         nullable=True, index=True)
    district_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    routed_to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"),
                                                          nullable=True, index=True)
    # Public-opinion screening of complaints (ALM-5): matched keywords/categories, flag editable by staff.
    opinion_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    opinion_keywords: Mapped[list[str]] = mapped_column(default=list)
    external_source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id", ondelete="SET NULL"),
                                                       nullable=True, index=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    source_warning_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    close_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_name: Mapped[str] = mapped_column(String(80), default="")
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
