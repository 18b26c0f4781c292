"""Reading the event log over REST: the history a client loads before it connects its socket."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import select

from ..core.api import Ctx, RouteTable
from ..core.events import Event, EventOut, event_out
from ..core.realtime import base_rooms
from ..core.services import services

routes = RouteTable("events")


class EventsQuery(BaseModel):
    after: int | None = Field(None, ge=0, description="only events with a larger id, oldest first")
    before: int | None = Field(None, ge=1, description="only events with a smaller id, newest first")
    limit: int = Field(100, ge=1, le=1000)
    type: str | None = Field(None, max_length=64, description="event type prefix, e.g. 'person.'")
    incident_id: int | None = None


class EventsPage(BaseModel):
    items: list[EventOut]
    last_id: int


@routes.get("/api/v1/events", perm="events:read", query=EventsQuery, response=EventsPage)
async def list_events(ctx: Ctx) -> dict[str, object]:
    """Events the caller is entitled to see, by id cursor."""
    q: EventsQuery = ctx.query
    svc = services(ctx.app)
    rooms = set(await svc.realtime.room_resolver(ctx.user) if svc.realtime and svc.realtime.room_resolver
                else base_rooms(ctx.user))
    stmt = select(Event)
    if q.type:
        stmt = stmt.where(Event.type.startswith(q.type, autoescape=True))
    if q.incident_id is not None:
        stmt = stmt.where(Event.incident_id == q.incident_id)
    if q.after is not None:
        stmt = stmt.where(Event.id > q.after).order_by(Event.id)
    else:
        if q.before is not None:
            stmt = stmt.where(Event.id < q.before)
        stmt = stmt.order_by(Event.id.desc())
    items: list[dict[str, object]] = []
    # Audience filtering happens here (not in SQL) because it is a set intersection on a JSON list; read in
    # pages until the page is full so a user with few entitled events still gets a full page.
    offset = 0
    async with svc.db.read() as s:
        while len(items) < q.limit:
            rows = (await s.scalars(stmt.limit(q.limit * 2).offset(offset))).all()
            if not rows:
                break
            offset += len(rows)
            for e in rows:
                if rooms.intersection(e.audience):
                    items.append(event_out(e))
                    if len(items) == q.limit:
                        break
    return {"items": items, "last_id": svc.pump.cursor}
