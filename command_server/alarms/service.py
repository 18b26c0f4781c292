"""Alarm intake: create (with routing, duplicate suggestion and idempotent external intake), read, edit,
close, merge, and the hand-over to incidents.

Functions other domains call (their signatures are a contract):
- ``create_alarm_in(uow, data, source_warning_id=None)`` — inside the caller's unit of work;
- ``link_to_incident(uow, alarm_ids, incident_id)`` — marks alarms ``converted``.

Who hears about an alarm: every role that may read alarms, except complaints routed to a district, which go
to that district's room (``org:<unit>``), the supervising roles and the person who entered it — a district
must not be flooded with other districts' complaints and vice versa (ALM-5).
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import dispersion
import gis
from dispersion import UnknownChemicalError

from ..core.crypto import mask_phone
from ..core.db import utcnow
from ..core.errors import ApiError, conflict, not_found, unprocessable
from ..core.permissions import ROLE_PERMISSIONS
from ..core.security import Actor
from ..core.services import Services, services
from ..core.uow import AnyActor, UnitOfWork
from ..files.models import StoredFile
from ..geo.index import GEO_INDEX
from ..geo.service import convert_point
from ..org.models import Unit
from . import search as alarm_search
from . import settings
from .models import Alarm
from .schemas import (
    CHANNELS,
    COMPLAINT_CHANNELS,
    EVENT_TYPES,
    STATUSES,
    AlarmIn,
    AlarmPatchIn,
    AlarmQuery,
    CloseIn,
    MergeIn,
)

READER_AUDIENCE = sorted(f"role:{r}" for r, perms in ROLE_PERMISSIONS.items() if "alarms:read" in perms)
SUPERVISOR_AUDIENCE = ["role:admin", "role:commander"]
DISTRICT_LAYER = "districts"
TOTAL_CAP = 10_000  # list pages count matches up to this many
TEXT_HITS_WALK = 1_000  # a text search with more matches pages by walking the newest-first index (list_alarms)

# The app each database engine belongs to. ``create_alarm_in`` receives only a unit of work, yet routing
# needs that app's map index; the engine bound to the session identifies the app (tests run many apps in one
# process, so a single module global would pick the wrong one).
_APPS: weakref.WeakKeyDictionary[AsyncEngine, web.Application] = weakref.WeakKeyDictionary()


class UnitIds:
    """The unit a district feature names (``unit_id`` or ``unit_code``), remembered per app: every intake
    routes, units change rarely, and the lookup was one of the intake's two read round trips — each an
    event-loop turn, a few ms under load (``Server-Timing``, docs/performance.md, tenth round). Any unit event
    delivered by the pump forgets them all; an answer read while one arrived is not kept."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, object], int | None] = {}
        self.generation = 0

    async def on_events(self, batch: list[Any]) -> None:
        if any(ev.type.startswith("unit.") for ev in batch):
            self.ids.clear()
            self.generation += 1


UNIT_IDS: web.AppKey[UnitIds] = web.AppKey("alarm_unit_ids", UnitIds)


def register_app(app: web.Application) -> None:
    svc = services(app)
    for engine in (svc.db.engine, svc.db.read_engine, svc.db.write_engine):
        _APPS[engine] = app
    units = app[UNIT_IDS] = UnitIds()
    svc.pump.subscribe(units.on_events)


# --- output -------------------------------------------------------------------------------------------------


def alarm_out(a: Alarm, actor: AnyActor | None, **extra: Any) -> dict[str, Any]:
    """The one place that decides what a caller sees of an alarm (the reporter's phone is masked)."""
    can_see_phone = isinstance(actor, Actor) and actor.can("contacts:sensitive")
    return {
        "id": a.id, "channel": a.channel, "channel_label": CHANNELS.get(a.channel, a.channel),
        "event_type": a.event_type, "event_type_label": EVENT_TYPES.get(a.event_type, a.event_type),
        "status": a.status, "status_label": STATUSES.get(a.status, a.status),
        "received_at": a.received_at, "occurred_at": a.occurred_at, "address": a.address, "lon": a.lon,
        "lat": a.lat, "pollutant": a.pollutant, "pollutant_cas": a.pollutant_cas, "description": a.description,
        "reporter_name": a.reporter_name,
        "reporter_phone": a.reporter_phone if can_see_phone else a.reporter_phone_masked,
        "attachments": list(a.attachments or []), "district_unit_id": a.district_unit_id,
        "district_name": a.district_name, "routed_to_unit_id": a.routed_to_unit_id,
        "opinion_flag": a.opinion_flag, "opinion_keywords": list(a.opinion_keywords or []),
        "external_source": a.external_source, "external_id": a.external_id, "merged_into_id": a.merged_into_id,
        "incident_id": a.incident_id, "source_warning_id": a.source_warning_id, "close_reason": a.close_reason,
        "closed_at": a.closed_at, "created_by_name": a.created_by_name, "created_at": a.created_at,
        "updated_at": a.updated_at, **extra,
    }


