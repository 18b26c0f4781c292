"""Installs the ``X-API-Key`` authentication hook that ``core/api.py`` calls for routes with ``api_key=True``."""

from __future__ import annotations

from aiohttp import web

from ..core.api import API_KEY_AUTH
from .service import KeyResolver


def install(app: web.Application) -> None:
    app[API_KEY_AUTH] = KeyResolver()
