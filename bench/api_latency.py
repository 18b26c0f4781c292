"""REST API latency under a mixed read/write load on a large database (issue 3, "Tests and benchmark").

    python bench/api_latency.py --db sqlite                       # the reported run: 100k alarms, 10k incidents,
    python bench/api_latency.py --db postgresql                   #   1M readings, 200 clients, 30 s
    python bench/api_latency.py --db sqlite --scale 0.01 --clients 20 --duration 5     # quick check
    python bench/api_latency.py --url http://127.0.0.1:8080 [--server-pid PID]        # an existing server

Without ``--url``: a fresh database (SQLite in a temporary var dir, or a fresh PostgreSQL schema given to the
server through ``ECS_DB_SCHEMA`` and dropped at the end) gets its migrations, demo accounts and demo city from
one start of ``python -m command_server`` (``ECS_SEED_DEMO_CITY=true``); the server is stopped, the volume is
bulk-loaded straight into the real tables (SQLAlchemy Core executemany in chunks; readings by executemany on
SQLite and COPY on PostgreSQL), the server is started again and measured. Loading is timed separately.

The load: ``--clients`` client coroutines, each pausing a mean ``--think-ms`` (exponential; default 5 s, a
busy person at a console) after each operation, over ``--procs`` client processes, each
logged in as operator or commander (one login per user and process); readings batches use an API key with
``monitoring:ingest``. Each client draws its next operation from a weighted mix (see ``MIX``). The incident
workspace is the console's calls for one incident page fetched concurrently, timed as one operation. After
``--warmup`` seconds, operations *started* during ``--duration`` seconds are measured.

Prints one JSON object on stdout (progress on stderr); exit code 0 whether or not the goals are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
import uuid
from array import array
from contextvars import ContextVar
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ROOT,
    login,
    machine_cpu,
    machine_steal,
    percentile,
    pg_admin,
    proc_sample,
    proc_tree_sample,
    r3,
    reference_workload_ms,
)

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

# operation → (weight %, goal p99 ms)
MIX: dict[str, tuple[float, float]] = {
    "alarm_intake": (20, 50),
    "readings_batch": (10, 50),
    "alarm_list": (20, 50),
    "incident_list": (15, 50),
    "incident_workspace": (15, 200),
    "station_series": (10, 50),
    "duty_today": (5, 50),
    "incident_stats": (5, 50),
}
READINGS_PER_BATCH = 500
EVENT_TYPES = ["water", "air", "soil", "hazchem_leak", "hazardous_waste", "radiation", "fire_explosion", "other"]
TYPE_WEIGHTS = [25, 22, 8, 18, 10, 2, 6, 9]
CLOSED_STATES = ("closed", "assessed", "false_alarm", "merged")
SIRS = ("先生", "女士")
TASK_TITLES = ("现场监测", "围堵截流", "疏散群众", "采样分析", "信息报送", "企业排查")
# the Server-Timing phases of the responses to the operation in progress (one list per client task; the
# incident workspace's parallel requests share it)
_TIMINGS: ContextVar[list[dict[str, float]] | None] = ContextVar("bench_timings", default=None)


def log(msg: str) -> None:
    print(f"[api_latency {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- database: URL, schema, counting ---------------------------------------------------------------------------

def engine_for(url: str, schema: str | None) -> Any:
    from sqlalchemy.ext.asyncio import create_async_engine

    kw: dict[str, Any] = {}
    if schema:
        kw["connect_args"] = {"server_settings": {"search_path": schema}}
    return create_async_engine(url, **kw)


async def pg_sessions(url: str) -> int:
    """Sessions PostgreSQL has established in this database so far (``pg_stat_database.sessions``)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = current_database()"))
    finally:
        await conn.close()


async def count_rows(url: str, schema: str | None) -> dict[str, int]:
    from sqlalchemy import text

    eng = engine_for(url, schema)
    out: dict[str, int] = {}
    try:
        async with eng.connect() as c:
            for key, table in (("alarms", "alarms"), ("incidents", "incidents"), ("readings", "monitoring_readings"),
                               ("tasks", "tasks"), ("incident_reports", "incident_reports"),
                               ("events", "events"), ("monitoring_sources", "monitoring_sources"),
                               ("warnings", "warnings"), ("notifications", "notifications")):
                out[key] = int((await c.execute(text(f"SELECT count(*) FROM {table}"))).scalar() or 0)
    finally:
        await eng.dispose()
    return out


# --- bulk load ----------------------------------------------------------------------------------------------------

