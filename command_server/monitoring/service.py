"""Monitoring sources, bulk ingestion of readings, and down-sampled series for charts.

Ingestion is the hot path: a batch of thousands of rows is checked in plain Python (no model per row),
written with one executemany (``INSERT … ON CONFLICT DO NOTHING`` on the series key, so a re-sent reading is
a no-op), then only the warning rules that match the batch's sources and metrics are evaluated — all in the
request's one transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import math
from dataclasses import dataclass
from typing import Any

import orjson
import shapely.geometry
from sqlalchemy import BigInteger, Integer, and_, case, cast, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..core.api import dumps, parse_body
from ..core.errors import ApiError, conflict, not_found, unprocessable
from ..core.like import contains
from ..core.permissions import ROLE_PERMISSIONS
from ..core.services import Services
from ..core.uow import AnyActor, UnitOfWork
from ..geo.kinds import kind_label
from ..geo.models import MapFeature
from .catalogue import DEFAULT_METRICS, METRICS, SOURCE_LAYERS, category_for, metric_name, metric_unit
from .models import MetricState, MonitoringSource, Reading
from .schemas import ReadingsIn, SeriesQuery, SourceIn, SourcePatch, SourcesQuery

MONITORING_AUDIENCE = sorted(f"role:{r}" for r, perms in ROLE_PERMISSIONS.items() if "monitoring:read" in perms)
FUTURE_SLACK = dt.timedelta(hours=1)
CHUNK = 20_000  # rows per statement


# --- locations -----------------------------------------------------------------------------------------

def feature_point(f: MapFeature | None) -> tuple[float | None, float | None]:
    if f is None or not f.geometry:
        return None, None
    g = f.geometry
    if g.get("type") == "Point":
        return float(g["coordinates"][0]), float(g["coordinates"][1])
    p = shapely.geometry.shape(g).representative_point()
    return float(p.x), float(p.y)


def _metric_out(code: str, state: MetricState | None) -> dict[str, Any]:
    m = METRICS.get(code)
    return {"code": code, "name": m.name_zh if m else code, "name_en": m.name_en if m else code,
            "unit": m.unit if m else "", "last_at": state.last_at if state else None,
            "last_value": state.last_value if state else None}


def source_out(src: MonitoringSource, feature: MapFeature | None,
               states: dict[str, MetricState] | None = None) -> dict[str, Any]:
    lon, lat = feature_point(feature)
    props = feature.properties if feature is not None else {}
    states = states or {}
    last = max((s.last_at for s in states.values()), default=None)
    return {"id": src.id, "code": src.code, "name": src.name, "category": src.category,
            "feature_kind": src.feature_kind, "kind_label": kind_label(src.feature_kind),
            "map_feature_id": src.map_feature_id, "lon": lon, "lat": lat, "district": props.get("district"),
            "address": props.get("address"), "metrics": [_metric_out(c, states.get(c)) for c in src.metrics],
            "active": src.active, "last_at": last}


def _check_metrics(codes: list[str]) -> list[str]:
    unknown = [c for c in codes if c not in METRICS]
    if unknown:
        raise unprocessable("unknown metric codes", [{"loc": ["body", "metrics"], "type": "value_error",
                                                      "msg": f"unknown metric(s) {unknown}; see "
                                                             f"GET /api/v1/monitoring/metrics"}])
    return list(dict.fromkeys(codes))


# --- sources -----------------------------------------------------------------------------------------

async def list_sources(svc: Services, q: SourcesQuery) -> dict[str, Any]:
    async with svc.db.read() as s:
        cond = []
        if q.category:
            cond.append(MonitoringSource.category == q.category)
        if q.kind:
            cond.append(MonitoringSource.feature_kind == q.kind)
        if q.q:
            text = q.q.strip()
            cond.append(contains(MonitoringSource.name, text) | contains(MonitoringSource.code, text))
        total = await s.scalar(select(func.count()).select_from(MonitoringSource).where(*cond)) or 0
        rows = (await s.execute(select(MonitoringSource, MapFeature)
                                .join(MapFeature, MapFeature.id == MonitoringSource.map_feature_id)
                                .where(*cond).order_by(MonitoringSource.category, MonitoringSource.id)
                                .limit(q.limit))).all()
        ids = [r[0].id for r in rows]
        states: dict[int, dict[str, MetricState]] = {}
        if ids:
            for st in (await s.scalars(select(MetricState).where(MetricState.source_id.in_(ids)))).all():
                states.setdefault(st.source_id, {})[st.metric] = st
    return {"items": [source_out(src, f, states.get(src.id)) for src, f in rows], "total": total}


async def get_source(svc: Services, sid: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        src = await s.get(MonitoringSource, sid)
        if src is None:
            raise not_found("monitoring source", sid)
        f = await s.get(MapFeature, src.map_feature_id)
        states = {st.metric: st for st in (await s.scalars(select(MetricState)
                                                           .where(MetricState.source_id == sid))).all()}
    return source_out(src, f, states)


async def create_source_in(uow: UnitOfWork, body: SourceIn) -> MonitoringSource:
    s = uow.session
    f = await s.get(MapFeature, body.map_feature_id)
    if f is None:
        raise ApiError(422, "invalid_feature", f"map feature {body.map_feature_id} does not exist")
    if f.layer not in SOURCE_LAYERS:
        raise ApiError(422, "invalid_feature", f"map feature {f.id} is on layer {f.layer}; a monitoring source "
                                               f"links to a feature of {' or '.join(SOURCE_LAYERS)}")
    if await s.scalar(select(MonitoringSource.id).where(MonitoringSource.map_feature_id == f.id)):
        raise conflict("source_exists", f"map feature {f.id} already has a monitoring source")
    code = body.code or f"{f.kind.upper()}-{f.id}"
    if await s.scalar(select(MonitoringSource.id).where(MonitoringSource.code == code)):
        raise conflict("code_taken", f"source code {code} is already used")
    metrics = _check_metrics(body.metrics if body.metrics is not None else DEFAULT_METRICS.get(f.kind, []))
    if not metrics:
        raise unprocessable("a source needs at least one metric",
                            [{"loc": ["body", "metrics"], "msg": "at least one metric", "type": "value_error"}])
    src = MonitoringSource(code=code, name=body.name or f.name, category=category_for(f.layer, f.kind),
                           map_feature_id=f.id, feature_kind=f.kind, metrics=metrics, active=body.active)
    s.add(src)
    await s.flush()
    uow.emit("monitoring_source.created", subject_type="monitoring_source", subject_id=src.id,
             payload={"source": json.loads(dumps(source_out(src, f)))}, audience=MONITORING_AUDIENCE)
    return src


async def create_source(svc: Services, actor: AnyActor, body: SourceIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        src = await create_source_in(uow, body)
    return await get_source(svc, src.id)


async def update_source(svc: Services, actor: AnyActor, sid: int, body: SourcePatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for key in ("name", "metrics", "active"):
        if key in changes and changes[key] is None:
            raise ApiError(422, "invalid_input", f"{key} cannot be null")
    if "metrics" in changes:
        changes["metrics"] = _check_metrics(changes["metrics"])
    async with svc.write(actor) as uow:
        src = await uow.session.get(MonitoringSource, sid)
        if src is None:
            raise not_found("monitoring source", sid)
        for k, v in changes.items():
            setattr(src, k, v)
        await uow.session.flush()
        uow.emit("monitoring_source.updated", subject_type="monitoring_source", subject_id=sid,
                 payload={"id": sid, "changed": sorted(changes)}, audience=MONITORING_AUDIENCE)
    return await get_source(svc, sid)


async def delete_source(svc: Services, actor: AnyActor, sid: int) -> None:
    async with svc.write(actor) as uow:
        src = await uow.session.get(MonitoringSource, sid)
        if src is None:
            raise not_found("monitoring source", sid)
        payload = {"id": sid, "code": src.code, "name": src.name}
        await uow.session.delete(src)
        await uow.session.flush()
        # Readings have no foreign key (models.Reading): deleted here, after the source row, so that a batch
        # that committed while this waited for the row's lock is deleted too. A long series is a long DELETE:
        # waited for through the event loop.
        await uow.session.execute(delete(Reading).where(Reading.source_id == sid).execution_options(off_loop=True))
        uow.emit("monitoring_source.deleted", subject_type="monitoring_source", subject_id=sid, payload=payload,
                 audience=MONITORING_AUDIENCE)


# --- ingestion -----------------------------------------------------------------------------------------

def _parse_at(v: Any) -> dt.datetime:
    if not isinstance(v, str):
        raise ValueError("at must be an ISO-8601 string with a time-zone offset")
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        raise ValueError(f"at {v[:40]!r} is not an ISO-8601 time") from None
    if t.tzinfo is None:
        raise ValueError("at must include a time-zone offset (e.g. +08:00 or Z)")
    return t.astimezone(dt.UTC)


READING_FIELDS = frozenset(("source_id", "metric", "at", "value"))


@dataclass(frozen=True)
class SourceBook:
    """Every monitoring source as a readings batch needs it: remembered per process (``remembered_sources``)
    and shared by concurrent batches, so nothing here is ever modified. ``reported``: (active, metric set,
    metric list) per source id, for the per-row check."""

    by_id: dict[int, MonitoringSource]
    reported: dict[int, tuple[bool, frozenset[str], list[str]]]

    @classmethod
    def of(cls, sources: list[MonitoringSource]) -> SourceBook:
        return cls({x.id: x for x in sources},
                   {x.id: (x.active, frozenset(x.metrics), list(x.metrics)) for x in sources})


SOURCE_EVENTS = ("monitoring_source.", "monitoring.demo_seeded")  # what changes a ``SourceBook``


async def remembered_sources(svc: Services) -> SourceBook:
    """The sources, read once per configuration generation (``core/config_cache.py``): a batch validated
    against them no longer reads them — a round trip and an ORM load of its sources per batch
    (docs/performance.md, API latency, twelfth round)."""

    async def load() -> SourceBook:
        async with svc.db.read() as s:
            return SourceBook.of(list((await s.scalars(select(MonitoringSource))).all()))

    return await svc.config.get("monitoring.sources", load)


def validate_rows(rows: list[dict[str, Any]], book: SourceBook, now: dt.datetime
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split the batch into clean rows (source_id, metric, at, value) and per-row errors.

    The per-row loop runs for every row of every batch, so what can be looked up once is: the sources' metric
    sets (not the ORM attribute per row, ``SourceBook.reported``) and each distinct time string, parsed and
    checked against the future once (a batch repeats the same instants across metrics). Types are tested with
    ``type(x) is …`` first: what a JSON body holds, and it excludes ``bool`` from ``int`` by itself."""
    good: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    latest_ok = now + FUTURE_SLACK
    seen: set[tuple[int, str, dt.datetime]] = set()
    reported = book.reported
    stamps: dict[Any, dt.datetime | None] = {}  # time string → instant, or None when it lies in the future
    fields = READING_FIELDS
    for i, row in enumerate(rows):
        is_dict = type(row) is dict or isinstance(row, dict)
        sid = row.get("source_id") if is_dict else None
        metric = row.get("metric") if is_dict else None
        try:
            if not is_dict:
                raise ValueError("a reading must be an object {source_id, metric, at, value}")
            if not fields.issuperset(row):
                raise ValueError(f"unexpected field(s) {sorted(set(row) - fields)}")
            if type(sid) is not int and (not isinstance(sid, int) or isinstance(sid, bool)):
                raise ValueError("source_id must be an integer")
            src = reported.get(sid)
            if src is None:
                raise ValueError(f"unknown source {sid}")
            active, metrics, listed = src
            if not active:
                raise ValueError(f"source {sid} is inactive")
            if type(metric) is not str or metric not in metrics:
                raise ValueError(f"metric {metric!r} is not reported by source {sid} (it reports {listed})")
            value = row.get("value")
            if type(value) is not float:
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise ValueError("value must be a number")
                value = float(value)
            if not math.isfinite(value):
                raise ValueError("value must be a finite number (NaN and infinity are refused)")
            raw_at = row.get("at")
            if type(raw_at) is str and raw_at in stamps:
                at = stamps[raw_at]
            else:
                at = _parse_at(raw_at)
                if at > latest_ok:
                    at = None
                if type(raw_at) is str:
                    stamps[raw_at] = at
            if at is None:
                raise ValueError("at lies in the future")
            key = (sid, metric, at)
            if key in seen:
                raise ValueError("duplicate of an earlier row in this batch")
            seen.add(key)
            good.append({"source_id": sid, "metric": metric, "at": at, "value": value})
        except ValueError as exc:
            errors.append({"index": i, "source_id": sid, "metric": metric, "error": str(exc)})
    return good, errors


