"""The plan library (CRUD, versions, diff, import/export, Chinese search), plan matching and starting the
response. No HTTP here; every write goes through one unit of work and emits its event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, case, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from ..auth.models import User
from ..core.errors import ApiError, conflict, not_found, unprocessable
from ..core.like import escape_like, like
from ..core.permissions import ROLES
from ..core.services import Services
from ..core.uow import AnyActor, UnitOfWork
from ..files.models import StoredFile
from ..org.models import Person, Unit
from ..org.schemas import DUTY_ROLES
from . import matching
from . import text as ptext
from .models import Plan, PlanVersion
from .schemas import LEVELS, PlanIn, PlanQuery, PlanWriteIn

# Who hears about library changes: the roles that may read plans.
PLAN_AUDIENCE = ["role:admin", "role:commander", "role:operator", "role:field", "role:pilot"]
DATA_FIELDS = ("code", "title", "kind", "issuing_unit", "issuing_unit_id", "event_types", "levels", "pollutants",
               "area", "steps", "guide", "notifications", "resources", "attachment_ids")
FIELD_LABELS = {"code": "预案编号", "title": "预案名称", "kind": "预案类别", "issuing_unit": "发布单位",
                "issuing_unit_id": "发布单位ID", "event_types": "适用事件类型", "levels": "适用级别",
                "pollutants": "污染物", "area": "适用区域", "steps": "响应步骤", "guide": "处置要点",
                "notifications": "通知名单", "resources": "所需资源", "attachment_ids": "附件"}
RESPONSE_FROM_STATES = ("reported", "verifying")


# --- the plan as data -------------------------------------------------------------------------------------


def plan_data(body: PlanIn) -> dict[str, Any]:
    """The normalised content of a plan: what a version stores and the current row mirrors."""
    return {
        "code": body.code or None,
        "title": body.title,
        "kind": body.kind,
        "issuing_unit": body.issuing_unit,
        "issuing_unit_id": body.issuing_unit_id,
        "event_types": list(body.event_types),
        "levels": sorted(body.levels, key=LEVELS.index),
        "pollutants": [p.normalised() for p in body.pollutants],
        "area": {"district_unit_ids": list(body.area.district_unit_ids), "polygon": body.area.polygon},
        "steps": [s.model_dump() for s in body.steps],
        "guide": body.guide,
        "notifications": {lv: body.notifications[lv].model_dump() for lv in LEVELS if lv in body.notifications},
        "resources": [r.model_dump() for r in body.resources],
        "attachment_ids": list(body.attachment_ids),
    }


def search_tokens_for(data: dict[str, Any]) -> str:
    texts = [data["title"], data.get("code"), data["issuing_unit"], data.get("guide")]
    texts += [s["action"] for s in data["steps"]]
    texts += [matching.TYPE_LABELS.get(t, t) for t in data["event_types"]]
    texts += [r["type"] for r in data.get("resources", [])]
    tokens = ptext.document_tokens(*texts)
    for p in data["pollutants"]:
        for v in (p.get("name"), p.get("cas"), p.get("canonical")):
            if v:
                tokens |= ptext.document_tokens(v) | ptext.chemical_keys(v)
    return ptext.search_column(tokens)


def _apply(plan: Plan, data: dict[str, Any]) -> None:
    for k in DATA_FIELDS:
        if k == "area":
            plan.district_unit_ids = list(data["area"]["district_unit_ids"])
            plan.area_polygon = data["area"]["polygon"]
        else:
            setattr(plan, k, data[k])
    plan.search_tokens = search_tokens_for(data)


def plan_out(p: Plan) -> dict[str, Any]:
    return {"id": p.id, "version": p.version, "status": p.status, "code": p.code, "title": p.title,
            "kind": p.kind, "issuing_unit": p.issuing_unit, "issuing_unit_id": p.issuing_unit_id,
            "event_types": p.event_types, "levels": p.levels, "pollutants": p.pollutants,
            "area": {"district_unit_ids": p.district_unit_ids or [], "polygon": p.area_polygon},
            "steps": p.steps, "guide": p.guide, "notifications": p.notifications, "resources": p.resources,
            "attachment_ids": p.attachment_ids or [], "created_at": p.created_at, "updated_at": p.updated_at}


def _summary(p: Plan, score: float | None = None) -> dict[str, Any]:
    return {"id": p.id, "version": p.version, "status": p.status, "code": p.code, "title": p.title,
            "kind": p.kind, "issuing_unit": p.issuing_unit, "event_types": p.event_types, "levels": p.levels,
            "pollutants": [x.get("name") or x.get("cas") for x in p.pollutants or []],
            "step_count": len(p.steps or []), "updated_at": p.updated_at, "score": score}


def _err(loc: list[Any], msg: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": "reference"}


async def reference_errors(s: AsyncSession, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every id the plan names must exist: units, users (active), files. One message per bad reference."""
    errors: list[dict[str, Any]] = []
    unit_refs: list[tuple[list[Any], int]] = []
    if data.get("issuing_unit_id") is not None:
        unit_refs.append((["issuing_unit_id"], data["issuing_unit_id"]))
    unit_refs += [(["area", "district_unit_ids", i], u) for i, u in enumerate(data["area"]["district_unit_ids"])]
    unit_refs += [(["steps", i, "responsible_unit_id"], st["responsible_unit_id"])
                  for i, st in enumerate(data["steps"]) if st.get("responsible_unit_id") is not None]
    user_refs: list[tuple[list[Any], int]] = []
    for lv, lst in data["notifications"].items():
        unit_refs += [(["notifications", lv, "unit_ids", i], u) for i, u in enumerate(lst.get("unit_ids", []))]
        user_refs += [(["notifications", lv, "user_ids", i], u) for i, u in enumerate(lst.get("user_ids", []))]
    if unit_refs:
        ids = {u for _, u in unit_refs}
        found = set((await s.scalars(select(Unit.id).where(Unit.id.in_(ids)))).all())
        errors += [_err(loc, f"unit {u} does not exist") for loc, u in unit_refs if u not in found]
    if user_refs:
        ids = {u for _, u in user_refs}
        active = set((await s.scalars(select(User.id).where(User.id.in_(ids), User.is_active.is_(True)))).all())
        errors += [_err(loc, f"user {u} does not exist or is disabled") for loc, u in user_refs if u not in active]
    if data["attachment_ids"]:
        found = set((await s.scalars(select(StoredFile.id).where(StoredFile.id.in_(data["attachment_ids"])))).all())
        errors += [_err(["attachment_ids", i], f"file {f} does not exist")
                   for i, f in enumerate(data["attachment_ids"]) if f not in found]
    return errors


