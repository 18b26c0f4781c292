"""Rule evaluation and opening warnings.

- On ingest (``find_hits`` on a read session before the ingest's write transaction, then ``open_hits``
  inside it; ``evaluate_batch`` does both in one unit of work): only rules for the batch's metrics and for
  the sources' kinds (or the sources themselves) are read, and a (rule, source) pair that already has a
  warning not yet closed is skipped with one query.
- Periodically (``run_checks``, started by ``lifecycle.py`` in every process): missing-data rules and the
  escalation of unacknowledged warnings. Both are idempotent across processes: a warning is inserted with
  ``ON CONFLICT (open_key) DO NOTHING`` (the unique ``open_key`` is the DB-level guard), and an escalation is
  claimed with a conditional UPDATE that only one writer can win.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import itertools
import json
import logging
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, insert, literal_column, not_, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth.models import User
from ..core.api import dumps
from ..core.permissions import ROLE_PERMISSIONS
from ..core.security import SystemActor
from ..core.services import Services
from ..core.uow import UnitOfWork
from ..geo.models import MapFeature
from ..monitoring.catalogue import metric_name, metric_unit
from ..monitoring.models import MetricState, MonitoringSource, Reading
from ..monitoring.service import feature_point
from ..notify.service import notify
from ..org.models import Person, Unit
from .models import WarningRecipient, WarningRecord, WarningRule

log = logging.getLogger("ecs.warnings")

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LEVELS = ("blue", "yellow", "orange", "red")
LEVEL_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
OPS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, "<": operator.lt, ">=": operator.ge,
                                                  "<=": operator.le}
OP_ZH = {">": "高于", "<": "低于", ">=": "不低于", "<=": "不高于"}
WARNINGS_AUDIENCE = sorted(f"role:{r}" for r, perms in ROLE_PERMISSIONS.items() if "warnings:read" in perms)
DUTY_ROLE = "operator"
CHECKER = SystemActor(username="warning-checker")
# The checker is background work: between two warnings it opens or escalates it waits this long, so that a
# burst (every silent source at the first pass after a start, a network outage) is spread out instead of
# queueing every request in flight behind it. Opening the benchmark's silent sources' missing-data warnings back
# to back held the server's loop heartbeat up for 22–42 ms at once (docs/performance.md, API latency, fourteenth
# round).
CHECKER_PACE_S = 0.02


@dataclass
class Hit:
    value: float | None
    at: dt.datetime | None
    details: dict[str, Any] = field(default_factory=dict)


def jsonable(data: Any) -> Any:
    """Event payloads are JSON: datetimes as ISO-8601 UTC strings, like the REST answers."""
    return json.loads(dumps(data))


def open_key(rule_id: int, source_id: int) -> str:
    return f"{rule_id}:{source_id}"


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.4g}" if abs(v) < 1e6 else f"{v:.0f}"


def condition_text(rule: WarningRule) -> str:
    unit = metric_unit(rule.metric)
    name = metric_name(rule.metric)
    thr = f"{rule.op}{_fmt(rule.threshold)}{unit}"
    if rule.kind == "threshold":
        return f"{name} {thr}"
    if rule.kind == "sustained":
        span = f"连续{rule.sustain_count}个读数" if rule.sustain_count else f"持续{rule.sustain_minutes}分钟"
        return f"{name} {thr}，{span}"
    if rule.kind == "rate":
        per = "每分钟" if rule.rate_per == "minute" else "每小时"
        return f"{name} 变化率{rule.op}{_fmt(rule.threshold)}{unit}/{per[1:]}"
    return f"{name} 超过{rule.missing_minutes}分钟无数据"


# --- evaluation on ingest ----------------------------------------------------------------------------------

def rule_applies(rule: WarningRule, src: MonitoringSource) -> bool:
    if rule.scope_source_id is not None:
        return rule.scope_source_id == src.id
    return rule.scope_kind == src.feature_kind


async def evaluate_batch(uow: UnitOfWork, sources: dict[int, MonitoringSource], rows: list[dict[str, Any]],
                         *, now: dt.datetime) -> list[int]:
    """Evaluate the rules that match this batch; returns the ids of the warnings opened. For a caller that
    has already stored ``rows`` in this unit of work."""
    hits = await find_hits(uow.session, sources, rows, stored=True)
    return await open_hits(uow, hits, now=now)


# Built once: constructing these per batch was a third of the rules' CPU on the loop (py-spy, docs/performance.md,
# API latency, eighth round).
_RULES_FOR_BATCH = select(WarningRule).where(
    WarningRule.enabled.is_(True), WarningRule.kind != "missing",
    WarningRule.metric.in_(bindparam("metrics", expanding=True)),
    or_(WarningRule.scope_kind.in_(bindparam("kinds", expanding=True)),
        WarningRule.scope_source_id.in_(bindparam("sources", expanding=True)))).order_by(WarningRule.id)
_OPEN_KEYS = select(WarningRecord.open_key).where(WarningRecord.open_key.in_(bindparam("keys", expanding=True)))
_RULES_ON_INGEST = select(WarningRule).where(WarningRule.enabled.is_(True), WarningRule.kind != "missing")
RULE_EVENTS = ("warning_rule.", "monitoring_source.deleted", "monitoring.demo_seeded")  # what changes a RuleBook


@dataclass(frozen=True)
class RuleBook:
    """The enabled rules evaluated on ingest (every kind but ``missing``), by metric, each list by id:
    remembered per process (``remembered_rules``) and shared by concurrent batches, never modified."""

    by_metric: dict[str, list[WarningRule]]

    def for_batch(self, metrics: set[str], kinds: set[str], sources: set[int]) -> list[WarningRule]:
        """What ``_RULES_FOR_BATCH`` selects, by id."""
        found = [r for m in metrics for r in self.by_metric.get(m, ())
                 if r.scope_kind in kinds or r.scope_source_id in sources]
        return sorted(found, key=lambda r: r.id)


async def remembered_rules(svc: Services) -> RuleBook:
    """The rules, read once per configuration generation (``core/config_cache.py``): a round trip and an ORM
    load per readings batch saved (docs/performance.md, API latency, twelfth round)."""

    async def load() -> RuleBook:
        by_metric: dict[str, list[WarningRule]] = {}
        async with svc.db.read() as s:
            for r in (await s.scalars(_RULES_ON_INGEST.order_by(WarningRule.id))).all():
                by_metric.setdefault(r.metric, []).append(r)
        return RuleBook(by_metric)

    return await svc.config.get("warnings.rules", load)


async def find_hits(s: AsyncSession, sources: dict[int, MonitoringSource], rows: list[dict[str, Any]], *,
                    stored: bool, rules: RuleBook | None = None) -> list[tuple[WarningRule, MonitoringSource, Hit]]:
    """The (rule, source, hit) triples this batch fires, skipping (rule, source) pairs that already have a
    warning not yet closed. Only reads: ``stored=False`` means ``rows`` are not in the database yet (the
    ingest evaluates on a read session before its write transaction) and are merged with the stored
    readings the way the insert will store them (a stored reading at the same instant wins). ``rules``: the
    process's remembered rules; without them the matching rules are read on ``s`` (a caller inside a write
    transaction that may itself have changed them)."""
    pairs: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in rows:
        pairs.setdefault((r["source_id"], r["metric"]), []).append(r)
    metrics = {m for _, m in pairs}
    src_ids = {sid for sid, _ in pairs}
    kinds = {sources[sid].feature_kind for sid in src_ids}
    if rules is not None:
        matching = rules.for_batch(metrics, kinds, src_ids)
    else:
        matching = list((await s.scalars(_RULES_FOR_BATCH, {"metrics": list(metrics), "kinds": list(kinds),
                                                            "sources": list(src_ids)})).all())
    if not matching:
        return []
    candidates = [(rule, sources[sid], pair_rows) for rule in matching for (sid, metric), pair_rows in pairs.items()
                  if metric == rule.metric and rule_applies(rule, sources[sid])]
    if not candidates:
        return []
    todo = [(rule, src, sorted(pair_rows, key=lambda r: r["at"])) for rule, src, pair_rows in candidates]
    asks = [series_ask(rule, src.id, rows) for rule, src, rows in todo]
    fetched = iter(await fetch_series(s, [a for a in asks if a is not None]))
    hits: list[tuple[WarningRule, MonitoringSource, Hit]] = []
    for (rule, src, rows), ask in zip(todo, asks, strict=True):
        seq = None if ask is None else with_pending(next(fetched), None if stored else rows)
        hit = evaluate_on(rule, rows, seq)
        if hit is not None:
            hits.append((rule, src, hit))
    if not hits:
        return []
    # Which of them are open already is asked only for the hits: most batches fire nothing and save the
    # round trip (evaluating a pair that turns out to be open costs less than it).
    already = set((await s.scalars(_OPEN_KEYS, {"keys": [open_key(r.id, x.id) for r, x, _ in hits]})).all())
    return [(rule, src, hit) for rule, src, hit in hits if open_key(rule.id, src.id) not in already]


async def open_hits(uow: UnitOfWork, hits: list[tuple[WarningRule, MonitoringSource, Hit]], *,
                    now: dt.datetime, contexts: list[WarningContext] | None = None) -> list[int]:
    """Open a warning per hit inside the caller's unit of work (``open_key`` makes a pair that another writer
    opened meanwhile a no-op); returns the ids opened. ``contexts``: each hit's ``warning_contexts``, read
    beforehand."""
    opened: list[int] = []
    for i, (rule, src, hit) in enumerate(hits):
        w = await open_warning(uow, rule, src, hit, now=now, context=contexts[i] if contexts else None)
        if w is not None:
            opened.append(w.id)
    return opened


@dataclass(frozen=True)
class SeriesAsk:
    """The stored readings a rule needs around a batch: those in [t0, t1] (from ``before_t`` when given)
    preceded by the ``before`` readings earlier than ``before_t`` (default t0).

    ``runs_of`` (op, threshold): the readings in [before_t, t0) only matter through the breach run they leave
    open at t0, so only its boundaries are fetched — the last reading that does not breach and the first
    breaching one after it. A "sustained 60 minutes" rule over a monitor reporting every second otherwise
    read 3,600 rows per batch into Python (about half a readings batch's CPU; docs/performance.md, API
    latency, seventh round)."""
    sid: int
    metric: str
    t0: dt.datetime
    t1: dt.datetime
    before: int
    before_t: dt.datetime | None = None
    runs_of: tuple[str, float] | None = None


def series_ask(rule: WarningRule, sid: int, rows: list[dict[str, Any]]) -> SeriesAsk | None:
    """What ``evaluate_on`` needs from the store for this rule and batch (sorted by time); None: nothing."""
    if not rows or rule.op is None or rule.threshold is None:
        return None
    t0, t1 = rows[0]["at"], rows[-1]["at"]
    if rule.kind == "sustained" and rule.sustain_count:
        return SeriesAsk(sid, rule.metric, t0, t1, before=rule.sustain_count - 1)
    if rule.kind == "sustained" and rule.sustain_minutes:
        return SeriesAsk(sid, rule.metric, t0, t1, before=1,
                         before_t=t0 - dt.timedelta(minutes=rule.sustain_minutes),
                         runs_of=(rule.op, float(rule.threshold)))
    if rule.kind == "rate":
        return SeriesAsk(sid, rule.metric, t0, t1, before=1)
    return None


SERIES_PER_QUERY = 40  # asks answered by one UNION ALL statement


async def fetch_series(s: AsyncSession, asks: list[SeriesAsk]) -> list[list[tuple[dt.datetime, float]]]:
    """The stored readings of every ask, oldest first (for a ``runs_of`` ask: the run boundaries before t0,
    then the readings from t0) — one statement for up to ``SERIES_PER_QUERY`` asks instead of two per ask:
    each statement is a round trip (on PostgreSQL an event-loop turn), and a water station's batch asks for
    two series (docs/performance.md, API latency, seventh round)."""
    out: list[list[tuple[dt.datetime, float]]] = [[] for _ in asks]
    for lo in range(0, len(asks), SERIES_PER_QUERY):
        parts = []
        for k, ask in enumerate(asks[lo:lo + SERIES_PER_QUERY], start=lo):
            cond = and_(Reading.source_id == ask.sid, Reading.metric == ask.metric)
            start = ask.before_t or ask.t0
            tag = literal_column(str(k)).label("k")
            if ask.before:
                parts.append(select(tag, Reading.at, Reading.value)
                             .where(cond, Reading.at < start).order_by(Reading.at.desc()).limit(ask.before)
                             .subquery().select())
            if ask.runs_of is None:
                parts.append(select(tag, Reading.at, Reading.value)
                             .where(cond, Reading.at >= start, Reading.at <= ask.t1))
                continue
            breach = OPS[ask.runs_of[0]](Reading.value, ask.runs_of[1])  # on a column: SQL
            before_batch = and_(cond, Reading.at >= start, Reading.at < ask.t0)
            last_ok = (select(Reading.at).where(before_batch, not_(breach)).order_by(Reading.at.desc()).limit(1)
                       .scalar_subquery())
            parts.append(select(tag, Reading.at, Reading.value).where(before_batch, not_(breach))
                         .order_by(Reading.at.desc()).limit(1).subquery().select())
            parts.append(select(tag, Reading.at, Reading.value)
                         .where(before_batch, breach, or_(last_ok.is_(None), Reading.at > last_ok))
                         .order_by(Reading.at).limit(1).subquery().select())
            parts.append(select(tag, Reading.at, Reading.value)
                         .where(cond, Reading.at >= ask.t0, Reading.at <= ask.t1))
        for k, at, value in (await s.execute(union_all(*parts) if len(parts) > 1 else parts[0])).all():
            out[k].append((at, value))
    for seq in out:
        seq.sort(key=lambda x: x[0])
    return out


def with_pending(stored: list[tuple[dt.datetime, float]], pending: list[dict[str, Any]] | None
                 ) -> list[tuple[dt.datetime, float]]:
    """``stored`` merged with readings about to be stored, as the insert will store them (a stored reading at
    the same instant wins)."""
    if not pending:
        return stored
    have = {a for a, _ in stored}
    return sorted(stored + [(r["at"], r["value"]) for r in pending if r["at"] not in have], key=lambda x: x[0])


def evaluate_on(rule: WarningRule, rows: list[dict[str, Any]], seq: list[tuple[dt.datetime, float]] | None
                ) -> Hit | None:
    """The rule against the batch (``rows``, sorted) and the series ``series_ask`` asked for (batch merged in)."""
    if not rows or rule.op is None or rule.threshold is None:
        return None
    breach = OPS[rule.op]
    thr = float(rule.threshold)
    t0 = rows[0]["at"]
    if rule.kind == "threshold":
        for r in rows:
            if breach(r["value"], thr):
                return Hit(r["value"], r["at"])
        return None
    if seq is None:
        return None
    if rule.kind == "sustained" and rule.sustain_count:
        n = rule.sustain_count
        run = 0
        start: dt.datetime | None = None
        for at, v in seq:
            if breach(v, thr):
                run += 1
                start = start or at
                if run >= n and at >= t0:
                    return Hit(v, at, {"readings": run, "since": start.isoformat()})
            else:
                run, start = 0, None
        return None
    if rule.kind == "sustained" and rule.sustain_minutes:
        span = dt.timedelta(minutes=rule.sustain_minutes)
        start = None
        for at, v in seq:
            if breach(v, thr):
                start = start or at
                if at >= t0 and at - start >= span:
                    return Hit(v, at, {"since": start.isoformat(),
                                       "minutes": round((at - start).total_seconds() / 60, 1)})
            else:
                start = None
        return None
    if rule.kind == "rate":
        unit_s = 60.0 if rule.rate_per == "minute" else 3600.0
        for (a0, v0), (a1, v1) in itertools.pairwise(seq):
            if a1 < t0:
                continue
            secs = (a1 - a0).total_seconds()
            if secs <= 0:
                continue
            rate = (v1 - v0) / secs * unit_s
            if breach(rate, thr):
                return Hit(v1, a1, {"rate": round(rate, 6), "per": rule.rate_per, "previous_value": v0,
                                    "previous_at": a0.isoformat()})
        return None
    return None


# --- opening ---------------------------------------------------------------------------------------------

async def _named_users(s: AsyncSession, user_ids: list[int] | tuple[int, ...], unit_id: int | None) -> list[int]:
    """The given ids, then the accounts of a unit's people (sub-units included); not yet checked for activity."""
    ids: list[int] = list(user_ids)
    if unit_id is not None:
        unit = await s.get(Unit, unit_id)
        if unit is not None:
            ids += [u for u in (await s.scalars(
                select(Person.user_id).join(Unit, Unit.id == Person.unit_id)
                .where(Unit.path.startswith(unit.path), Person.user_id.is_not(None)).order_by(Person.id))).all()
                if u is not None]
    return ids