def audience_for(a: Alarm, actor: AnyActor | None = None) -> list[str]:
    if a.routed_to_unit_id is None:
        return list(READER_AUDIENCE)
    out = [f"org:{a.routed_to_unit_id}", *SUPERVISOR_AUDIENCE]
    if actor is not None and actor.user_id is not None and actor.user_id > 0:
        out.append(f"user:{actor.user_id}")
    return out


def event_payload(a: Alarm, **extra: Any) -> dict[str, Any]:
    """What travels in events: enough for a live list row; never the reporter's phone."""
    return {"id": a.id, "channel": a.channel, "event_type": a.event_type, "status": a.status,
            "received_at": a.received_at.isoformat(), "address": a.address, "lon": a.lon, "lat": a.lat,
            "district_unit_id": a.district_unit_id, "district_name": a.district_name,
            "routed_to_unit_id": a.routed_to_unit_id, "opinion_flag": a.opinion_flag,
            "description": a.description[:200], **extra}


# --- helpers ------------------------------------------------------------------------------------------------


def _field_error(loc: list[str | int], message: str, type_: str = "value_error") -> ApiError:
    return unprocessable(message, [{"loc": ["body", *loc], "msg": message, "type": type_}])


def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Stored coordinates are WGS-84; a point picked on an AMap/Baidu base map is converted first."""
    x, y = convert_point(lon, lat, crs, "wgs84")
    return round(x, 7), round(y, 7)


def match_chemical(pollutant: str | None) -> str | None:
    """The CAS number of the chemical the free text names: exact name/alias/CAS, else the longest chemical
    name contained in the text (so "液氨储罐泄漏" finds ammonia when "液氨" is an alias)."""
    if not pollutant:
        return None
    try:
        return dispersion.get_chemical(pollutant).cas
    except UnknownChemicalError:
        pass
    text = pollutant.casefold()
    best: tuple[int, str] | None = None
    for c in dispersion.list_chemicals():
        for name in (c.name_zh, *c.aliases, c.name_en):
            if name and len(name) >= 2 and name.casefold() in text and (best is None or len(name) > best[0]):
                best = (len(name), c.cas)
    return best[1] if best else None


def screen_opinion(*texts: str | None) -> list[str]:
    """Public-opinion keywords found in a complaint, as "category:word"."""
    joined = " ".join(t for t in texts if t)
    return [f"{cat}:{w}" for cat, words in settings.OPINION_KEYWORDS.items() for w in words if w in joined]


@dataclass
class District:
    unit_id: int | None
    name: str


def _app_of(session: AsyncSession) -> web.Application | None:
    return _APPS.get(session.bind) if isinstance(session.bind, AsyncEngine) else None


async def _unit_id(session: AsyncSession, props: dict[str, Any]) -> int | None:
    if isinstance(props.get("unit_id"), int):
        key: tuple[str, object] = ("id", props["unit_id"])
    elif props.get("unit_code"):
        key = ("code", str(props["unit_code"]))
    else:
        return None
    app = _app_of(session)
    units = None if app is None else app.get(UNIT_IDS)
    if units is not None and key in units.ids:
        return units.ids[key]
    generation = units.generation if units is not None else 0
    column = Unit.id if key[0] == "id" else Unit.code
    unit_id = await session.scalar(select(Unit.id).where(column == key[1]))
    if units is not None and units.generation == generation:
        units.ids[key] = unit_id
    return unit_id


async def find_district(session: AsyncSession, lon: float, lat: float) -> District | None:
    """The district whose boundary contains the point, from the map's ``districts`` layer (the shared map
    index answers; a point on a border goes to the first by name). The unit comes from the feature's
    ``unit_id`` or ``unit_code`` property."""
    app = _app_of(session)
    index = None if app is None else app.get(GEO_INDEX)
    if index is None or DISTRICT_LAYER not in index.catalog.layer_names:
        return None
    inside = index.catalog.containing(lon, lat, layers=DISTRICT_LAYER)
    if not inside:
        return None
    return District(await _unit_id(session, inside[0].properties), inside[0].name)


async def _check_attachments(session: AsyncSession, ids: list[int]) -> None:
    if not ids:
        return
    found = set((await session.scalars(select(StoredFile.id).where(StoredFile.id.in_(ids)))).all())
    missing = [i for i in ids if i not in found]
    if missing:
        raise unprocessable("attachments do not exist; upload them first with POST /api/v1/files",
                            [{"loc": ["body", "attachments", ids.index(i)], "msg": f"file {i} does not exist",
                              "type": "not_found"} for i in missing])


def _set_phone(a: Alarm, phone: str | None) -> None:
    a.reporter_phone = phone
    a.reporter_phone_masked = mask_phone(phone)


async def _place(session: AsyncSession, a: Alarm) -> None:
    """District of the alarm's point; complaints are routed to it."""
    district = await find_district(session, a.lon, a.lat) if a.lon is not None and a.lat is not None else None
    a.district_unit_id = district.unit_id if district else None
    a.district_name = district.name if district else None
    a.routed_to_unit_id = a.district_unit_id if a.channel in COMPLAINT_CHANNELS else None