async def bulk_load(url: str, schema: str | None, targets: dict[str, int], seed: int = 20260400) -> dict[str, Any]:
    """Top the database up to ``targets`` rows (alarms, incidents, readings) with realistic values."""
    import numpy as np
    from sqlalchemy import func, insert, select, text

    from command_server.alarms import search as alarm_search
    from command_server.alarms.models import Alarm
    from command_server.alarms.schemas import COMPLAINT_CHANNELS
    from command_server.alarms.service import match_chemical, screen_opinion
    from command_server.core import crypto
    from command_server.core.config import Settings
    from command_server.core.crypto import mask_phone
    from command_server.demo.alarms import CHANNEL_WEIGHTS, CLOSE_REASONS, TEMPLATES
    from command_server.demo.geodata import DISTRICTS, PLACE, ROADS, district_of
    from command_server.demo.monitoring import PROFILE
    from command_server.incidents import search as incident_search
    from command_server.incidents.models import Incident, IncidentReport, Task
    from command_server.monitoring.models import MonitoringSource, Reading
    from command_server.org.models import Unit

    crypto.configure(Settings(_env_file=str(ROOT / ".env")).sm4_key)  # the key the server uses (same env)
    r = random.Random(seed)
    rng = np.random.default_rng(seed)
    is_pg = url.startswith("postgresql")
    eng = engine_for(url, schema)
    timings: dict[str, float] = {}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        async with eng.connect() as c:
            units = {code: uid for code, uid in (await c.execute(select(Unit.code, Unit.id))).all() if code}
            have_alarms = int((await c.execute(select(func.count()).select_from(Alarm))).scalar() or 0)
            have_inc = int((await c.execute(select(func.count()).select_from(Incident))).scalar() or 0)
            have_read = int((await c.execute(select(func.count()).select_from(Reading))).scalar() or 0)
            max_alarm = int((await c.execute(select(func.max(Alarm.id)))).scalar() or 0)
            max_inc = int((await c.execute(select(func.max(Incident.id)))).scalar() or 0)
            sources = (await c.execute(select(MonitoringSource.id, MonitoringSource.metrics)
                                       .where(MonitoringSource.active.is_(True)))).all()
            oldest = (await c.execute(select(func.min(Reading.at)))).scalar()
        n_alarms = max(0, targets["alarms"] - have_alarms)
        n_inc = max(0, targets["incidents"] - have_inc)
        n_read = max(0, targets["readings"] - have_read)
        log(f"loading {n_alarms} alarms, {n_inc} incidents, {n_read} readings "
            f"(already there: {have_alarms}, {have_inc}, {have_read})")

        # alarms: spread over the last 365 days and the districts, ids in time order; some become incidents
        t0 = time.monotonic()
        types = list(TEMPLATES)
        channels = list(CHANNEL_WEIGHTS)
        cw = list(CHANNEL_WEIGHTS.values())
        tw = [TEMPLATES[t][0] for t in types]
        offsets = sorted((rng.random(n_alarms) * 365 * 86400).tolist(), reverse=True)
        alarm_rows: list[dict[str, Any]] = []
        for i, off in enumerate(offsets):
            received = now - dt.timedelta(seconds=off + 600)
            etype = r.choices(types, tw)[0]
            channel = r.choices(channels, cw)[0]
            _, templates, pollutants = TEMPLATES[etype]
            _, _, (w, s_, e, n), _ = r.choice(DISTRICTS)
            lon, lat = round(r.uniform(w + 0.005, e - 0.005), 6), round(r.uniform(s_ + 0.005, n - 0.005), 6)
            pollutant = r.choice(pollutants) or None
            txt = r.choice(templates).format(plant=f"滨江{r.choice(PLACE)}化工有限公司", road=r.choice(ROADS),
                                             place=r.choice(PLACE), pollutant=pollutant or "不明物质")
            name, code = district_of(lon, lat)
            unit_id = units.get(f"BJ-{code}")
            phone = None if channel == "monitoring" else r.choice(("139", "138", "186", "158")) + \
                f"{r.randrange(10**8):08d}"
            kw = screen_opinion(txt) if channel in COMPLAINT_CHANNELS else []
            occurred = received - dt.timedelta(minutes=r.randint(5, 120)) if r.random() < 0.6 else None
            status, closed_at, reason = "open", None, None
            if off > 3 * 86400:  # older than three days: mostly dealt with
                x = r.random()
                if x < 0.85:
                    status = "false_alarm" if x < 0.1 else "closed"
                    reason = "经核实为误报" if x < 0.1 else r.choice(CLOSE_REASONS)
                    closed_at = received + dt.timedelta(hours=r.uniform(1, 48))
            alarm_rows.append({
                "id": max_alarm + 1 + i, "channel": channel, "status": status, "event_type": etype,
                "received_at": received, "occurred_at": occurred, "event_at": occurred or received,
                "address": f"滨江市{name}{r.choice(ROADS)}{r.randint(1, 999)}号", "lon": lon, "lat": lat,
                "pollutant": pollutant, "pollutant_cas": match_chemical(pollutant), "description": txt,
                "reporter_name": None if phone is None else r.choice("王李张刘陈杨黄赵吴周") + r.choice(SIRS),
                "reporter_phone": phone, "reporter_phone_masked": mask_phone(phone), "attachments": [],
                "district_unit_id": unit_id, "district_name": name,
                "routed_to_unit_id": unit_id if channel in COMPLAINT_CHANNELS else None,
                "opinion_flag": bool(kw), "opinion_keywords": kw,
                "external_source": "city-iot" if channel == "external" else None,
                "external_id": f"BENCH-{max_alarm + 1 + i}" if channel == "external" else None,
                "merged_into_id": None, "incident_id": None, "source_warning_id": None, "close_reason": reason,
                "closed_at": closed_at, "created_by_id": None, "created_by_name": "bench", "extra": {},
                "created_at": received, "updated_at": closed_at or received})

        # incidents: each from one alarm (one in ten from two), created 10-120 min after it
        inc_rows: list[dict[str, Any]] = []
        task_rows: list[dict[str, Any]] = []
        report_rows: list[dict[str, Any]] = []
        if alarm_rows and n_inc:
            picks = sorted(r.sample(range(len(alarm_rows)), min(n_inc, len(alarm_rows))))
            for j, ai in enumerate(picks):
                a = alarm_rows[ai]
                iid = max_inc + 1 + j
                linked = [a]
                if r.random() < 0.1 and ai + 1 < len(alarm_rows) and alarm_rows[ai + 1]["incident_id"] is None \
                        and ai + 1 not in picks:
                    linked.append(alarm_rows[ai + 1])
                created = min(now - dt.timedelta(minutes=1),
                              a["received_at"] + dt.timedelta(minutes=r.randint(10, 120)))
                age_days = (now - created).total_seconds() / 86400
                if age_days > 14:
                    state = r.choices(["closed", "assessed", "false_alarm", "merged"], [55, 30, 10, 5])[0]
                else:
                    state = r.choices(["reported", "verifying", "responding", "disposing", "closed"],
                                      [15, 20, 30, 25, 10])[0]
                level = r.choices(["I", "II", "III", "IV"], [1, 4, 20, 75])[0]
                confirmed = state not in ("reported", "false_alarm") or r.random() < 0.3
                closed = created + dt.timedelta(hours=r.uniform(6, 240)) if state in CLOSED_STATES else None
                if closed is not None and closed > now:
                    closed = now - dt.timedelta(minutes=1)
                for al in linked:
                    al["status"], al["incident_id"], al["closed_at"], al["close_reason"] = "converted", iid, None, None
                inc_rows.append({
                    "id": iid, "title": f"{a['district_name']}{a['description'][:24]}", "type": a["event_type"],
                    "level": level if confirmed else None, "level_suggested": level, "level_reason": None,
                    "state": state, "lon": a["lon"], "lat": a["lat"], "address": a["address"],
                    "district_unit_id": a["district_unit_id"], "lead_unit_id": a["district_unit_id"],
                    "pollutant": a["pollutant"], "description": a["description"], "occurred_at": a["occurred_at"],
                    "deaths": 0, "poisoned_or_injured": r.choice((0, 0, 0, 1, 2, 5, 12)),
                    "evacuated": r.choice((0, 0, 0, 50, 300, 1200)), "direct_loss_cny": r.choice((0, 50_000, 800_000)),
                    "water_intake_cutoff": None, "radiation": None, "cross_boundary": None,
                    "alarm_ids": [al["id"] for al in linked], "forwarded_unit_ids": [], "plan_id": None,
                    "merged_into_id": None, "created_by": None, "created_at": created,
                    "updated_at": closed or created, "state_changed_at": closed or created, "closed_at": closed,
                    "initial_report_at": None, "report_overdue_notified_at": None})
                if state not in ("reported", "verifying", "false_alarm", "merged"):
                    for k in range(r.randint(3, 7)):
                        done = state in CLOSED_STATES or r.random() < 0.4
                        task_rows.append({
                            "incident_id": iid, "title": f"处置步骤 {k + 1}：{r.choice(TASK_TITLES)}",
                            "description": None, "assignee_user_id": None, "assignee_unit_id": a["district_unit_id"],
                            "assignee_role": r.choice(("operator", "field", "commander")),
                            "due_at": created + dt.timedelta(hours=k + 1), "plan_step_order": k + 1,
                            "source": "plan", "status": "done" if done else r.choice(("todo", "doing")),
                            "feedback": None, "feedback_file_ids": [], "created_by": None, "created_at": created,
                            "updated_at": created, "started_at": None,
                            "done_at": created + dt.timedelta(hours=k + 1) if done else None})
                if state not in ("reported", "merged") and r.random() < 0.9:
                    kinds = ["initial"] + (["follow_up", "final"] if state in ("closed", "assessed") else [])
                    for k, kind in enumerate(kinds):
                        at = created + dt.timedelta(hours=1 + k * 24)
                        report_rows.append({
                            "incident_id": iid, "kind": kind, "content": f"{inc_rows[-1]['title']}（{kind}）",
                            "file_ids": [], "level_at_submit": level, "due_at": None, "submitted_by": None,
                            "submitted_by_name": "bench", "submitted_at": min(at, now)})
                    inc_rows[-1]["initial_report_at"] = min(created + dt.timedelta(hours=1), now)
        timings["generate_s"] = time.monotonic() - t0

        async def insert_chunks(conn: Any, table: Any, rows: list[dict[str, Any]], chunk: int = 5000) -> None:
            for k in range(0, len(rows), chunk):
                await conn.execute(insert(table), rows[k:k + chunk])

        t0 = time.monotonic()
        async with eng.begin() as c:
            await insert_chunks(c, Alarm.__table__, alarm_rows)
        timings["alarms_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        async with eng.begin() as c:  # Core inserts bypass the ORM events that keep the search index
            await c.run_sync(alarm_search.rebuild)
        timings["alarm_search_index_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        async with eng.begin() as c:
            await insert_chunks(c, Incident.__table__, inc_rows)
            await insert_chunks(c, Task.__table__, task_rows)
            await insert_chunks(c, IncidentReport.__table__, report_rows)
            if is_pg:  # explicit ids: move the sequences past them
                for table in ("alarms", "incidents"):
                    await c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                         f"(SELECT max(id) FROM {table}))"))
        timings["incidents_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        async with eng.begin() as c:  # as for alarms: Core inserts bypass the ORM events (rebuild also compacts)
            await c.run_sync(incident_search.INDEX.rebuild)
        timings["incident_search_index_s"] = time.monotonic() - t0

        # readings: each (source, metric) series extended back in time, every 10 minutes, before the oldest one
        t0 = time.monotonic()
        series = [(sid, m) for sid, metrics in sources for m in metrics]
        loaded = 0
        if series and n_read:
            per = math.ceil(n_read / len(series))
            end = (oldest.replace(tzinfo=dt.UTC) if oldest is not None and oldest.tzinfo is None
                   else (oldest or now)).replace(second=0, microsecond=0)
            stamps = [end - dt.timedelta(minutes=10 * (k + 1)) for k in range(per)]
            hours = np.array([t.hour + t.minute / 60 for t in stamps])
            naive = [t.replace(tzinfo=None) for t in stamps]
            sqlite_ts = [t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in naive]
            buf: list[tuple[Any, ...]] = []
            async with eng.begin() as c:
                raw = (await c.get_raw_connection()).driver_connection if is_pg else None
                for sid, metric in series:
                    if loaded + len(buf) >= n_read:
                        break
                    base, amp, sd, lo, hi, peak = PROFILE.get(metric, (10.0, 2.0, 1.0, 0.0, 1e9, 12))
                    vals = base + amp * np.cos((hours - peak) / 24 * 2 * np.pi) + rng.normal(0, sd, per)
                    vals = np.round(np.clip(vals, lo, hi), 4).tolist()
                    take = min(per, n_read - loaded - len(buf))
                    ts = naive if is_pg else sqlite_ts
                    buf.extend(zip([sid] * take, [metric] * take, ts[:take], vals[:take], strict=True))
                    if len(buf) >= 50_000:
                        loaded += await _write_readings(c, raw, schema, buf)
                        buf = []
                if buf:
                    loaded += await _write_readings(c, raw, schema, buf)
        timings["readings_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        if is_pg:
            # What autovacuum does soon after such a load (and a DBA at once): statistics, and the visibility
            # map that lets counts be answered from an index alone. Done here because a test machine's server
            # may run with autovacuum off; the measured server then starts from the state a production one
            # reaches by itself.
            async with eng.connect() as c:
                await c.execution_options(isolation_level="AUTOCOMMIT")
                tables = (await c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                                          {"s": schema or "public"})).scalars().all()
                for t in tables:  # this schema's only: VACUUM alone would walk the whole database
                    await c.execute(text(f'VACUUM ANALYZE "{schema or "public"}"."{t}"'))
                # The load wrote ~1 GB of WAL: without a checkpoint now, the one it forces lands in the measured
                # minute (seen: p99 0.7–1.5 s, every commit waiting behind the flush of the loaded pages).
                try:
                    await c.execute(text("CHECKPOINT"))
                except Exception as exc:  # needs superuser or pg_checkpoint: measure anyway, and say so
                    log(f"no CHECKPOINT after the load ({exc.__class__.__name__}): the first minute may include it")
        timings["vacuum_analyze_s"] = time.monotonic() - t0
    finally:
        await eng.dispose()
    return {"inserted": {"alarms": len(alarm_rows), "incidents": len(inc_rows), "tasks": len(task_rows),
                         "incident_reports": len(report_rows), "readings": loaded},
            "timings_s": {k: round(v, 2) for k, v in timings.items()}}


async def _write_readings(conn: Any, raw: Any, schema: str | None, rows: list[tuple[Any, ...]]) -> int:
    if raw is not None:  # PostgreSQL: COPY
        await raw.copy_records_to_table("monitoring_readings", records=rows, schema_name=schema,
                                        columns=["source_id", "metric", "at", "value"])
    else:
        await conn.exec_driver_sql("INSERT INTO monitoring_readings (source_id, metric, at, value) "
                                   "VALUES (?, ?, ?, ?)", rows)
    return len(rows)


async def reference_data(url: str, schema: str | None) -> dict[str, Any]:
    """Ids the clients pick from: incidents (open ones apart), sources with their metrics, districts."""
    from sqlalchemy import func, select

    from command_server.incidents.models import Incident
    from command_server.monitoring.models import MonitoringSource
    from command_server.org.models import Unit

    eng = engine_for(url, schema)
    try:
        async with eng.connect() as c:
            lo, hi = (await c.execute(select(func.min(Incident.id), func.max(Incident.id)))).one()
            open_ids = list((await c.execute(select(Incident.id).where(Incident.state.notin_(CLOSED_STATES))
                                             .order_by(Incident.id.desc()).limit(2000))).scalars())
            sources = [(sid, list(m)) for sid, m in (await c.execute(
                select(MonitoringSource.id, MonitoringSource.metrics).where(MonitoringSource.active.is_(True))
                .order_by(MonitoringSource.id))).all()]
            districts = list((await c.execute(select(Unit.id).where(Unit.code.like("BJ-%")))).scalars())
    finally:
        await eng.dispose()
    return {"incident_range": [lo or 1, hi or 1], "open_incidents": open_ids, "sources": sources,
            "districts": districts}


async def reference_data_api(url: str) -> dict[str, Any]:
    """The same from the REST API (with ``--url``)."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        h = {"Authorization": f"Bearer {await login(http, url, 'commander')}"}

        async def get(path: str, **q: Any) -> Any:
            async with http.get(url + path, params=q, headers=h) as resp:
                return await resp.json()
        newest = await get("/api/v1/incidents", limit=1)
        oldest_total = newest.get("total", 0)
        open_ = await get("/api/v1/incidents", state="open", limit=500)
        srcs = await get("/api/v1/monitoring/sources", limit=2000)
        units = await get("/api/v1/alarms", page_size=200)
    hi = newest["items"][0]["id"] if newest.get("items") else 1
    return {"incident_range": [max(1, hi - oldest_total + 1), hi],
            "open_incidents": [i["id"] for i in open_.get("items", [])],
            "sources": [(s["id"], [m["code"] for m in s["metrics"]]) for s in srcs.get("items", []) if s["active"]],
            "districts": sorted({a["district_unit_id"] for a in units.get("items", []) if a["district_unit_id"]})}


# --- client side (runs in the client processes) -------------------------------------------------------------------

class Client:
    """What one worker process needs to generate requests; one instance shared by its client coroutines."""

    def __init__(self, cfg: dict[str, Any], http: Any, tokens: dict[str, str]) -> None:
        self.cfg = cfg
        self.url = cfg["url"]
        self.http = http
        self.tokens = tokens
        self.key_headers = {"X-API-Key": cfg["api_key"]}
        ref = cfg["ref"]
        self.inc_lo, self.inc_hi = ref["incident_range"]
        self.open_incidents = ref["open_incidents"] or [self.inc_hi]
        # sources owned by this process (readings cursors never collide between processes)
        self.sources = [s for i, s in enumerate(ref["sources"]) if i % cfg["procs"] == cfg["proc"]] or ref["sources"]
        self.all_sources = ref["sources"]
        self.districts = ref["districts"] or [None]
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=12) + dt.timedelta(seconds=3)
        self.cursor = {sid: start for sid, _ in self.sources}
        self.samples: dict[str, array[float]] = {op: array("d") for op in MIX}
        self.variants: dict[str, array[float]] = {}
        self.slowest: list[tuple[float, float, str]] = []  # (ms, started s after the measurement began, op)
        self.errors: dict[str, int] = dict.fromkeys(MIX, 0)
        self.error_sample: list[str] = []
        self.requests = 0
        # per operation: (client ms, the server's phases of its slowest response) — with ECS_SERVER_TIMING
        self.timings: dict[str, list[tuple[float, dict[str, float]]]] = {op: [] for op in MIX}

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    @staticmethod
    def _server_timing(resp: Any) -> None:
        from command_server.core.timing import HEADER, parse

        box = _TIMINGS.get()
        st = resp.headers.get(HEADER)
        if box is not None and st:
            box.append(parse(st))

    async def _get(self, path: str, headers: dict[str, str], params: Any = None) -> None:
        async with self.http.get(self.url + path, params=params, headers=headers) as resp:
            await resp.read()
            self.requests += 1
            self._server_timing(resp)
            if resp.status != 200:
                raise RuntimeError(f"GET {path} → {resp.status}")

    async def _post(self, path: str, headers: dict[str, str], body: Any, ok: tuple[int, ...]) -> None:
        async with self.http.post(self.url + path, json=body, headers=headers) as resp:
            data = await resp.read()
            self.requests += 1
            self._server_timing(resp)
            if resp.status not in ok:
                raise RuntimeError(f"POST {path} → {resp.status} {data[:200]!r}")

    # --- the operations; each returns a variant label (for the per-variant breakdown) or None -------------------
    async def alarm_intake(self, r: random.Random, user: str) -> str | None:
        lon, lat = r.uniform(121.21, 121.79), r.uniform(30.81, 31.29)
        etype = r.choices(EVENT_TYPES, TYPE_WEIGHTS)[0]
        body: dict[str, Any] = {
            "channel": r.choice(("hotline", "hotline", "complaint_12369", "complaint_12345", "field_report")),
            "event_type": etype, "lon": round(lon, 6), "lat": round(lat, 6),
            "address": f"滨江市测试路{r.randint(1, 999)}号",
            "description": r.choice(("河道出现大面积死鱼，水面有油膜", "厂区附近有刺鼻气味，居民反映头晕",
                                     "路边发现倾倒的废油桶，有渗漏", "排污口排出黄色废水", "工地扬尘严重")),
            "pollutant": r.choice((None, "液氨", "柴油", "氯气", "六价铬")),
        }
        if r.random() < 0.5:
            body["reporter_name"] = "张先生"
            body["reporter_phone"] = "139" + f"{r.randrange(10**8):08d}"
        await self._post("/api/v1/alarms", self.auth(user), body, (200, 201))
        return None

    async def readings_batch(self, r: random.Random, user: str) -> str | None:
        sid, metrics = r.choice(self.sources)
        steps = max(1, READINGS_PER_BATCH // len(metrics))
        t = self.cursor[sid]
        self.cursor[sid] = t + dt.timedelta(seconds=steps)
        rows = []
        for k in range(steps):
            at = (t + dt.timedelta(seconds=k)).isoformat()
            for m in metrics:
                if len(rows) < READINGS_PER_BATCH:
                    rows.append({"source_id": sid, "metric": m, "at": at, "value": round(r.uniform(0.5, 1.5), 3)})
        await self._post("/api/v1/monitoring/readings", self.key_headers, {"readings": rows}, (200, 201))
        return None

    async def alarm_list(self, r: random.Random, user: str) -> str | None:
        now = dt.datetime.now(dt.UTC)
        variant = r.choices(["open", "type_month", "district_status", "year_page", "text"], [30, 25, 20, 15, 10])[0]
        q: dict[str, Any] = {"page_size": 20}
        if variant == "open":
            q["status"] = "open"
        elif variant == "type_month":
            q["type"] = r.choice(EVENT_TYPES)
            q["from"] = (now - dt.timedelta(days=30)).isoformat()
            q["to"] = now.isoformat()
        elif variant == "district_status":
            q["district"] = r.choice(self.districts)
            q["status"] = "open,converted"
        elif variant == "year_page":
            q["from"] = (now - dt.timedelta(days=365)).isoformat()
            q["page"] = r.randint(2, 10)
        else:
            q["q"] = r.choice(("死鱼", "废水", "液氨", "油污", "异味"))
        await self._get("/api/v1/alarms", self.auth(user), q)
        return variant

    async def incident_list(self, r: random.Random, user: str) -> str | None:
        now = dt.datetime.now(dt.UTC)
        variant = r.choices(["open", "type_level", "quarter", "closed_page", "text"], [35, 20, 20, 15, 10])[0]
        q: dict[str, Any] = {"limit": 50}
        if variant == "open":
            q["state"] = "open"
        elif variant == "type_level":
            q["type"] = r.choice(EVENT_TYPES)
            q["level"] = r.choice(("III", "IV"))
        elif variant == "quarter":
            q["from"] = (now - dt.timedelta(days=90)).isoformat()
            q["to"] = now.isoformat()
        elif variant == "closed_page":
            q["state"] = "closed"
            q["page"] = r.randint(1, 20)
        else:
            q["q"] = r.choice(("泄漏", "废水", "江北区", "液氨"))
        await self._get("/api/v1/incidents", self.auth(user), q)
        return variant

    async def incident_workspace(self, r: random.Random, user: str) -> str | None:
        variant = "open" if r.random() < 0.5 else "any"
        iid = r.choice(self.open_incidents) if variant == "open" else r.randint(self.inc_lo, self.inc_hi)
        base, h = f"/api/v1/incidents/{iid}", self.auth(user)
        await asyncio.gather(self._get(base, h), self._get(base + "/timeline", h), self._get(base + "/tasks", h),
                             self._get(base + "/reports", h), self._get(base + "/plan-matches", h))
        return variant

    async def station_series(self, r: random.Random, user: str) -> str | None:
        sid, metrics = r.choice(self.all_sources)
        variant, days = r.choices([("day", 1), ("week", 7), ("month", 30)], [50, 35, 15])[0]
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        q = {"source_id": sid, "metric": r.choice(metrics), "from": (now - dt.timedelta(days=days)).isoformat(),
             "to": now.isoformat(), "points": 500}
        await self._get("/api/v1/monitoring/series", self.auth(user), q)
        return variant

    async def duty_today(self, r: random.Random, user: str) -> str | None:
        await self._get("/api/v1/duty/today", self.auth(user))
        return None

    async def incident_stats(self, r: random.Random, user: str) -> str | None:
        await self._get("/api/v1/incidents/stats", self.auth(user))
        return None

    async def run_client(self, idx: int, t_measure: float, t_end: float) -> None:
        r = random.Random(self.cfg["seed"] * 1000 + idx)
        user = "operator" if idx % 2 == 0 else "commander"
        ops = list(MIX)
        weights = [MIX[o][0] for o in ops]
        if self.cfg["think_ms"] > 0:  # people do not all click in the same millisecond: spread the first requests
            await asyncio.sleep(r.uniform(0, self.cfg["think_ms"] / 1000.0))
        while True:
            start_wall = time.time()
            if start_wall >= t_end:
                return
            op = r.choices(ops, weights)[0]
            t0 = time.perf_counter()
            err = None
            variant = None
            box: list[dict[str, float]] = []
            _TIMINGS.set(box)
            try:
                variant = await getattr(self, op)(r, user)
            except Exception as exc:  # every failure counts as an error of the operation
                err = repr(exc)[:240]
            ms = (time.perf_counter() - t0) * 1000.0
            if start_wall >= t_measure:
                self.record(op, variant, ms, err, start_wall - t_measure)
                if box and err is None:
                    self.timings[op].append((ms, max(box, key=lambda p: p.get("total", 0.0))))
            # a person at a console: exponential pauses around the mean — during the warm-up too (a warm-up
            # without them was a closed-loop burst whose backlog spilled into the measurement as a 1–3 s "tail")
            if self.cfg["think_ms"] > 0:
                await asyncio.sleep(r.expovariate(1000.0 / self.cfg["think_ms"]))

    def record(self, op: str, variant: str | None, ms: float, err: str | None, started_s: float) -> None:
        if err is not None:
            self.errors[op] += 1
            if len(self.error_sample) < 5:
                self.error_sample.append(f"{op}: {err}")
            return
        self.samples[op].append(ms)
        self.slowest.append((ms, round(started_s, 3), op))
        if len(self.slowest) > 400:  # keep the 40 slowest: when the tail happened says what caused it
            self.slowest = sorted(self.slowest, reverse=True)[:40]
        if variant is not None:
            self.variants.setdefault(f"{op}.{variant}", array("d")).append(ms)


async def worker_main(cfg: dict[str, Any], conn: Any) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        tokens = {}
        for user in ("operator", "commander"):
            for attempt in range(5):
                try:
                    tokens[user] = await login(http, cfg["url"], user)
                    break
                except Exception:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(1 + attempt)
        client = Client(cfg, http, tokens)
        conn.send(("ready", None))
        loop = asyncio.get_running_loop()
        _cmd, (t_start, t_measure, t_end) = await loop.run_in_executor(None, conn.recv)
        await asyncio.sleep(max(0.0, t_start - time.time()))
        cpu: dict[str, float] = {}

        async def cpu_marks() -> None:
            await asyncio.sleep(max(0.0, t_measure - time.time()))
            cpu["t0"] = time.process_time()
            await asyncio.sleep(max(0.0, t_end - time.time()))
            cpu["t1"] = time.process_time()

        lag = {"max_ms": 0.0, "at": 0.0}

        async def loop_lag() -> None:  # the client's own stalls would be counted as server latency
            while time.time() < t_end:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                late = (time.perf_counter() - t - 0.01) * 1000
                if late > lag["max_ms"] and time.time() >= t_measure:
                    lag["max_ms"], lag["at"] = late, time.time()

        marks = asyncio.create_task(cpu_marks())
        lag_task = asyncio.create_task(loop_lag())
        await asyncio.gather(*[client.run_client(i, t_measure, t_end) for i in range(cfg["clients"])])
        await marks
        lag_task.cancel()
        conn.send(("result", {
            "samples": {op: a.tobytes() for op, a in client.samples.items()},
            "variants": {k: a.tobytes() for k, a in client.variants.items()},
            "slowest": sorted(client.slowest, reverse=True)[:40],
            "errors": client.errors, "error_sample": client.error_sample, "requests": client.requests,
            "timings": client.timings,
            "cpu_s": cpu.get("t1", time.process_time()) - cpu.get("t0", 0.0),
            "client_loop_lag_max_ms": round(lag["max_ms"], 1)}))


def worker_entry(cfg: dict[str, Any], conn: Any) -> None:
    try:
        asyncio.run(worker_main(cfg, conn))
    except Exception as exc:
        with contextlib.suppress(Exception):
            conn.send(("error", repr(exc)))
        raise


# --- the coordinator ------------------------------------------------------------------------------------------------

async def create_api_key(url: str) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        h = {"Authorization": f"Bearer {await login(http, url, 'admin')}"}
        body = {"name": f"bench-readings-{uuid.uuid4().hex[:8]}", "scopes": ["monitoring:ingest"],
                "description": "bench/api_latency.py"}
        async with http.post(f"{url}/api/v1/integrations/api-keys", json=body, headers=h) as resp:
            data = await resp.json()
            if resp.status != 201:
                raise RuntimeError(f"creating the API key failed: HTTP {resp.status} {data}")
            return str(data["key"])


async def server_loop_report(url: str, since: float | None = None, heap: bool = False) -> dict[str, Any] | None:
    """The server's event-loop stall recorder (``GET /api/v1/system/loop``), or None where it is off."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        h = {"Authorization": f"Bearer {await login(http, url, 'admin')}"}
        params = {"limit": "200", "heap": "true" if heap else "false"}
        if since is not None:
            params["since"] = dt.datetime.fromtimestamp(since, dt.UTC).isoformat()
        async with http.get(f"{url}/api/v1/system/loop", headers=h, params=params) as resp:
            return await resp.json() if resp.status == 200 else None


def _site(frames: list[str]) -> str:
    """Where a sampled stack was: its innermost frame of this product, and the innermost frame."""
    ours = next((f for f in reversed(frames) if f.startswith("command_server/")), None)
    inner = frames[-1] if frames else "?"
    return inner if ours in (None, inner) else f"{ours} → {inner}"


def loop_summary(before: dict[str, Any], after: dict[str, Any], t_measure: float,
                 slowest: list[dict[str, Any]]) -> dict[str, Any]:
    """What held the server's loop during the measurement: stalls (beats later than the server's threshold),
    collections, the sampled code sites, and how many of the slowest requests overlapped a stall."""
    stalls = after["stalls"]
    sites: dict[str, int] = {}
    for st in stalls:
        for stack in st["stacks"]:
            k = _site(stack["frames"])
            sites[k] = sites.get(k, 0) + stack["count"]
    spans = [(dt.datetime.fromisoformat(st["at"]).timestamp() - t_measure, st["ms"] / 1000) for st in stalls]
    in_stall = sum(1 for r in slowest if any(a < r["start_s"] + r["ms"] / 1000 and r["start_s"] < a + d
                                             for a, d in spans))
    hist = {k: after["lag_histogram_ms"][k] - before["lag_histogram_ms"].get(k, 0)
            for k in after["lag_histogram_ms"]}
    return {
        "threshold_ms": after["threshold_ms"],
        "stalls": after["stall_count"] - before["stall_count"],
        "stalled_ms": round(after["stalled_ms"] - before["stalled_ms"], 1),
        "lag_histogram_ms": {k: v for k, v in hist.items() if v},
        "gc": {g: {"count": after["gc"][g]["count"] - before["gc"][g]["count"],
                   "ms": round(after["gc"][g]["total_ms"] - before["gc"][g]["total_ms"], 1)} for g in after["gc"]},
        "slowest_overlapping_a_stall": f"{in_stall}/{len(slowest)}",
        "longest": [{"start_s": round(a, 3), "ms": st["ms"], "gc_ms": st["gc_ms"], "samples": st["samples"],
                     "sites": sorted({_site(x["frames"]) for x in st["stacks"]})}
                    for (a, _d), st in sorted(zip(spans, stalls, strict=True), key=lambda x: -x[1]["ms"])[:8]],
        "sites": dict(sorted(sites.items(), key=lambda kv: -kv[1])[:12]),
        "heap_after": after.get("heap"),
    }


def recv(conn: Any, kind: str, timeout_s: float, i: int) -> Any:
    if not conn.poll(timeout_s):
        raise RuntimeError(f"client process {i} did not report {kind} within {timeout_s:.0f} s")
    got, payload = conn.recv()
    if got == "error":
        raise RuntimeError(f"client process {i} failed: {payload}")
    return payload


def summarize(values: list[float], errors: int, goal: float | None = None) -> dict[str, Any]:
    values.sort()
    out: dict[str, Any] = {"count": len(values), "p50_ms": r3(percentile(values, 50)),
                           "p99_ms": r3(percentile(values, 99)), "max_ms": r3(values[-1] if values else None),
                           "errors": errors}
    if goal is not None:
        out["goal_p99_ms"] = goal
        out["meets_goal"] = bool(values) and errors == 0 and out["p99_ms"] < goal
    return out


def measure(args: argparse.Namespace, url: str, server_pid: int | None, ref: dict[str, Any]) -> dict[str, Any]:
    api_key = asyncio.run(create_api_key(url))
    procs = max(1, min(args.procs, args.clients))
    ctx = mp.get_context("spawn")
    conns, workers = [], []
    for i in range(procs):
        share = args.clients // procs + (1 if i < args.clients % procs else 0)
        parent, child = ctx.Pipe()
        cfg = {"url": url, "clients": share, "proc": i, "procs": procs, "api_key": api_key, "ref": ref,
               "seed": args.seed + i, "think_ms": args.think_ms}
        p = ctx.Process(target=worker_entry, args=(cfg, child), name=f"api-latency-client-{i}", daemon=True)
        p.start()
        conns.append(parent)
        workers.append(p)
    try:
        for i, c in enumerate(conns):
            recv(c, "ready", 120, i)
        ref_before = reference_workload_ms()
        t_start = time.time() + 0.5
        t_measure = t_start + args.warmup
        t_end = t_measure + args.duration
        for c in conns:
            c.send(("go", (t_start, t_measure, t_end)))
        log(f"{args.clients} clients in {procs} processes: warm-up {args.warmup:.0f} s, "
            f"measuring {args.duration:.0f} s")
        time.sleep(max(0.0, t_measure - time.time()))
        pg_url = (os.environ.get("DATABASE_URL") or PG_DEFAULT) if args.db == "postgresql" else None
        sessions_before = asyncio.run(pg_sessions(pg_url)) if pg_url else None
        before = proc_tree_sample(server_pid) if server_pid else None
        main_before = proc_sample(server_pid) if server_pid else None
        loop_before = asyncio.run(server_loop_report(url))
        mach0 = machine_cpu()
        own0 = time.process_time()
        steal_per_s: list[float] = []  # CPU ms stolen by the host in each second of the measurement
        while time.time() < t_end:
            s0 = machine_steal()
            time.sleep(max(0.0, min(1.0, t_end - time.time())))
            steal_per_s.append((machine_steal() - s0) * 1000)
        after = proc_tree_sample(server_pid) if server_pid else None
        main_after = proc_sample(server_pid) if server_pid else None
        sessions_after = asyncio.run(pg_sessions(pg_url)) if pg_url else None
        mach1 = machine_cpu()
        own_cpu = time.process_time() - own0
        results = [recv(c, "result", 180, i) for i, c in enumerate(conns)]
        loop_after = asyncio.run(server_loop_report(url, since=t_measure, heap=True))
        ref_after = reference_workload_ms()
    finally:
        for p in workers:
            p.join(30)
            if p.is_alive():
                p.terminate()
                p.join(5)
    ops: dict[str, Any] = {}
    total = 0
    for op, (_w, goal) in MIX.items():
        vals: list[float] = []
        for res in results:
            vals.extend(array("d", res["samples"][op]))
        errs = sum(res["errors"][op] for res in results)
        total += len(vals) + errs
        ops[op] = summarize(vals, errs, goal)
    variants: dict[str, Any] = {}
    for key in sorted({k for res in results for k in res["variants"]}):
        vals = []
        for res in results:
            if key in res["variants"]:
                vals.extend(array("d", res["variants"][key]))
        variants[key] = summarize(vals, 0)
        variants[key].pop("errors")
    client_cpu = sum(res["cpu_s"] for res in results)
    server_cpu = after.cpu_s - before.cpu_s if before and after else None
    busy = mach1[0] - mach0[0]
    d = args.duration
    out: dict[str, Any] = {
        "operations": ops,
        "variants": variants,
        # the slowest requests with when they started (s into the measurement): a tail that is one event shows
        # as many operations of every kind starting within the same second
        "slowest": [{"ms": round(ms, 1), "start_s": at, "op": op}
                    for ms, at, op in sorted((x for res in results for x in res["slowest"]), reverse=True)[:25]],
        "throughput_rps": round(total / d, 1),
        "http_requests_rps": round(sum(res["requests"] for res in results) / (d + args.warmup), 1),
        "goals_met": all(o.get("meets_goal") for o in ops.values()),
        "clients": args.clients, "think_ms": args.think_ms,
        "server_session": None if args.url else args.server_session, "client_processes": procs,
        "warmup_s": args.warmup, "duration_s": d,
        # the server with its offload workers (core/offload.py); the main process (its event loop) alone
        "server_cpu_pct": round(100.0 * server_cpu / d, 1) if server_cpu is not None else None,
        "server_main_cpu_pct": round(100.0 * (main_after.cpu_s - main_before.cpu_s) / d, 1)
        if main_before and main_after else None,
        # CPU per operation (HTTP requests included): unlike latency percentiles, this hardly depends on what
        # else the machine does, so it shows a change in the server's own cost between noisy runs
        "server_cpu_ms_per_op": round(1000.0 * server_cpu / total, 2) if server_cpu is not None and total else None,
        "server_rss_mb": round(after.rss_mb, 1) if after else None,
        "client_cpu_pct": round(100.0 * client_cpu / d, 1),
        "client_loop_lag_max_ms": [res.get("client_loop_lag_max_ms") for res in results],
        "machine_cpu_pct": round(100.0 * busy / d, 1),
        "steal_cpu_pct": round(sum(steal_per_s) / 10 / d, 1),
        "steal_max_ms_in_a_second": round(max(steal_per_s, default=0.0)),
        "other_cpu_pct": round(100.0 * (busy - client_cpu - own_cpu - (server_cpu or 0.0)) / d, 1)
        if server_cpu is not None else None,
        "cpus": os.cpu_count(),
        # PostgreSQL connections opened during the measurement, by anyone (roughly: the statistics are flushed
        # about every second). A pool that grows under a burst connects on the server's event loop.
        "pg_sessions_opened": sessions_after - sessions_before - 1
        if sessions_before is not None and sessions_after is not None else None,
        # the machine's speed before and after the run (bench/_common.py): compare runs with similar figures
        "reference_workload_ms": [ref_before, ref_after],
    }
    if loop_before and loop_after:
        out["server_loop"] = loop_summary(loop_before, loop_after, t_measure, out["slowest"])
    timed = server_timing_summary(results)
    if timed:
        out["server_timing"] = timed
    samples = [s for res in results for s in res["error_sample"]]
    if samples:
        out["error_sample"] = samples[:5]
    return out


def server_timing_summary(results: list[dict[str, Any]], tail_pct: float = 2.0) -> dict[str, Any]:
    """Where each operation's time went, from its responses' ``Server-Timing`` (command_server/core/timing.py):
    the mean ms of each phase over all requests and over the slowest ``tail_pct`` % (at least 3), with
    ``outside`` = the client's time minus the server's ``total`` (the socket, the server's loop not yet
    reading the request, the client's own loop). Phases may overlap; an operation of several requests (the
    incident workspace) shows its slowest response."""
    out: dict[str, Any] = {}
    for op in MIX:
        rows = sorted((x for res in results for x in res.get("timings", {}).get(op, [])), key=lambda x: x[0])
        if not rows:
            continue

        def mean(sel: list[tuple[float, dict[str, float]]]) -> dict[str, float]:
            names = sorted({k for _ms, p in sel for k in p})
            m = {k: round(sum(p.get(k, 0.0) for _ms, p in sel) / len(sel), 1) for k in names}
            m["outside"] = round(sum(ms - p.get("total", 0.0) for ms, p in sel) / len(sel), 1)
            m["client"] = round(sum(ms for ms, _p in sel) / len(sel), 1)
            return m
        tail = rows[-max(3, math.ceil(len(rows) * tail_pct / 100)):]
        out[op] = {"n": len(rows), "mean": mean(rows), f"slowest_{tail_pct:g}pct": mean(tail)}
    return out


def run_own(args: argparse.Namespace) -> dict[str, Any]:
    from tests.peers.server import ServerProcess

    s = args.scale
    targets = {"alarms": round(args.alarms * s), "incidents": round(args.incidents * s),
               "readings": round(args.readings * s)}
    schema = None
    # stalls of the server's loop from 20 ms on (the goals are 50 ms): out["server_loop"]
    env = {"ECS_SEED_DEMO_CITY": "true", "ECS_LOOP_STALL_MS": "20", "ECS_SERVER_TIMING": "true"}
    if args.db == "postgresql":
        url = os.environ.get("DATABASE_URL") or PG_DEFAULT
        schema = "bench_" + uuid.uuid4().hex[:12]
        asyncio.run(pg_admin(url, f"CREATE SCHEMA {schema}"))
        env.update({"DATABASE_URL": url, "ECS_DB_SCHEMA": schema})
    try:
        with tempfile.TemporaryDirectory(prefix="ecs-bench-api-") as tmp:
            var = Path(args.var) if args.var else Path(tmp) / "var"
            if args.db == "sqlite":
                url = f"sqlite+aiosqlite:///{(var / 'ecs.db').resolve()}"
            server = ServerProcess(var, env=env, own_session=args.server_session == "own")
            first_start = load_s = 0.0
            loaded: dict[str, Any] = {"reused": str(var)}
            if not (args.var and (var / "ecs.db").exists()):
                t0 = time.monotonic()
                server.start(timeout_s=600)  # migrations, demo accounts, demo city
                first_start = time.monotonic() - t0
                server.stop()
                log(f"first start (migrations + demo city) took {first_start:.1f} s; loading {targets}")
                t0 = time.monotonic()
                loaded = asyncio.run(bulk_load(url, schema, targets))
                load_s = time.monotonic() - t0
                log(f"loaded in {load_s:.1f} s: {loaded}")
            rows = asyncio.run(count_rows(url, schema))
            ref = asyncio.run(reference_data(url, schema))
            t0 = time.monotonic()
            server.start(timeout_s=600)
            restart_s = time.monotonic() - t0
            try:
                log(f"server restarted at {server.url} (pid {server.proc.pid}) in {restart_s:.1f} s; rows {rows}")
                result = measure(args, server.url, server.proc.pid, ref)
            finally:
                server.stop()
            rows_after = asyncio.run(count_rows(url, schema))
    finally:
        if schema and not args.keep_schema:
            asyncio.run(pg_admin(url, f"DROP SCHEMA {schema} CASCADE"))
    return {"db": args.db, "scale": s, "rows": rows, "rows_after_run": rows_after, "load_s": round(load_s, 1),
            "load_detail": loaded, "first_start_s": round(first_start, 1), "restart_s": round(restart_s, 1),
            **({"pg_schema": schema, "pg_schema_kept": bool(args.keep_schema)} if schema else {}), **result}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite",
                    help="sqlite (embedded, temporary var dir) or postgresql (DATABASE_URL or "
                         f"{PG_DEFAULT}; a fresh schema, dropped at the end)")
    ap.add_argument("--alarms", type=int, default=100_000)
    ap.add_argument("--incidents", type=int, default=10_000)
    ap.add_argument("--readings", type=int, default=1_000_000)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the row counts (0.01 for a quick check)")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--procs", type=int, default=2, help="client processes (default 2)")
    ap.add_argument("--duration", type=float, default=30.0, help="measured seconds (default 30)")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring (default 5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--think-ms", type=float, default=5000.0,
                    help="mean pause between a client's operations (default 5000: a busy console user; "
                         "0: closed loop, where latency ≈ clients ÷ throughput whatever the server does)")
    ap.add_argument("--url", help="measure this running server (already loaded; demo accounts needed)")
    ap.add_argument("--server-pid", type=int, help="with --url: pid of the server, for CPU and RSS figures")
    ap.add_argument("--var", help="SQLite: var dir to load once and reuse (copy it first: runs write to it)")
    ap.add_argument("--server-session", choices=["own", "shared"], default="own",
                    help="own (default): the server runs in a session of its own, as under a service manager, so "
                         "that the kernel's automatic task groups do not count it and the load generator as one; "
                         "shared: in the benchmark's session (how rounds one to ten ran)")
    ap.add_argument("--keep-schema", action="store_true", help="PostgreSQL: keep the schema for inspection")
    args = ap.parse_args(argv)
    if args.clients < 1 or args.duration <= 0 or args.scale <= 0:
        ap.error("--clients, --duration and --scale must be positive")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if args.url:
        url = args.url.rstrip("/")
        ref = asyncio.run(reference_data_api(url))
        result = {"db": "server at " + url, "rows": None, "load_s": None, **measure(args, url, args.server_pid, ref)}
    else:
        result = run_own(args)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
