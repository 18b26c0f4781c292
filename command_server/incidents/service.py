"""Incidents (CMD-1): creation from alarms, level suggestion and decision, the state machine, the timeline,
forwarding, the lead unit, reports upward with their time limits, and the response's tasks.

Every write goes through a unit of work and emits an event with ``incident_id`` set, so the event log *is*
the incident's timeline. Two functions are for other domains, inside *their* unit of work:
``transition_in(uow, incident, to, reason)`` and ``add_tasks_in(uow, incident_id, specs)``.

RAG status of an incident (list and workspace), for open incidents only (closed ones are green):
- red: level I or II (the confirmed level, else the suggested one), or the initial report is overdue;
- amber: level III, or the incident is ``responding`` without a plan;
- green: anything else.

Report time limits (initial report upward, from the incident's creation): level I–II 2 h, level III–IV 4 h
(the confirmed level, else the suggested one; 4 h while there is neither).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
import weakref
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import Select, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth.models import User
from ..core.db import utcnow
from ..core.errors import ApiError, conflict, not_found, unprocessable
from ..core.events import Event, event_out
from ..core.permissions import ROLE_PERMISSIONS, ROLES
from ..core.security import Actor, SystemActor
from ..core.services import Services
from ..core.uow import AnyActor, UnitOfWork
from ..files.models import StoredFile
from ..org.models import Person, Unit
from . import levels
from . import search as incident_search
from .models import Incident, IncidentReport, Task
from .schemas import (
    CRITERIA_FIELDS,
    INCIDENT_TYPES,
    ForwardIn,
    IncidentCreateIn,
    IncidentPatchIn,
    IncidentsQuery,
    LeadUnitIn,
    LevelCriteria,
    LevelDecisionIn,
    NoteIn,
    ReportIn,
    TaskPatchIn,
    TaskSpec,
    TasksQuery,
    TimelineQuery,
    TransitionIn,
)

TOTAL_CAP = 10_000  # list pages count matches up to this many
log = logging.getLogger("ecs.incidents")

SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991

# --- the state machine ---------------------------------------------------------------------------------------

# reported → verifying → responding → disposing → closed → assessed; false_alarm and merged from reported or
# verifying. reported → responding is allowed too: an alarm confirmed on intake goes straight to the response.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "reported": ("verifying", "responding", "false_alarm", "merged"),
    "verifying": ("responding", "false_alarm", "merged"),
    "responding": ("disposing",),
    "disposing": ("closed",),
    "closed": ("assessed",),
    "assessed": (),
    "false_alarm": (),
    "merged": (),
}
STATES = tuple(TRANSITIONS)
CLOSED_STATES = frozenset({"closed", "assessed", "false_alarm", "merged"})
OPEN_STATES = tuple(s for s in STATES if s not in CLOSED_STATES)
REASON_REQUIRED = frozenset({"false_alarm"})

# Who receives incident events: every role that may read incidents, plus the incident's room.
READER_ROOMS = [f"role:{r}" for r in ROLES if "incidents:read" in ROLE_PERMISSIONS[r]]


def everyone(incident_id: int) -> list[str]:
    return [*READER_ROOMS, f"incident:{incident_id}"]


def room_only(incident_id: int, *extra: str) -> list[str]:
    return [f"incident:{incident_id}", *extra]


# --- the clock (injectable for tests) ------------------------------------------------------------------------


class Clock:
    """``now()`` for everything time-limited here; tests shift it with ``offset`` or pin it with ``fixed``."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)
        self.fixed: dt.datetime | None = None

    def now(self) -> dt.datetime:
        return self.fixed if self.fixed is not None else utcnow() + self.offset


CLOCK: web.AppKey[Clock] = web.AppKey("incidents_clock", Clock)
_DEFAULT_CLOCK = Clock()


def clock(app: web.Application) -> Clock:
    return app.get(CLOCK, _DEFAULT_CLOCK)


# --- pure rules ----------------------------------------------------------------------------------------------


def criteria_of(inc: Incident) -> dict[str, Any]:
    return {f: getattr(inc, f) for f in CRITERIA_FIELDS}


def effective_level(inc: Incident) -> str | None:
    return inc.level or inc.level_suggested


def report_limit_hours(level: str | None) -> int:
    return 2 if level in ("I", "II") else 4


def report_due_at(inc: Incident) -> dt.datetime:
    return inc.created_at + dt.timedelta(hours=report_limit_hours(effective_level(inc)))


def report_overdue(inc: Incident, now: dt.datetime) -> bool:
    if inc.initial_report_at is not None or inc.state in ("false_alarm", "merged"):
        return False
    return now > report_due_at(inc)


def rag(inc: Incident, now: dt.datetime) -> str:
    if inc.state in CLOSED_STATES:
        return "green"
    level = effective_level(inc)
    if level in ("I", "II") or report_overdue(inc, now):
        return "red"
    if level == "III" or (inc.state == "responding" and inc.plan_id is None):
        return "amber"
    return "green"


def initial_report_status(inc: Incident, now: dt.datetime) -> dict[str, Any]:
    due = report_due_at(inc)
    return {"limit_hours": report_limit_hours(effective_level(inc)), "due_at": due,
            "submitted_at": inc.initial_report_at, "overdue": report_overdue(inc, now),
            "seconds_remaining": int((due - now).total_seconds()) if inc.initial_report_at is None else 0}