async def _find_external(session: AsyncSession, source: str, external_id: str) -> Alarm | None:
    return await session.scalar(select(Alarm).where(Alarm.external_source == source,
                                                    Alarm.external_id == external_id))


def _external_source(data: AlarmIn, actor: AnyActor) -> str | None:
    if data.external_source:
        return data.external_source
    name = actor.username or ""
    return name.removeprefix("apikey:") if name.startswith("apikey:") else None


# --- create -------------------------------------------------------------------------------------------------


async def prepare_alarm(s: AsyncSession, data: AlarmIn, actor: AnyActor, *,
                        source_warning_id: int | None = None) -> tuple[Alarm | None, Alarm | None]:
    """Validate, locate and route a new alarm without writing: (new transient alarm, None), or (None, the
    earlier alarm) when an external system's retry names an external id already stored.

    Everything here only reads (files, units, the map index, the chemical list), so the REST intake runs it
    on a read session *before* taking the write lock; ``insert_alarm`` then re-checks only what must be
    atomic (the external id)."""
    source = _external_source(data, actor)
    if data.external_id and not source:
        raise _field_error(["external_source"], "external_source is required with external_id")
    if data.external_id and source:
        existing = await _find_external(s, source, data.external_id)
        if existing is not None:
            return None, existing
    await _check_attachments(s, data.attachments)
    now = utcnow()
    lon = lat = None
    if data.lon is not None and data.lat is not None:
        lon, lat = to_wgs84(data.lon, data.lat, data.coord_system)
    channel = data.channel
    if channel == "hotline" and isinstance(actor, Actor) and "integration" in actor.roles:
        channel = "external"  # an API key that does not say otherwise is an external system
    received = data.received_at or now
    a = Alarm(channel=channel, status="open", event_type=data.event_type, received_at=received,
              occurred_at=data.occurred_at, event_at=data.occurred_at or received, address=data.address,
              lon=lon, lat=lat, pollutant=data.pollutant, pollutant_cas=match_chemical(data.pollutant),
              description=data.description, reporter_name=data.reporter_name, attachments=list(data.attachments),
              external_source=source if data.external_id else data.external_source,
              external_id=data.external_id, source_warning_id=source_warning_id,
              created_by_id=actor.user_id, created_by_name=actor.username, extra=dict(data.extra),
              opinion_flag=False, opinion_keywords=[])
    _set_phone(a, data.reporter_phone)
    await _place(s, a)
    if a.channel in COMPLAINT_CHANNELS:
        a.opinion_keywords = screen_opinion(a.description, a.address)
        a.opinion_flag = bool(a.opinion_keywords)
    return a, None


