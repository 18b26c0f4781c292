"""The sources a readings batch is checked against are remembered per process (``service.remembered_sources``):
this says which events change them."""

from __future__ import annotations

from aiohttp import web

from ..core.services import services
from .service import SOURCE_EVENTS


def install(app: web.Application) -> None:
    services(app).config.watch(*SOURCE_EVENTS)
