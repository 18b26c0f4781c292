"""Loading jieba's dictionary once, off the event loop, before the first search or plan write needs it; and
which events change the plans' matching facts each process remembers (``service.active_plan_facts``)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..core.services import services
from . import text
from .service import PLAN_EVENTS


def install(app: web.Application) -> None:
    services(app).config.watch(*PLAN_EVENTS)


async def start(app: web.Application) -> None:
    await asyncio.to_thread(text.warm_up)