async def insert_alarm(uow: UnitOfWork, a: Alarm, *, recheck_external: bool) -> tuple[Alarm, bool]:
    """Write a prepared alarm and announce it. ``recheck_external``: the external-id lookup ran outside this
    transaction, so look again (another request may have stored the same external id meanwhile)."""
    s = uow.session
    actor = uow.actor
    if a.external_id and recheck_external and not uow.is_postgres:
        # SQLite: writers are serialised per process, so this check under the write lock cannot be raced.
        existing = await _find_external(s, a.external_source or "", a.external_id)
        if existing is not None:
            return existing, False
    if a.external_id and uow.is_postgres:
        # Two concurrent pushes of one external id: the loser's insert fails on the unique index after the
        # winner commits; a savepoint keeps the caller's transaction usable and we answer with the winner.
        try:
            async with s.begin_nested():
                s.add(a)
                await s.flush()
        except IntegrityError:
            existing = await _find_external(s, a.external_source or "", a.external_id)
            if existing is None:
                raise
            return existing, False
    else:
        s.add(a)
        await s.flush()
    uow.emit("alarm.created", subject_type="alarm", subject_id=a.id,
             payload=event_payload(a, source_warning_id=a.source_warning_id), audience=audience_for(a, actor))
    return a, True


async def create_alarm(uow: UnitOfWork, data: AlarmIn, *, source_warning_id: int | None = None
                       ) -> tuple[Alarm, bool]:
    """(alarm, created). ``created`` is False when an external system's retry found its earlier alarm."""
    a, existing = await prepare_alarm(uow.session, data, uow.actor, source_warning_id=source_warning_id)
    if a is None:
        assert existing is not None
        return existing, False
    return await insert_alarm(uow, a, recheck_external=False)


async def create_alarm_in(uow: UnitOfWork, data: AlarmIn, *, source_warning_id: int | None = None) -> Alarm:
    """Create an alarm inside the caller's unit of work (e.g. a warning turned into an alarm): validated,
    located, routed, and announced with ``alarm.created``. An external id seen before returns that alarm."""
    alarm, _ = await create_alarm(uow, data, source_warning_id=source_warning_id)
    return alarm


async def intake(svc: Services, actor: AnyActor, data: AlarmIn) -> tuple[dict[str, Any], bool]:
    """The REST intake: the alarm with its duplicate suggestions, and whether it was new.

    Validation, routing and the duplicate search read on one session *before* the write transaction (and, on
    SQLite, the process's one write lock), which only inserts the row and its event/audit records. The
    duplicates are searched before the insert, not after: the same answer (the new alarm is not its own
    duplicate) with one read session fewer — each is a round trip and an event-loop turn, and the read
    sessions were most of the intake's tail under load (docs/performance.md, seventh round). An alarm
    committed by another request in between is not suggested here; ``GET /alarms/{id}/duplicates`` finds it."""
    async with svc.db.read() as s:
        a, existing = await prepare_alarm(s, data, actor)
        dups = await duplicates_of(s, a) if a is not None else None
    if a is None:
        assert existing is not None
        async with svc.db.read() as s:
            return alarm_out(existing, actor, duplicates=await duplicates_of(s, existing)), False
    async with svc.write(actor) as uow:
        alarm, created = await insert_alarm(uow, a, recheck_external=True)
    if not created:  # SQLite: the same external id was stored by another request meanwhile
        async with svc.db.read() as s:
            dups = await duplicates_of(s, alarm)
    return alarm_out(alarm, actor, duplicates=dups), created


# --- duplicates ---------------------------------------------------------------------------------------------


# Built once (with bound values): constructing it per intake was ~0.3 ms of the loop's CPU.
_DUPLICATE_CANDIDATES = (
    select(Alarm).where(Alarm.event_type == bindparam("type"), Alarm.status == "open", Alarm.id != bindparam("self"),
                        Alarm.event_at >= bindparam("t0"), Alarm.event_at <= bindparam("t1"),
                        Alarm.lat.between(bindparam("lat0"), bindparam("lat1")),
                        Alarm.lon.between(bindparam("lon0"), bindparam("lon1")))
    .order_by(Alarm.event_at.desc()).limit(500))


