from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import Base, UtcDateTime, utcnow


class SimulationRun(Base):
    """One dispersion or river-spill run, kept for the incident record.

    ``incident_id`` has no foreign key yet: incidents arrive with a later issue.
    """

    __tablename__ = "simulation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # plume | puff | river
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    inputs: Mapped[dict[str, Any]]
    summary: Mapped[dict[str, Any]]
    zones: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # GeoJSON FeatureCollection
    details: Mapped[dict[str, Any]]  # affected features, river curves: the rest of the result
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