_ACTIVE_USERS = select(User.id, User.roles).where(User.is_active.is_(True))


async def _active_users(s: AsyncSession) -> dict[int, list[str]]:
    return {uid: list(r or []) for uid, r in (await s.execute(_ACTIVE_USERS)).all()}


async def users_for(s: AsyncSession, *, user_ids: list[int] | tuple[int, ...] = (), unit_id: int | None = None,
                    roles: list[str] | tuple[str, ...] = ()) -> list[int]:
    """Active users: the given ids, the accounts of a unit's people (sub-units included), holders of roles."""
    ids = await _named_users(s, user_ids, unit_id)
    wanted_roles = set(roles)
    active = await _active_users(s)
    if wanted_roles:
        ids += [uid for uid, r in sorted(active.items()) if wanted_roles.intersection(r)]
    return [u for u in dict.fromkeys(ids) if u in active]


@dataclass(frozen=True)
class WarningContext:
    """What opening a warning reads besides the hit: where its source is, who is told, and their mobiles."""

    lon: float | None
    lat: float | None
    address: str | None
    recipients: list[tuple[int, str]]  # (user id, "responsible" | "duty"), active users, responsible first
    mobiles: dict[int, str | None]  # every active user's mobile (a user linked to several people: the first)


_ACTIVE_MOBILES = (select(User.id, User.roles, Person.mobile).outerjoin(Person, Person.user_id == User.id)
                   .where(User.is_active.is_(True)).order_by(User.id, Person.id))