def _dialect_insert(session: AsyncSession, table: Any) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql.insert(table) if name == "postgresql" else sqlite.insert(table))


@functools.cache
def _metric_state_upsert(dialect: str) -> Any:
    """Insert a (source, metric)'s newest reading, or keep the stored one if it is newer. Built once per
    dialect: constructing it (the ``excluded`` alias above all) cost ~0.8 ms of a batch's CPU on the loop."""
    table = MetricState.__table__
    st = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    excluded = st.excluded
    newer = excluded.last_at > table.c.last_at
    return st.on_conflict_do_update(index_elements=["source_id", "metric"], set_={
        "last_at": case((newer, excluded.last_at), else_=table.c.last_at),
        "last_value": case((newer, excluded.last_value), else_=table.c.last_value),
    })


_SQLITE_INSERT = ("INSERT INTO monitoring_readings (source_id, metric, at, value) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (source_id, metric, at) DO NOTHING")
# The four columns go as array literals in text (``_pg_arrays``): psycopg adapting four Python lists of 500
# values cost ~3.7 ms of CPU per batch; PostgreSQL parses the literals in ~0.2 ms. The instants are sent with
# their UTC offset and stored as the naive UTC the column holds.
_PG_COLUMNS = ("unnest(CAST(:s AS integer[]), CAST(:m AS varchar[]), CAST(:a AS timestamptz[]), "
               "CAST(:v AS double precision[])) AS batch(s, m, a, v)")
