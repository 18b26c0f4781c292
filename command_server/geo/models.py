from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import Base, UtcDateTime, utcnow


class MapFeature(Base):
    """One object on a map layer (a school, a depot, a chemical plant, a water intake, a district).

    ``geometry`` is a GeoJSON geometry in WGS-84; searches never read this table: they use the
    process-wide spatial index loaded at start and kept current from ``map_feature.*`` events.
    """

    __tablename__ = "map_features"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    geometry: Mapped[dict[str, Any]]
    properties: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class River(Base):
    """A river reach: a LineString in flow direction with its hydraulics (velocity_ms, width_m, depth_m,
    dispersion_m2s) in ``properties``."""

    __tablename__ = "rivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    geometry: Mapped[dict[str, Any]]
    properties: Mapped[dict[str, Any]]
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
