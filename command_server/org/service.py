"""Organisation and contacts: units as a tree, people with pinyin search, sensitive fields protected.

Units carry a materialised path ("/1/4/9/") so "this unit and everything under it" is one LIKE. People's
phone and ID numbers are stored SM4-encrypted with blind indexes; what a caller sees of them depends on
``contacts:sensitive`` / ``contacts:identity`` and is decided in ``person_out`` only. Every write emits an
event whose payload names what changed, never a phone or ID value.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth.models import User
from ..core.crypto import blind_index, mask_id_number, mask_phone
from ..core.errors import ApiError, conflict, not_found, unprocessable
from ..core.realtime import base_rooms
from ..core.security import Actor
from ..core.services import Services
from ..core.uow import AnyActor
from . import search
from .models import Person, Unit
from .schemas import (
    ALLOWED_PARENTS,
    DUTY_ROLES,
    ExportQuery,
    PeopleQuery,
    PersonCreateIn,
    PersonPatchIn,
    UnitCreateIn,
    UnitPatchIn,
)
from .xlsx import LABELS, SheetRow

EXPORT_MAX_ROWS = 20_000


async def rooms_for(svc: Services, actor: Actor) -> list[str]:
    """Socket.IO rooms a user is entitled to: base rooms plus their unit's room."""
    rooms = base_rooms(actor)
    async with svc.db.read() as s:
        unit_id = await s.scalar(select(Person.unit_id).where(Person.user_id == actor.user_id))
    if unit_id is not None:
        rooms.append(f"org:{unit_id}")
    return rooms


def _field_error(field_name: str, message: str, type_: str = "value_error") -> ApiError:
    return unprocessable(message, [{"loc": ["body", field_name], "msg": message, "type": type_}])


# --- units ----------------------------------------------------------------------------------------------------


def unit_out(u: Unit, people_count: int = 0) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "kind": u.kind, "code": u.code, "parent_id": u.parent_id,
            "sort_order": u.sort_order, "people_count": people_count, "children": []}


async def unit_tree(svc: Services) -> list[dict[str, Any]]:
    """All units as a forest; people_count includes everyone in sub-units."""
    async with svc.db.read() as s:
        units = (await s.scalars(select(Unit))).all()
        direct = dict((await s.execute(select(Person.unit_id, func.count()).group_by(Person.unit_id))).all())
    totals: dict[int, int] = defaultdict(int)
    for u in units:
        # Each unit's own people count towards every unit on its path (itself included).
        for ancestor in _path_ids(u.path):
            totals[ancestor] += direct.get(u.id, 0)
    nodes = {u.id: unit_out(u, totals[u.id]) for u in units}
    roots: list[dict[str, Any]] = []
    for u in units:
        parent = nodes.get(u.parent_id) if u.parent_id is not None else None
        (parent["children"] if parent else roots).append(nodes[u.id])
    _sort_forest(roots)
    return roots


def _path_ids(path: str) -> list[int]:
    return [int(p) for p in path.strip("/").split("/") if p]


def _sort_forest(nodes: list[dict[str, Any]]) -> None:
    nodes.sort(key=lambda n: (n["sort_order"], n["name"]))
    for n in nodes:
        _sort_forest(n["children"])


async def _get_unit(s: AsyncSession, unit_id: int) -> Unit:
    unit = await s.get(Unit, unit_id)
    if unit is None:
        raise not_found("unit", unit_id)
    return unit


async def _check_placement(s: AsyncSession, kind: str, parent_id: int | None) -> Unit | None:
    """The parent a unit of ``kind`` may be placed under (None for a root), or a 422 naming the field."""
    allowed = ALLOWED_PARENTS[kind]
    if allowed is None:
        if parent_id is not None:
            raise _field_error("parent_id", f"a {kind} is a top-level unit and has no parent")
        return None
    if parent_id is None:
        raise _field_error("parent_id", f"a {kind} needs a parent unit")
    parent = await s.get(Unit, parent_id)
    if parent is None:
        raise _field_error("parent_id", f"parent unit {parent_id} does not exist", "not_found")
    if parent.kind not in allowed:
        raise _field_error("parent_id", f"a {kind} cannot be placed under a {parent.kind}")
    return parent