async def warning_contexts(s: AsyncSession, hits: list[tuple[WarningRule, MonitoringSource, Hit]]
                           ) -> list[WarningContext]:
    """Each hit's ``WarningContext``, with one read of the active users (and their mobiles) and one of each
    source's map feature for all of them. A readings batch reads them beside its INSERT, before its write
    transaction, so that opening a warning there only writes (docs/performance.md, API latency, eleventh
    round); ``open_warning`` reads them itself when not given."""
    if not hits:
        return []
    roles: dict[int, list[str]] = {}
    mobiles: dict[int, str | None] = {}
    for uid, r, mobile in (await s.execute(_ACTIVE_MOBILES)).all():
        roles.setdefault(uid, list(r or []))
        if mobiles.get(uid) is None:
            mobiles[uid] = mobile
    places: dict[int, tuple[float | None, float | None, str | None]] = {}
    out = []
    for rule, src, _hit in hits:
        if src.id not in places:
            feature = await s.get(MapFeature, src.map_feature_id)
            lon, lat = feature_point(feature)
            props = feature.properties if feature is not None else {}
            places[src.id] = (lon, lat, props.get("address") or props.get("district"))
        named = await _named_users(s, rule.responsible_user_ids or [], rule.responsible_unit_id)
        recipients = [(u, "responsible") for u in dict.fromkeys(named) if u in roles]
        if rule.notify_duty:
            taken = {u for u, _ in recipients}
            recipients += [(u, "duty") for u, r in sorted(roles.items()) if DUTY_ROLE in r and u not in taken]
        out.append(WarningContext(*places[src.id], recipients=recipients, mobiles=mobiles))
    return out