_PG_INSERT_SQL = ("INSERT INTO monitoring_readings (source_id, metric, at, value) "
                  f"SELECT s, m, a AT TIME ZONE 'UTC', v FROM {_PG_COLUMNS}")
# A few ms of server time each: waited for through the event loop. Readings never stored before are the usual batch:
# without ON CONFLICT's speculative insertion the statement costs PostgreSQL a third less time and writes a
# third less WAL (500 rows into a million: 3.0 → 2.1 ms, 114 → 79 kB). A stored reading among them fails it on
# the key, and the batch is stored again skipping those (``ingest``).
_PG_INSERT_NEW = text(_PG_INSERT_SQL).execution_options(off_loop=True)
_PG_INSERT = text(_PG_INSERT_SQL + " ON CONFLICT (source_id, metric, at) DO NOTHING").execution_options(off_loop=True)
READINGS_KEY = "pk_monitoring_readings"
# The newest reading per (source, metric), kept only where it is newer than the stored one: one statement
# (an executemany was a statement per pair and ~1 ms of a batch's CPU in SQLAlchemy and psycopg).
_PG_METRIC_STATE = text(
    "INSERT INTO monitoring_metric_state (source_id, metric, last_at, last_value) "
    f"SELECT s, m, a AT TIME ZONE 'UTC', v FROM {_PG_COLUMNS} "
    "ON CONFLICT (source_id, metric) DO UPDATE SET "
    "last_at = CASE WHEN excluded.last_at > monitoring_metric_state.last_at THEN excluded.last_at "
    "ELSE monitoring_metric_state.last_at END, "
    "last_value = CASE WHEN excluded.last_at > monitoring_metric_state.last_at THEN excluded.last_value "
    "ELSE monitoring_metric_state.last_value END")


