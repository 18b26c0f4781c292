"""Duty over REST (DUTY-1, DUTY-3, DUTY-4). Thin: the logic is in ``service.py``."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, Field

from ..core.api import Ctx, RouteTable
from ..core.services import services
from . import service, xlsx
from .schemas import (
    AckIn,
    AssignIn,
    GenerateIn,
    GenerateOut,
    HandoverIn,
    HandoverOut,
    HandoverQuery,
    LogIn,
    LogOut,
    LogPage,
    LogQuery,
    RangeQuery,
    ReplaceIn,
    RosterOut,
    ShiftOut,
    StatsOut,
    StatsQuery,
    TemplateIn,
    TemplateOut,
    TemplatePatchIn,
    TodayOut,
    TodayQuery,
)

routes = RouteTable("duty")


class CandidatesQuery(BaseModel):
    position_key: str = Field(min_length=1, max_length=32)


# --- templates ------------------------------------------------------------------------------------------------


@routes.get("/api/v1/duty/templates", perm="duty:read", response=list[TemplateOut])
async def list_templates(ctx: Ctx) -> list[dict[str, Any]]:
    """Shift templates (shifts per day, times, positions and the duty roles that may fill them)."""
    return await service.list_templates(services(ctx.app))


@routes.post("/api/v1/duty/templates", perm="duty:write", body=TemplateIn, response=TemplateOut, status=201)
async def create_template(ctx: Ctx) -> dict[str, Any]:
    """Create a shift template; times are Asia/Shanghai HH:MM, an end at or before the start is next day."""
    return await service.create_template(services(ctx.app), ctx.user, ctx.body)


@routes.get(r"/api/v1/duty/templates/{id:\d+}", perm="duty:read", response=TemplateOut)
async def get_template(ctx: Ctx) -> dict[str, Any]:
    """One shift template."""
    return await service.get_template(services(ctx.app), ctx.int_param("id"))


@routes.patch(r"/api/v1/duty/templates/{id:\d+}", perm="duty:write", body=TemplatePatchIn, response=TemplateOut)
async def patch_template(ctx: Ctx) -> dict[str, Any]:
    """Change a template; shifts generated earlier keep the definition they were made from."""
    return await service.patch_template(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.delete(r"/api/v1/duty/templates/{id:\d+}", perm="duty:write", status=204)
async def delete_template(ctx: Ctx) -> None:
    """Delete a template that has no shifts (409 template_in_use otherwise)."""
    await service.delete_template(services(ctx.app), ctx.user, ctx.int_param("id"))


# --- roster ---------------------------------------------------------------------------------------------------


@routes.post("/api/v1/duty/roster/generate", perm="duty:write", body=GenerateIn, response=GenerateOut, status=201)
async def generate_roster(ctx: Ctx) -> dict[str, Any]:
    """Generate the roster for a date range by fair rotation over the eligible people of the units."""
    return await service.generate(services(ctx.app), ctx.user, ctx.body)


@routes.get("/api/v1/duty/roster", perm="duty:read", query=RangeQuery, response=RosterOut)
async def get_roster(ctx: Ctx) -> dict[str, Any]:
    """Shifts between two dates (inclusive) with their people; shifts short of people are flagged as gaps."""
    return await service.roster(services(ctx.app), ctx.user, ctx.query)


@routes.get("/api/v1/duty/roster/export.xlsx", perm="duty:read", query=RangeQuery,
            response_content_type=xlsx.XLSX_CONTENT_TYPE)
async def export_roster(ctx: Ctx) -> web.Response:
    """The roster as XLSX (one row per shift and position, Chinese headers, phones as in the JSON)."""
    q: RangeQuery = ctx.query
    shifts = await service.export_rows(services(ctx.app), ctx.user, q)
    data = await asyncio.to_thread(xlsx.build, shifts)
    name = xlsx.filename(q.date_from, q.date_to)
    disposition = f"attachment; filename=\"duty-roster.xlsx\"; filename*=UTF-8''{quote(name)}"
    return web.Response(body=data, content_type=xlsx.XLSX_CONTENT_TYPE, headers={"Content-Disposition": disposition})


@routes.post(r"/api/v1/duty/shifts/{id:\d+}/assignments", perm="duty:write", body=AssignIn, response=ShiftOut,
             status=201)
async def assign(ctx: Ctx) -> dict[str, Any]:
    """Put a person into a position of a shift (409 duty_overlap / position_full); returns the shift."""
    return await service.assign(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.get(r"/api/v1/duty/shifts/{id:\d+}/candidates", perm="duty:read", query=CandidatesQuery)
async def candidates(ctx: Ctx) -> list[dict[str, Any]]:
    """People who may fill a position of the shift, roster units first, those on an overlapping shift flagged."""
    return await service.candidates(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.query.position_key)


@routes.patch(r"/api/v1/duty/assignments/{id:\d+}", perm="duty:write", body=ReplaceIn, response=ShiftOut)
async def replace_person(ctx: Ctx) -> dict[str, Any]:
    """Replace the person in a slot; returns the shift."""
    return await service.replace(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.delete(r"/api/v1/duty/assignments/{id:\d+}", perm="duty:write", status=204)
async def unassign(ctx: Ctx) -> None:
    """Take a person off a shift (the slot then shows as a gap)."""
    await service.unassign(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.get("/api/v1/duty/today", perm="duty:read", query=TodayQuery, response=TodayOut)
async def today(ctx: Ctx) -> dict[str, Any]:
    """The shift on duty now and the next one, with people (phones as the contacts rules allow).

    `at` answers for another moment (who was on duty when something happened)."""
    return await service.today(services(ctx.app), ctx.user, ctx.query)


# --- duty log, handovers, statistics ---------------------------------------------------------------------------


@routes.get("/api/v1/duty/log", perm="duty:read", query=LogQuery, response=LogPage)
async def list_log(ctx: Ctx) -> dict[str, Any]:
    """Duty log entries, newest first, by date range (Shanghai days), person, shift, category, text."""
    return await service.list_log(services(ctx.app), ctx.query)


@routes.post("/api/v1/duty/log", perm="duty:write", body=LogIn, response=LogOut, status=201)
async def add_log(ctx: Ctx) -> dict[str, Any]:
    """Record a duty log entry (接报/处置/交接/其他); the shift is found from the time when not given."""
    return await service.add_log(services(ctx.app), ctx.user, ctx.body)


@routes.get("/api/v1/duty/handovers", perm="duty:read", query=HandoverQuery, response=list[HandoverOut])
async def list_handovers(ctx: Ctx) -> list[dict[str, Any]]:
    """Handover notes, newest first, by outgoing duty day, state and person."""
    return await service.list_handovers(services(ctx.app), ctx.query)


@routes.post("/api/v1/duty/handovers", perm="duty:write", body=HandoverIn, response=HandoverOut, status=201)
async def create_handover(ctx: Ctx) -> dict[str, Any]:
    """Hand a shift over to the next one (one handover per outgoing shift)."""
    return await service.create_handover(services(ctx.app), ctx.user, ctx.body)


# Acknowledging needs only duty:read because the real check is who you are: the leader of the incoming shift
# (often a commander, who does not edit rosters) — anyone else gets 403 not_incoming_leader.
@routes.post(r"/api/v1/duty/handovers/{id:\d+}/ack", perm="duty:read", body=AckIn, response=HandoverOut)
async def acknowledge(ctx: Ctx) -> dict[str, Any]:
    """Acknowledge a handover as the incoming shift's leader."""
    return await service.acknowledge(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.get("/api/v1/duty/stats", perm="duty:read", query=StatsQuery, response=StatsOut)
async def duty_stats(ctx: Ctx) -> dict[str, Any]:
    """Duty turns, hours and log entries per person, per month and per person-month."""
    return await service.stats(services(ctx.app), ctx.query)
