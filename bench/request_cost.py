"""What one request of each read the console makes costs, asked one at a time: CPU and wall time.

    python bench/request_cost.py                                  # SQLite, a fresh demo city
    python bench/request_cost.py --db postgresql                  # PostgreSQL, a fresh schema with the demo city
    python bench/request_cost.py --db postgresql --schema bench_… # a schema kept by api_latency.py --keep-schema
    python bench/request_cost.py --writes --only readings_batch --profile 30   # + the writes; where the CPU goes

Under load (``api_latency.py``) a request's latency depends on everything else the machine does, and on this
shared two-core VM the same code's CPU per operation varied from 5.7 to 10.4 ms between runs. Here the server
(in this process, as ``tests/`` run it; no offload workers) answers one request at a time: CPU time is the
process's (the server's work plus the aiohttp client's, which is the same whatever the server code), and wall
time adds what the request waits for — on PostgreSQL, each round trip. Run two versions one after the other,
a few times each, to compare them (docs/performance.md, API latency, thirteenth round). Prints one JSON
object; measures, does not judge.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))  # first: bench/dispersion.py must not hide the dispersion package
from _common import percentile, pg_admin, r3, reference_workload_ms  # noqa: E402

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def operations(now: dt.datetime, incident_id: int, source_id: int, metric: str
               ) -> dict[str, tuple[str, dict[str, Any]]]:
    """The reads of api_latency.py's mix, one variant each."""
    return {
        "alarm_list_open": ("/api/v1/alarms", {"page_size": 20, "status": "open"}),
        "alarm_list_text": ("/api/v1/alarms", {"page_size": 20, "q": "废水"}),
        "incident_list_open": ("/api/v1/incidents", {"limit": 50, "state": "open"}),
        "incident_stats": ("/api/v1/incidents/stats", {}),
        "duty_today": ("/api/v1/duty/today", {}),
        "station_series_day": ("/api/v1/monitoring/series", {
            "source_id": source_id, "metric": metric, "from": (now - dt.timedelta(days=1)).isoformat(),
            "to": now.isoformat(), "points": 500}),
        "incident": (f"/api/v1/incidents/{incident_id}", {}),
        "incident_timeline": (f"/api/v1/incidents/{incident_id}/timeline", {}),
        "plan_matches": (f"/api/v1/incidents/{incident_id}/plan-matches", {}),
    }