def _pg_text(s: str) -> str:
    """An element of a PostgreSQL array literal, quoted."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pg_list(values: list[Any]) -> str:
    """Numbers or aware datetimes as a PostgreSQL array literal: orjson writes them as JSON does (floats
    shortest-exact, finite by ``validate_rows``; datetimes ISO-8601 with offset, in quotes), and a JSON array of
    those is the array literal with brackets for braces. ~4× faster than formatting each in Python."""
    return "{" + orjson.dumps(values)[1:-1].decode() + "}"


def _pg_arrays(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The four array literals of ``_PG_COLUMNS``. A batch repeats a few metrics: each is quoted once."""
    quoted = {code: _pg_text(code) for code in {r["metric"] for r in rows}}
    return {"s": _pg_list([r["source_id"] for r in rows]),
            "m": "{" + ",".join([quoted[r["metric"]] for r in rows]) + "}",
            "a": _pg_list([r["at"] for r in rows]), "v": _pg_list([r["value"] for r in rows])}


def _sqlite_ts(t: dt.datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores a (naive UTC) value, so that range queries compare as text."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


async def bulk_insert_readings(session: AsyncSession, rows: list[dict[str, Any]], *, all_new: bool = False) -> int:
    """Write readings without building objects: one executemany (SQLite) or one ``unnest`` INSERT
    (PostgreSQL) per chunk. Duplicates of stored readings are skipped; returns how many were new. ``all_new``
    (PostgreSQL): expect no stored reading — one among them fails the statement on ``READINGS_KEY``."""
    conn = await session.connection()
    inserted = 0
    is_sqlite = session.get_bind().dialect.name == "sqlite"
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i:i + CHUNK]
        if is_sqlite:
            stamps: dict[dt.datetime, str] = {}  # a batch repeats the same instants across metrics
            params = []
            for r in chunk:
                at = r["at"]
                ts = stamps.get(at)
                if ts is None:
                    ts = stamps[at] = _sqlite_ts(at)
                params.append((r["source_id"], r["metric"], ts, r["value"]))
            res = await conn.exec_driver_sql(_SQLITE_INSERT, params)
        else:
            res = await conn.execute(_PG_INSERT_NEW if all_new else _PG_INSERT, _pg_arrays(chunk))
        rc = res.rowcount
        inserted += rc if rc is not None and rc >= 0 else len(chunk)
    return inserted


