from __future__ import annotations

from typing import Any

from aiohttp import web

from ..core.api import Ctx, RouteTable
from ..core.services import services
from . import service
from .schemas import CloseIn, RuleIn, RuleOut, RulesQuery, ToAlarmOut, WarningDetail, WarningsOut, WarningsQuery

routes = RouteTable("warnings")


@routes.get("/api/v1/warning-rules", perm="warnings:read", query=RulesQuery, response=list[RuleOut])
async def list_rules(ctx: Ctx) -> list[dict[str, Any]]:
    """Warning rules (optionally those for a metric, a kind of source, or that apply to one source)."""
    return await service.list_rules(services(ctx.app), ctx.query)


@routes.post("/api/v1/warning-rules", perm="warning_rules:write", body=RuleIn, response=RuleOut, status=201)
async def create_rule(ctx: Ctx) -> dict[str, Any]:
    """Create a rule: threshold, sustained (N readings or T minutes), rate of change, or missing data."""
    return await service.create_rule(services(ctx.app), ctx.user, ctx.body)


@routes.get("/api/v1/warning-rules/{id}", perm="warnings:read", response=RuleOut)
async def get_rule(ctx: Ctx) -> dict[str, Any]:
    """One rule."""
    return await service.get_rule(services(ctx.app), ctx.int_param("id"))


@routes.put("/api/v1/warning-rules/{id}", perm="warning_rules:write", body=RuleIn, response=RuleOut)
async def update_rule(ctx: Ctx) -> dict[str, Any]:
    """Replace a rule."""
    return await service.update_rule(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.delete("/api/v1/warning-rules/{id}", perm="warning_rules:write", status=204)
async def delete_rule(ctx: Ctx) -> None:
    """Delete a rule (its warnings stay, without the link)."""
    await service.delete_rule(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.get("/api/v1/warnings", perm="warnings:read", query=WarningsQuery, response=WarningsOut)
async def list_warnings(ctx: Ctx) -> dict[str, Any]:
    """Warnings, newest first: `state=open|acked|closed|all`, `level=red,orange`, `source_id`."""
    return await service.list_warnings(services(ctx.app), ctx.user, ctx.query)


@routes.get("/api/v1/warnings/{id}", perm="warnings:read", response=WarningDetail)
async def get_warning(ctx: Ctx) -> dict[str, Any]:
    """One warning with its message and every recipient's acknowledgement."""
    return await service.get_warning(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.post("/api/v1/warnings/{id}/ack", perm="warnings:ack", response=WarningDetail)
async def ack_warning(ctx: Ctx) -> dict[str, Any]:
    """Acknowledge: recorded per recipient; a responsible person's acknowledgement settles the warning."""
    return await service.ack(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.post("/api/v1/warnings/{id}/close", perm="warnings:ack", body=CloseIn, response=WarningDetail)
async def close_warning(ctx: Ctx) -> dict[str, Any]:
    """Close a warning (the rule may open a new one for the source afterwards)."""
    return await service.close(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body.reason)


@routes.post("/api/v1/warnings/{id}/to-alarm", perm="alarms:write", response=ToAlarmOut, status=201)
async def warning_to_alarm(ctx: Ctx) -> dict[str, Any]:
    """Turn a warning into an alarm (channel monitoring) in one step; the warning links to it."""
    return await service.to_alarm(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.get("/api/v1/warnings/{id}/cap.xml", perm="warnings:read", response_content_type="application/cap+xml")
async def warning_cap(ctx: Ctx) -> web.Response:
    """The warning as a CAP 1.2 alert (OASIS Common Alerting Protocol)."""
    wid = ctx.int_param("id")
    body = await service.cap_xml(services(ctx.app), wid)
    return web.Response(body=body, content_type="application/cap+xml", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="warning-{wid}.cap.xml"'})
