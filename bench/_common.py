"""Helpers shared by the benchmarks: percentiles, /proc sampling, logging in, starting a server."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEMO_PASSWORD = "Demo@2026"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (``p`` in 0..100)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def r3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


@dataclass
class ProcSample:
    cpu_s: float  # utime + stime, seconds
    rss_mb: float


def proc_sample(pid: int) -> ProcSample | None:
    """CPU time and resident memory of a process from /proc (Linux); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; fields[0] is field 3 (state)
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 utime, 15 stime
    rss_kb = 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
            break
    return ProcSample(cpu, rss_kb / 1024.0)


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, their children, and so on (Linux)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for t in tasks:
            try:
                kids = [int(k) for k in (t / "children").read_text().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def proc_tree_sample(pid: int) -> ProcSample | None:
    """``proc_sample`` summed over a process and its descendants (a server's worker processes)."""
    own = proc_sample(pid)
    if own is None:
        return None
    for kid in descendants(pid):
        s = proc_sample(kid)
        if s is not None:
            own = ProcSample(own.cpu_s + s.cpu_s, own.rss_mb + s.rss_mb)
    return own


async def login(http: Any, url: str, username: str, password: str = DEMO_PASSWORD) -> str:
    """Log in through the REST API with an ``aiohttp.ClientSession``; returns the access token."""
    async with http.post(f"{url}/api/v1/auth/login", json={"username": username, "password": password}) as r:
        body = await r.json()
        if r.status != 200:
            raise RuntimeError(f"login {username} failed: HTTP {r.status} {body}")
        return str(body["access_token"])


@contextmanager
def own_server(env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Start ``python -m command_server`` on a free port with a fresh temporary var dir; yield it."""
    from tests.peers.server import ServerProcess

    with tempfile.TemporaryDirectory(prefix="ecs-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "var", env={"ECS_SEED_DEMO_CITY": "false", **(env or {})})
        server.start()
        try:
            yield server
        finally:
            server.stop()


def machine_steal() -> float:
    """CPU seconds the hypervisor took from this (virtual) machine so far, from /proc/stat: a run's stalls that
    no process explains may be the host's."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return int(parts[7]) / CLK_TCK if len(parts) > 7 else 0.0


def reference_workload_ms(repeats: int = 5) -> float:
    """Best-of-``repeats`` time of a fixed pure-Python workload (JSON, dicts, strings: what a request handler
    does). This VM's speed drifts by ~40 % within an hour; runs whose figures are compared should have a
    similar reference (an A/B interleaves its arms and reports this for each)."""
    doc = [{"id": i, "name": f"告警{i}", "lon": 121.5 + i / 1e4, "tags": ["水", "气"], "v": i * 0.5}
           for i in range(400)]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(10):
            out = json.loads(json.dumps(doc, ensure_ascii=False))
            index = {d["id"]: d for d in out}
            sum(len(d["name"]) for d in index.values())
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000, 2)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)  # idle + iowait
    total = sum(parts[:8])  # guest time is already counted in user
    return (total - idle) / CLK_TCK, total / CLK_TCK


async def pg_admin(url: str, sql: str) -> None:
    """One statement on its own connection (``CREATE SCHEMA``/``DROP SCHEMA`` around a PostgreSQL run)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
