"""The periodic checker (missing data, escalation): every process runs it; the work is idempotent (see
``engine.py``). Interval: ``ECS_WARNING_CHECK_INTERVAL_S`` (default 60 s; 0 disables it). And which events
change the rules each process remembers for ingest (``engine.remembered_rules``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from aiohttp import web

from ..core.services import services
from .engine import RULE_EVENTS, run_checks

log = logging.getLogger("ecs.warnings")
CHECKER_TASK: web.AppKey[asyncio.Task[None]] = web.AppKey("warning_checker")


def interval_s() -> float:
    raw = os.environ.get("ECS_WARNING_CHECK_INTERVAL_S", "60")
    try:
        v = float(raw)
    except ValueError:
        raise SystemExit(f"ECS_WARNING_CHECK_INTERVAL_S: not a number: {raw!r}") from None
    if v < 0:
        raise SystemExit("ECS_WARNING_CHECK_INTERVAL_S must be >= 0")
    return v


async def _loop(app: web.Application, every: float) -> None:
    svc = services(app)
    while True:
        await asyncio.sleep(every)
        try:
            result = await run_checks(svc)
            if result["missing"] or result["escalated"]:
                log.info("warning checker: opened %s, escalated %s", result["missing"], result["escalated"])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("warning checker failed; retrying at the next interval")


def install(app: web.Application) -> None:
    services(app).config.watch(*RULE_EVENTS)


async def start(app: web.Application) -> None:
    every = interval_s()
    if every > 0:
        app[CHECKER_TASK] = asyncio.create_task(_loop(app, every), name="warning-checker")


async def stop(app: web.Application) -> None:
    task = app.get(CHECKER_TASK)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