# Timeline kinds: which event types belong to each (prefixes). Anything else is "other".
KIND_PREFIXES: dict[str, tuple[str, ...]] = {
    "state": ("incident.created", "incident.state_changed", "incident.merged_in"),
    "level": ("incident.level_",),
    "plan": ("response.", "plan."),
    "task": ("task.",),
    "notice": ("notification.", "notice.", "warning."),
    "note": ("incident.note_added",),
    "file": ("file.",),
    "simulation": ("simulation.", "dispersion."),
    "report": ("incident.report_",),
    "unit": ("incident.forwarded", "incident.lead_unit_changed"),
    "alarm": ("alarm.",),
}


def kind_of(event_type: str) -> str:
    for kind, prefixes in KIND_PREFIXES.items():
        if event_type.startswith(prefixes):
            return kind
    return "other"


# --- helpers -------------------------------------------------------------------------------------------------


def _field_error(field_name: str, message: str, type_: str = "value_error") -> ApiError:
    return unprocessable(message, [{"loc": ["body", field_name], "msg": message, "type": type_}])


async def _get(s: AsyncSession, incident_id: int, *, for_update: bool = False) -> Incident:
    stmt = select(Incident).where(Incident.id == incident_id)
    if for_update:
        stmt = stmt.with_for_update()
    inc = (await s.scalars(stmt)).first()
    if inc is None:
        raise not_found("incident", incident_id)
    return inc


async def _check_unit(s: AsyncSession, field_name: str, unit_id: int | None) -> Unit | None:
    if unit_id is None:
        return None
    unit = await s.get(Unit, unit_id)
    if unit is None:
        raise _field_error(field_name, f"unit {unit_id} does not exist", "not_found")
    return unit


async def _check_files(s: AsyncSession, field_name: str, file_ids: Sequence[int]) -> list[dict[str, Any]]:
    if not file_ids:
        return []
    if len(set(file_ids)) != len(file_ids):
        raise _field_error(field_name, "a file is listed twice")
    rows = (await s.scalars(select(StoredFile).where(StoredFile.id.in_(list(file_ids))))).all()
    found = {f.id: f for f in rows}
    missing = [i for i in file_ids if i not in found]
    if missing:
        raise _field_error(field_name, f"file(s) {', '.join(map(str, missing))} do not exist", "not_found")
    return [{"id": i, "filename": found[i].filename, "content_type": found[i].content_type} for i in file_ids]


# Incident field → the alarm's field it is copied from when not given.
ALARM_FIELDS = {"type": "event_type", "district_unit_id": "district_unit_id"}


def _alarms_module(name: str) -> Any | None:
    """The alarms domain's module, when that domain is installed (it is built alongside this one)."""
    try:
        return importlib.import_module(f"command_server.alarms.{name}")
    except ImportError:
        return None


def incident_out(inc: Incident, now: dt.datetime, unit_names: dict[int, str] | None = None) -> dict[str, Any]:
    names = unit_names or {}
    return {
        "id": inc.id, "title": inc.title, "type": inc.type, "level": inc.level,
        "level_suggested": inc.level_suggested, "level_reason": inc.level_reason,
        "level_suggestion": levels.suggest(criteria_of(inc)),
        "state": inc.state, "allowed_transitions": list(TRANSITIONS[inc.state]), "rag": rag(inc, now),
        "lon": inc.lon, "lat": inc.lat, "address": inc.address,
        "district_unit_id": inc.district_unit_id, "district_unit_name": names.get(inc.district_unit_id or 0),
        "lead_unit_id": inc.lead_unit_id, "lead_unit_name": names.get(inc.lead_unit_id or 0),
        "forwarded_unit_ids": list(inc.forwarded_unit_ids or []),
        "pollutant": inc.pollutant, "description": inc.description, "occurred_at": inc.occurred_at,
        **criteria_of(inc),
        "alarm_ids": list(inc.alarm_ids or []), "plan_id": inc.plan_id, "merged_into_id": inc.merged_into_id,
        "initial_report": initial_report_status(inc, now),
        "created_at": inc.created_at, "updated_at": inc.updated_at, "state_changed_at": inc.state_changed_at,
        "closed_at": inc.closed_at,
    }


def list_item(inc: Incident, now: dt.datetime) -> dict[str, Any]:
    return {"id": inc.id, "title": inc.title, "type": inc.type, "level": inc.level,
            "level_suggested": inc.level_suggested, "state": inc.state, "rag": rag(inc, now),
            "created_at": inc.created_at, "lon": inc.lon, "lat": inc.lat, "address": inc.address,
            "report_overdue": report_overdue(inc, now)}


