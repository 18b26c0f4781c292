"""What a request handler reaches for: one object on the app, built at start (see ``app.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from .bus import EventBus
from .config import Settings
from .config_cache import ConfigCache
from .db import Database
from .pump import EventPump
from .security import SessionCache
from .uow import Writer

if TYPE_CHECKING:
    from .offload import Offload
    from .realtime import Realtime


@dataclass
class Services:
    settings: Settings
    db: Database
    write: Writer
    bus: EventBus
    pump: EventPump
    sessions: SessionCache
    realtime: Realtime | None = None
    offload: Offload | None = None  # set by create_app; worker processes only in the server itself
    config: ConfigCache = field(default_factory=ConfigCache)


SERVICES: web.AppKey[Services] = web.AppKey("services")


def services(app: web.Application) -> Services:
    return app[SERVICES]