def _local(t: dt.datetime | None) -> str:
    return t.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if t else "—"


@functools.cache
def _open_warning_insert(dialect: str) -> Any:
    """INSERT a warning unless its ``open_key`` is taken, returning its id; built once per dialect."""
    table = WarningRecord.__table__
    st = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return st.on_conflict_do_nothing(index_elements=["open_key"]).returning(table.c.id)


async def open_warning(uow: UnitOfWork, rule: WarningRule, src: MonitoringSource, hit: Hit, *,
                       now: dt.datetime, context: WarningContext | None = None) -> WarningRecord | None:
    """Insert the warning unless one for (rule, source) is not closed yet; notify and announce it.
    ``context``: its ``warning_contexts`` entry, read beforehand (read here when not given)."""
    s = uow.session
    ctx = context or (await warning_contexts(s, [(rule, src, hit)]))[0]
    lon, lat, address = ctx.lon, ctx.lat, ctx.address
    unit = metric_unit(rule.metric)
    mname = metric_name(rule.metric)
    level_zh = LEVEL_ZH[rule.level]
    if rule.kind == "missing":
        title = f"{src.name} {mname}数据缺失"
        what = f"{mname}已超过{rule.missing_minutes}分钟无数据（最后一次：{_local(hit.at)}）"
        threshold = float(rule.missing_minutes or 0)
    elif rule.kind == "rate":
        rate = hit.details.get("rate")
        per = "分钟" if rule.rate_per == "minute" else "小时"
        title = f"{src.name} {mname}突变"
        what = (f"{mname} {_fmt(hit.value)}{unit}，变化率 {_fmt(rate)}{unit}/{per}，"
                f"阈值 {rule.op}{_fmt(rule.threshold)}{unit}/{per}")
        threshold = rule.threshold
    else:
        title = f"{src.name} {mname}{'超标' if rule.op in ('>', '>=') else '低于限值'}"
        span = ""
        if rule.kind == "sustained":
            span = f"，已连续{rule.sustain_count}个读数" if rule.sustain_count else \
                f"，已持续{hit.details.get('minutes')}分钟"
        what = f"{mname} {_fmt(hit.value)}{unit}，阈值 {rule.op}{_fmt(rule.threshold)}{unit}{span}"
        threshold = rule.threshold
    place = address or ""
    coords = f"（{lon:.5f}, {lat:.5f}）" if lon is not None and lat is not None else ""
    message = (f"【{level_zh}预警】{src.name}，位置：{place}{coords}；{what}；监测时间 {_local(hit.at)}；"
               f"规则：{rule.name}。")
    values = {"rule_id": rule.id, "source_id": src.id, "open_key": open_key(rule.id, src.id), "state": "open",
              "level": rule.level, "kind": rule.kind, "title": title[:300], "message": message,
              "source_name": src.name, "metric": rule.metric, "value": hit.value, "threshold": threshold,
              "op": rule.op, "unit": unit, "lon": lon, "lat": lat, "address": address, "observed_at": hit.at,
              "details": {**hit.details, "condition": condition_text(rule), "rule_name": rule.name,
                          "feature_id": src.map_feature_id, "source_code": src.code},
              "created_at": now, "escalation_level": 0}
    wid = (await s.execute(_open_warning_insert(s.get_bind().dialect.name), values)).scalar()
    if wid is None:
        return None  # another writer opened it first
    # the stored row as a transient object (no read back): every column is in ``values`` or has no value yet
    w = WarningRecord(id=wid, **values, acked_at=None, acked_by=None, closed_at=None, closed_by=None,
                      close_reason=None, escalated_at=None, alarm_id=None)
    recipients = ctx.recipients
    if recipients:
        await s.execute(insert(WarningRecipient.__table__), [
            {"warning_id": wid, "user_id": u, "role": role, "notified_at": now, "acked_at": None}
            for u, role in recipients])
    await notify(uow, user_ids=[u for u, _ in recipients], title=f"{level_zh}预警：{title}", body=message,
                 level=rule.level, subject_type="warning", subject_id=w.id,
                 reachable={u: ctx.mobiles.get(u) for u, _ in recipients})
    uow.emit("warning.opened", subject_type="warning", subject_id=w.id,
             payload=jsonable({"warning": warning_summary(w), "recipients": len(recipients)}),
             audience=WARNINGS_AUDIENCE)
    return w


