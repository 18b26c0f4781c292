"""Installs the ``X-API-Key`` authentication hook that ``core/api.py`` calls for routes with ``api_key=True``."""

from __future__ import annotations

from aiohttp import web

from ..core.api import API_KEY_AUTH
from ..core.services import services
from .service import KeyResolver

RESOLVER: web.AppKey[KeyResolver] = web.AppKey("api_key_resolver")


def install(app: web.Application) -> None:
    resolver = app[API_KEY_AUTH] = app[RESOLVER] = KeyResolver()
    resolver.watch(services(app))


async def stop(app: web.Application) -> None:
    await app[RESOLVER].close()