async def upsert_metric_state(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """The newest reading per (source, metric) of a stored batch. Its key references the source, so a batch
    for a source deleted meanwhile fails here as a whole."""
    conn = await session.connection()
    # newest reading per (source, metric) in this batch → metric state (upsert, keep the newer one)
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for r in rows:
        k = (r["source_id"], r["metric"])
        cur = latest.get(k)
        if cur is None or r["at"] > cur["at"]:
            latest[k] = r
    newest = [latest[k] for k in sorted(latest)]  # one order of row locks for every batch
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await conn.execute(_PG_METRIC_STATE, _pg_arrays(newest))
        return
    await conn.execute(_metric_state_upsert(dialect), [{"source_id": r["source_id"], "metric": r["metric"],
                                                        "last_at": r["at"], "last_value": r["value"]} for r in newest])


async def ingest(svc: Services, actor: AnyActor, raw_rows: list[dict[str, Any]],
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Validate, evaluate the warning rules and store a batch.

    The sources and the enabled rules are remembered per process (``remembered_sources``,
    ``warnings.engine.remembered_rules``). Everything else that only reads (the stored readings the rules look
    back on, which warnings are open) runs on read sessions, outside the write lock, which is held only for
    the metric-state upsert, any warnings opened and the event/audit records. The rules see the batch merged
    with the stored readings exactly as the insert stores them; opening a warning stays idempotent under the
    write lock (``open_key``).

    On PostgreSQL the readings INSERT runs in the write transaction before the lock is taken, waited for
    through the loop (``Database.write``, ``inline_db``), and the rules are evaluated meanwhile: they read only
    committed readings and merge the batch themselves, so the uncommitted INSERT changes nothing they see. It
    expects every reading to be new; when one was stored before (a re-sent batch), the transaction is rolled
    back and run again with an INSERT that skips stored readings. On SQLite the INSERT runs inline under the
    lock, so the rules are evaluated first."""
    now = now or dt.datetime.now(dt.UTC)
    book = await remembered_sources(svc)
    good, errors = validate_rows(raw_rows, book, now)
    if not good:
        raise ApiError(422, "no_valid_readings", "no reading in the batch is valid",
                       {"errors": errors[:1000], "rejected": len(errors)})
    evaluating = asyncio.create_task(_find_hits(svc, book.by_id, good))
    stored: list[int] = []
    hits: list[Any] = []
    contexts: list[Any] = []
    all_new = not svc.db.is_sqlite  # tried first on PostgreSQL (``_PG_INSERT_NEW``)

    async def insert_readings(session: AsyncSession) -> None:
        # Before the write lock on PostgreSQL: readings have no foreign key, and no statement run under the
        # lock waits for uncommitted readings.
        stored.append(await bulk_insert_readings(session, good, all_new=all_new))
        found, ready = await evaluating
        hits.extend(found)
        contexts.extend(ready)

    try:
        if not svc.db.unlocked_before_lock:
            await evaluating
        while True:
            stored.clear()
            hits.clear()
            contexts.clear()
            try:
                async with svc.write(actor, unlocked=insert_readings) as uow:
                    inserted, opened = await _store_and_open(uow, good, stored[0], hits, contexts, errors, now)
                break
            except IntegrityError as exc:
                if all_new and _constraint(exc) == READINGS_KEY:
                    all_new = False  # some were stored before (a re-sent batch): again, skipping those
                    continue
                raise
    except IntegrityError:
        # The metric state's key references the source: a source deleted after validation fails the batch.
        gone = await _missing_sources(svc, {r["source_id"] for r in good})
        if not gone:
            raise
        raise conflict("source_deleted", f"monitoring source(s) {gone} were deleted while the batch was stored; "
                                         "nothing was stored") from None
    finally:  # the INSERT failed or the request was cancelled before the rules' outcome was taken
        evaluating.cancel()
        if evaluating.done() and not evaluating.cancelled():
            evaluating.exception()  # retrieved: asyncio would log it as never retrieved
    return {"received": len(raw_rows), "accepted": len(good), "inserted": inserted,
            "duplicates": len(good) - inserted, "rejected": errors[:1000], "warnings_opened": opened}


def _constraint(exc: IntegrityError) -> str | None:
    """The constraint a PostgreSQL integrity error names (psycopg's diagnostics), if any."""
    return getattr(getattr(exc.orig, "diag", None), "constraint_name", None)


INGEST_BODY = f"{__name__}:ingest_body"


async def ingest_body(svc: Services, actor: AnyActor, raw: bytes) -> dict[str, Any]:
    """``POST /api/v1/monitoring/readings`` from its raw body: parsed, checked and ingested — all of a batch's
    CPU in one call, which the route runs in an offload worker where the server has them."""
    return await ingest(svc, actor, parse_body(ReadingsIn, raw).readings)


async def _find_hits(svc: Services, sources: dict[int, MonitoringSource], rows: list[dict[str, Any]]
                     ) -> tuple[list[Any], list[Any]]:
    """The rules' hits and what opening their warnings needs to read (``warning_contexts``)."""
    from ..warnings.engine import find_hits, remembered_rules, warning_contexts

    rules = await remembered_rules(svc)
    async with svc.db.read() as s:
        hits = await find_hits(s, sources, rows, stored=False, rules=rules)
        return hits, await warning_contexts(s, hits)


async def _missing_sources(svc: Services, ids: set[int]) -> list[int]:
    async with svc.db.read() as s:
        found = set((await s.scalars(select(MonitoringSource.id).where(MonitoringSource.id.in_(ids)))).all())
    return sorted(ids - found)


async def _store_and_open(uow: UnitOfWork, good: list[dict[str, Any]], inserted: int, hits: list[Any],
                          contexts: list[Any], errors: list[dict[str, Any]], now: dt.datetime
                          ) -> tuple[int, list[int]]:
    from ..warnings.engine import open_hits

    await upsert_metric_state(uow.session, good)
    opened = await open_hits(uow, hits, now=now, contexts=contexts)
    t0 = min(r["at"] for r in good)
    t1 = max(r["at"] for r in good)
    uow.emit("monitoring.readings_ingested", subject_type="monitoring", audit=False,
             payload={"accepted": len(good), "inserted": inserted, "rejected": len(errors),
                      "sources": sorted({r["source_id"] for r in good})[:100],
                      "metrics": sorted({r["metric"] for r in good}), "from": t0.isoformat(),
                      "to": t1.isoformat(), "warnings_opened": opened},
             audience=MONITORING_AUDIENCE)
    uow.audit("monitoring.readings_ingested", target_type="monitoring",
              detail={"accepted": len(good), "inserted": inserted, "rejected": len(errors)})
    return inserted, opened


# --- series ------------------------------------------------------------------------------------------

def _epoch_expr(is_sqlite: bool) -> Any:
    if is_sqlite:
        return cast(func.strftime("%s", Reading.at), Integer)
    return cast(func.floor(func.extract("epoch", Reading.at)), BigInteger)


def bucket_seconds(t0: dt.datetime, t1: dt.datetime, points: int) -> int:
    span = (t1 - t0).total_seconds()
    return max(1, math.ceil(span / points))


async def series(svc: Services, q: SeriesQuery) -> dict[str, Any]:
    from ..warnings.engine import remembered_rules, threshold_lines

    t0 = q.from_.astimezone(dt.UTC).replace(microsecond=0)
    t1 = q.to.astimezone(dt.UTC)
    width = bucket_seconds(t0, t1, q.points)
    base = int(t0.timestamp())
    # The source and its threshold lines from what the process remembers (``core/config_cache.py``): one round
    # trip, the readings' aggregate, instead of three.
    src = (await remembered_sources(svc)).by_id.get(q.source_id)
    if src is None:
        raise not_found("monitoring source", q.source_id)
    if q.metric not in src.metrics:
        raise ApiError(422, "unknown_metric", f"source {src.id} does not report {q.metric} "
                                              f"(it reports {src.metrics})")
    lines = threshold_lines(await remembered_rules(svc), src, q.metric)
    async with svc.db.read() as s:
        bucket = ((_epoch_expr(svc.db.is_sqlite) - base) // width).label("b")
        stmt = (select(bucket, func.avg(Reading.value), func.min(Reading.value), func.max(Reading.value),
                       func.count())
                .where(and_(Reading.source_id == src.id, Reading.metric == q.metric, Reading.at >= t0,
                            Reading.at < t1))
                .group_by(bucket).order_by(bucket))
        rows = (await s.execute(stmt)).all()
    pts = [{"t": dt.datetime.fromtimestamp(base + int(b) * width, dt.UTC), "avg": float(a), "min": float(lo),
            "max": float(hi), "n": int(n)} for b, a, lo, hi, n in rows]
    return {"source_id": src.id, "source_name": src.name, "metric": q.metric, "metric_name": metric_name(q.metric),
            "unit": metric_unit(q.metric), "from": t0, "to": t1, "bucket_s": width,
            "raw_count": sum(p["n"] for p in pts), "points": pts, "thresholds": lines}


def catalogue() -> list[dict[str, Any]]:
    return [{"code": m.code, "name": m.name_zh, "name_en": m.name_en, "unit": m.unit} for m in METRICS.values()]