def warning_summary(w: WarningRecord) -> dict[str, Any]:
    return {"id": w.id, "level": w.level, "title": w.title, "source_id": w.source_id, "source_name": w.source_name,
            "metric": w.metric, "metric_name": metric_name(w.metric), "unit": w.unit, "value": w.value,
            "threshold": w.threshold, "op": w.op, "kind": w.kind, "lon": w.lon, "lat": w.lat,
            "address": w.address, "observed_at": w.observed_at, "created_at": w.created_at, "state": w.state,
            "rule_id": w.rule_id, "acked_at": w.acked_at, "closed_at": w.closed_at,
            "escalation_level": w.escalation_level, "alarm_id": w.alarm_id}


# --- the periodic checker -------------------------------------------------------------------------------------

async def check_missing(svc: Services, now: dt.datetime) -> list[int]:
    async with svc.db.read() as s:
        rules = (await s.scalars(select(WarningRule).where(WarningRule.enabled.is_(True),
                                                           WarningRule.kind == "missing"))).all()
        if not rules:
            return []
        due: list[tuple[int, int, Hit]] = []
        for rule in rules:
            q = select(MonitoringSource).where(MonitoringSource.active.is_(True))
            q = q.where(MonitoringSource.id == rule.scope_source_id) if rule.scope_source_id is not None else \
                q.where(MonitoringSource.feature_kind == rule.scope_kind)
            srcs = [x for x in (await s.scalars(q)).all() if rule.metric in x.metrics]
            if not srcs:
                continue
            last = dict((await s.execute(select(MetricState.source_id, MetricState.last_at).where(
                MetricState.metric == rule.metric, MetricState.source_id.in_([x.id for x in srcs])))).all())
            limit = dt.timedelta(minutes=rule.missing_minutes or 0)
            keys = [open_key(rule.id, x.id) for x in srcs]
            already = set((await s.scalars(select(WarningRecord.open_key)
                                           .where(WarningRecord.open_key.in_(keys)))).all())
            for x in srcs:
                seen = last.get(x.id)
                since = seen or x.created_at
                if now - since > limit and open_key(rule.id, x.id) not in already:
                    due.append((rule.id, x.id, Hit(None, seen, {
                        "last_at": seen.isoformat() if seen else None,
                        "silent_minutes": round((now - since).total_seconds() / 60, 1)})))
    opened: list[int] = []
    # One transaction per warning: when many sources fall silent at once (a network outage), one transaction
    # opening them all — each with its notifications — held the write lock, and with its statements running
    # inline much of the event loop, for all of them (the demo city's 8 water stations: 138 ms on PostgreSQL;
    # docs/performance.md, API latency, eighth round); every request in flight waited. Each warning stands
    # alone, and ``open_key`` keeps a pair another checker opened meanwhile a no-op.
    for n, (rule_id, sid, hit) in enumerate(due):
        if n:
            await asyncio.sleep(CHECKER_PACE_S)
        async with svc.write(CHECKER) as uow:
            rule = await uow.session.get(WarningRule, rule_id)
            src = await uow.session.get(MonitoringSource, sid)
            if rule is None or src is None:
                continue
            w = await open_warning(uow, rule, src, hit, now=now)
            if w is not None:
                opened.append(w.id)
    return opened


