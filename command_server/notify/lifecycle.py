"""The SMS dispatcher: created at install (sender from the environment), started with the app."""

from __future__ import annotations

from aiohttp import web

from ..core.services import services
from .service import SMS_DISPATCHER, SmsDispatcher
from .sms import sender_from_env


def install(app: web.Application) -> None:
    svc = services(app)
    d = SmsDispatcher(svc, sender_from_env(svc.settings.var_dir))
    app[SMS_DISPATCHER] = d
    svc.pump.subscribe(d.on_events)


async def start(app: web.Application) -> None:
    app[SMS_DISPATCHER].start()


async def stop(app: web.Application) -> None:
    await app[SMS_DISPATCHER].stop()