def _version_row(plan: Plan, data: dict[str, Any], actor: AnyActor, note: str | None) -> PlanVersion:
    return PlanVersion(plan_id=plan.id, version=plan.version, data=data, change_note=note,
                       created_by=actor.user_id, created_by_name=actor.username)


async def _insert(uow: UnitOfWork, data: dict[str, Any], actor: AnyActor, note: str | None) -> Plan:
    plan = Plan(version=1, status="active")
    _apply(plan, data)
    uow.session.add(plan)
    await uow.session.flush()
    uow.session.add(_version_row(plan, data, actor, note or "创建"))
    return plan


# --- CRUD and versions ------------------------------------------------------------------------------------


async def create_plan(svc: Services, actor: AnyActor, body: PlanWriteIn) -> dict[str, Any]:
    data = plan_data(body)
    async with svc.write(actor) as uow:
        errors = await reference_errors(uow.session, data)
        if errors:
            raise unprocessable("the plan refers to records that do not exist", errors)
        plan = await _insert(uow, data, actor, body.change_note)
        uow.emit("plan.created", subject_type="plan", subject_id=plan.id,
                 payload={"title": plan.title, "version": 1}, audience=PLAN_AUDIENCE)
    return plan_out(plan)


async def _get(s: AsyncSession, plan_id: int, *, lock: bool = False) -> Plan:
    stmt = select(Plan).where(Plan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update()
    plan = await s.scalar(stmt)
    if plan is None:
        raise not_found("plan", plan_id)
    return plan


async def update_plan(svc: Services, actor: AnyActor, plan_id: int, body: PlanWriteIn) -> dict[str, Any]:
    """Save an edit as a new version; the previous versions stay as they were."""
    data = plan_data(body)
    async with svc.write(actor) as uow:
        plan = await _get(uow.session, plan_id, lock=True)
        if plan.status != "active":
            raise conflict("plan_retired", "a retired plan cannot be edited", {"plan_id": plan_id})
        if body.base_version is not None and body.base_version != plan.version:
            raise conflict("version_conflict", f"the plan was changed meanwhile: it is at version {plan.version}, "
                           f"the edit was based on version {body.base_version}",
                           {"current_version": plan.version, "base_version": body.base_version})
        errors = await reference_errors(uow.session, data)
        if errors:
            raise unprocessable("the plan refers to records that do not exist", errors)
        previous = plan_out(plan)
        changed = [k for k in DATA_FIELDS if previous[k] != data[k]]
        if not changed:
            return previous
        plan.version += 1
        _apply(plan, data)
        plan.updated_at = dt.datetime.now(dt.UTC)
        uow.session.add(_version_row(plan, data, actor, body.change_note))
        uow.emit("plan.updated", subject_type="plan", subject_id=plan.id,
                 payload={"title": plan.title, "version": plan.version, "fields": changed}, audience=PLAN_AUDIENCE)
    return plan_out(plan)


async def retire_plan(svc: Services, actor: AnyActor, plan_id: int) -> None:
    """Plans are never deleted (incidents and versions refer to them): a retired plan leaves the library and
    matching, and keeps its history."""
    async with svc.write(actor) as uow:
        plan = await _get(uow.session, plan_id, lock=True)
        if plan.status == "retired":
            return
        plan.status = "retired"
        uow.emit("plan.retired", subject_type="plan", subject_id=plan.id,
                 payload={"title": plan.title, "version": plan.version}, audience=PLAN_AUDIENCE)


async def get_plan(svc: Services, plan_id: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        return plan_out(await _get(s, plan_id))


async def export_plan(svc: Services, plan_id: int) -> dict[str, Any]:
    """A plan as a JSON document that ``POST /plans/import`` accepts."""
    async with svc.db.read() as s:
        p = await _get(s, plan_id)
    out = plan_out(p)
    body = {k: out[k] for k in DATA_FIELDS}
    body["pollutants"] = [{"name": x.get("name"), "cas": x.get("cas")} for x in out["pollutants"]]
    return {"format": "ecs-plan", "format_version": 1, "exported_version": p.version, "plan": body}


async def list_versions(svc: Services, plan_id: int) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        plan = await _get(s, plan_id)
        rows = (await s.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan_id)
                                .order_by(PlanVersion.version.desc()))).all()
    return [_version_out(v, plan.version) for v in rows]


