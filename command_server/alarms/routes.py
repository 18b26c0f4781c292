"""Alarm intake over REST (ALM-1, ALM-5). Thin: logic is in ``service.py``."""

from __future__ import annotations

from typing import Any

from ..core.api import Ctx, RouteTable, json_response
from ..core.services import services
from . import service
from .schemas import AlarmIn, AlarmOut, AlarmPage, AlarmPatchIn, AlarmQuery, CloseIn, DuplicateOut, MergeIn

routes = RouteTable("alarms")


@routes.post("/api/v1/alarms", perm="alarms:write", api_key=True, body=AlarmIn, response=AlarmOut, status=201)
async def create(ctx: Ctx) -> Any:
    """Take an alarm (staff, or an external system with `X-API-Key`); 201 with `duplicates` to consider.

    Idempotent on (external_source, external_id): a retry answers 200 with the alarm created the first time.
    """
    out, created = await service.intake(services(ctx.app), ctx.user, ctx.body)
    if not created:
        return json_response(out, status=200)
    return json_response(out, status=201, headers={"Location": f"/api/v1/alarms/{out['id']}"})


@routes.get("/api/v1/alarms", perm="alarms:read", query=AlarmQuery, response=AlarmPage)
async def list_alarms(ctx: Ctx) -> dict[str, Any]:
    """Alarms, newest received first, filtered by status, type, channel, time, district and text."""
    return await service.list_alarms(services(ctx.app), ctx.user, ctx.query)


@routes.get(r"/api/v1/alarms/{id:\d+}", perm="alarms:read", response=AlarmOut)
async def get_alarm(ctx: Ctx) -> dict[str, Any]:
    """One alarm, with the ids of alarms merged into it."""
    return await service.get_alarm(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.patch(r"/api/v1/alarms/{id:\d+}", perm="alarms:write", body=AlarmPatchIn, response=AlarmOut)
async def patch_alarm(ctx: Ctx) -> dict[str, Any]:
    """Correct an alarm's details; a moved point is routed again."""
    return await service.patch_alarm(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.post(r"/api/v1/alarms/{id:\d+}/close", perm="alarms:write", body=CloseIn, response=AlarmOut)
async def close_alarm(ctx: Ctx) -> dict[str, Any]:
    """Close an open alarm with a reason (办结, or 误报 with `false_alarm`)."""
    return await service.close_alarm(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.post(r"/api/v1/alarms/{id:\d+}/merge", perm="alarms:write", body=MergeIn, response=AlarmOut)
async def merge_alarm(ctx: Ctx) -> dict[str, Any]:
    """Merge an open alarm into another (its duplicate); both records stay, linked."""
    return await service.merge_alarm(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.get(r"/api/v1/alarms/{id:\d+}/duplicates", perm="alarms:read", response=list[DuplicateOut])
async def duplicates(ctx: Ctx) -> list[dict[str, Any]]:
    """Open alarms of the same type nearby in space and time (defaults 1 km, 2 h), nearest first."""
    return await service.get_duplicates(services(ctx.app), ctx.int_param("id"))
