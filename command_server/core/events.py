"""The event log: every state change is a row here, written in the same transaction as the change.

It is the incident timeline, the audit trail's companion and the replay log for realtime clients. Ids are
assigned under the write serialisation (see ``uow.py``), so they are gap-free and commit in id order: a
reader that has seen id N has seen everything before N.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, UtcDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str | None] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Socket.IO rooms entitled to see it: "all", "role:<r>", "user:<id>", "org:<unit>", "incident:<id>".
    audience: Mapped[list[str]]
    payload: Mapped[dict[str, Any]]


class ActorRef(BaseModel):
    id: int | None
    username: str


class EventOut(BaseModel):
    id: int
    type: str
    at: dt.datetime
    actor: ActorRef | None
    subject_type: str | None
    subject_id: str | None
    incident_id: int | None
    payload: dict[str, Any]


def event_out(e: Event) -> dict[str, Any]:
    """Plain JSON-ready dict: the one wire shape for REST listings and Socket.IO pushes."""
    return {
        "id": e.id,
        "type": e.type,
        "at": e.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "actor": {"id": e.actor_id, "username": e.actor_name} if e.actor_name else None,
        "subject_type": e.subject_type,
        "subject_id": e.subject_id,
        "incident_id": e.incident_id,
        "payload": e.payload,
    }


async def events_after(session: AsyncSession, after_id: int, limit: int, upto_id: int | None = None) -> list[Event]:
    q = select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit)
    if upto_id is not None:
        q = q.where(Event.id <= upto_id)
    return list((await session.scalars(q)).all())
