"""The event-loop stall recorder (``loopwatch``): created at install, started on the app's loop."""

from __future__ import annotations

from aiohttp import web

from ..core.services import services
from .loopwatch import LoopWatch

LOOP_WATCH = web.AppKey("loop_watch", LoopWatch)


def install(app: web.Application) -> None:
    s = services(app).settings
    if s.loop_stall_ms > 0:
        app[LOOP_WATCH] = LoopWatch(tick_ms=s.loop_tick_ms, threshold_ms=s.loop_stall_ms)


async def start(app: web.Application) -> None:
    if LOOP_WATCH in app:
        app[LOOP_WATCH].start()


async def stop(app: web.Application) -> None:
    if LOOP_WATCH in app:
        app[LOOP_WATCH].stop()
