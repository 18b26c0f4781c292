"""Duty: templates, roster generation and hand edits, "today on duty", the duty log, handovers, statistics.

Every write goes through one unit of work and emits a ``duty.*`` event. What a caller sees of a person's phone
is decided by ``org.service.person_out`` (the contacts rules), never here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..core.db import UtcDateTime, utcnow
from ..core.errors import ApiError, conflict, not_found, unprocessable
from ..core.security import Actor
from ..core.services import Services
from ..core.uow import AnyActor, UnitOfWork
from ..org.models import Person, Unit
from ..org.service import person_out
from . import rotation
from .models import DutyAssignment, DutyHandover, DutyLogEntry, DutyShift, DutyTemplate
from .rotation import TZ, Candidate, local_day_bounds
from .schemas import (
    AckIn,
    AssignIn,
    GenerateIn,
    HandoverIn,
    HandoverQuery,
    LogIn,
    LogQuery,
    RangeQuery,
    ReplaceIn,
    StatsQuery,
    TemplateIn,
    TemplatePatchIn,
    TodayQuery,
    span_minutes,
)

PERSON_LOCK_CLASS = 0x4455  # "DU": advisory locks per person while an assignment is checked for overlaps
FUTURE_SLACK = dt.timedelta(minutes=5)  # clock drift allowed for a log entry's time


def _field_error(field: str, message: str, type_: str = "value_error") -> ApiError:
    return unprocessable(message, [{"loc": ["body", field], "msg": message, "type": type_}])


# --- templates -------------------------------------------------------------------------------------------------


def template_out(t: DutyTemplate, shift_count: int = 0) -> dict[str, Any]:
    return {
        "id": t.id, "name": t.name, "unit_ids": list(t.unit_ids or []), "include_sub_units": t.include_sub_units,
        "shifts": [{**s, "hours": round(span_minutes(s["start"], s["end"]) / 60, 2)} for s in t.shifts],
        "remark": t.remark, "shift_count": shift_count, "created_at": t.created_at, "updated_at": t.updated_at,
    }


async def list_templates(svc: Services) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        rows = (await s.scalars(select(DutyTemplate).order_by(DutyTemplate.id))).all()
        counts = dict((await s.execute(select(DutyShift.template_id, func.count())
                                       .group_by(DutyShift.template_id))).all())
    return [template_out(t, counts.get(t.id, 0)) for t in rows]


async def get_template(svc: Services, template_id: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        t = await _template(s, template_id)
        n = await s.scalar(select(func.count()).select_from(DutyShift).where(DutyShift.template_id == t.id))
    return template_out(t, n or 0)


async def _template(s: AsyncSession, template_id: int) -> DutyTemplate:
    t = await s.get(DutyTemplate, template_id)
    if t is None:
        raise not_found("duty template", template_id)
    return t


async def _check_units(s: AsyncSession, unit_ids: list[int], field: str = "unit_ids") -> list[Unit]:
    ids = list(dict.fromkeys(unit_ids))
    units = (await s.scalars(select(Unit).where(Unit.id.in_(ids)))).all() if ids else []
    missing = sorted(set(ids) - {u.id for u in units})
    if missing:
        raise _field_error(field, f"unit(s) {', '.join(map(str, missing))} do not exist", "not_found")
    return list(units)


async def _check_name(s: AsyncSession, name: str, own_id: int | None) -> None:
    other = await s.scalar(select(DutyTemplate.id).where(DutyTemplate.name == name))
    if other is not None and other != own_id:
        raise conflict("duplicate_name", f"a duty template named {name} already exists", {"template_id": other})


async def create_template(svc: Services, actor: AnyActor, body: TemplateIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        await _check_units(s, body.unit_ids)
        await _check_name(s, body.name, None)
        t = DutyTemplate(name=body.name, unit_ids=list(dict.fromkeys(body.unit_ids)),
                         include_sub_units=body.include_sub_units, remark=body.remark,
                         shifts=[sd.model_dump() for sd in body.shifts])
        s.add(t)
        await s.flush()
        uow.emit("duty.template.created", subject_type="duty_template", subject_id=t.id,
                 payload={"name": t.name, "shifts": [sd.name for sd in body.shifts]})
    return template_out(t)


async def patch_template(svc: Services, actor: AnyActor, template_id: int, body: TemplatePatchIn
                         ) -> dict[str, Any]:
    given = body.model_fields_set
    async with svc.write(actor) as uow:
        s = uow.session
        t = await _template(s, template_id)
        changed: list[str] = []
        if "name" in given and body.name and body.name != t.name:
            await _check_name(s, body.name, t.id)
            t.name = body.name
            changed.append("name")
        if "unit_ids" in given and body.unit_ids is not None:
            await _check_units(s, body.unit_ids)
            t.unit_ids = list(dict.fromkeys(body.unit_ids))
            changed.append("unit_ids")
        if "include_sub_units" in given and body.include_sub_units is not None:
            t.include_sub_units = body.include_sub_units
            changed.append("include_sub_units")
        if "shifts" in given and body.shifts is not None:
            # Already generated shifts keep their snapshot; only later generations use the new definition.
            t.shifts = [sd.model_dump() for sd in body.shifts]
            changed.append("shifts")
        if "remark" in given:
            t.remark = body.remark
            changed.append("remark")
        if changed:
            uow.emit("duty.template.updated", subject_type="duty_template", subject_id=t.id,
                     payload={"name": t.name, "fields": changed})
        n = await s.scalar(select(func.count()).select_from(DutyShift).where(DutyShift.template_id == t.id))
    return template_out(t, n or 0)


async def delete_template(svc: Services, actor: AnyActor, template_id: int) -> None:
    async with svc.write(actor) as uow:
        s = uow.session
        t = await _template(s, template_id)
        n = await s.scalar(select(func.count()).select_from(DutyShift).where(DutyShift.template_id == t.id)) or 0
        if n:
            raise conflict("template_in_use", "the template has generated shifts; it is kept as their record",
                           {"shifts": n})
        await s.delete(t)
        uow.emit("duty.template.deleted", subject_type="duty_template", subject_id=template_id,
                 payload={"name": t.name})


# --- people pools and output ------------------------------------------------------------------------------------


async def pool(s: AsyncSession, unit_ids: list[int], include_sub_units: bool, exclude: set[int] | None = None
               ) -> list[Candidate]:
    """Everyone in the units (and below them) who holds at least one duty role, in directory order."""
    units = await _check_units(s, unit_ids)
    if not units:
        raise _field_error("unit_ids", "name at least one unit whose people are rostered")
    where = (or_(*[Unit.path.startswith(u.path) for u in units]) if include_sub_units
             else Person.unit_id.in_([u.id for u in units]))
    rows = (await s.execute(select(Person.id, Person.duty_roles).join(Unit, Person.unit_id == Unit.id)
                            .where(where).order_by(Person.pinyin, Person.id))).all()
    return [Candidate(pid, frozenset(roles or []), i) for i, (pid, roles) in enumerate(rows)
            if roles and pid not in (exclude or set())]


def duty_person(a: DutyAssignment, p: Person, unit_name: str, actor: AnyActor) -> dict[str, Any]:
    shown = person_out(p, unit_name, actor)  # the contacts rules decide full or masked numbers
    return {"assignment_id": a.id, "person_id": p.id, "name": shown["name"], "unit_name": unit_name,
            "job_title": shown["position"], "duty_roles": shown["duty_roles"], "mobile": shown["mobile"],
            "office_phone": shown["office_phone"]}


async def shifts_out(s: AsyncSession, shifts: list[DutyShift], actor: AnyActor) -> list[dict[str, Any]]:
    """Shifts with their positions filled in, each position's shortfall and the shift's gap flag."""
    by_shift: dict[int, list[tuple[DutyAssignment, Person, str]]] = defaultdict(list)
    ids = [sh.id for sh in shifts]
    for chunk in range(0, len(ids), 500):
        rows = (await s.execute(
            select(DutyAssignment, Person, Unit.name).join(Person, DutyAssignment.person_id == Person.id)
            .join(Unit, Person.unit_id == Unit.id).where(DutyAssignment.shift_id.in_(ids[chunk:chunk + 500]))
            .order_by(DutyAssignment.id))).all()
        for a, p, unit_name in rows:
            by_shift[a.shift_id].append((a, p, unit_name))
    return [shift_dict(sh, by_shift.get(sh.id, []), actor) for sh in shifts]


def shift_dict(sh: DutyShift, rows: list[tuple[DutyAssignment, Person, str]], actor: AnyActor
               ) -> dict[str, Any]:
    slots = []
    for pos in sh.positions:
        people = [duty_person(a, p, u, actor) for a, p, u in rows if a.position_key == pos["key"]]
        slots.append({"key": pos["key"], "name": pos["name"], "count": pos["count"], "roles": pos["roles"],
                      "lead": bool(pos.get("lead")), "people": people,
                      "missing": max(0, pos["count"] - len(people))})
    missing = sum(sl["missing"] for sl in slots)
    return {"id": sh.id, "template_id": sh.template_id, "day": sh.day, "shift_key": sh.shift_key,
            "name": sh.name, "starts_at": sh.starts_at, "ends_at": sh.ends_at, "positions": slots,
            "missing": missing, "gap": missing > 0}


# --- roster ------------------------------------------------------------------------------------------------------


async def generate(svc: Services, actor: AnyActor, body: GenerateIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        t = await s.get(DutyTemplate, body.template_id)
        if t is None:
            raise _field_error("template_id", f"duty template {body.template_id} does not exist", "not_found")
        unit_ids = body.unit_ids if body.unit_ids is not None else list(t.unit_ids or [])
        include_sub = t.include_sub_units if body.include_sub_units is None else body.include_sub_units
        people = await pool(s, unit_ids, include_sub, set(body.exclude_person_ids))
        replaced = await _clear_range(s, t.id, body.start_date, body.end_date, body.replace)
        busy = await _busy(s, [c.person_id for c in people], body.start_date, body.end_date)
        plan = rotation.plan_roster(t.shifts, body.start_date, body.end_date, people, busy)
        await insert_plan(s, t.id, plan)
        uow.emit("duty.roster.generated", subject_type="duty_template", subject_id=t.id,
                 payload={"template": t.name, "from": body.start_date.isoformat(),
                          "to": body.end_date.isoformat(), "shifts": len(plan.shifts),
                          "assignments": plan.assignments, "gaps": plan.gaps, "replaced": replaced})
    return {"template_id": t.id, "shifts": len(plan.shifts), "assignments": plan.assignments, "gaps": plan.gaps,
            "replaced": replaced,
            "counts": {k: {str(pid): n for pid, n in v.items()} for k, v in plan.counts.items()}}


async def insert_plan(s: AsyncSession, template_id: int, plan: rotation.Plan) -> list[DutyShift]:
    """Bulk-insert a planned roster (also used by the demo seed)."""
    rows = [DutyShift(template_id=template_id, day=ps.day, shift_key=ps.definition["key"],
                      name=ps.definition["name"], starts_at=ps.starts_at, ends_at=ps.ends_at,
                      positions=ps.definition["positions"]) for ps in plan.shifts]
    s.add_all(rows)
    await s.flush()
    s.add_all([DutyAssignment(shift_id=row.id, position_key=key, person_id=pid)
               for row, ps in zip(rows, plan.shifts, strict=True) for key, pid in ps.picks])
    await s.flush()
    return rows


async def _clear_range(s: AsyncSession, template_id: int, first: dt.date, last: dt.date, replace: bool) -> int:
    existing = (await s.scalars(select(DutyShift).where(DutyShift.template_id == template_id,
                                                        DutyShift.day >= first, DutyShift.day <= last)
                                .order_by(DutyShift.day))).all()
    if not existing:
        return 0
    if not replace:
        days = sorted({sh.day.isoformat() for sh in existing})
        raise conflict("roster_exists", "this template already has shifts in the range; "
                       "choose other dates or replace them", {"days": days[:31], "count": len(existing)})
    ids = [sh.id for sh in existing]
    handovers = await s.scalar(select(func.count()).select_from(DutyHandover).where(
        or_(DutyHandover.from_shift_id.in_(ids), DutyHandover.to_shift_id.in_(ids)))) or 0
    if handovers:
        raise conflict("roster_has_handovers", "shifts in the range carry handover records and cannot be replaced",
                       {"handovers": handovers})
    # Assignments go by the foreign key's cascade, log entries keep their text (shift_id set to NULL).
    await s.execute(delete(DutyAssignment).where(DutyAssignment.shift_id.in_(ids)))
    await s.execute(delete(DutyShift).where(DutyShift.id.in_(ids)))
    return len(ids)


async def _busy(s: AsyncSession, person_ids: list[int], first: dt.date, last: dt.date
                ) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """Shifts (of any roster) the people are already on around the range: they may not overlap new ones."""
    a, b = local_day_bounds(first - dt.timedelta(days=1), last + dt.timedelta(days=2))
    out: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    rows = (await s.execute(select(DutyAssignment.person_id, DutyShift.starts_at, DutyShift.ends_at)
                            .join(DutyShift, DutyAssignment.shift_id == DutyShift.id)
                            .where(DutyShift.starts_at < b, DutyShift.ends_at > a))).all()
    wanted = set(person_ids)
    for pid, st, en in rows:
        if pid in wanted:
            out[pid].append((st, en))
    return out


async def roster(svc: Services, actor: AnyActor, q: RangeQuery) -> dict[str, Any]:
    async with svc.db.read() as s:
        stmt = select(DutyShift).where(DutyShift.day >= q.date_from, DutyShift.day <= q.date_to)
        if q.template_id is not None:
            stmt = stmt.where(DutyShift.template_id == q.template_id)
        if q.person_id is not None:
            stmt = stmt.where(DutyShift.id.in_(select(DutyAssignment.shift_id)
                                               .where(DutyAssignment.person_id == q.person_id)))
        shifts = list((await s.scalars(stmt.order_by(DutyShift.starts_at, DutyShift.template_id))).all())
        items = await shifts_out(s, shifts, actor)
    return {"from": q.date_from, "to": q.date_to, "items": items, "gaps": sum(1 for i in items if i["gap"])}


async def _shift_out(s: AsyncSession, shift: DutyShift, actor: AnyActor) -> dict[str, Any]:
    return (await shifts_out(s, [shift], actor))[0]


async def _lock_person(uow: UnitOfWork, person_id: int) -> None:
    """On PostgreSQL two writers could both pass the overlap check; this serialises them per person.
    SQLite needs nothing: its writes are already serialised (``core.db``)."""
    if uow.is_postgres:
        await uow.session.execute(text("SELECT pg_advisory_xact_lock(:c, :p)"),
                                  {"c": PERSON_LOCK_CLASS, "p": person_id})


async def _check_person_fits(uow: UnitOfWork, shift: DutyShift, position: dict[str, Any], person_id: int,
                             ignore_assignment: int | None = None) -> Person:
    s = uow.session
    person = await s.get(Person, person_id)
    if person is None:
        raise _field_error("person_id", f"person {person_id} does not exist", "not_found")
    roles = set(person.duty_roles or [])
    if not roles & set(position["roles"]):
        raise _field_error("person_id", f"{person.name} holds no duty role the position {position['name']} "
                           f"accepts ({', '.join(position['roles'])})", "role_mismatch")
    await _lock_person(uow, person_id)
    stmt = (select(DutyShift, DutyAssignment.id).join(DutyAssignment, DutyAssignment.shift_id == DutyShift.id)
            .where(DutyAssignment.person_id == person_id, DutyShift.starts_at < shift.ends_at,
                   DutyShift.ends_at > shift.starts_at))
    if ignore_assignment is not None:
        stmt = stmt.where(DutyAssignment.id != ignore_assignment)
    clash = (await s.execute(stmt.limit(1))).first()
    if clash is not None:
        other = clash[0]
        raise conflict("duty_overlap", f"{person.name} is already on duty at that time "
                       f"({other.day.isoformat()} {other.name})",
                       {"person_id": person_id, "shift_id": other.id, "day": other.day.isoformat(),
                        "shift": other.name, "starts_at": other.starts_at.isoformat(),
                        "ends_at": other.ends_at.isoformat()})
    return person


async def _shift_for_write(s: AsyncSession, shift_id: int) -> DutyShift:
    sh = await s.get(DutyShift, shift_id)
    if sh is None:
        raise not_found("duty shift", shift_id)
    return sh


async def assign(svc: Services, actor: AnyActor, shift_id: int, body: AssignIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        sh = await _shift_for_write(s, shift_id)
        position = next((p for p in sh.positions if p["key"] == body.position_key), None)
        if position is None:
            raise _field_error("position_key", f"shift {sh.name} has no position {body.position_key}; "
                               f"use one of {', '.join(p['key'] for p in sh.positions)}")
        person = await _check_person_fits(uow, sh, position, body.person_id)
        filled = await s.scalar(select(func.count()).select_from(DutyAssignment).where(
            DutyAssignment.shift_id == sh.id, DutyAssignment.position_key == position["key"])) or 0
        if filled >= position["count"]:
            raise conflict("position_full", f"{position['name']} already has its {position['count']} people; "
                           "replace someone instead", {"position_key": position["key"], "count": position["count"]})
        a = DutyAssignment(shift_id=sh.id, position_key=position["key"], person_id=person.id)
        s.add(a)
        await s.flush()
        uow.emit("duty.assignment.created", subject_type="duty_shift", subject_id=sh.id,
                 payload={"day": sh.day.isoformat(), "shift": sh.name, "position": position["name"],
                          "person_id": person.id, "name": person.name})
        return await _shift_out(s, sh, actor)


async def replace(svc: Services, actor: AnyActor, assignment_id: int, body: ReplaceIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        a = await s.get(DutyAssignment, assignment_id)
        if a is None:
            raise not_found("duty assignment", assignment_id)
        sh = await _shift_for_write(s, a.shift_id)
        position = next(p for p in sh.positions if p["key"] == a.position_key)
        if body.person_id != a.person_id:
            before = await s.get(Person, a.person_id)
            person = await _check_person_fits(uow, sh, position, body.person_id, ignore_assignment=a.id)
            a.person_id = person.id
            uow.emit("duty.assignment.updated", subject_type="duty_shift", subject_id=sh.id,
                     payload={"day": sh.day.isoformat(), "shift": sh.name, "position": position["name"],
                              "person_id": person.id, "name": person.name,
                              "replaced_person_id": before.id if before else None,
                              "replaced_name": before.name if before else None})
            await s.flush()
        return await _shift_out(s, sh, actor)


async def unassign(svc: Services, actor: AnyActor, assignment_id: int) -> None:
    async with svc.write(actor) as uow:
        s = uow.session
        a = await s.get(DutyAssignment, assignment_id)
        if a is None:
            raise not_found("duty assignment", assignment_id)
        sh = await _shift_for_write(s, a.shift_id)
        person = await s.get(Person, a.person_id)
        await s.delete(a)
        uow.emit("duty.assignment.deleted", subject_type="duty_shift", subject_id=sh.id,
                 payload={"day": sh.day.isoformat(), "shift": sh.name, "position_key": a.position_key,
                          "person_id": a.person_id, "name": person.name if person else None})


async def export_rows(svc: Services, actor: AnyActor, q: RangeQuery) -> list[dict[str, Any]]:
    return (await roster(svc, actor, q))["items"]


# --- today on duty -----------------------------------------------------------------------------------------------


def _today_shifts(at: dt.datetime, template_id: int | None) -> Any:
    """One statement for the template's current shift and the next one, each with its template's name and a
    row per person on it (or one row with no person).

    The template: the one asked for; else the one whose roster runs now, else the next one to start (the
    oldest template wins a tie). Current: its latest-starting shift running at ``at``. Next: its first shift
    starting when the current one ends (or after ``at``). Five round trips before (docs/performance.md,
    thirteenth round): on a busy server each waits for the event loop."""
    at_ = literal(at, UtcDateTime())
    if template_id is None:
        running = (select(DutyShift.template_id).where(DutyShift.starts_at <= at_, DutyShift.ends_at > at_)
                   .order_by(DutyShift.template_id).limit(1).scalar_subquery())
        upcoming = (select(DutyShift.template_id).where(DutyShift.starts_at > at_)
                    .order_by(DutyShift.starts_at, DutyShift.template_id).limit(1).scalar_subquery())
        tid: Any = func.coalesce(running, upcoming)
    else:
        tid = literal(template_id)
    current = (select(DutyShift.id, DutyShift.ends_at)
               .where(DutyShift.template_id == tid, DutyShift.starts_at <= at_, DutyShift.ends_at > at_)
               .order_by(DutyShift.starts_at.desc()).limit(1).cte("current_shift"))
    after = func.coalesce(select(current.c.ends_at).scalar_subquery(), at_)
    following = (select(DutyShift.id).where(DutyShift.template_id == tid, DutyShift.starts_at >= after)
                 .order_by(DutyShift.starts_at).limit(1).scalar_subquery())
    # A person's unit and an assignment's person are required references: the outer joins drop nobody the
    # roster's inner joins (``shifts_out``) would keep.
    return (select(DutyShift, DutyTemplate.name, DutyAssignment, Person, Unit.name)
            .join(DutyTemplate, DutyTemplate.id == DutyShift.template_id)
            .outerjoin(DutyAssignment, DutyAssignment.shift_id == DutyShift.id)
            .outerjoin(Person, Person.id == DutyAssignment.person_id).outerjoin(Unit, Unit.id == Person.unit_id)
            .where(or_(DutyShift.id.in_(select(current.c.id)), DutyShift.id == following))
            .order_by(DutyShift.starts_at, DutyAssignment.id))


async def today(svc: Services, actor: AnyActor, q: TodayQuery) -> dict[str, Any]:
    at = (q.at or utcnow()).astimezone(dt.UTC)
    async with svc.db.read() as s:
        found = (await s.execute(_today_shifts(at, q.template_id))).all()
        if not found:
            if q.template_id is None:
                return {"at": at, "template": None, "current": None, "next": None}
            t = await _template(s, q.template_id)  # 404 for an unknown template; else it has nothing ahead
            return {"at": at, "template": {"id": t.id, "name": t.name}, "current": None, "next": None}
    people: dict[int, list[tuple[DutyAssignment, Person, str]]] = {}
    for sh, _name, a, p, unit_name in found:
        rows = people.setdefault(sh.id, [])
        if a is not None:
            rows.append((a, p, unit_name))
    shifts = {sh.id: sh for sh, *_ in found}.values()
    # The next shift starts when the current one ends or later, so only the current one runs at ``at``.
    current = next((sh for sh in shifts if sh.starts_at <= at < sh.ends_at), None)
    nxt = next((sh for sh in shifts if sh is not current), None)
    first, name = found[0][0], found[0][1]
    return {"at": at, "template": {"id": first.template_id, "name": name},
            "current": None if current is None else shift_dict(current, people[current.id], actor),
            "next": None if nxt is None else shift_dict(nxt, people[nxt.id], actor)}


# --- duty log ------------------------------------------------------------------------------------------------------


async def _linked_person(s: AsyncSession, actor: AnyActor) -> Person | None:
    if not isinstance(actor, Actor):
        return None
    return await s.scalar(select(Person).where(Person.user_id == actor.user_id))


async def add_log(svc: Services, actor: AnyActor, body: LogIn) -> dict[str, Any]:
    now = utcnow()
    at = (body.at or now).astimezone(dt.UTC)
    if at > now + FUTURE_SLACK:
        raise _field_error("at", "a log entry cannot be in the future")
    async with svc.write(actor) as uow:
        s = uow.session
        if body.person_id is not None:
            person = await s.get(Person, body.person_id)
            if person is None:
                raise _field_error("person_id", f"person {body.person_id} does not exist", "not_found")
        else:
            person = await _linked_person(s, actor)
            if person is None:
                raise _field_error("person_id", "your account is not linked to a person in the directory; "
                                   "name who records the entry", "missing")
        shift = await _log_shift(s, body.shift_id, person.id, at)
        e = DutyLogEntry(at=at, category=body.category, text=body.text, shift_id=shift.id if shift else None,
                         person_id=person.id, created_by=actor.user_id, created_by_name=actor.username)
        s.add(e)
        await s.flush()
        uow.emit("duty.log.created", subject_type="duty_log", subject_id=e.id,
                 payload={"category": e.category, "name": person.name, "shift_id": e.shift_id,
                          "text": e.text[:140]})
    return log_out(e, person, shift)


async def _log_shift(s: AsyncSession, shift_id: int | None, person_id: int, at: dt.datetime) -> DutyShift | None:
    if shift_id is not None:
        shift = await s.get(DutyShift, shift_id)
        if shift is None:
            raise _field_error("shift_id", f"duty shift {shift_id} does not exist", "not_found")
        if not shift.starts_at <= at <= shift.ends_at:
            raise _field_error("at", f"the time is outside the shift {shift.day.isoformat()} {shift.name}")
        return shift
    covering = select(DutyShift).where(DutyShift.starts_at <= at, DutyShift.ends_at > at)
    own = await s.scalar(covering.join(DutyAssignment, DutyAssignment.shift_id == DutyShift.id)
                         .where(DutyAssignment.person_id == person_id).limit(1))
    return own or await s.scalar(covering.order_by(DutyShift.template_id).limit(1))


def log_out(e: DutyLogEntry, person: Person | None, shift: DutyShift | None) -> dict[str, Any]:
    return {"id": e.id, "at": e.at, "category": e.category, "text": e.text, "shift_id": e.shift_id,
            "shift_name": shift.name if shift else None, "shift_day": shift.day if shift else None,
            "person_id": e.person_id, "person_name": person.name if person else "",
            "created_by_name": e.created_by_name, "created_at": e.created_at}


async def list_log(svc: Services, q: LogQuery) -> dict[str, Any]:
    stmt = (select(DutyLogEntry, Person, DutyShift).join(Person, DutyLogEntry.person_id == Person.id)
            .outerjoin(DutyShift, DutyLogEntry.shift_id == DutyShift.id))
    if q.date_from:
        stmt = stmt.where(DutyLogEntry.at >= local_day_bounds(q.date_from, q.date_from)[0])
    if q.date_to:
        stmt = stmt.where(DutyLogEntry.at < local_day_bounds(q.date_to, q.date_to)[1])
    if q.person_id is not None:
        stmt = stmt.where(DutyLogEntry.person_id == q.person_id)
    if q.shift_id is not None:
        stmt = stmt.where(DutyLogEntry.shift_id == q.shift_id)
    if q.category:
        stmt = stmt.where(DutyLogEntry.category == q.category)
    if q.q:
        stmt = stmt.where(DutyLogEntry.text.contains(q.q, autoescape=True))
    async with svc.db.read() as s:
        total = await s.scalar(select(func.count()).select_from(stmt.with_only_columns(DutyLogEntry.id).subquery()))
        rows = (await s.execute(stmt.order_by(DutyLogEntry.at.desc(), DutyLogEntry.id.desc())
                                .limit(q.page_size).offset((q.page - 1) * q.page_size))).all()
    return {"items": [log_out(e, p, sh) for e, p, sh in rows], "total": total or 0, "page": q.page,
            "page_size": q.page_size}


# --- handovers -------------------------------------------------------------------------------------------------------


async def _leaders(s: AsyncSession, shifts: list[DutyShift]) -> dict[int, tuple[list[int], list[str]]]:
    """Per shift: the people in its lead position (ids, names); every assigned person when none leads."""
    if not shifts:
        return {}
    rows = (await s.execute(select(DutyAssignment.shift_id, DutyAssignment.position_key, Person.id, Person.name)
                            .join(Person, DutyAssignment.person_id == Person.id)
                            .where(DutyAssignment.shift_id.in_([sh.id for sh in shifts]))
                            .order_by(DutyAssignment.id))).all()
    out: dict[int, tuple[list[int], list[str]]] = {}
    for sh in shifts:
        lead_keys = {p["key"] for p in sh.positions if p.get("lead")}
        mine = [(pid, name) for sid, key, pid, name in rows if sid == sh.id and (not lead_keys or key in lead_keys)]
        out[sh.id] = ([m[0] for m in mine], [m[1] for m in mine])
    return out


def _shift_ref(sh: DutyShift, leaders: dict[int, tuple[list[int], list[str]]]) -> dict[str, Any]:
    names = leaders.get(sh.id, ([], []))[1]
    return {"id": sh.id, "day": sh.day, "name": sh.name, "starts_at": sh.starts_at, "ends_at": sh.ends_at,
            "leader": "、".join(names) or None}


async def _handovers_out(s: AsyncSession, rows: list[DutyHandover]) -> list[dict[str, Any]]:
    shift_ids = {h.from_shift_id for h in rows} | {h.to_shift_id for h in rows}
    shifts = {sh.id: sh for sh in (await s.scalars(select(DutyShift).where(DutyShift.id.in_(shift_ids)))).all()}
    leaders = await _leaders(s, list(shifts.values()))
    ack_ids = {h.acknowledged_by_person_id for h in rows if h.acknowledged_by_person_id}
    names = dict((await s.execute(select(Person.id, Person.name).where(Person.id.in_(ack_ids)))).all()) \
        if ack_ids else {}
    return [{"id": h.id, "from_shift": _shift_ref(shifts[h.from_shift_id], leaders),
             "to_shift": _shift_ref(shifts[h.to_shift_id], leaders), "notes": h.notes,
             "pending_items": h.pending_items, "created_by_name": h.created_by_name, "created_at": h.created_at,
             "acknowledged_at": h.acknowledged_at, "acknowledged_by": names.get(h.acknowledged_by_person_id),
             "ack_remark": h.ack_remark, "state": "acknowledged" if h.acknowledged_at else "pending"}
            for h in rows]


async def create_handover(svc: Services, actor: AnyActor, body: HandoverIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        src = await s.get(DutyShift, body.from_shift_id)
        if src is None:
            raise _field_error("from_shift_id", f"duty shift {body.from_shift_id} does not exist", "not_found")
        if body.to_shift_id is not None:
            dst = await s.get(DutyShift, body.to_shift_id)
            if dst is None:
                raise _field_error("to_shift_id", f"duty shift {body.to_shift_id} does not exist", "not_found")
            if dst.starts_at <= src.starts_at:
                raise _field_error("to_shift_id", "the incoming shift must start after the outgoing one")
        else:
            dst = await s.scalar(select(DutyShift).where(DutyShift.template_id == src.template_id,
                                                         DutyShift.starts_at > src.starts_at)
                                 .order_by(DutyShift.starts_at).limit(1))
            if dst is None:
                raise _field_error("to_shift_id", "there is no next shift on the roster; generate it first")
        existing = await s.scalar(select(DutyHandover.id).where(DutyHandover.from_shift_id == src.id))
        if existing is not None:
            raise conflict("handover_exists", "this shift has already handed over", {"handover_id": existing})
        author = await _linked_person(s, actor)
        h = DutyHandover(from_shift_id=src.id, to_shift_id=dst.id, notes=body.notes,
                         pending_items=body.pending_items, created_by_person_id=author.id if author else None,
                         created_by=actor.user_id, created_by_name=author.name if author else actor.username)
        s.add(h)
        await s.flush()
        uow.emit("duty.handover.created", subject_type="duty_handover", subject_id=h.id,
                 payload={"from_shift_id": src.id, "to_shift_id": dst.id, "from": f"{src.day} {src.name}",
                          "to": f"{dst.day} {dst.name}", "text": body.notes[:140]})
        return (await _handovers_out(s, [h]))[0]


async def acknowledge(svc: Services, actor: AnyActor, handover_id: int, body: AckIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        h = await s.get(DutyHandover, handover_id)
        if h is None:
            raise not_found("duty handover", handover_id)
        if h.acknowledged_at is not None:
            raise conflict("already_acknowledged", "this handover has already been acknowledged",
                           {"acknowledged_at": h.acknowledged_at.isoformat()})
        dst = await _shift_for_write(s, h.to_shift_id)
        leader_ids, leader_names = (await _leaders(s, [dst]))[dst.id]
        me = await _linked_person(s, actor)
        if me is None or me.id not in leader_ids:
            raise ApiError(403, "not_incoming_leader", "only the leader of the incoming shift can acknowledge "
                           "the handover", {"leaders": leader_names})
        h.acknowledged_at = utcnow()
        h.acknowledged_by_person_id = me.id
        h.ack_remark = body.remark
        await s.flush()
        uow.emit("duty.handover.acknowledged", subject_type="duty_handover", subject_id=h.id,
                 payload={"to_shift_id": dst.id, "name": me.name})
        return (await _handovers_out(s, [h]))[0]


async def list_handovers(svc: Services, q: HandoverQuery) -> list[dict[str, Any]]:
    src = select(DutyShift.id)
    if q.date_from:
        src = src.where(DutyShift.day >= q.date_from)
    if q.date_to:
        src = src.where(DutyShift.day <= q.date_to)
    stmt = select(DutyHandover).where(DutyHandover.from_shift_id.in_(src))
    if q.state == "pending":
        stmt = stmt.where(DutyHandover.acknowledged_at.is_(None))
    elif q.state == "acknowledged":
        stmt = stmt.where(DutyHandover.acknowledged_at.is_not(None))
    if q.person_id is not None:
        theirs = select(DutyAssignment.shift_id).where(DutyAssignment.person_id == q.person_id)
        stmt = stmt.where(or_(DutyHandover.from_shift_id.in_(theirs), DutyHandover.to_shift_id.in_(theirs)))
    async with svc.db.read() as s:
        rows = list((await s.scalars(stmt.order_by(DutyHandover.created_at.desc(), DutyHandover.id.desc())
                                     .limit(q.limit))).all())
        return await _handovers_out(s, rows)


# --- statistics ----------------------------------------------------------------------------------------------------


async def stats(svc: Services, q: StatsQuery) -> dict[str, Any]:
    """Duty turns (one person on one shift), hours and log entries per person, per month, per both.

    A shift counts in the month of its duty day; a log entry in the Shanghai month it was written in.
    """
    shift_stmt = (select(DutyAssignment.person_id, DutyShift.day, DutyShift.starts_at, DutyShift.ends_at)
                  .join(DutyShift, DutyAssignment.shift_id == DutyShift.id)
                  .where(DutyShift.day >= q.date_from, DutyShift.day <= q.date_to))
    a, b = local_day_bounds(q.date_from, q.date_to)
    log_stmt = select(DutyLogEntry.person_id, DutyLogEntry.at).where(DutyLogEntry.at >= a, DutyLogEntry.at < b)
    if q.template_id is not None:
        shift_stmt = shift_stmt.where(DutyShift.template_id == q.template_id)
        log_stmt = log_stmt.where(DutyLogEntry.shift_id.in_(select(DutyShift.id).where(
            DutyShift.template_id == q.template_id)))
    if q.person_id is not None:
        shift_stmt = shift_stmt.where(DutyAssignment.person_id == q.person_id)
        log_stmt = log_stmt.where(DutyLogEntry.person_id == q.person_id)
    cells: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0, 0.0, 0])  # shifts, hours, entries
    async with svc.db.read() as s:
        for pid, day, st, en in (await s.execute(shift_stmt)).all():
            c = cells[(pid, day.strftime("%Y-%m"))]
            c[0] += 1
            c[1] += (en - st).total_seconds() / 3600
        for pid, at in (await s.execute(log_stmt)).all():
            cells[(pid, at.astimezone(TZ).strftime("%Y-%m"))][2] += 1
        ids = {pid for pid, _ in cells}
        people = {p.id: (p.name, unit) for p, unit in (await s.execute(
            select(Person, Unit.name).join(Unit, Person.unit_id == Unit.id).where(Person.id.in_(ids)))).all()} \
            if ids else {}

    def row(pid: int | None, month: str | None, c: list[float]) -> dict[str, Any]:
        name, unit = people.get(pid, (None, None)) if pid is not None else (None, None)
        return {"person_id": pid, "name": name, "unit_name": unit, "month": month, "shifts": int(c[0]),
                "hours": round(c[1], 2), "log_entries": int(c[2])}

    per_person: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    per_month: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for (pid, month), c in cells.items():
        for acc in (per_person[pid], per_month[month]):
            for i in range(3):
                acc[i] += c[i]
    by_name = sorted(per_person, key=lambda p: (-per_person[p][0], people.get(p, ("", ""))[0] or "", p))
    return {
        "from": q.date_from, "to": q.date_to,
        "people": [row(pid, None, per_person[pid]) for pid in by_name],
        "months": [row(None, m, per_month[m]) for m in sorted(per_month)],
        "rows": [row(pid, m, cells[(pid, m)]) for pid, m in sorted(cells, key=lambda k: (k[1], k[0]))],
    }


# --- candidates for a slot -------------------------------------------------------------------------------------------


async def candidates(svc: Services, actor: AnyActor, shift_id: int, position_key: str) -> list[dict[str, Any]]:
    """Who could fill a position: anyone holding an accepted duty role, the roster's own units first, people
    already on an overlapping shift flagged ``busy`` (assigning them would be refused)."""
    async with svc.db.read() as s:
        sh = await s.get(DutyShift, shift_id)
        if sh is None:
            raise not_found("duty shift", shift_id)
        position = next((p for p in sh.positions if p["key"] == position_key), None)
        if position is None:
            raise unprocessable(f"shift {sh.name} has no position {position_key}",
                                [{"loc": ["query", "position_key"], "msg": "unknown position", "type": "value_error"}])
        t = await s.get(DutyTemplate, sh.template_id)
        own: set[int] = set()
        if t is not None and t.unit_ids:
            own = {c.person_id for c in await pool(s, list(t.unit_ids), t.include_sub_units)}
        accepted = set(position["roles"])
        rows = [(p, unit) for p, unit in (await s.execute(
            select(Person, Unit.name).join(Unit, Person.unit_id == Unit.id).order_by(Person.pinyin, Person.id)
        )).all() if accepted & set(p.duty_roles or [])]
        busy = set((await s.scalars(select(DutyAssignment.person_id).join(
            DutyShift, DutyAssignment.shift_id == DutyShift.id).where(
            DutyShift.starts_at < sh.ends_at, DutyShift.ends_at > sh.starts_at))).all())
        month_first = sh.day.replace(day=1)
        month_counts = dict((await s.execute(
            select(DutyAssignment.person_id, func.count()).join(DutyShift, DutyAssignment.shift_id == DutyShift.id)
            .where(DutyShift.day >= month_first, DutyShift.day < _next_month(month_first))
            .group_by(DutyAssignment.person_id))).all())
    out = []
    for p, unit in rows:
        shown = person_out(p, unit, actor)
        out.append({"person_id": p.id, "name": p.name, "unit_name": unit, "job_title": p.position,
                    "duty_roles": shown["duty_roles"], "mobile": shown["mobile"], "in_roster_units": p.id in own,
                    "busy": p.id in busy, "shifts_this_month": month_counts.get(p.id, 0)})
    out.sort(key=lambda c: (not c["in_roster_units"], c["busy"], c["shifts_this_month"]))
    return out


def _next_month(first: dt.date) -> dt.date:
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