def _version_out(v: PlanVersion, current: int) -> dict[str, Any]:
    return {"version": v.version, "title": v.data.get("title", ""), "change_note": v.change_note,
            "created_by": v.created_by, "created_by_name": v.created_by_name, "created_at": v.created_at,
            "current": v.version == current}


async def _version(s: AsyncSession, plan_id: int, version: int) -> PlanVersion:
    row = await s.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.version == version))
    if row is None:
        raise not_found("plan version", f"{plan_id}/{version}")
    return row


async def get_version(svc: Services, plan_id: int, version: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        plan = await _get(s, plan_id)
        v = await _version(s, plan_id, version)
    return {**_version_out(v, plan.version), "data": v.data}


def diff_data(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Field-by-field differences between two versions; steps also item by item (by order)."""
    out: list[dict[str, Any]] = []
    for k in DATA_FIELDS:
        before, after = a.get(k), b.get(k)
        if before == after:
            continue
        change: dict[str, Any] = {"field": k, "label": FIELD_LABELS[k], "before": before, "after": after}
        if k == "steps":
            old = {s["order"]: s for s in before or []}
            new = {s["order"]: s for s in after or []}
            items = []
            for order in sorted(set(old) | set(new)):
                if order not in new:
                    items.append({"order": order, "change": "removed", "before": old[order], "after": None})
                elif order not in old:
                    items.append({"order": order, "change": "added", "before": None, "after": new[order]})
                elif old[order] != new[order]:
                    items.append({"order": order, "change": "changed", "before": old[order], "after": new[order]})
            change["items"] = items
        out.append(change)
    return out


async def diff_versions(svc: Services, plan_id: int, v_from: int, v_to: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        await _get(s, plan_id)
        a = await _version(s, plan_id, v_from)
        b = await _version(s, plan_id, v_to)
    return {"plan_id": plan_id, "from_version": v_from, "to_version": v_to, "changes": diff_data(a.data, b.data)}


# --- search -------------------------------------------------------------------------------------------------


def _token_match(forms: frozenset[str]) -> ColumnElement[bool]:
    return or_(*[like(Plan.search_tokens, f"% {escape_like(f)} %") for f in sorted(forms)])


async def list_plans(svc: Services, q: PlanQuery) -> dict[str, Any]:
    """The library, filtered; with ``q`` ranked by token overlap (see ``text.py``), best first."""
    where: list[ColumnElement[bool]] = []
    if q.status != "all":
        where.append(Plan.status == q.status)
    if q.kind:
        where.append(Plan.kind == q.kind)
    score_expr: Any = None
    total_weight = 0.0
    text = (q.q or "").strip()
    if text:
        groups = ptext.query_groups(text)
        if groups:
            matches = [(_token_match(forms), ptext.group_weight(w)) for w, forms in groups]
            # A word (or one of its forms) in the title counts half again: the plan is *about* it.
            in_title = [(or_(*[like(Plan.title, f"%{escape_like(f)}%") for f in sorted(forms)]),
                         ptext.group_weight(w) / 2) for w, forms in groups]
            matched = sum((case((m, 1), else_=0) for m, _ in matches), literal(0))
            title_hit = like(Plan.title, f"%{escape_like(text)}%")
            where.append(or_(matched >= ptext.required_matches(len(groups)), title_hit))
            score_expr = sum((case((m, w), else_=0.0) for m, w in [*matches, *in_title]), literal(0.0)) + \
                case((title_hit, 2.0), else_=0.0)
            total_weight = sum(w for _, w in [*matches, *in_title]) + 2.0
        else:
            where.append(like(Plan.title, f"%{escape_like(text)}%"))
    async with svc.db.read() as s:
        stmt = select(Plan).where(and_(*where)) if where else select(Plan)
        rows = list((await s.scalars(stmt)).all())
        # Types and levels are small JSON lists: filter them here, portable across both databases.
        if q.type:
            rows = [p for p in rows if q.type in (p.event_types or [])]
        if q.level:
            rows = [p for p in rows if q.level in (p.levels or [])]
        scores: dict[int, float] = {}
        if score_expr is not None and rows:
            ids = [p.id for p in rows]
            res = await s.execute(select(Plan.id, score_expr).where(Plan.id.in_(ids)))
            scores = {pid: float(sc or 0) / total_weight for pid, sc in res.all()}
    if scores:
        rows.sort(key=lambda p: (-scores.get(p.id, 0.0), -p.updated_at.timestamp(), -p.id))
    else:
        rows.sort(key=lambda p: (-p.updated_at.timestamp(), -p.id))
    total = len(rows)
    start = (q.page - 1) * q.page_size
    page = rows[start:start + q.page_size]
    return {"items": [_summary(p, round(scores[p.id], 4) if p.id in scores else None) for p in page],
            "total": total, "page": q.page, "page_size": q.page_size}


# --- import -------------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One plan read from an import file, with where its rows are (for error messages)."""

    label: str  # e.g. "plans[0]" or "预案!3"
    raw: dict[str, Any]
    locations: dict[str, str]  # field path prefix → "sheet!row" (XLSX); empty for JSON
    usernames: dict[str, list[str]]  # level → usernames to resolve (XLSX 通知 sheet)
    unit_names: dict[str, Any]  # where → unit names to resolve
    errors: list[dict[str, Any]]


def _where(c: Candidate, loc: list[Any]) -> dict[str, Any]:
    path = ".".join(str(x) for x in loc if x != "body")
    where = c.label
    best = ""
    for prefix, at in c.locations.items():
        hit = prefix == "" or path == prefix or path.startswith(prefix + ".")
        if hit and len(prefix) >= len(best):
            best, where = prefix, at
    sheet, _, row = where.partition("!")
    out: dict[str, Any] = {"plan": c.label, "field": path}
    if row:
        out.update({"sheet": sheet, "row": int(row)})
    return out


async def import_plans(svc: Services, actor: AnyActor, candidates: list[Candidate]) -> dict[str, Any]:
    """Create every valid plan; report each bad one with its rows' errors. One transaction, one event."""
    created: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    async with svc.write(actor) as uow:
        s = uow.session
        users = {u.username: u.id for u in (await s.scalars(select(User))).all()}
        units = list((await s.scalars(select(Unit))).all())
        unit_by_name: dict[str, list[int]] = {}
        for u in units:
            unit_by_name.setdefault(u.name, []).append(u.id)
            if u.code:
                unit_by_name.setdefault(u.code, []).append(u.id)
        titles = set((await s.scalars(select(Plan.title).where(Plan.status == "active"))).all())
        for c in candidates:
            problems = list(c.errors)
            raw = _resolve_names(c, users, unit_by_name, problems)
            data: dict[str, Any] | None = None
            try:
                body = PlanWriteIn.model_validate(raw)
                data = plan_data(body)
            except ValidationError as exc:
                for e in exc.errors(include_url=False, include_context=False, include_input=False):
                    problems.append({**_where(c, list(e.get("loc", ()))),
                                     "message": str(e.get("msg", "")).removeprefix("Value error, ")})
            if data is not None:
                for e in await reference_errors(s, data):
                    problems.append({**_where(c, e["loc"]), "message": e["msg"]})
                if data["title"] in titles:
                    problems.append({**_where(c, ["title"]),
                                     "message": f"a plan titled {data['title']!r} already exists in the library"})
            if problems or data is None:
                errors += problems
                continue
            plan = await _insert(uow, data, actor, "导入")
            titles.add(plan.title)
            created.append({"id": plan.id, "title": plan.title, "source": c.label})
        uow.emit("plans.imported", subject_type="plan",
                 payload={"created": len(created), "failed": len({e["plan"] for e in errors}),
                          "plan_ids": [c["id"] for c in created]}, audience=PLAN_AUDIENCE)
    return {"created": created, "errors": errors}


def _resolve_names(c: Candidate, users: dict[str, int], units: dict[str, list[int]],
                   problems: list[dict[str, Any]]) -> dict[str, Any]:
    raw = dict(c.raw)

    def unit_id(name: str, loc: list[Any]) -> int | None:
        ids = units.get(name.strip())
        if not ids:
            problems.append({**_where(c, loc), "message": f"unit {name!r} does not exist"})
            return None
        if len(ids) > 1:
            problems.append({**_where(c, loc), "message": f"unit name {name!r} is not unique; use its code"})
            return None
        return ids[0]

    for where, value in c.unit_names.items():
        parts = where.split(".")
        if parts[0] == "issuing_unit_id" and value:
            raw["issuing_unit_id"] = unit_id(value, ["issuing_unit_id"])
        elif parts[0] == "area":
            ids = [unit_id(n, ["area", "district_unit_ids"]) for n in value]
            raw.setdefault("area", {})["district_unit_ids"] = [i for i in ids if i is not None]
        elif parts[0] == "steps":
            idx = int(parts[1])
            raw["steps"][idx]["responsible_unit_id"] = unit_id(value, ["steps", idx, "responsible_unit_id"])
        elif parts[0] == "notifications":
            lv = parts[1]
            ids = [unit_id(n, ["notifications", lv, "unit_ids"]) for n in value]
            raw.setdefault("notifications", {}).setdefault(lv, {})["unit_ids"] = [i for i in ids if i is not None]
    for lv, names in c.usernames.items():
        ids = []
        for n in names:
            if n in users:
                ids.append(users[n])
            else:
                problems.append({**_where(c, ["notifications", lv, "user_ids"]),
                                 "message": f"user {n!r} does not exist"})
        lst = raw.setdefault("notifications", {}).setdefault(lv, {})
        lst["user_ids"] = list(dict.fromkeys([*lst.get("user_ids", []), *ids]))
    return raw


# --- matching -----------------------------------------------------------------------------------------------


def _incident_model() -> Any:
    try:
        from ..incidents.models import Incident
    except ImportError as exc:  # the incidents domain is not installed in this build
        raise ApiError(503, "incidents_unavailable", "incident management is not available",
                       {"reason": str(exc)}) from None
    return Incident


async def _load_incident(s: AsyncSession, incident_id: int, *, lock: bool = False) -> Any:
    model = _incident_model()
    stmt = select(model).where(model.id == incident_id)
    if lock:
        stmt = stmt.with_for_update()
    inc = await s.scalar(stmt)
    if inc is None:
        raise not_found("incident", incident_id)
    return inc


async def district_of_point(s: AsyncSession, lon: float, lat: float) -> int | None:
    """The unit id of the district whose boundary (map layer ``districts``) contains the point."""
    from ..geo.models import MapFeature

    rows = (await s.scalars(select(MapFeature).where(MapFeature.layer == "districts"))).all()
    for f in rows:
        code = (f.properties or {}).get("unit_code")
        if code and matching.point_in_polygon(lon, lat, f.geometry):
            return await s.scalar(select(Unit.id).where(Unit.code == code))
    return None


async def incident_facts(s: AsyncSession, inc: Any) -> matching.IncidentFacts:
    lon, lat = getattr(inc, "lon", None), getattr(inc, "lat", None)
    district = getattr(inc, "district_unit_id", None)
    if district is None and lon is not None and lat is not None:
        district = await district_of_point(s, float(lon), float(lat))
    level = getattr(inc, "level", None) or getattr(inc, "level_suggested", None)
    return matching.IncidentFacts(type=inc.type, level=level, pollutant=getattr(inc, "pollutant", None),
                                  lon=lon, lat=lat, district_unit_id=district, title=inc.title or "",
                                  description=getattr(inc, "description", None) or "")


def plan_facts(p: Plan) -> matching.PlanFacts:
    tokens = frozenset(t for t in (p.search_tokens or "").split() if t not in ptext.GENERIC)
    return matching.PlanFacts(id=p.id, title=p.title, event_types=p.event_types or [], levels=p.levels or [],
                              pollutants=p.pollutants or [], district_unit_ids=p.district_unit_ids or [],
                              polygon=p.area_polygon, text_tokens=tokens, version=p.version)


# What changes the active plans' matching facts: every plan write emits one of these.
PLAN_EVENTS = ("plan.", "plans.", "demo.seeded")


async def active_plan_facts(svc: Services) -> list[matching.PlanFacts]:
    """The active plans' matching facts, remembered per process (``core/config_cache.py``). Every incident
    workspace ranks the whole library; loading and tokenising every plan on each request was most of that
    request's cost, and checking an aggregate key for changes was still a round trip per request."""

    async def load() -> list[matching.PlanFacts]:
        async with svc.db.read() as s:
            return [plan_facts(p) for p in (await s.scalars(select(Plan).where(Plan.status == "active"))).all()]

    return await svc.config.get("plans.active_facts", load)


async def plan_matches(svc: Services, incident_id: int) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        inc = await _load_incident(s, incident_id)
        facts = await incident_facts(s, inc)
    return matching.rank(facts, await active_plan_facts(svc))


# --- starting the response ----------------------------------------------------------------------------------


@dataclass
class ResponseDeps:
    """What starting a response needs from the incidents and notify domains (replaceable in tests)."""

    transition_in: Any
    add_tasks_in: Any
    task_spec: Any
    notify: Any

    @staticmethod
    def load() -> ResponseDeps:
        try:
            from ..incidents import service as incidents_service
            from ..incidents.schemas import TaskSpec
            from ..notify import service as notify_service
        except ImportError as exc:
            raise ApiError(503, "response_unavailable", "incident tasks or notifications are not available",
                           {"reason": str(exc)}) from None
        # Looked up at call time, so a test can replace the module attributes.
        return ResponseDeps(
            transition_in=lambda *a, **kw: incidents_service.transition_in(*a, **kw),
            add_tasks_in=lambda *a, **kw: incidents_service.add_tasks_in(*a, **kw),
            task_spec=TaskSpec,
            notify=lambda *a, **kw: notify_service.notify(*a, **kw),
        )


def notification_list_for(notifications: dict[str, Any], level: str) -> tuple[str | None, dict[str, Any]]:
    """The level's list; when the plan has none for that level, the nearest more severe level's, else the
    nearest less severe one's."""
    if level in notifications:
        return level, notifications[level]
    idx = LEVELS.index(level) if level in LEVELS else len(LEVELS) - 1
    for lv in reversed(LEVELS[:idx]):
        if lv in notifications:
            return lv, notifications[lv]
    for lv in LEVELS[idx + 1:]:
        if lv in notifications:
            return lv, notifications[lv]
    return None, {}


@dataclass
class Directory:
    """Users, people and units at the time the response starts (for resolving roles and units)."""

    users: dict[int, User]
    people: list[Person]
    units: dict[int, Unit]

    def unit_users(self, unit_id: int) -> list[int]:
        unit = self.units.get(unit_id)
        if unit is None:
            return []
        inside = {u.id for u in self.units.values() if (u.path or "").startswith(unit.path or "/-")}
        inside.add(unit_id)
        return sorted({p.user_id for p in self.people if p.unit_id in inside and p.user_id in self.users})

    def role_users(self, role: str) -> list[int]:
        ids = {u.id for u in self.users.values() if role in (u.roles or [])}
        ids |= {p.user_id for p in self.people if role in (p.duty_roles or []) and p.user_id in self.users}
        return sorted(i for i in ids if i is not None)


async def load_directory(s: AsyncSession) -> Directory:
    users = {u.id: u for u in (await s.scalars(select(User).where(User.is_active.is_(True)))).all()}
    people = list((await s.scalars(select(Person).where(Person.user_id.is_not(None)))).all())
    units = {u.id: u for u in (await s.scalars(select(Unit))).all()}
    return Directory(users, people, units)


def plan_assignments(plan: dict[str, Any], directory: Directory, level: str, now: dt.datetime
                     ) -> tuple[list[dict[str, Any]], list[int], str | None, list[dict[str, Any]], list[str]]:
    """Validate and resolve a plan against the directory before anything is written.

    Returns (task specs as dicts, notification user ids, level used, errors, warnings). A step goes to the one
    user its role/unit resolves to; else to the unit, or the login role, as a whole (anyone in it may take the
    task); a duty role (带班领导, 监测员…) held by several or no account holders leaves the task unassigned,
    with the role in its title, for the commander to hand out.
    """
    errors: list[dict[str, Any]] = []
    warnings: list[str] = []
    tasks: list[dict[str, Any]] = []
    for i, step in enumerate(sorted(plan["steps"], key=lambda x: x["order"])):
        due = now + dt.timedelta(minutes=int(step["deadline_minutes"]))
        spec: dict[str, Any] = {"title": f"{step['order']}. {_short(step['action'])}",
                                "description": step["action"], "due_at": due,
                                "plan_step_order": step["order"], "source": "plan"}
        if step.get("responsible_unit_id") is not None:
            uid = step["responsible_unit_id"]
            if uid not in directory.units:
                errors.append(_err(["steps", i, "responsible_unit_id"], f"unit {uid} does not exist"))
                continue
            users = directory.unit_users(uid)
            label = directory.units[uid].name
        else:
            role = step.get("responsible_role") or ""
            users = directory.role_users(role)
            label = role
        role = step.get("responsible_role")
        if len(users) == 1:
            spec["assignee_user_id"] = users[0]
        elif step.get("responsible_unit_id") is not None:
            spec["assignee_unit_id"] = step["responsible_unit_id"]
        elif role in ROLES:
            spec["assignee_role"] = role
        else:
            label = DUTY_ROLES.get(role or "", role or "")
            spec["title"] = _short(f"{step['order']}. [{label}] {step['action']}", 200)
        if not users:
            warnings.append(f"步骤 {step['order']}：责任方“{label}”暂无系统账号"
                            f" / step {step['order']}: nobody in '{label}' has an account yet")
        tasks.append({"spec": spec, "candidate_user_ids": users, "responsible": label})
    used, lst = notification_list_for(plan.get("notifications") or {}, level)
    recipients: set[int] = set()
    if used is not None:
        for j, uid in enumerate(lst.get("user_ids", [])):
            if uid not in directory.users:
                errors.append(_err(["notifications", used, "user_ids", j], f"user {uid} does not exist or is disabled"))
            else:
                recipients.add(uid)
        for j, unit_id in enumerate(lst.get("unit_ids", [])):
            if unit_id not in directory.units:
                errors.append(_err(["notifications", used, "unit_ids", j], f"unit {unit_id} does not exist"))
            else:
                recipients.update(directory.unit_users(unit_id))
        for role in lst.get("roles", []):
            recipients.update(directory.role_users(role))
    if not recipients:
        warnings.append(f"预案没有{level}级的通知对象 / the plan notifies nobody at level {level}")
    return tasks, sorted(recipients), used, errors, warnings


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    try:
        from sqlalchemy import inspect

        return {a.key: getattr(obj, a.key) for a in inspect(obj).mapper.column_attrs}
    except Exception:
        return {"value": str(obj)}


def _as_list(result: Any) -> list[dict[str, Any]]:
    if result is None:
        return []
    if isinstance(result, (list, tuple)):
        return [_as_dict(x) for x in result]
    return [_as_dict(result)]


NOTIFY_LEVEL = {"I": "critical", "II": "critical", "III": "warning", "IV": "warning"}


async def start_response(svc: Services, actor: AnyActor, incident_id: int, plan_id: int, reason: str | None = None,
                         deps: ResponseDeps | None = None, load_incident: Any = None) -> dict[str, Any]:
    """Start the response from a plan — tasks, notifications, state change, event — in ONE transaction.

    Every check (state, level, plan, every unit/user the plan names) runs before the first write, so a refused
    start changes nothing; a failure after the first write rolls the whole transaction back.
    """
    deps = deps or ResponseDeps.load()
    loader = load_incident or _load_incident
    now = dt.datetime.now(dt.UTC)
    async with svc.write(actor) as uow:
        s = uow.session
        inc = await loader(s, incident_id, lock=True)
        if inc.state not in RESPONSE_FROM_STATES:
            raise conflict("invalid_state", f"a response can be started only from {' or '.join(RESPONSE_FROM_STATES)};"
                           f" the incident is {inc.state}",
                           {"state": inc.state, "allowed_from": list(RESPONSE_FROM_STATES)})
        level = getattr(inc, "level", None) or getattr(inc, "level_suggested", None)
        if not level:
            raise conflict("level_required", "set the incident's level before starting the response",
                           {"incident_id": incident_id})
        plan_row = await s.scalar(select(Plan).where(Plan.id == plan_id))
        if plan_row is None:
            raise unprocessable("the plan does not exist", [_err(["plan_id"], f"plan {plan_id} does not exist")])
        if plan_row.status != "active":
            raise unprocessable("the plan is retired", [_err(["plan_id"], f"plan {plan_id} is retired")])
        plan = plan_out(plan_row)
        directory = await load_directory(s)
        tasks, recipients, used_level, errors, warnings = plan_assignments(plan, directory, level, now)
        if errors:
            raise unprocessable("the plan cannot be started as it is: fix these references first", errors)
        # --- writes from here on: all or nothing ---
        specs = [deps.task_spec(**t["spec"]) for t in tasks]
        created_tasks = _as_list(await deps.add_tasks_in(uow, incident_id, specs))
        for out, t in zip(created_tasks, tasks, strict=False):
            out.setdefault("candidate_user_ids", t["candidate_user_ids"])
            out.setdefault("responsible", t["responsible"])
        notes: list[dict[str, Any]] = []
        if recipients:
            title = f"【{level}级响应】{inc.title}"
            body = (f"已依据《{plan['title']}》（第{plan['version']}版）启动应急响应，共 {len(tasks)} 项处置任务。"
                    f"请按预案职责立即到岗。")
            notes = _as_list(await deps.notify(uow, user_ids=recipients, title=title, body=body,
                                               level=NOTIFY_LEVEL.get(level, "warning"),
                                               channels=("inapp", "sms"), subject_type="incident",
                                               subject_id=incident_id, incident_id=incident_id))
        await deps.transition_in(uow, inc, "responding",
                                 reason or f"启动预案《{plan['title']}》 / response started from plan {plan_id}")
        inc.plan_id = plan_id
        uow.emit("response.started", subject_type="incident", subject_id=incident_id, incident_id=incident_id,
                 payload={"incident_id": incident_id, "plan_id": plan_id, "plan_version": plan["version"],
                          "plan_title": plan["title"], "level": level, "notification_level": used_level,
                          "tasks": len(created_tasks), "recipients": recipients},
                 audience=["role:admin", "role:commander", "role:operator", "role:field", "role:pilot",
                           "role:screen", *[f"user:{u}" for u in recipients]])
        state = inc.state
    return {"incident_id": incident_id, "plan_id": plan_id, "plan_version": plan["version"], "level": level,
            "state": state, "tasks": created_tasks, "notifications": notes, "warnings": warnings}

