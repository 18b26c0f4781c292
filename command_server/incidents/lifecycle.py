"""Incidents in the app's life: the injectable clock, the ``incident.join`` socket event and the timer that
raises ``incident.report_overdue`` (see command_server/domains.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web

from ..core.errors import ApiError, not_found
from ..core.permissions import NAMESPACE_ROLES
from ..core.security import Actor
from ..core.services import services
from .models import Incident
from .service import CLOCK, Clock, check_overdue_reports

log = logging.getLogger("ecs.incidents")

CHECK_INTERVAL_S = 30.0
_TIMER: web.AppKey[asyncio.Task[None]] = web.AppKey("incidents_report_timer", asyncio.Task)


def _incident_id(data: Any) -> int:
    raw = data.get("incident_id") if isinstance(data, dict) else data
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ApiError(400, "bad_request", "incident_id (a positive integer) is required")
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_request", "incident_id must be a positive integer") from None
    if value < 1:
        raise ApiError(400, "bad_request", "incident_id must be a positive integer")
    return value


def install(app: web.Application) -> None:
    app[CLOCK] = Clock()
    realtime = services(app).realtime
    if realtime is None:
        return

    async def _namespaces_of(sid: str) -> list[str]:
        return [ns for ns in NAMESPACE_ROLES if realtime.sio.manager.is_connected(sid, ns)]

    @realtime.on("incident.join", perm="incidents:read")
    async def join(sid: str, actor: Actor, data: Any) -> dict[str, Any]:
        """Enter the room ``incident:<id>``: the incident's room-only events (notes, tasks) start arriving."""
        incident_id = _incident_id(data)
        async with services(app).db.read() as s:
            if await s.get(Incident, incident_id) is None:
                raise not_found("incident", incident_id)
        room = f"incident:{incident_id}"
        for ns in await _namespaces_of(sid):
            await realtime.sio.enter_room(sid, room, namespace=ns)
        return {"ok": True, "room": room}

    @realtime.on("incident.leave", perm="incidents:read")
    async def leave(sid: str, actor: Actor, data: Any) -> dict[str, Any]:
        room = f"incident:{_incident_id(data)}"
        for ns in await _namespaces_of(sid):
            await realtime.sio.leave_room(sid, room, namespace=ns)
        return {"ok": True, "room": room}


async def _timer(app: web.Application) -> None:
    svc = services(app)
    while True:
        try:
            raised = await check_overdue_reports(svc, app[CLOCK].now())
            if raised:
                log.info("initial report overdue: incidents %s", raised)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("report overdue check failed; retrying")
        await asyncio.sleep(CHECK_INTERVAL_S)


async def start(app: web.Application) -> None:
    app[_TIMER] = asyncio.create_task(_timer(app), name="incidents-report-timer")


async def stop(app: web.Application) -> None:
    task = app.get(_TIMER)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
