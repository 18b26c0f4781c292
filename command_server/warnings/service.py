"""Warning rules (CRUD with validation) and warnings: list, acknowledge per recipient, close, turn into an
alarm, export as CAP 1.2."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from ..auth.models import User
from ..core.errors import ApiError, conflict, not_found, unprocessable
from ..core.security import Actor
from ..core.services import Services
from ..core.uow import AnyActor, UnitOfWork
from ..geo.kinds import kind_label
from ..monitoring.catalogue import metric_name, metric_unit
from ..monitoring.models import MonitoringSource
from ..notify.service import ack_subject_notifications
from ..org.models import Unit
from .engine import WARNINGS_AUDIENCE, condition_text, jsonable, rule_applies, warning_summary
from .models import WarningRecipient, WarningRecord, WarningRule
from .schemas import RuleIn, RulesQuery, WarningsQuery

# acknowledging as one of these settles the warning (state → acked); every recipient's ack is recorded
SETTLING_ROLES = ("responsible", "escalation")


# --- rules ---------------------------------------------------------------------------------------------

def _err(field: str, msg: str) -> ApiError:
    return unprocessable(msg, [{"loc": ["body", field], "msg": msg, "type": "value_error"}])


async def _check_rule_refs(uow: UnitOfWork, body: RuleIn) -> MonitoringSource | None:
    s = uow.session
    src = None
    if body.scope_source_id is not None:
        src = await s.get(MonitoringSource, body.scope_source_id)
        if src is None:
            raise _err("scope_source_id", f"monitoring source {body.scope_source_id} does not exist")
        if body.metric not in src.metrics:
            raise _err("metric", f"source {src.id} does not report {body.metric} (it reports {src.metrics})")
    users = set(body.responsible_user_ids) | set(body.escalate_to_user_ids)
    if users:
        found = set((await s.scalars(select(User.id).where(User.id.in_(users)))).all())
        missing = sorted(users - found)
        if missing:
            field = "responsible_user_ids" if set(missing) & set(body.responsible_user_ids) else \
                "escalate_to_user_ids"
            raise _err(field, f"unknown user id(s) {missing}")
    if body.responsible_unit_id is not None and await s.get(Unit, body.responsible_unit_id) is None:
        raise _err("responsible_unit_id", f"unit {body.responsible_unit_id} does not exist")
    return src


def rule_out(r: WarningRule, src_name: str | None = None) -> dict[str, Any]:
    scope = src_name or (f"#{r.scope_source_id}" if r.scope_source_id else kind_label(r.scope_kind or ""))
    return {"id": r.id, "name": r.name, "enabled": r.enabled, "scope_kind": r.scope_kind,
            "scope_source_id": r.scope_source_id, "scope_label": scope, "metric": r.metric,
            "metric_name": metric_name(r.metric), "unit": metric_unit(r.metric), "kind": r.kind, "op": r.op,
            "threshold": r.threshold, "sustain_count": r.sustain_count, "sustain_minutes": r.sustain_minutes,
            "rate_per": r.rate_per, "missing_minutes": r.missing_minutes, "level": r.level,
            "responsible_user_ids": list(r.responsible_user_ids or []), "responsible_unit_id": r.responsible_unit_id,
            "notify_duty": r.notify_duty, "escalate_after_min": r.escalate_after_min,
            "escalate_to_user_ids": list(r.escalate_to_user_ids or []),
            "escalate_to_roles": list(r.escalate_to_roles or []), "description": r.description,
            "condition": condition_text(r), "created_at": r.created_at, "updated_at": r.updated_at}


async def list_rules(svc: Services, q: RulesQuery) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        stmt = select(WarningRule, MonitoringSource.name).outerjoin(
            MonitoringSource, MonitoringSource.id == WarningRule.scope_source_id)
        if q.metric:
            stmt = stmt.where(WarningRule.metric == q.metric)
        if q.scope_kind:
            stmt = stmt.where(WarningRule.scope_kind == q.scope_kind)
        if q.enabled is not None:
            stmt = stmt.where(WarningRule.enabled.is_(q.enabled))
        rows = (await s.execute(stmt.order_by(WarningRule.id))).all()
        src = await s.get(MonitoringSource, q.source_id) if q.source_id else None
        if q.source_id and src is None:
            raise not_found("monitoring source", q.source_id)
    return [rule_out(r, n) for r, n in rows if src is None or rule_applies(r, src)]


async def get_rule(svc: Services, rid: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        r = await s.get(WarningRule, rid)
        if r is None:
            raise not_found("warning rule", rid)
        name = (await s.get(MonitoringSource, r.scope_source_id)).name if r.scope_source_id else None  # type: ignore[union-attr]
    return rule_out(r, name)


def _apply(r: WarningRule, body: RuleIn) -> None:
    for k, v in body.model_dump().items():
        setattr(r, k, v)


async def create_rule(svc: Services, actor: AnyActor, body: RuleIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        src = await _check_rule_refs(uow, body)
        r = WarningRule()
        _apply(r, body)
        uow.session.add(r)
        await uow.session.flush()
        out = rule_out(r, src.name if src else None)
        uow.emit("warning_rule.created", subject_type="warning_rule", subject_id=r.id,
                 payload=jsonable({"rule": out}),
                 audience=WARNINGS_AUDIENCE)
    return out


async def update_rule(svc: Services, actor: AnyActor, rid: int, body: RuleIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        r = await uow.session.get(WarningRule, rid)
        if r is None:
            raise not_found("warning rule", rid)
        src = await _check_rule_refs(uow, body)
        _apply(r, body)
        await uow.session.flush()
        out = rule_out(r, src.name if src else None)
        uow.emit("warning_rule.updated", subject_type="warning_rule", subject_id=r.id,
                 payload=jsonable({"rule": out}),
                 audience=WARNINGS_AUDIENCE)
    return out


async def delete_rule(svc: Services, actor: AnyActor, rid: int) -> None:
    async with svc.write(actor) as uow:
        r = await uow.session.get(WarningRule, rid)
        if r is None:
            raise not_found("warning rule", rid)
        payload = {"id": rid, "name": r.name}
        await uow.session.delete(r)
        uow.emit("warning_rule.deleted", subject_type="warning_rule", subject_id=rid, payload=payload,
                 audience=WARNINGS_AUDIENCE)


# --- warnings --------------------------------------------------------------------------------------------

async def list_warnings(svc: Services, actor: Actor, q: WarningsQuery) -> dict[str, Any]:
    cond = []
    if q.state != "all":
        cond.append(WarningRecord.state == q.state)
    if q.level:
        cond.append(WarningRecord.level.in_(q.level))
    if q.source_id:
        cond.append(WarningRecord.source_id == q.source_id)
    async with svc.db.read() as s:
        total = await s.scalar(select(func.count()).select_from(WarningRecord).where(*cond)) or 0
        rows = (await s.scalars(select(WarningRecord).where(*cond).order_by(WarningRecord.id.desc())
                                .offset(q.offset).limit(q.limit))).all()
        mine: dict[int, bool] = {}
        if rows:
            mine = {wid: acked is not None for wid, acked in (await s.execute(
                select(WarningRecipient.warning_id, WarningRecipient.acked_at).where(
                    WarningRecipient.user_id == actor.user_id,
                    WarningRecipient.warning_id.in_([w.id for w in rows])))).all()}
    return {"items": [{**warning_summary(w), "my_ack": mine.get(w.id)} for w in rows], "total": total}


async def _recipients(s: Any, wid: int) -> list[dict[str, Any]]:
    rows = (await s.execute(select(WarningRecipient, User.display_name).join(User, User.id == WarningRecipient.user_id)
                            .where(WarningRecipient.warning_id == wid).order_by(WarningRecipient.notified_at,
                                                                                WarningRecipient.user_id))).all()
    return [{"user_id": r.user_id, "name": name, "role": r.role, "notified_at": r.notified_at,
             "acked_at": r.acked_at} for r, name in rows]


async def get_warning(svc: Services, actor: Actor, wid: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        w = await s.get(WarningRecord, wid)
        if w is None:
            raise not_found("warning", wid)
        recipients = await _recipients(s, wid)
    mine = next((r for r in recipients if r["user_id"] == actor.user_id), None)
    return {**warning_summary(w), "my_ack": None if mine is None else mine["acked_at"] is not None,
            "message": w.message, "details": w.details or {}, "recipients": recipients,
            "close_reason": w.close_reason}


async def ack_in(uow: UnitOfWork, actor: AnyActor, wid: int, *, missing_ok: bool = False,
                 now: dt.datetime | None = None) -> WarningRecord | None:
    """Record ``actor``'s acknowledgement; a responsible (or escalation) recipient's ack settles the warning."""
    s = uow.session
    w = await s.get(WarningRecord, wid)
    if w is None:
        if missing_ok:
            return None
        raise not_found("warning", wid)
    if w.state == "closed":
        if missing_ok:
            return w
        raise conflict("warning_closed", f"warning {wid} is closed")
    if actor.user_id is None:
        raise ApiError(403, "forbidden", "only a user can acknowledge a warning")
    now = now or dt.datetime.now(dt.UTC)
    rec = await s.get(WarningRecipient, (wid, actor.user_id))
    if rec is None:
        rec = WarningRecipient(warning_id=wid, user_id=actor.user_id, role="other", notified_at=now)
        s.add(rec)
    if rec.acked_at is not None:
        return w  # already acknowledged: idempotent, no second event
    rec.acked_at = now
    settled = False
    if rec.role in SETTLING_ROLES and w.state == "open":
        w.state, w.acked_at, w.acked_by = "acked", now, actor.user_id
        settled = True
    await s.flush()
    await ack_subject_notifications(uow, actor.user_id, "warning", wid)
    uow.emit("warning.acked", subject_type="warning", subject_id=wid,
             payload=jsonable({"warning": warning_summary(w), "user_id": actor.user_id, "recipient_role": rec.role,
                      "settled": settled}),
                 audience=WARNINGS_AUDIENCE)
    return w


async def ack(svc: Services, actor: Actor, wid: int) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        await ack_in(uow, actor, wid)
    return await get_warning(svc, actor, wid)


async def close(svc: Services, actor: Actor, wid: int, reason: str | None) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        w = await uow.session.get(WarningRecord, wid)
        if w is None:
            raise not_found("warning", wid)
        if w.state == "closed":
            raise conflict("warning_closed", f"warning {wid} is already closed")
        now = dt.datetime.now(dt.UTC)
        w.state, w.open_key, w.closed_at, w.closed_by = "closed", None, now, actor.user_id
        w.close_reason = (reason or "").strip() or None
        await uow.session.flush()
        uow.emit("warning.closed", subject_type="warning", subject_id=wid,
                 payload=jsonable({"warning": warning_summary(w), "reason": w.close_reason}),
                 audience=WARNINGS_AUDIENCE)
    return await get_warning(svc, actor, wid)


EVENT_TYPE_BY_CATEGORY = {"water": "water", "air": "air", "meteorology": "other"}
EVENT_TYPE_BY_KIND = {"chemical_plant": "hazchem_leak", "hazardous_waste": "hazardous_waste",
                      "sewage_plant": "water"}
AIR_METRICS = {"SO2", "NO2", "CO", "O3", "PM10", "PM2.5", "VOCs", "NH3", "Cl2", "H2S"}


async def to_alarm(svc: Services, actor: Actor, wid: int) -> dict[str, Any]:
    try:
        from ..alarms.schemas import AlarmIn
        from ..alarms.service import create_alarm_in
    except ImportError:
        raise ApiError(503, "alarms_unavailable", "alarm intake is not available on this server") from None
    async with svc.write(actor) as uow:
        s = uow.session
        w = await s.get(WarningRecord, wid)
        if w is None:
            raise not_found("warning", wid)
        if w.alarm_id is not None:
            raise conflict("already_converted", f"warning {wid} is already alarm {w.alarm_id}",
                           {"alarm_id": w.alarm_id})
        src = await s.get(MonitoringSource, w.source_id) if w.source_id else None
        if src is not None and src.category == "risk_source":
            etype = "air" if w.metric in AIR_METRICS and src.feature_kind != "chemical_plant" else \
                EVENT_TYPE_BY_KIND.get(src.feature_kind, "other")
        elif src is not None:
            etype = EVENT_TYPE_BY_CATEGORY.get(src.category, "other")
        else:
            etype = "air" if w.metric in AIR_METRICS else "water"
        data: dict[str, Any] = {
            "channel": "monitoring", "event_type": etype, "description": w.message[:4000],
            "address": (w.address or w.source_name)[:300], "lon": w.lon, "lat": w.lat,
            "occurred_at": w.observed_at or w.created_at, "pollutant": metric_name(w.metric),
            "extra": {"warning_id": w.id, "level": w.level, "metric": w.metric, "value": w.value,
                      "threshold": w.threshold, "source_id": w.source_id},
        }
        if w.lon is None or w.lat is None:
            data.pop("lon"), data.pop("lat")
        alarm = await create_alarm_in(uow, AlarmIn.model_validate(data), source_warning_id=w.id)
        w.alarm_id = alarm.id
        if w.state == "open":
            w.state, w.acked_at, w.acked_by = "acked", dt.datetime.now(dt.UTC), actor.user_id
        await s.flush()
        uow.emit("warning.converted", subject_type="warning", subject_id=wid,
                 payload=jsonable({"warning": warning_summary(w), "alarm_id": alarm.id}),
                 audience=WARNINGS_AUDIENCE)
    return {"warning_id": wid, "alarm_id": alarm.id}


async def cap_xml(svc: Services, wid: int) -> bytes:
    from .cap import warning_to_cap

    async with svc.db.read() as s:
        w = await s.get(WarningRecord, wid)
        if w is None:
            raise not_found("warning", wid)
    return warning_to_cap(w)

