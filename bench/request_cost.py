"""What one request of each read the console makes costs, asked one at a time: CPU and wall time.

    python bench/request_cost.py                                  # SQLite, a fresh demo city
    python bench/request_cost.py --db postgresql                  # PostgreSQL, a fresh schema with the demo city
    python bench/request_cost.py --db postgresql --schema bench_… # a schema kept by api_latency.py --keep-schema

Under load (``api_latency.py``) a request's latency depends on everything else the machine does, and on this
shared two-core VM the same code's CPU per operation varied from 5.7 to 10.4 ms between runs. Here the server
(in this process, as ``tests/`` run it) answers one request at a time: CPU time is the process's (the server's
work plus the aiohttp client's, which is the same whatever the server code), and wall time adds what the
request waits for — on PostgreSQL, each round trip. Run two versions one after the other, a few times each,
to compare them (docs/performance.md, API latency, thirteenth round). Prints one JSON object; measures, does
not judge.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
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
        source = (await get("/api/v1/monitoring/sources", {}))["items"][0]
        metric = source["metrics"][0]["code"]
        out: dict[str, Any] = {}
        for name, (path, params) in operations(dt.datetime.now(dt.UTC), incident, source["id"], metric).items():
            for _ in range(args.warmup):
                await get(path, params)
            cpu, wall = [], []
            for _ in range(args.requests):
                c0, w0 = time.process_time(), time.perf_counter()
                await get(path, params)
                cpu.append((time.process_time() - c0) * 1000)
                wall.append((time.perf_counter() - w0) * 1000)
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