async def writes(client: Any, settings: Any, headers: dict[str, str], sources: list[dict[str, Any]]
                 ) -> dict[str, Any]:
    """The writes of api_latency.py's mix: an alarm intake (operator) and a 500-reading batch (API key), each
    call new rows; the batches walk forward in time over the sources, as the benchmark's clients do."""
    r = await client.post("/api/v1/auth/login", json={"username": "admin", "password": settings.demo_password})
    admin = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
    r = await client.post("/api/v1/integrations/api-keys", headers=admin, json={
        "name": f"cost-{uuid.uuid4().hex[:8]}", "scopes": ["monitoring:ingest"], "description": "request_cost.py"})
    key = {"X-API-Key": (await r.json())["key"]}
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=12)
    cursor = {s["id"]: start for s in sources if s["metrics"]}
    turn = [0]

    async def post(path: str, hdrs: dict[str, str], body: Any) -> None:
        resp = await client.post(path, json=body, headers=hdrs)
        data = await resp.read()
        if resp.status not in (200, 201):
            raise SystemExit(f"{path}: {resp.status} {data[:300]!r}")

    async def readings_batch() -> None:
        src = sources[turn[0] % len(sources)]
        turn[0] += 1
        metrics = [m["code"] for m in src["metrics"]]
        if not metrics:
            return await readings_batch()
        steps = max(1, 500 // len(metrics))
        t = cursor[src["id"]]
        cursor[src["id"]] = t + dt.timedelta(seconds=steps)
        rows = [{"source_id": src["id"], "metric": m, "at": (t + dt.timedelta(seconds=k)).isoformat(),
                 "value": 0.5 + (k * 7919 % 1000) / 1000} for k in range(steps) for m in metrics][:500]
        await post("/api/v1/monitoring/readings", key, {"readings": rows})

    async def alarm_intake() -> None:
        turn[0] += 1
        await post("/api/v1/alarms", headers, {
            "channel": "hotline", "event_type": "water", "lon": 121.21 + (turn[0] % 97) / 170,
            "lat": 30.81 + (turn[0] % 89) / 185, "address": f"滨江市测试路{turn[0] % 999}号",
            "description": "排污口排出黄色废水", "pollutant": "六价铬"})

    return {"alarm_intake": alarm_intake, "readings_batch": readings_batch}


async def measure(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    from aiohttp.test_utils import TestClient, TestServer

    from command_server.app import create_app

    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        r = await client.post("/api/v1/auth/login", json={"username": "operator",
                                                           "password": settings.demo_password})
        assert r.status == 200, await r.text()
        headers = {"Authorization": f"Bearer {(await r.json())['access_token']}"}

        async def get(path: str, params: dict[str, Any]) -> Any:
            resp = await client.get(path, params=params, headers=headers)
            body = await resp.read()
            if resp.status != 200:
                raise SystemExit(f"{path}: {resp.status} {body[:300]!r}")
            return json.loads(body)

        incident = (await get("/api/v1/incidents", {"state": "open", "limit": 1}))["items"][0]["id"]
        sources = (await get("/api/v1/monitoring/sources", {}))["items"]
        source = sources[0]
        metric = source["metrics"][0]["code"]
        calls: dict[str, Any] = {name: (lambda p=path, q=params: get(p, q)) for name, (path, params) in
                                 operations(dt.datetime.now(dt.UTC), incident, source["id"], metric).items()}
        if args.writes:
            calls.update(await writes(client, settings, headers, sources))
        out: dict[str, Any] = {}
        for name, call in calls.items():
            if args.only and name not in args.only:
                continue
            for _ in range(args.warmup):
                await call()
            cpu, wall = [], []
            profiler = cProfile.Profile() if args.profile else None
            for _ in range(args.requests):
                c0, w0 = time.process_time(), time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                await call()
                if profiler is not None:
                    profiler.disable()
                cpu.append((time.process_time() - c0) * 1000)
                wall.append((time.perf_counter() - w0) * 1000)
            if profiler is not None:
                for order in ("cumulative", "tottime"):
                    print(f"--- {name}: {args.requests} requests, by {order}", file=sys.stderr)
                    pstats.Stats(profiler, stream=sys.stderr).sort_stats(order).print_stats(args.profile)
            cpu.sort()
            wall.sort()
            out[name] = {"cpu_ms_p50": r3(statistics.median(cpu)), "cpu_ms_p90": r3(percentile(cpu, 90)),
                         "wall_ms_p50": r3(statistics.median(wall)), "wall_ms_p90": r3(percentile(wall, 90))}
        return out
    finally:
        await client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--schema", help="PostgreSQL: an existing schema to read (e.g. kept by api_latency.py)")
    ap.add_argument("--requests", type=int, default=150, help="measured requests per operation (default 150)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--writes", action="store_true",
                    help="also the writes: alarm intake and 500-reading batches (they add rows to the database)")
    ap.add_argument("--only", nargs="*", help="only these operations")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="profile each operation (cProfile) and print its N top functions to stderr")
    args = ap.parse_args()

    from command_server.core.config import Settings

    pg_url = os.environ.get("DATABASE_URL", DEFAULT_PG)
    fresh = args.db == "postgresql" and not args.schema
    schema = args.schema or (f"cost_{uuid.uuid4().hex[:12]}" if fresh else None)
    with tempfile.TemporaryDirectory(prefix="ecs-cost-") as tmp:
        settings = Settings(env="test", var_dir=Path(tmp) / "var", seed_demo=True,
                            seed_demo_city=args.schema is None, redis_url=None, offload_workers=0,
                            database_url=pg_url if args.db == "postgresql" else None, db_schema=schema)
        if fresh:
            asyncio.run(pg_admin(pg_url, f"CREATE SCHEMA {schema}"))
        try:
            ref = reference_workload_ms()
            ops = asyncio.run(measure(args, settings))
        finally:
            if fresh:
                asyncio.run(pg_admin(pg_url, f"DROP SCHEMA {schema} CASCADE"))
    print(json.dumps({"db": args.db, "schema": args.schema, "requests": args.requests, "operations": ops,
                      "reference_workload_ms": [ref, reference_workload_ms()]}, indent=1))


if __name__ == "__main__":
    main()