async def duplicates_of(session: AsyncSession, a: Alarm, *, radius_m: float = settings.DUPLICATE_RADIUS_M,
                        window: dt.timedelta = settings.DUPLICATE_WINDOW) -> list[dict[str, Any]]:
    """Open alarms of the same type within ``radius_m`` (geodesic) and ``window`` of this one, nearest first
    (``a`` may be an alarm about to be stored).

    The database narrows by type, status, time and a lon/lat box a little larger than the circle; the exact
    geodesic distance decides.
    """
    if a.lon is None or a.lat is None:
        return []
    dlat = radius_m / 110_000.0 * 1.05
    dlon = dlat / max(np.cos(np.radians(a.lat)), 0.01)
    rows = (await session.scalars(_DUPLICATE_CANDIDATES, {
        "type": a.event_type, "self": a.id if a.id is not None else 0,  # not stored yet: no self (ids are ≥ 1)
        "t0": a.event_at - window, "t1": a.event_at + window, "lat0": a.lat - dlat, "lat1": a.lat + dlat,
        "lon0": a.lon - dlon, "lon1": a.lon + dlon})).all()
    if not rows:
        return []
    dist, _ = gis.inverse(a.lon, a.lat, np.array([r.lon for r in rows]), np.array([r.lat for r in rows]))
    out = []
    for r, d in zip(rows, dist, strict=True):
        if d <= radius_m:
            out.append({"id": r.id, "distance_m": round(float(d), 1),
                        "minutes_apart": round(abs((r.event_at - a.event_at).total_seconds()) / 60.0, 1),
                        "event_type": r.event_type, "channel": r.channel, "status": r.status,
                        "received_at": r.received_at, "address": r.address, "description": r.description[:200]})
    out.sort(key=lambda d: (d["distance_m"], d["minutes_apart"]))
    return out[:settings.DUPLICATE_LIMIT]


async def get_duplicates(svc: Services, alarm_id: int) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        return await duplicates_of(s, await _get(s, alarm_id))


# --- reads --------------------------------------------------------------------------------------------------


async def _get(s: AsyncSession, alarm_id: int, *, lock: bool = False) -> Alarm:
    stmt = select(Alarm).where(Alarm.id == alarm_id)
    if lock:
        stmt = stmt.with_for_update()
    a = await s.scalar(stmt)
    if a is None:
        raise not_found("alarm", alarm_id)
    return a


async def _merged_ids(s: AsyncSession, alarm_id: int) -> list[int]:
    return list((await s.scalars(select(Alarm.id).where(Alarm.merged_into_id == alarm_id).order_by(Alarm.id))).all())


