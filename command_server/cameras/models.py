from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Encrypted
from ..core.db import Base, UtcDateTime, utcnow


class Camera(Base):
    """One video source in the device catalogue (a fixed camera, a PTZ dome, a 布控球, a body cam, …).

    ``url`` never carries credentials: user and password given inside a URL are moved to ``username`` and
    ``password`` (SM4-encrypted at rest, never returned by the API, never logged). Coordinates are WGS-84.
    ``status`` is what the media gateway last reported (online/offline) or ``unknown`` before any report.
    """

    __tablename__ = "cameras"
    __table_args__ = (
        UniqueConstraint("name", name="uq_cameras_name"),
        Index("ix_cameras_unit_kind", "unit_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    protocol: Mapped[str] = mapped_column(String(16), default="rtsp")
    url: Mapped[str] = mapped_column(String(500))
    transport: Mapped[str] = mapped_column(String(4), default="tcp")
    username: Mapped[str | None] = mapped_column(String(100), nullable=True)
    password: Mapped[str | None] = mapped_column(Encrypted, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    # The map feature the camera watches (a risk source, an intake, a section); another domain's id, no FK.
    feature_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    # none | continuous | emergency (emergency: only what an operator starts)
    recording_mode: Mapped[str] = mapped_column(String(16), default="emergency")
    # continuous recording windows: [{"days": [1..7], "start": "HH:MM", "end": "HH:MM"}] in Asia/Shanghai;
    # empty = around the clock
    recording_schedule: Mapped[list[Any]] = mapped_column(JSON, default=list)
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    transcode_h265: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(10), default="unknown", index=True)
    status_detail: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # the last successful connection test: codec, width, height, fps, bitrate_kbps, first_packet_ms, has_audio
    media_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class CameraRecording(Base):
    """One recorded MP4 segment (the recordings index), written when the gateway closes a segment.

    ``camera_id`` is a plain integer: a recording outlives the deletion of its camera until retention removes
    it. Segments of one recording share ``recording_id``; a camera drop ends a segment and the recording
    resumes in a new one, so a gap between two rows is a gap in the picture.
    """

    __tablename__ = "camera_recordings"
    __table_args__ = (
        Index("ix_camera_recordings_camera_start", "camera_id", "start_at"),
        Index("ix_camera_recordings_start", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(Integer)
    camera_name: Mapped[str] = mapped_column(String(100), default="")
    recording_id: Mapped[str] = mapped_column(String(64), index=True)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    # an emergency recording is kept past retention until someone releases it
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    path: Mapped[str] = mapped_column(String(1000))
    start_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    has_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CameraTour(Base):
    """A tour (监控轮询): cameras shown one after another (or a wall page after another) for ``dwell_s`` each."""

    __tablename__ = "camera_tours"
    __table_args__ = (UniqueConstraint("name", name="uq_camera_tours_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    dwell_s: Mapped[int] = mapped_column(Integer, default=15)
    # wall layout used when the tour plays on the whole wall: 1 | 4 | 9 | 16
    layout: Mapped[str] = mapped_column(String(8), default="4")
    camera_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_name: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class WallLayout(Base):
    """A saved video-wall layout: a grid (1/4/9/16/1+5/1+7) and the camera in each cell.

    ``user_id`` null = shared with everyone (the demo's default wall); otherwise the owner's own.
    """

    __tablename__ = "camera_wall_layouts"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_camera_wall_layouts_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    name: Mapped[str] = mapped_column(String(100))
    layout: Mapped[str] = mapped_column(String(8), default="4")
    cells: Mapped[list[int | None]] = mapped_column(JSON, default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