async def _unit_names(s: AsyncSession, ids: Sequence[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict((await s.execute(select(Unit.id, Unit.name).where(Unit.id.in_(wanted)))).all())


def _summary(inc: Incident) -> dict[str, Any]:
    return {"title": inc.title, "type": inc.type, "state": inc.state, "level": inc.level,
            "level_suggested": inc.level_suggested, "lon": inc.lon, "lat": inc.lat, "address": inc.address}


# --- level suggestion ----------------------------------------------------------------------------------------


def suggest_level(criteria: LevelCriteria) -> dict[str, Any]:
    return levels.suggest(criteria.model_dump())


# --- create / read / update ----------------------------------------------------------------------------------


async def create_incident(svc: Services, actor: AnyActor, body: IncidentCreateIn, now: dt.datetime
                          ) -> dict[str, Any]:
    given = body.model_fields_set
    async with svc.write(actor) as uow:
        s = uow.session
        first: Any = None
        if body.alarm_ids:
            alarm_models = _alarms_module("models")
            if alarm_models is None or not hasattr(alarm_models, "Alarm"):
                raise _field_error("alarm_ids", "alarm intake is not available on this server")
            alarm_cls = alarm_models.Alarm
            rows = {a.id: a for a in (await s.scalars(select(alarm_cls).where(alarm_cls.id.in_(body.alarm_ids))))}
            missing = [i for i in body.alarm_ids if i not in rows]
            if missing:
                raise _field_error("alarm_ids", f"alarm(s) {', '.join(map(str, missing))} do not exist",
                                   "not_found")
            first = rows[body.alarm_ids[0]]

        def pick(name: str) -> Any:
            if name in given and getattr(body, name) is not None:
                return getattr(body, name)
            if first is None:
                return getattr(body, name)
            value = getattr(first, ALARM_FIELDS.get(name, name), None)
            return value if value is not None else getattr(body, name)

        type_ = pick("type")
        if type_ not in INCIDENT_TYPES:
            raise _field_error("type", "the event type is required (or give an alarm to copy it from)", "missing")
        title = body.title
        if not title:
            if first is None:
                raise _field_error("title", "a title is required when the incident is not created from an alarm",
                                   "missing")
            place = pick("address") or ""
            title = f"{place}{INCIDENT_TYPES[type_][0]}事件"[:200]
        lon, lat = pick("lon"), pick("lat")
        if (lon is None) != (lat is None):
            lon = lat = None
        district = pick("district_unit_id")
        await _check_unit(s, "district_unit_id", district)
        await _check_unit(s, "lead_unit_id", body.lead_unit_id)
        address, pollutant = pick("address"), pick("pollutant")
        inc = Incident(title=title, type=type_, state="reported", lon=lon, lat=lat,
                       address=address[:300] if address else None, pollutant=pollutant[:200] if pollutant else None,
                       description=pick("description"),
                       occurred_at=pick("occurred_at"), district_unit_id=district,
                       lead_unit_id=body.lead_unit_id or district,
                       alarm_ids=list(body.alarm_ids), forwarded_unit_ids=[],
                       created_by=actor.user_id, created_at=now, updated_at=now, state_changed_at=now,
                       **{f: getattr(body, f) for f in CRITERIA_FIELDS})
        inc.level_suggested = levels.suggest(criteria_of(inc))["level"]
        s.add(inc)
        await s.flush()
        uow.emit("incident.created", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                 payload={**_summary(inc), "alarm_ids": list(body.alarm_ids)}, audience=everyone(inc.id))
        if body.alarm_ids:
            alarm_service = _alarms_module("service")
            link = getattr(alarm_service, "link_to_incident", None) if alarm_service else None
            if link is not None:
                await link(uow, list(body.alarm_ids), inc.id)
        names = await _unit_names(s, [inc.district_unit_id, inc.lead_unit_id])
    return incident_out(inc, now, names)


async def get_incident(svc: Services, incident_id: int, now: dt.datetime) -> dict[str, Any]:
    async with svc.db.read() as s:
        inc = await _get(s, incident_id)
        names = await _unit_names(s, [inc.district_unit_id, inc.lead_unit_id])
    return incident_out(inc, now, names)


def _filtered(q: IncidentsQuery, dialect: str) -> Select[Any]:
    stmt = select(Incident)
    if q.state == "open":
        stmt = stmt.where(Incident.state.in_(OPEN_STATES))
    elif q.state is not None:
        stmt = stmt.where(Incident.state == q.state)
    if q.type:
        stmt = stmt.where(Incident.type == q.type)
    if q.level == "none":
        stmt = stmt.where(Incident.level.is_(None))
    elif q.level:
        stmt = stmt.where(Incident.level == q.level)
    if q.from_ is not None:
        stmt = stmt.where(Incident.created_at >= q.from_)
    if q.to is not None:
        stmt = stmt.where(Incident.created_at < q.to)
    if q.q:  # the bigram index's candidates, then ILIKE over title, address and pollutant (see search.py)
        stmt = stmt.where(*incident_search.INDEX.conditions(dialect, q.q.strip()))
    return stmt


async def list_incidents(svc: Services, q: IncidentsQuery, now: dt.datetime) -> dict[str, Any]:
    if q.from_ is not None and q.to is not None and q.from_ >= q.to:
        raise unprocessable("'from' must be before 'to'",
                            [{"loc": ["query", "from"], "msg": "'from' must be before 'to'", "type": "value_error"}])
    stmt = _filtered(q, svc.db.engine.dialect.name)
    # counting stops after TOTAL_CAP matches ("10,000+"), so a broad filter does not walk the whole table
    counted = select(func.count()).select_from(
        stmt.with_only_columns(Incident.id).order_by(None).limit(TOTAL_CAP + 1).subquery())
    page = stmt.order_by(Incident.created_at.desc(), Incident.id.desc()).limit(q.limit).offset((q.page - 1) * q.limit)

    async def count(s: AsyncSession) -> int:
        return await s.scalar(counted) or 0

    async def items(s: AsyncSession) -> list[Incident]:
        return list((await s.scalars(page)).all())

    total, rows = await svc.db.read_together(count, items)
    return {"items": [list_item(i, now) for i in rows], "total": min(total, TOTAL_CAP),
            "total_capped": total > TOTAL_CAP}


def year_start(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(SHANGHAI)
    return dt.datetime(local.year, 1, 1, tzinfo=SHANGHAI).astimezone(dt.UTC)


async def stats(svc: Services, now: dt.datetime) -> dict[str, Any]:
    start = year_start(now)

    def count(*where: Any) -> Any:
        return select(func.count()).select_from(Incident).where(*where).scalar_subquery()

    async with svc.db.read() as s:
        # One round trip for the three counts (each still its own index scan): on a busy server every round
        # trip waits for the event loop.
        this_year, in_progress, closed = (await s.execute(select(
            count(Incident.created_at >= start), count(Incident.state.in_(OPEN_STATES)),
            count(Incident.closed_at >= start)))).one()
    return {"alarms_this_year": await _alarms_since(svc, start), "incidents_this_year": this_year or 0,
            "in_progress": in_progress or 0, "closed_this_year": closed or 0}


ALARM_COUNT_TTL_S = 30.0
_ALARM_COUNTS: weakref.WeakKeyDictionary[Any, dict[dt.datetime, tuple[float, int]]] = weakref.WeakKeyDictionary()


async def _alarms_since(svc: Services, start: dt.datetime) -> int:
    """Alarms received since ``start`` for the home page: counted at most every 30 s per process (a count
    over a year of alarms on every page load was the slowest part of ``/incidents/stats``)."""
    cache = _ALARM_COUNTS.setdefault(svc.db, {})
    hit = cache.get(start)
    now = time.monotonic()
    if hit is not None and now - hit[0] < ALARM_COUNT_TTL_S:
        return hit[1]
    n = await _count_alarms_since(svc, start)
    if len(cache) > 8:
        cache.clear()
    cache[start] = (now, n)
    return n


async def _count_alarms_since(svc: Services, start: dt.datetime) -> int:
    models = _alarms_module("models")
    alarm_cls = getattr(models, "Alarm", None) if models else None
    if alarm_cls is None:
        return 0
    column = getattr(alarm_cls, "received_at", None) or getattr(alarm_cls, "created_at", None)
    try:
        async with svc.db.read() as s:
            stmt = select(func.count()).select_from(alarm_cls)
            if column is not None:
                stmt = stmt.where(column >= start)
            return await s.scalar(stmt) or 0
    except Exception:  # the alarms table may not exist yet in an older database
        log.warning("counting alarms failed", exc_info=True)
        return 0


async def patch_incident(svc: Services, actor: AnyActor, incident_id: int, body: IncidentPatchIn,
                         now: dt.datetime) -> dict[str, Any]:
    given = body.model_fields_set
    async with svc.write(actor) as uow:
        s = uow.session
        inc = await _get(s, incident_id, for_update=True)
        if inc.state == "merged":
            raise conflict("incident_merged", f"incident {incident_id} was merged into {inc.merged_into_id}; "
                                              "edit that one", {"merged_into_id": inc.merged_into_id})
        if "district_unit_id" in given:
            await _check_unit(s, "district_unit_id", body.district_unit_id)
        if "lead_unit_id" in given:
            await _check_unit(s, "lead_unit_id", body.lead_unit_id)
        changed: dict[str, Any] = {}
        for name in sorted(given):
            value = getattr(body, name)
            if getattr(inc, name) != value:
                setattr(inc, name, value)
                changed[name] = value
        if ("lon" in changed) != ("lat" in changed) and (inc.lon is None) != (inc.lat is None):
            raise _field_error("lon", "give both lon and lat, or neither")
        if changed:
            before = inc.level_suggested
            inc.level_suggested = levels.suggest(criteria_of(inc))["level"]
            inc.updated_at = now
            payload: dict[str, Any] = {"fields": sorted(changed), "changes": _jsonable(changed),
                                       "title": inc.title}
            if before != inc.level_suggested:
                payload["level_suggested"] = {"from": before, "to": inc.level_suggested}
            uow.emit("incident.updated", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                     payload=payload, audience=everyone(inc.id))
        names = await _unit_names(s, [inc.district_unit_id, inc.lead_unit_id])
    return incident_out(inc, now, names)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in d.items()}


# --- state machine -------------------------------------------------------------------------------------------


async def transition_in(uow: UnitOfWork, incident: Incident, to: str, reason: str | None, *,
                        merged_into_id: int | None = None, now: dt.datetime | None = None) -> Incident:
    """Move ``incident`` to state ``to`` inside the caller's unit of work and put it on the timeline.

    Raises 409 ``illegal_transition`` (``details.allowed`` lists the legal targets) for an edge the state
    machine does not have; 422 when a false alarm has no reason or a merge no valid target.
    """
    now = now or utcnow()
    allowed = list(TRANSITIONS.get(incident.state, ()))
    if to not in allowed:
        raise conflict("illegal_transition", f"an incident in state {incident.state} cannot move to {to}",
                       {"from": incident.state, "to": to, "allowed": allowed})
    if to in REASON_REQUIRED and not (reason or "").strip():
        raise _field_error("reason", f"a reason is required to move an incident to {to}", "missing")
    target: Incident | None = None
    if to == "merged":
        if merged_into_id is None:
            raise _field_error("merged_into_id", "name the incident this one is merged into", "missing")
        if merged_into_id == incident.id:
            raise _field_error("merged_into_id", "an incident cannot be merged into itself")
        target = await uow.session.get(Incident, merged_into_id)
        if target is None:
            raise _field_error("merged_into_id", f"incident {merged_into_id} does not exist", "not_found")
        if target.state in ("merged", "false_alarm"):
            raise _field_error("merged_into_id", f"incident {merged_into_id} is {target.state} and cannot take "
                                                 "another incident")
    before = incident.state
    incident.state = to
    incident.state_changed_at = now
    incident.updated_at = now
    if to == "closed":
        incident.closed_at = now
    if to in ("false_alarm", "merged") and incident.closed_at is None:
        incident.closed_at = now
    payload: dict[str, Any] = {"from": before, "to": to, "reason": reason, "title": incident.title}
    if target is not None:
        incident.merged_into_id = target.id
        payload["merged_into_id"] = target.id
        target.alarm_ids = sorted({*(target.alarm_ids or []), *(incident.alarm_ids or [])})
        uow.emit("incident.merged_in", subject_type="incident", subject_id=target.id, incident_id=target.id,
                 payload={"source_id": incident.id, "source_title": incident.title, "reason": reason},
                 audience=everyone(target.id))
    uow.emit("incident.state_changed", subject_type="incident", subject_id=incident.id, incident_id=incident.id,
             payload=payload, audience=everyone(incident.id))
    return incident


async def transition(svc: Services, actor: AnyActor, incident_id: int, body: TransitionIn, now: dt.datetime
                     ) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        inc = await _get(uow.session, incident_id, for_update=True)
        if body.merged_into_id is not None and body.to != "merged":
            raise _field_error("merged_into_id", "merged_into_id is only for to = merged")
        await transition_in(uow, inc, body.to, body.reason, merged_into_id=body.merged_into_id, now=now)
        names = await _unit_names(uow.session, [inc.district_unit_id, inc.lead_unit_id])
    return incident_out(inc, now, names)


# --- level decision ------------------------------------------------------------------------------------------


async def decide_level(svc: Services, actor: AnyActor, incident_id: int, body: LevelDecisionIn,
                       now: dt.datetime) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        inc = await _get(uow.session, incident_id, for_update=True)
        if inc.state in ("false_alarm", "merged"):
            raise conflict("incident_closed", f"incident {incident_id} is {inc.state}; its level is not decided",
                           {"state": inc.state})
        if body.criteria is not None:
            for f in CRITERIA_FIELDS:
                setattr(inc, f, getattr(body.criteria, f))
        suggestion = levels.suggest(criteria_of(inc))
        inc.level_suggested = suggestion["level"]
        override = body.level != suggestion["level"]
        if override and not body.reason:
            raise _field_error("reason", f"the level differs from the suggested level {suggestion['level']}: "
                                         "give a reason", "missing")
        before = inc.level
        inc.level = body.level
        inc.level_reason = body.reason
        inc.updated_at = now
        uow.emit("incident.level_changed", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                 payload={"from": before, "to": body.level, "suggested": suggestion["level"], "override": override,
                          "reason": body.reason, "reasons": suggestion["reasons"], "title": inc.title,
                          "criteria": criteria_of(inc)},
                 audience=everyone(inc.id))
        names = await _unit_names(uow.session, [inc.district_unit_id, inc.lead_unit_id])
    return incident_out(inc, now, names)


# --- timeline and notes --------------------------------------------------------------------------------------


async def timeline(svc: Services, incident_id: int, q: TimelineQuery) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        await _get(s, incident_id)
        stmt = select(Event).where(Event.incident_id == incident_id)
        if q.after is not None:
            stmt = stmt.where(Event.id > q.after)
        if q.kind and q.kind != "other":
            stmt = stmt.where(or_(*[Event.type.startswith(p, autoescape=True) for p in KIND_PREFIXES[q.kind]]))
        elif q.kind == "other":
            for prefixes in KIND_PREFIXES.values():
                for p in prefixes:
                    stmt = stmt.where(~Event.type.startswith(p, autoescape=True))
        rows = (await s.scalars(stmt.order_by(Event.id).limit(q.limit))).all()
    return [{**event_out(e), "kind": kind_of(e.type)} for e in rows]


async def add_note(svc: Services, actor: AnyActor, incident_id: int, body: NoteIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        inc = await _get(uow.session, incident_id)
        files = await _check_files(uow.session, "file_ids", body.file_ids)
        uow.emit("incident.note_added", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                 payload={"text": body.text, "file_ids": list(body.file_ids), "files": files},
                 audience=room_only(inc.id))
    ev = uow.events[-1]
    return {**event_out(ev), "kind": "note"}


# --- forwarding and the lead unit ----------------------------------------------------------------------------


async def forward(svc: Services, actor: AnyActor, incident_id: int, body: ForwardIn, now: dt.datetime
                  ) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        inc = await _get(uow.session, incident_id, for_update=True)
        if inc.state in CLOSED_STATES:
            raise conflict("incident_closed", f"incident {incident_id} is {inc.state}", {"state": inc.state})
        unit = await _check_unit(uow.session, "unit_id", body.unit_id)
        assert unit is not None
        inc.forwarded_unit_ids = sorted({*(inc.forwarded_unit_ids or []), unit.id})
        inc.updated_at = now
        uow.emit("incident.forwarded", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                 payload={"unit_id": unit.id, "unit_name": unit.name, "note": body.note, "title": inc.title},
                 audience=room_only(inc.id, f"org:{unit.id}", "role:commander", "role:operator"))
        names = await _unit_names(uow.session, [inc.district_unit_id, inc.lead_unit_id])
    return incident_out(inc, now, names)


async def change_lead_unit(svc: Services, actor: AnyActor, incident_id: int, body: LeadUnitIn, now: dt.datetime
                           ) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        inc = await _get(uow.session, incident_id, for_update=True)
        if inc.state in CLOSED_STATES:
            raise conflict("incident_closed", f"incident {incident_id} is {inc.state}", {"state": inc.state})
        unit = await _check_unit(uow.session, "unit_id", body.unit_id)
        assert unit is not None
        if inc.lead_unit_id == unit.id:
            raise conflict("unchanged", f"{unit.name} already leads this incident", {"unit_id": unit.id})
        before = inc.lead_unit_id
        before_name = (await _unit_names(uow.session, [before])).get(before or 0)
        inc.lead_unit_id = unit.id
        inc.updated_at = now
        uow.emit("incident.lead_unit_changed", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                 payload={"from": before, "from_name": before_name, "to": unit.id, "to_name": unit.name,
                          "reason": body.reason, "title": inc.title},
                 audience=[*everyone(inc.id), f"org:{unit.id}"])
        names = await _unit_names(uow.session, [inc.district_unit_id, inc.lead_unit_id])
    return incident_out(inc, now, names)


# --- reports upward ------------------------------------------------------------------------------------------


def report_out(r: IncidentReport) -> dict[str, Any]:
    on_time = None if r.due_at is None else r.submitted_at <= r.due_at
    return {"id": r.id, "incident_id": r.incident_id, "kind": r.kind, "content": r.content,
            "file_ids": list(r.file_ids or []), "level_at_submit": r.level_at_submit, "due_at": r.due_at,
            "on_time": on_time, "submitted_by": r.submitted_by, "submitted_by_name": r.submitted_by_name,
            "submitted_at": r.submitted_at}


async def list_reports(svc: Services, incident_id: int, now: dt.datetime) -> dict[str, Any]:
    async with svc.db.read() as s:
        inc = await _get(s, incident_id)
        rows = (await s.scalars(select(IncidentReport).where(IncidentReport.incident_id == incident_id)
                                .order_by(IncidentReport.submitted_at, IncidentReport.id))).all()
    status = initial_report_status(inc, now)
    return {"limit_hours": status["limit_hours"], "due_at": status["due_at"], "overdue": status["overdue"],
            "seconds_remaining": status["seconds_remaining"], "initial_submitted_at": inc.initial_report_at,
            "items": [report_out(r) for r in rows]}


async def submit_report(svc: Services, actor: AnyActor, incident_id: int, body: ReportIn, now: dt.datetime
                        ) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        inc = await _get(s, incident_id, for_update=True)
        if inc.state in ("false_alarm", "merged"):
            raise conflict("incident_closed", f"incident {incident_id} is {inc.state}; no report is filed",
                           {"state": inc.state})
        kinds = set((await s.scalars(select(IncidentReport.kind)
                                     .where(IncidentReport.incident_id == incident_id))).all())
        if body.kind == "initial" and "initial" in kinds:
            raise conflict("report_exists", "the initial report was already filed; file a follow-up report")
        if body.kind != "initial" and "initial" not in kinds:
            raise conflict("initial_report_missing", "file the initial report first")
        if body.kind == "final":
            if "final" in kinds:
                raise conflict("report_exists", "the final report was already filed")
            if inc.state not in ("disposing", "closed", "assessed"):
                raise conflict("too_early", "the final report is filed once the incident is disposing or closed",
                               {"state": inc.state})
        await _check_files(s, "file_ids", body.file_ids)
        due = report_due_at(inc) if body.kind == "initial" else None
        rep = IncidentReport(incident_id=inc.id, kind=body.kind, content=body.content, file_ids=list(body.file_ids),
                             level_at_submit=effective_level(inc), due_at=due, submitted_by=actor.user_id,
                             submitted_by_name=actor.username, submitted_at=now)
        s.add(rep)
        if body.kind == "initial":
            inc.initial_report_at = now
        inc.updated_at = now
        await s.flush()
        uow.emit("incident.report_submitted", subject_type="incident_report", subject_id=rep.id, incident_id=inc.id,
                 payload={"report_id": rep.id, "kind": rep.kind, "due_at": due.isoformat() if due else None,
                          "on_time": None if due is None else now <= due, "title": inc.title,
                          "excerpt": body.content[:200]},
                 audience=everyone(inc.id))
    return report_out(rep)


async def check_overdue_reports(svc: Services, now: dt.datetime) -> list[int]:
    """Raise ``incident.report_overdue`` once per incident whose initial report is overdue.

    Safe with several server processes: the flag is set by a conditional UPDATE, and only the process whose
    UPDATE changed the row emits the event.
    """
    earliest = now - dt.timedelta(hours=2)
    async with svc.db.read() as s:
        candidates = (await s.scalars(select(Incident).where(
            Incident.state.in_(OPEN_STATES), Incident.initial_report_at.is_(None),
            Incident.report_overdue_notified_at.is_(None), Incident.created_at < earliest))).all()
    due = [i for i in candidates if report_overdue(i, now)]
    if not due:
        return []
    raised: list[int] = []
    async with svc.write(SystemActor(username="report-timer")) as uow:
        # one conditional UPDATE … RETURNING per 500 incidents (not one per incident): after a restart many can
        # be due at once, and this transaction holds the write lock
        won: set[int] = set()
        for i in range(0, len(due), 500):
            chunk = [inc.id for inc in due[i:i + 500]]
            won.update((await uow.session.execute(
                update(Incident)
                .where(Incident.id.in_(chunk), Incident.report_overdue_notified_at.is_(None),
                       Incident.initial_report_at.is_(None))
                .values(report_overdue_notified_at=now)
                .returning(Incident.id)
                .execution_options(synchronize_session=False))).scalars().all())
        for inc in due:
            if inc.id not in won:
                continue
            due_at = report_due_at(inc)
            uow.emit("incident.report_overdue", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                     payload={"title": inc.title, "level": effective_level(inc), "due_at": due_at.isoformat(),
                              "limit_hours": report_limit_hours(effective_level(inc)),
                              "overdue_minutes": int((now - due_at).total_seconds() // 60)},
                     audience=everyone(inc.id))
            raised.append(inc.id)
    return raised


# --- tasks ---------------------------------------------------------------------------------------------------


def task_out(t: Task, now: dt.datetime, incident_title: str | None = None) -> dict[str, Any]:
    return {"id": t.id, "incident_id": t.incident_id, "incident_title": incident_title, "title": t.title,
            "description": t.description, "assignee_user_id": t.assignee_user_id,
            "assignee_unit_id": t.assignee_unit_id, "assignee_role": t.assignee_role, "due_at": t.due_at,
            "overdue": t.status != "done" and t.due_at is not None and now > t.due_at,
            "plan_step_order": t.plan_step_order, "source": t.source, "status": t.status, "feedback": t.feedback,
            "feedback_file_ids": list(t.feedback_file_ids or []), "created_at": t.created_at,
            "updated_at": t.updated_at, "started_at": t.started_at, "done_at": t.done_at}


def _task_audience(t: Task) -> list[str]:
    rooms = [f"incident:{t.incident_id}", "role:commander", "role:operator"]
    if t.assignee_user_id:
        rooms.append(f"user:{t.assignee_user_id}")
    if t.assignee_unit_id:
        rooms.append(f"org:{t.assignee_unit_id}")
    if t.assignee_role:
        rooms.append(f"role:{t.assignee_role}")
    return list(dict.fromkeys(rooms))


def _task_payload(t: Task) -> dict[str, Any]:
    return {"task_id": t.id, "title": t.title, "status": t.status, "assignee_user_id": t.assignee_user_id,
            "assignee_unit_id": t.assignee_unit_id, "assignee_role": t.assignee_role,
            "due_at": t.due_at.isoformat() if t.due_at else None, "source": t.source,
            "plan_step_order": t.plan_step_order}


async def _check_assignee(s: AsyncSession, prefix: str, user_id: int | None, unit_id: int | None,
                          role: str | None) -> None:
    if user_id is not None and await s.get(User, user_id) is None:
        raise _field_error(f"{prefix}assignee_user_id", f"user {user_id} does not exist", "not_found")
    if unit_id is not None:
        await _check_unit(s, f"{prefix}assignee_unit_id", unit_id)
    if role is not None and role not in ROLES:
        raise _field_error(f"{prefix}assignee_role", f"unknown role {role}; one of {', '.join(ROLES)}")


async def add_tasks_in(uow: UnitOfWork, incident_id: int, specs: list[TaskSpec]) -> list[Task]:
    """Create tasks for an incident inside the caller's unit of work, one ``task.created`` event each."""
    s = uow.session
    inc = await _get(s, incident_id)
    if inc.state in CLOSED_STATES:
        raise conflict("incident_closed", f"incident {incident_id} is {inc.state}; no new tasks",
                       {"state": inc.state})
    now = utcnow()
    tasks: list[Task] = []
    for i, spec in enumerate(specs):
        prefix = f"{i}." if len(specs) > 1 else ""
        await _check_assignee(s, prefix, spec.assignee_user_id, spec.assignee_unit_id, spec.assignee_role)
        tasks.append(Task(incident_id=incident_id, title=spec.title, description=spec.description,
                          assignee_user_id=spec.assignee_user_id, assignee_unit_id=spec.assignee_unit_id,
                          assignee_role=spec.assignee_role, due_at=spec.due_at,
                          plan_step_order=spec.plan_step_order, source=spec.source, status="todo",
                          feedback_file_ids=[], created_by=uow.actor.user_id, created_at=now, updated_at=now))
    s.add_all(tasks)
    await s.flush()
    for t in tasks:
        uow.emit("task.created", subject_type="task", subject_id=t.id, incident_id=incident_id,
                 payload={**_task_payload(t), "incident_title": inc.title}, audience=_task_audience(t))
    return tasks


async def list_incident_tasks(svc: Services, incident_id: int, now: dt.datetime) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        inc = await _get(s, incident_id)
        rows = (await s.scalars(select(Task).where(Task.incident_id == incident_id)
                                .order_by(Task.plan_step_order.is_(None), Task.plan_step_order, Task.id))).all()
    return [task_out(t, now, inc.title) for t in rows]


async def create_task(svc: Services, actor: AnyActor, incident_id: int, spec: TaskSpec, now: dt.datetime
                      ) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        (task,) = await add_tasks_in(uow, incident_id, [spec])
    return task_out(task, now)


async def _actor_unit_ids(s: AsyncSession, actor: Actor) -> list[int]:
    """The actor's unit and every unit above it (a task for a district bureau is also its teams' task)."""
    path = await s.scalar(select(Unit.path).join(Person, Person.unit_id == Unit.id)
                          .where(Person.user_id == actor.user_id))
    return [int(p) for p in (path or "").strip("/").split("/") if p]


def _mine(actor: Actor, unit_ids: list[int]) -> Any:
    conds = [Task.assignee_user_id == actor.user_id, Task.assignee_role.in_(list(actor.roles))]
    if unit_ids:
        conds.append(Task.assignee_unit_id.in_(unit_ids))
    return or_(*conds) if conds else false()


async def list_tasks(svc: Services, actor: Actor, q: TasksQuery, now: dt.datetime) -> list[dict[str, Any]]:
    stmt = select(Task, Incident.title).join(Incident, Incident.id == Task.incident_id)
    async with svc.db.read() as s:
        if q.mine or not actor.can("incidents:read"):
            stmt = stmt.where(_mine(actor, await _actor_unit_ids(s, actor)))
        if q.status:
            stmt = stmt.where(Task.status == q.status)
        if q.incident_id:
            stmt = stmt.where(Task.incident_id == q.incident_id)
        rows = (await s.execute(stmt.order_by(Task.status == "done", Task.due_at.is_(None), Task.due_at, Task.id)
                                .limit(q.limit))).all()
    return [task_out(t, now, title) for t, title in rows]


TASK_FLOW = {"todo": ("doing", "done"), "doing": ("done",), "done": ()}
STAFF_TASK_FIELDS = frozenset({"title", "description", "due_at", "assignee_user_id", "assignee_unit_id",
                               "assignee_role"})


async def patch_task(svc: Services, actor: Actor, task_id: int, body: TaskPatchIn, now: dt.datetime
                     ) -> dict[str, Any]:
    given = body.model_fields_set
    staff = actor.can("incidents:write")
    async with svc.write(actor) as uow:
        s = uow.session
        task = (await s.scalars(select(Task).where(Task.id == task_id).with_for_update())).first()
        if task is None:
            raise not_found("task", task_id)
        if not staff:
            units = await _actor_unit_ids(s, actor)
            assigned = (task.assignee_user_id == actor.user_id or task.assignee_role in actor.roles
                        or (task.assignee_unit_id is not None and task.assignee_unit_id in units))
            if not assigned:
                raise ApiError(403, "not_assignee", "only the assignee or command staff may update this task",
                               {"task_id": task_id})
            if given & STAFF_TASK_FIELDS:
                raise ApiError(403, "forbidden", "only command staff may change a task's title, due time or "
                                                 "assignee", {"fields": sorted(given & STAFF_TASK_FIELDS)})
        changed: list[str] = []
        before = task.status
        if body.status is not None and body.status != task.status:
            allowed = list(TASK_FLOW[task.status])
            if body.status not in allowed:
                raise conflict("illegal_transition", f"a task that is {task.status} cannot become {body.status}",
                               {"from": task.status, "to": body.status, "allowed": allowed})
            task.status = body.status
            if body.status == "doing":
                task.started_at = now
            if body.status == "done":
                task.done_at = now
                task.started_at = task.started_at or now
            changed.append("status")
        if "feedback" in given and body.feedback != task.feedback:
            task.feedback = body.feedback
            changed.append("feedback")
        if "feedback_file_ids" in given and body.feedback_file_ids is not None:
            await _check_files(s, "feedback_file_ids", body.feedback_file_ids)
            if list(body.feedback_file_ids) != list(task.feedback_file_ids or []):
                task.feedback_file_ids = list(body.feedback_file_ids)
                changed.append("feedback_file_ids")
        assignee_fields = given & {"assignee_user_id", "assignee_unit_id", "assignee_role"}
        if assignee_fields:
            values = {f: getattr(body, f) for f in ("assignee_user_id", "assignee_unit_id", "assignee_role")}
            if sum(1 for v in values.values() if v) > 1:
                raise _field_error("assignee_user_id", "give one assignee: a user, a unit or a role")
            await _check_assignee(s, "", values["assignee_user_id"], values["assignee_unit_id"],
                                  values["assignee_role"])
            for f, v in values.items():
                if getattr(task, f) != v:
                    setattr(task, f, v)
                    changed.append(f)
        for f in ("title", "description", "due_at"):
            if f in given and getattr(body, f) != getattr(task, f):
                setattr(task, f, getattr(body, f))
                changed.append(f)
        if changed:
            task.updated_at = now
            payload = {**_task_payload(task), "fields": changed, "feedback": task.feedback,
                       "feedback_file_ids": list(task.feedback_file_ids or [])}
            if "status" in changed:
                payload["from"] = before
            uow.emit("task.updated", subject_type="task", subject_id=task.id, incident_id=task.incident_id,
                     payload=payload, audience=_task_audience(task))
        title = await s.scalar(select(Incident.title).where(Incident.id == task.incident_id))
    return task_out(task, now, title)