async def get_alarm(svc: Services, actor: AnyActor, alarm_id: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        a = await _get(s, alarm_id)
        merged = await _merged_ids(s, alarm_id)
    return alarm_out(a, actor, merged_alarm_ids=merged)


def _filtered(q: AlarmQuery, dialect: str, *, many_hits: bool = False) -> Select[Any]:
    """The list's WHERE clause. ``many_hits``: the text search matched so many alarms that walking the
    newest-first index and testing each row against the hits is cheaper than sorting all hits (SQLite only)."""
    stmt = select(Alarm)
    if q.status:
        stmt = stmt.where(Alarm.status.in_(q.status))
    if q.type:
        stmt = stmt.where(Alarm.event_type.in_(q.type))
    if q.channel:
        stmt = stmt.where(Alarm.channel.in_(q.channel))
    if q.from_ is not None:
        stmt = stmt.where(Alarm.received_at >= q.from_)
    if q.to is not None:
        stmt = stmt.where(Alarm.received_at < q.to)
    if q.district is not None:
        stmt = stmt.where(Alarm.district_unit_id == q.district)
    if q.routed_to is not None:
        stmt = stmt.where(Alarm.routed_to_unit_id == q.routed_to)
    if q.opinion is not None:
        stmt = stmt.where(Alarm.opinion_flag.is_(q.opinion))
    if q.ids:
        stmt = stmt.where(Alarm.id.in_(q.ids))
    if q.incident_id is not None:
        stmt = stmt.where(Alarm.incident_id == q.incident_id)
    if q.q:  # index, then ILIKE over description, address, pollutant, reporter, district, external id
        stmt = stmt.where(*alarm_search.INDEX.conditions(dialect, q.q, probe_only=many_hits))
    return stmt


def _text_only(q: AlarmQuery) -> bool:
    """The query filters by text alone, and the index alone answers it (see ``search.is_exact``)."""
    others = q.model_dump(exclude={"q", "page", "page_size"}, exclude_defaults=True)
    return bool(q.q) and alarm_search.is_exact(q.q) and not others


async def list_alarms(svc: Services, actor: AnyActor, q: AlarmQuery) -> dict[str, Any]:
    dialect = svc.db.engine.dialect.name
    stmt = _filtered(q, dialect)
    # A page never needs more than "10,000+": counting stops there instead of walking every match.
    counted = stmt.with_only_columns(Alarm.id)
    if _text_only(q):
        # The index's hits are the answer: count them without joining alarms (PostgreSQL planned the join
        # as a merge over both primary keys, testing every index row: 64 → 22 ms for "废水", 15,000 hits).
        found = alarm_search.hits(dialect, q.q)  # type: ignore[arg-type]
        if found is not None:
            counted = select(found.subquery().c.id)
    counting = select(func.count()).select_from(counted.limit(TOTAL_CAP + 1).subquery())

    async def count(s: AsyncSession) -> int:
        return await s.scalar(counting) or 0

    def page(stmt: Any) -> Callable[[AsyncSession], Awaitable[list[Alarm]]]:
        async def items(s: AsyncSession) -> list[Alarm]:
            return list((await s.scalars(stmt.order_by(Alarm.received_at.desc(), Alarm.id.desc())
                                         .limit(q.page_size).offset((q.page - 1) * q.page_size))).all())
        return items

    if svc.db.is_sqlite:
        async with svc.db.read() as s:
            total = await count(s)
            if q.q and total > TEXT_HITS_WALK:
                # "废水" matches 15,000 alarms: fetching and sorting them all cost 37 ms a page; walking the
                # received_at index newest first and probing the hits finds the 20 newest in ~2 ms. SQLite's
                # planner cannot know the hit count, so the count decides.
                stmt = _filtered(q, dialect, many_hits=True)
            rows = await page(stmt)(s)
    else:
        total, rows = await svc.db.read_together(count, page(stmt))
    return {"items": [alarm_out(a, actor) for a in rows], "total": min(total, TOTAL_CAP),
            "total_capped": total > TOTAL_CAP, "page": q.page, "page_size": q.page_size}


# --- writes -------------------------------------------------------------------------------------------------


async def patch_alarm(svc: Services, actor: AnyActor, alarm_id: int, body: AlarmPatchIn) -> dict[str, Any]:
    given = body.model_fields_set - {"coord_system"}
    async with svc.write(actor) as uow:
        s = uow.session
        a = await _get(s, alarm_id, lock=uow.is_postgres)
        old_audience = audience_for(a, actor)
        changed: list[str] = []
        for name in ("channel", "event_type", "description", "address", "pollutant", "reporter_name",
                     "occurred_at", "opinion_flag"):
            if name in given and getattr(body, name) != getattr(a, name):
                setattr(a, name, getattr(body, name))
                changed.append(name)
        if "pollutant" in changed:
            a.pollutant_cas = match_chemical(a.pollutant)
        if "occurred_at" in changed:
            a.event_at = a.occurred_at or a.received_at
        if "reporter_phone" in given and body.reporter_phone != a.reporter_phone:
            _set_phone(a, body.reporter_phone)
            changed.append("reporter_phone")
        if "attachments" in given and body.attachments is not None and body.attachments != list(a.attachments):
            await _check_attachments(s, body.attachments)
            a.attachments = list(body.attachments)
            changed.append("attachments")
        if "lon" in given or "lat" in given:
            lon = lat = None
            if body.lon is not None and body.lat is not None:
                lon, lat = to_wgs84(body.lon, body.lat, body.coord_system)
            if (lon, lat) != (a.lon, a.lat):
                a.lon, a.lat = lon, lat
                changed.append("location")
        if not a.address and a.lon is None:
            raise _field_error(["address"], "an alarm needs a place: keep an address or coordinates")
        if {"location", "channel"} & set(changed):
            await _place(s, a)
        if changed:
            a.updated_at = utcnow()
            audience = sorted(set(old_audience) | set(audience_for(a, actor)))
            uow.emit("alarm.updated", subject_type="alarm", subject_id=a.id, incident_id=a.incident_id,
                     payload=event_payload(a, fields=changed), audience=audience)
        merged = await _merged_ids(s, a.id)
    return alarm_out(a, actor, merged_alarm_ids=merged)


def _not_open(a: Alarm, action: str) -> ApiError:
    return conflict("alarm_not_open", f"alarm {a.id} is {a.status} ({STATUSES.get(a.status, a.status)}); "
                                      f"only an open alarm can be {action}",
                    {"alarm_id": a.id, "status": a.status, "merged_into_id": a.merged_into_id,
                     "incident_id": a.incident_id})


async def close_alarm(svc: Services, actor: AnyActor, alarm_id: int, body: CloseIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        a = await _get(uow.session, alarm_id, lock=uow.is_postgres)
        if a.status != "open":
            raise _not_open(a, "closed")
        a.status = "false_alarm" if body.false_alarm else "closed"
        a.close_reason = body.reason
        a.closed_at = a.updated_at = utcnow()
        uow.emit("alarm.closed", subject_type="alarm", subject_id=a.id,
                 payload=event_payload(a, reason=body.reason), audience=audience_for(a, actor))
    return alarm_out(a, actor)


async def merge_alarm(svc: Services, actor: AnyActor, alarm_id: int, body: MergeIn) -> dict[str, Any]:
    """Mark ``alarm_id`` as a duplicate of ``into_id``. Both records stay; each points at the other
    (``merged_into_id`` here, ``merged_alarm_ids`` there)."""
    if body.into_id == alarm_id:
        raise _field_error(["into_id"], "an alarm cannot be merged into itself")
    async with svc.write(actor) as uow:
        s = uow.session
        a = await _get(s, alarm_id, lock=uow.is_postgres)
        target = await s.scalar(select(Alarm).where(Alarm.id == body.into_id))
        if target is None:
            raise _field_error(["into_id"], f"alarm {body.into_id} does not exist", "not_found")
        if a.status != "open":
            raise _not_open(a, "merged")
        if target.status not in ("open", "converted"):
            raise conflict("target_not_open", f"alarm {target.id} is {target.status}; merge into an open or "
                                              f"converted alarm" + (f" (it was merged into {target.merged_into_id})"
                                                                    if target.merged_into_id else ""),
                           {"alarm_id": target.id, "status": target.status,
                            "merged_into_id": target.merged_into_id})
        # Alarms already merged into this one follow it, so a chain never forms.
        children = (await s.scalars(select(Alarm).where(Alarm.merged_into_id == a.id))).all()
        for c in children:
            c.merged_into_id = target.id
        a.status = "merged"
        a.merged_into_id = target.id
        a.updated_at = utcnow()
        if target.incident_id is not None:
            a.incident_id = target.incident_id
        audience = sorted(set(audience_for(a, actor)) | set(audience_for(target, actor)))
        uow.emit("alarm.merged", subject_type="alarm", subject_id=a.id, incident_id=a.incident_id,
                 payload=event_payload(a, into_id=target.id, moved=[c.id for c in children]), audience=audience)
        merged = await _merged_ids(s, a.id)
    return alarm_out(a, actor, merged_alarm_ids=merged)


async def link_to_incident(uow: UnitOfWork, alarm_ids: list[int], incident_id: int) -> list[Alarm]:
    """Mark open alarms ``converted`` into ``incident_id`` inside the caller's unit of work, emitting one
    ``alarm.converted`` per alarm. Alarms merged into them take the incident id too (status stays merged).
    404 when an alarm does not exist; 409 ``alarm_not_open`` when any is already converted, merged or closed
    (nothing is changed then)."""
    ids = list(dict.fromkeys(alarm_ids))
    if not ids:
        return []
    s = uow.session
    stmt = select(Alarm).where(Alarm.id.in_(ids)).order_by(Alarm.id)
    if uow.is_postgres:
        stmt = stmt.with_for_update()
    rows = {a.id: a for a in (await s.scalars(stmt)).all()}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise ApiError(404, "not_found", f"alarm {missing[0]} not found", {"resource": "alarm", "ids": missing})
    refused = [rows[i] for i in ids if rows[i].status != "open"]
    if refused:
        raise conflict("alarm_not_open", "only open alarms can become an incident: "
                       + ", ".join(f"{a.id} is {a.status}" for a in refused),
                       {"alarms": [{"id": a.id, "status": a.status, "incident_id": a.incident_id,
                                    "merged_into_id": a.merged_into_id} for a in refused]})
    now = utcnow()
    children = (await s.scalars(select(Alarm).where(Alarm.merged_into_id.in_(ids)))).all()
    for c in children:
        c.incident_id = incident_id
    out = []
    for i in ids:
        a = rows[i]
        a.status = "converted"
        a.incident_id = incident_id
        a.updated_at = now
        uow.emit("alarm.converted", subject_type="alarm", subject_id=a.id, incident_id=incident_id,
                 payload=event_payload(a, incident_id=incident_id), audience=audience_for(a, uow.actor))
        out.append(a)
    return out
