"""Alarm intake's place in the app's life: remember which app owns which database engine (see service.py)."""

from __future__ import annotations

from aiohttp import web

from .service import register_app


def install(app: web.Application) -> None:
    register_app(app)
