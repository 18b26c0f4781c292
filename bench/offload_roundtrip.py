"""The round trip of an offloaded call (``command_server/core/offload.py``), with the server's loop idle and busy.

    python bench/offload_roundtrip.py                      # 2 workers, 400 calls, loop idle and busy in 2 ms steps
    python bench/offload_roundtrip.py --busy-ms 0 1 5 --payload-kb 100

What a readings batch pays besides its own work in the worker: handing the call over and hearing the answer.
The call runs a function that returns at once, with a ``--payload-kb`` argument (a readings batch's body is
~30 KB). "Busy" is a task on the same loop that spins for ``--busy-ms`` between yields, as a loaded server's
loop does: each loop turn between the answer's arrival and its caller running then costs that long.

Needs PostgreSQL (``DATABASE_URL``, default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``): the workers
connect to it at start, as they do in the server. Prints one JSON object; measures, does not judge.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile, r3, reference_workload_ms

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def payload_size(svc: Any, actor: Any, payload: bytes) -> int:
    """Run in the worker by name: the least a call can do."""
    return len(payload)


async def _spin(step_s: float, done: asyncio.Event) -> None:
    """Hold the loop ``step_s`` at a time, as a loaded server's other requests do."""
    while not done.is_set():
        t = time.perf_counter()
        while time.perf_counter() - t < step_s:
            pass
        await asyncio.sleep(0)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from command_server.core.bus import InMemoryBus
    from command_server.core.config import Settings
    from command_server.core.db import Database
    from command_server.core.inline_db import hand_back_quickly
    from command_server.core.offload import Offload
    from command_server.core.pump import EventPump
    from command_server.core.security import SessionCache, SystemActor
    from command_server.core.services import Services
    from command_server.core.uow import Writer

    hand_back_quickly()  # as the server does (__main__.py)
    settings = Settings(database_url=os.environ.get("DATABASE_URL", DEFAULT_PG), offload_workers=args.workers)
    db = Database(settings.db_url)
    svc = Services(settings=settings, db=db, write=Writer(db, lambda _id: None), bus=InMemoryBus(),
                   pump=EventPump(db), sessions=SessionCache())
    offload = Offload(svc, args.workers)
    await offload.start()
    if not offload.running:
        raise SystemExit("the offload workers did not start (is PostgreSQL reachable?)")
    fn = f"{Path(__file__).stem}:payload_size"
    payload = b"x" * (args.payload_kb * 1024)
    out: dict[str, Any] = {}
    try:
        for busy_ms in args.busy_ms:
            done = asyncio.Event()
            spinner = asyncio.create_task(_spin(busy_ms / 1000, done)) if busy_ms > 0 else None
            ms: list[float] = []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                n = await offload.run(fn, SystemActor(username="bench"), payload)
                ms.append((time.perf_counter() - t0) * 1000)
                assert n == len(payload)
                await asyncio.sleep(0.002)
            done.set()
            if spinner is not None:
                await spinner
            ms.sort()
            out[f"busy_{busy_ms:g}ms"] = {"p50_ms": r3(percentile(ms, 50)), "p90_ms": r3(percentile(ms, 90)),
                                         "p99_ms": r3(percentile(ms, 99)), "max_ms": r3(ms[-1])}
    finally:
        await offload.stop()
        await db.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--payload-kb", type=int, default=30)
    ap.add_argument("--busy-ms", type=float, nargs="+", default=[0.0, 2.0])
    args = ap.parse_args(argv)
    ref = reference_workload_ms()
    result = {"workers": args.workers, "calls": args.calls, "payload_kb": args.payload_kb,
              "round_trip": asyncio.run(measure(args)), "reference_workload_ms": [ref, reference_workload_ms()]}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
