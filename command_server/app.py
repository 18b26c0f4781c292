"""Assembling the application: services, routes, Socket.IO, start-up and shut-down."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .auth.passwords import Passwords
from .auth.service import PASSWORDS, session_alive
from .core import crypto
from .core.api import SECRET, SESSION_GUARD, error_middleware, mount, timing_middleware
from .core.bus import EventBus, InMemoryBus, RedisBus
from .core.config import Settings
from .core.db import Database
from .core.heap import settle_after_startup
from .core.migrate import upgrade
from .core.offload import Offload
from .core.pump import EventPump
from .core.realtime import Realtime
from .core.security import Actor, SessionCache
from .core.services import SERVICES, Services
from .core.uow import Writer
from .domains import domain_modules
from .files.service import FILE_STORE
from .files.store import FileStore
from .org.service import rooms_for
from .system.routes import add_static

log = logging.getLogger("ecs")


@web.middleware
async def security_headers(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    resp = await handler(request)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/api/"):
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def create_app(settings: Settings) -> web.Application:
    crypto.configure(settings.sm4_key)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url, schema=settings.db_schema)
    bus: EventBus = RedisBus(settings.redis_url) if settings.redis_url else InMemoryBus()
    pump = EventPump(db)
    svc = Services(settings=settings, db=db, write=Writer(db, bus.notify), bus=bus, pump=pump,
                   sessions=SessionCache())
    svc.write.on_commit(svc.config.saw)
    pump.subscribe(svc.config.on_events)

    middlewares = [error_middleware, security_headers]
    if settings.server_timing:
        middlewares.insert(0, timing_middleware)
    app = web.Application(middlewares=middlewares, client_max_size=8 * 1024 * 1024)
    app[SERVICES] = svc
    offload = svc.offload = Offload(svc, settings.offload_worker_count)
    app[SECRET] = settings.secret_key
    app[PASSWORDS] = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
    app[FILE_STORE] = FileStore(settings.files_dir)

    async def guard(_app: web.Application, actor: Actor) -> None:
        await session_alive(svc, actor)

    app[SESSION_GUARD] = guard

    realtime = Realtime(app, pump, redis_url=settings.redis_url, replay_limit=settings.replay_limit)
    realtime.room_resolver = lambda actor: rooms_for(svc, actor)
    svc.realtime = realtime
    lifecycles = domain_modules("lifecycle")
    for lc in lifecycles:
        if hasattr(lc, "install"):
            lc.install(app)

    mount(app, [m.routes for m in domain_modules("routes")])
    add_static(app, settings.web_dist_dir)

    async def on_startup(_app: web.Application) -> None:
        async with db.startup_lock():
            await upgrade(db.engine)
            if settings.seed_demo:
                from .demo.seed import seed_if_empty

                await seed_if_empty(svc, app[PASSWORDS])
        for lc in lifecycles:  # after migrations and seeding, before the pump delivers anything
            if hasattr(lc, "start"):
                await lc.start(app)
        await pump.start()
        await bus.start(pump.wake)
        await offload.start()
        if settings.gc_freeze:
            settle_after_startup()

    async def on_cleanup(_app: web.Application) -> None:
        await offload.stop()  # first: a call in progress commits, and its events are still delivered
        for lc in reversed(lifecycles):
            if hasattr(lc, "stop"):
                await lc.stop(app)
        await bus.stop()
        await pump.stop()
        await svc.sessions.close()
        await db.dispose()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app
