"""Organisation and contacts: units as a tree, people with pinyin search, sensitive fields protected."""

from __future__ import annotations

from sqlalchemy import select

from ..core.realtime import base_rooms
from ..core.security import Actor
from ..core.services import Services
from .models import Person


async def rooms_for(svc: Services, actor: Actor) -> list[str]:
    """Socket.IO rooms a user is entitled to: base rooms plus their unit's room."""
    rooms = base_rooms(actor)
    async with svc.db.read() as s:
        unit_id = await s.scalar(select(Person.unit_id).where(Person.user_id == actor.user_id))
    if unit_id is not None:
        rooms.append(f"org:{unit_id}")
    return rooms