async def escalate_due(svc: Services, now: dt.datetime) -> list[int]:
    async with svc.db.read() as s:
        rows = (await s.execute(select(WarningRecord.id, WarningRecord.created_at, WarningRule.escalate_after_min)
                                .join(WarningRule, WarningRule.id == WarningRecord.rule_id)
                                .where(WarningRecord.state == "open", WarningRecord.escalation_level == 0,
                                       WarningRule.escalate_after_min.is_not(None)))).all()
    due = [wid for wid, created, after in rows if now - created >= dt.timedelta(minutes=after)]
    done: list[int] = []
    for n, wid in enumerate(due):
        if n:
            await asyncio.sleep(CHECKER_PACE_S)
        async with svc.write(CHECKER) as uow:
            s = uow.session
            claimed = await s.execute(update(WarningRecord).where(
                WarningRecord.id == wid, WarningRecord.state == "open", WarningRecord.escalation_level == 0
            ).values(escalation_level=1, escalated_at=now))
            if claimed.rowcount != 1:
                continue  # acknowledged meanwhile, or another process escalated it
            w = await s.get(WarningRecord, wid)
            rule = await s.get(WarningRule, w.rule_id) if w is not None and w.rule_id else None
            if w is None or rule is None:
                continue
            await s.refresh(w)
            have = set((await s.scalars(select(WarningRecipient.user_id)
                                        .where(WarningRecipient.warning_id == wid))).all())
            targets = [u for u in await users_for(s, user_ids=rule.escalate_to_user_ids or [],
                                                  roles=rule.escalate_to_roles or []) if u not in have]
            s.add_all([WarningRecipient(warning_id=wid, user_id=u, role="escalation", notified_at=now)
                       for u in targets])
            minutes = rule.escalate_after_min
            await notify(uow, user_ids=targets, title=f"预警升级：{w.title}",
                         body=f"{minutes}分钟内无人确认，已升级通知。{w.message}", level=w.level,
                         subject_type="warning", subject_id=wid)
            uow.emit("warning.escalated", subject_type="warning", subject_id=wid,
                     payload=jsonable({"warning": warning_summary(w), "to_user_ids": targets, "after_min": minutes}),
                     audience=WARNINGS_AUDIENCE)
            done.append(wid)
    return done


async def run_checks(svc: Services, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """One pass of the periodic checker (also called directly by tests with an injected clock)."""
    now = now or dt.datetime.now(dt.UTC)
    return {"missing": await check_missing(svc, now), "escalated": await escalate_due(svc, now)}


def threshold_lines(rules: RuleBook, src: MonitoringSource, metric: str) -> list[dict[str, Any]]:
    """The enabled threshold and sustained rules on ``src``'s ``metric``, as lines for its chart, by id."""
    return [{"rule_id": r.id, "name": r.name, "level": r.level, "op": r.op, "value": r.threshold}
            for r in rules.by_metric.get(metric, ()) if r.kind in ("threshold", "sustained")
            and rule_applies(r, src) and r.threshold is not None and r.op is not None]
