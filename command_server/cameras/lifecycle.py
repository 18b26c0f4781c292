"""The cameras domain's place in the app's life: the in-process media gateway starts after migrations and
the demo seed, and is told about catalogue changes made by any process through the event pump."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..core.services import services
from .media import MEDIA, Media
from .service import MEDIA_FIELDS
from .settings import load_media_settings

log = logging.getLogger("ecs.media")


def install(app: web.Application) -> None:
    app[MEDIA] = Media(app, load_media_settings())


async def start(app: web.Application) -> None:
    m = app[MEDIA]
    await m.start()

    async def on_events(events: list[Any]) -> None:
        if not m.available:
            return
        ids: set[int] = set()
        everything = False
        for ev in events:
            if ev.type in ("camera.created", "camera.deleted"):
                ids.add(int(ev.subject_id))
            elif ev.type == "camera.updated" and MEDIA_FIELDS & set((ev.payload or {}).get("fields") or []):
                ids.add(int(ev.subject_id))
            elif ev.type == "cameras.imported":
                everything = True
        if everything:
            await m.sync_all()
            return
        for cid in sorted(ids):
            await m.sync_camera(cid)  # idempotent: a change this process already applied costs nothing

    services(app).pump.subscribe(on_events)


async def stop(app: web.Application) -> None:
    await app[MEDIA].stop()