async def _check_code(s: AsyncSession, code: str | None, own_id: int | None) -> None:
    if code is None:
        return
    other = await s.scalar(select(Unit.id).where(Unit.code == code))
    if other is not None and other != own_id:
        raise conflict("duplicate_code", f"unit code {code} is already used", {"unit_id": other})


async def create_unit(svc: Services, actor: AnyActor, body: UnitCreateIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        parent = await _check_placement(s, body.kind, body.parent_id)
        await _check_code(s, body.code, None)
        unit = Unit(name=body.name, kind=body.kind, code=body.code, parent_id=body.parent_id,
                    sort_order=body.sort_order, path="/")
        s.add(unit)
        await s.flush()  # the path ends with the unit's own id
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
        uow.emit("unit.created", subject_type="unit", subject_id=unit.id,
                 payload={"name": unit.name, "kind": unit.kind, "parent_id": unit.parent_id}, audience=["all"])
    return unit_out(unit)


async def patch_unit(svc: Services, actor: AnyActor, unit_id: int, body: UnitPatchIn) -> dict[str, Any]:
    given = body.model_fields_set
    async with svc.write(actor) as uow:
        s = uow.session
        unit = await _get_unit(s, unit_id)
        kind = body.kind if "kind" in given and body.kind else unit.kind
        parent_id = body.parent_id if "parent_id" in given else unit.parent_id
        moving = parent_id != unit.parent_id
        changed: list[str] = []
        if moving and parent_id is not None:
            target = await s.get(Unit, parent_id)
            if target is not None and target.path.startswith(unit.path):
                raise conflict("unit_cycle", "a unit cannot be moved under itself or one of its sub-units",
                               {"unit_id": unit_id, "parent_id": parent_id})
        if moving or kind != unit.kind:
            parent = await _check_placement(s, kind, parent_id)
            await _check_children_fit(s, unit, kind)
        if "code" in given and body.code != unit.code:
            await _check_code(s, body.code, unit.id)
            unit.code = body.code
            changed.append("code")
        if kind != unit.kind:
            unit.kind = kind
            changed.append("kind")
        if "sort_order" in given and body.sort_order is not None and body.sort_order != unit.sort_order:
            unit.sort_order = body.sort_order
            changed.append("sort_order")
        if "name" in given and body.name and body.name != unit.name:
            unit.name = body.name
            changed.append("name")
            await _refresh_people_keys(s, [unit.id], {unit.id: unit.name})
        if moving:
            await _move_subtree(s, unit, parent)
            changed.append("parent_id")
        if changed:
            uow.emit("unit.updated", subject_type="unit", subject_id=unit.id,
                     payload={"name": unit.name, "fields": changed}, audience=["all"])
        count = await s.scalar(select(func.count()).select_from(Person).join(Unit, Person.unit_id == Unit.id)
                               .where(Unit.path.startswith(unit.path)))
    return unit_out(unit, count or 0)


async def _check_children_fit(s: AsyncSession, unit: Unit, kind: str) -> None:
    kinds = set((await s.scalars(select(Unit.kind).where(Unit.parent_id == unit.id))).all())
    misfits = sorted(k for k in kinds if kind not in (ALLOWED_PARENTS[k] or frozenset()))
    if misfits:
        raise _field_error("kind", f"a {kind} cannot hold its current sub-units of kind {', '.join(misfits)}")


async def _move_subtree(s: AsyncSession, unit: Unit, parent: Unit | None) -> None:
    """Re-parent ``unit`` and rewrite the materialised path of every unit below it."""
    old = unit.path
    new = f"{parent.path if parent else '/'}{unit.id}/"
    subtree = (await s.scalars(select(Unit).where(Unit.path.startswith(old)))).all()
    for u in subtree:
        u.path = new + u.path[len(old):]
    unit.parent_id = parent.id if parent else None


async def delete_unit(svc: Services, actor: AnyActor, unit_id: int) -> None:
    async with svc.write(actor) as uow:
        s = uow.session
        unit = await _get_unit(s, unit_id)
        children = await s.scalar(select(func.count()).select_from(Unit).where(Unit.parent_id == unit_id)) or 0
        people = await s.scalar(select(func.count()).select_from(Person).where(Person.unit_id == unit_id)) or 0
        if children or people:
            raise conflict("unit_not_empty", "the unit still has sub-units or people; move or delete them first",
                           {"children": children, "people": people})
        await s.delete(unit)
        uow.emit("unit.deleted", subject_type="unit", subject_id=unit_id, payload={"name": unit.name},
                 audience=["all"])


async def _refresh_people_keys(s: AsyncSession, unit_ids: list[int], names: dict[int, str]) -> None:
    people = (await s.scalars(select(Person).where(Person.unit_id.in_(unit_ids)))).all()
    for p in people:
        _set_keys(p, names[p.unit_id])


# --- people: output -------------------------------------------------------------------------------------------


def person_out(p: Person, unit_name: str, actor: AnyActor) -> dict[str, Any]:
    """The one place that decides what a caller sees of phone and ID numbers."""
    return {
        "id": p.id, "name": p.name, "pinyin": p.pinyin, "initials": p.initials, "unit_id": p.unit_id,
        "unit_name": unit_name, "position": p.position,
        "mobile": p.mobile if _can(actor, "contacts:sensitive") else p.mobile_masked,
        "office_phone": p.office_phone, "email": p.email,
        "id_number": p.id_number if _can(actor, "contacts:identity") else mask_id_number(p.id_number),
        "duty_roles": list(p.duty_roles or []), "user_id": p.user_id, "remark": p.remark, "updated_at": p.updated_at,
    }


def _can(actor: AnyActor, perm: str) -> bool:
    return isinstance(actor, Actor) and actor.can(perm)


# --- people: search -------------------------------------------------------------------------------------------


async def _filtered(s: AsyncSession, q: str | None, unit_id: int | None, include_sub_units: bool
                    ) -> tuple[Select[Any], Any]:
    """The people query for a search (joined with the unit) and its rank expression."""
    stmt = select(Person, Unit.name).join(Unit, Person.unit_id == Unit.id)
    if unit_id is not None:
        unit = await _get_unit(s, unit_id)
        stmt = stmt.where(Unit.path.startswith(unit.path) if include_sub_units else Person.unit_id == unit_id)
    plan = search.plan(q or "")
    if plan is None:
        return stmt, None
    return stmt.where(plan.where), plan.rank


async def search_people(svc: Services, actor: AnyActor, query: PeopleQuery) -> dict[str, Any]:
    async with svc.db.read() as s:
        stmt, rank = await _filtered(s, query.q, query.unit_id, query.include_sub_units)
        total = await s.scalar(select(func.count()).select_from(stmt.with_only_columns(Person.id).subquery()))
        order = [rank] if rank is not None else []
        rows = (await s.execute(stmt.order_by(*order, Person.pinyin, Person.id)
                                .limit(query.page_size).offset((query.page - 1) * query.page_size))).all()
    return {"items": [person_out(p, unit_name, actor) for p, unit_name in rows], "total": total or 0,
            "page": query.page, "page_size": query.page_size}


async def get_person(svc: Services, actor: AnyActor, person_id: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        row = (await s.execute(select(Person, Unit.name).join(Unit, Person.unit_id == Unit.id)
                               .where(Person.id == person_id))).first()
    if row is None:
        raise not_found("person", person_id)
    return person_out(row[0], row[1], actor)


# --- people: writes -------------------------------------------------------------------------------------------


def _set_keys(p: Person, unit_name: str) -> None:
    keys = search.person_keys(p.name, unit_name=unit_name, position=p.position)
    p.pinyin, p.initials, p.search_text = keys.pinyin, keys.initials, keys.search_text


def set_mobile(p: Person, mobile: str | None) -> None:
    p.mobile = mobile
    p.mobile_index = blind_index(mobile) if mobile else None
    p.mobile_masked = mask_phone(mobile)


def set_id_number(p: Person, value: str | None) -> None:
    p.id_number = value
    p.id_number_index = blind_index(value) if value else None


async def _unit_for_person(s: AsyncSession, unit_id: int) -> Unit:
    unit = await s.get(Unit, unit_id)
    if unit is None:
        raise _field_error("unit_id", f"unit {unit_id} does not exist", "not_found")
    return unit


async def _check_mobile_free(s: AsyncSession, mobile: str | None, own_id: int | None) -> None:
    if not mobile:
        return
    other = await s.scalar(select(Person.id).where(Person.mobile_index == blind_index(mobile)))
    if other is not None and other != own_id:
        raise conflict("duplicate_mobile", "another person already has this mobile number", {"person_id": other})


async def _check_user_link(s: AsyncSession, user_id: int | None, own_id: int | None) -> None:
    if user_id is None:
        return
    if await s.get(User, user_id) is None:
        raise _field_error("user_id", f"user {user_id} does not exist", "not_found")
    other = await s.scalar(select(Person.id).where(Person.user_id == user_id))
    if other is not None and other != own_id:
        raise conflict("user_already_linked", "this account is already linked to another person",
                       {"person_id": other})


async def create_person(svc: Services, actor: AnyActor, body: PersonCreateIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        unit = await _unit_for_person(s, body.unit_id)
        await _check_mobile_free(s, body.mobile, None)
        await _check_user_link(s, body.user_id, None)
        p = Person(name=body.name, unit_id=unit.id, position=body.position, office_phone=body.office_phone,
                   email=body.email, duty_roles=list(body.duty_roles), user_id=body.user_id, remark=body.remark)
        set_mobile(p, body.mobile)
        set_id_number(p, body.id_number)
        _set_keys(p, unit.name)
        s.add(p)
        await s.flush()
        uow.emit("person.created", subject_type="person", subject_id=p.id,
                 payload={"name": p.name, "unit_id": p.unit_id}, audience=["all"])
    return person_out(p, unit.name, actor)


_PLAIN_FIELDS = ("name", "position", "office_phone", "email", "duty_roles", "user_id", "remark")


async def patch_person(svc: Services, actor: AnyActor, person_id: int, body: PersonPatchIn) -> dict[str, Any]:
    given = body.model_fields_set
    async with svc.write(actor) as uow:
        s = uow.session
        p = await s.get(Person, person_id)
        if p is None:
            raise not_found("person", person_id)
        unit = await _unit_for_person(s, body.unit_id if "unit_id" in given and body.unit_id else p.unit_id)
        if "mobile" in given:
            await _check_mobile_free(s, body.mobile, p.id)
        if "user_id" in given:
            await _check_user_link(s, body.user_id, p.id)
        changed = _apply_changes(p, {f: getattr(body, f) for f in given}, unit)
        if changed:
            uow.emit("person.updated", subject_type="person", subject_id=p.id,
                     payload={"name": p.name, "fields": changed}, audience=["all"])
    return person_out(p, unit.name, actor)


def _apply_changes(p: Person, values: dict[str, Any], unit: Unit) -> list[str]:
    """Set the given fields, rebuild search keys if needed; the names of fields that really changed."""
    changed: list[str] = []
    for name in _PLAIN_FIELDS:
        if name in values and values[name] != getattr(p, name):
            setattr(p, name, list(values[name] or []) if name == "duty_roles" else values[name])
            changed.append(name)
    if unit.id != p.unit_id:
        p.unit_id = unit.id
        changed.append("unit_id")
    if "mobile" in values and values["mobile"] != p.mobile:
        set_mobile(p, values["mobile"])
        changed.append("mobile")
    if "id_number" in values and values["id_number"] != p.id_number:
        set_id_number(p, values["id_number"])
        changed.append("id_number")
    if {"name", "position", "unit_id"} & set(changed):
        _set_keys(p, unit.name)
    return changed


async def delete_person(svc: Services, actor: AnyActor, person_id: int) -> None:
    async with svc.write(actor) as uow:
        p = await uow.session.get(Person, person_id)
        if p is None:
            raise not_found("person", person_id)
        await uow.session.delete(p)
        uow.emit("person.deleted", subject_type="person", subject_id=person_id,
                 payload={"name": p.name, "unit_id": p.unit_id}, audience=["all"])


# --- XLSX export / import -------------------------------------------------------------------------------------


def _unit_chains(units: list[Unit]) -> dict[int, list[str]]:
    """Unit id → names from the root down to the unit."""
    by_id = {u.id: u for u in units}
    return {u.id: [by_id[i].name for i in _path_ids(u.path) if i in by_id] for u in units}


def _unit_labels(units: list[Unit]) -> dict[int, str]:
    """How a unit is written in a spreadsheet: its name, or the shortest unique path when names repeat."""
    chains = _unit_chains(units)
    labels: dict[int, str] = {}
    for uid, chain in chains.items():
        for k in range(1, len(chain) + 1):
            suffix = chain[-k:]
            if sum(1 for c in chains.values() if c[-k:] == suffix) == 1:
                labels[uid] = "/".join(suffix)
                break
        else:
            labels[uid] = "/".join(chain)
    return labels


async def export_rows(svc: Services, actor: AnyActor, query: ExportQuery) -> list[list[str | None]]:
    async with svc.db.read() as s:
        stmt, rank = await _filtered(s, query.q, query.unit_id, query.include_sub_units)
        order = [rank] if rank is not None else []
        rows = (await s.execute(stmt.order_by(*order, Person.pinyin, Person.id).limit(EXPORT_MAX_ROWS))).all()
        labels = _unit_labels(list((await s.scalars(select(Unit))).all()))
    out: list[list[str | None]] = []
    for p, _unit_name in rows:
        shown = person_out(p, "", actor)
        out.append([p.name, labels[p.unit_id], p.position, shown["mobile"], p.office_phone, p.email,
                    shown["id_number"], "、".join(DUTY_ROLES.get(r, r) for r in p.duty_roles or []), p.remark])
    return out


@dataclass
class ImportOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "errors": sorted(self.errors, key=lambda e: e["row"])}


class _RowError(Exception):
    pass


_ROLE_BY_LABEL = {**{label: code for code, label in DUTY_ROLES.items()}, **{code: code for code in DUTY_ROLES}}


def _parse_roles(text: str | None) -> list[str]:
    roles: list[str] = []
    for part in re.split(r"[、,，;；/\s]+", text or ""):
        if not part:
            continue
        code = _ROLE_BY_LABEL.get(part) or _ROLE_BY_LABEL.get(part.lower())
        if code is None:
            raise _RowError(f"值班角色: unknown duty role {part!r}; use {'、'.join(DUTY_ROLES.values())}")
        roles.append(code)
    return roles


class _UnitResolver:
    def __init__(self, units: list[Unit]) -> None:
        self.units = {u.id: u for u in units}
        self.chains = _unit_chains(units)

    def resolve(self, label: str | None) -> Unit:
        if not label:
            raise _RowError("单位: the unit is required")
        parts = [p.strip() for p in re.split(r"[/／>]", label) if p.strip()]
        hits = [uid for uid, chain in self.chains.items() if chain[-len(parts):] == parts]
        if not hits:
            raise _RowError(f"单位: unit {label!r} does not exist")
        if len(hits) > 1:
            raise _RowError(f"单位: unit name {label!r} is not unique; write its path, e.g. "
                            f"{'/'.join(self.chains[hits[0]][-2:])}")
        return self.units[hits[0]]


def _validate_row(values: dict[str, str | None], unit: Unit) -> tuple[PersonCreateIn, bool]:
    """The row as a validated person, and whether its ID number cell was masked (meaning: keep it)."""
    mobile = values.get("mobile")
    if mobile and "*" in mobile:
        raise _RowError("手机: a masked number cannot be imported; export with full numbers first")
    id_number = values.get("id_number")
    keep_id = bool(id_number and "*" in id_number)
    data = {
        "name": values.get("name") or "", "unit_id": unit.id, "position": values.get("position"),
        "mobile": mobile, "office_phone": values.get("office_phone"), "email": values.get("email"),
        "id_number": None if keep_id else id_number, "duty_roles": _parse_roles(values.get("duty_roles")),
        "remark": values.get("remark"),
    }
    try:
        return PersonCreateIn.model_validate(data), keep_id
    except ValidationError as exc:
        raise _RowError("; ".join(_describe(e) for e in exc.errors(include_url=False))) from None


def _describe(err: Any) -> str:
    loc = [str(x) for x in err.get("loc", ())]
    label = LABELS.get(loc[0], loc[0]) if loc else "row"
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    return f"{label}: {msg}"


async def import_people(svc: Services, actor: AnyActor, rows: list[SheetRow]) -> dict[str, Any]:
    """Apply a spreadsheet in one transaction: good rows are created or updated, bad rows reported."""
    outcome = ImportOutcome()
    async with svc.write(actor) as uow:
        s = uow.session
        resolver = _UnitResolver(list((await s.scalars(select(Unit))).all()))
        seen_mobiles: dict[str, int] = {}
        for row in rows:
            try:
                await _import_row(s, resolver, row, seen_mobiles, outcome)
            except _RowError as exc:
                outcome.errors.append({"row": row.row, "message": str(exc)})
        uow.emit("people.imported", subject_type="people",
                 payload={"created": outcome.created, "updated": outcome.updated, "unchanged": outcome.unchanged,
                          "errors": len(outcome.errors)}, audience=["all"])
    return outcome.as_dict()


async def _import_row(s: AsyncSession, resolver: _UnitResolver, row: SheetRow, seen_mobiles: dict[str, int],
                      outcome: ImportOutcome) -> None:
    unit = resolver.resolve(row.values.get("unit"))
    person_in, keep_id = _validate_row(row.values, unit)
    if person_in.mobile:
        if person_in.mobile in seen_mobiles:
            raise _RowError(f"手机: the same mobile number is already on row {seen_mobiles[person_in.mobile]}")
        seen_mobiles[person_in.mobile] = row.row
    existing = await _match_existing(s, person_in)
    if existing is None:
        p = Person(name=person_in.name, unit_id=unit.id, position=person_in.position,
                   office_phone=person_in.office_phone, email=person_in.email, duty_roles=person_in.duty_roles,
                   remark=person_in.remark)
        set_mobile(p, person_in.mobile)
        set_id_number(p, person_in.id_number)
        _set_keys(p, unit.name)
        s.add(p)
        await s.flush()  # later rows may match this one
        outcome.created += 1
        return
    values = person_in.model_dump(exclude={"unit_id", "user_id"})
    if keep_id:
        values.pop("id_number")
    if _apply_changes(existing, values, unit):
        outcome.updated += 1
    else:
        outcome.unchanged += 1


async def _match_existing(s: AsyncSession, person_in: PersonCreateIn) -> Person | None:
    """The person a row updates: same mobile (blind index); without a mobile, the one same-named person in
    the same unit who has no mobile either, so re-importing an export does not duplicate such people."""
    if person_in.mobile:
        return await s.scalar(select(Person).where(Person.mobile_index == blind_index(person_in.mobile)))
    candidates = (await s.scalars(select(Person).where(Person.name == person_in.name,
                                                       Person.unit_id == person_in.unit_id,
                                                       Person.mobile_index.is_(None)))).all()
    return candidates[0] if len(candidates) == 1 else None
