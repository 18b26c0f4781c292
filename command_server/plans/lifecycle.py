"""Loading jieba's dictionary once, off the event loop, before the first search or plan write needs it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from . import text


async def start(app: web.Application) -> None:
    await asyncio.to_thread(text.warm_up)
