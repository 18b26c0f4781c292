"""Incidents, their timeline, reports upward and tasks over REST (CMD-1). Thin: logic is in ``service.py``."""

from __future__ import annotations

from typing import Any

from ..core.api import Ctx, RouteTable
from ..core.services import services
from . import service
from .schemas import (
    ForwardIn,
    IncidentCreateIn,
    IncidentOut,
    IncidentPatchIn,
    IncidentsPage,
    IncidentsQuery,
    IncidentStats,
    LeadUnitIn,
    LevelCriteria,
    LevelDecisionIn,
    LevelSuggestionOut,
    NoteIn,
    ReportIn,
    ReportOut,
    ReportsOut,
    TaskCreateIn,
    TaskOut,
    TaskPatchIn,
    TasksQuery,
    TimelineItem,
    TimelineQuery,
    TransitionIn,
)

routes = RouteTable("incidents")

INC = r"/api/v1/incidents/{id:\d+}"


def _now(ctx: Ctx) -> Any:
    return service.clock(ctx.app).now()


@routes.post("/api/v1/incidents", perm="incidents:write", body=IncidentCreateIn, response=IncidentOut, status=201)
async def create_incident(ctx: Ctx) -> dict[str, Any]:
    """Create an incident from one or more alarms (place, type, pollutant copied from the first) or directly."""
    return await service.create_incident(services(ctx.app), ctx.user, ctx.body, _now(ctx))


@routes.get("/api/v1/incidents", perm="incidents:read", query=IncidentsQuery, response=IncidentsPage)
async def list_incidents(ctx: Ctx) -> dict[str, Any]:
    """Incidents, newest first, with a red/amber/green status (rules in incidents/service.py)."""
    return await service.list_incidents(services(ctx.app), ctx.query, _now(ctx))


@routes.get("/api/v1/incidents/stats", perm="incidents:read", response=IncidentStats)
async def incident_stats(ctx: Ctx) -> dict[str, Any]:
    """Counts for this year (Asia/Shanghai): alarms, incidents, in progress, closed."""
    return await service.stats(services(ctx.app), _now(ctx))


@routes.post("/api/v1/incidents/level-suggestion", perm="incidents:read", body=LevelCriteria,
             response=LevelSuggestionOut)
async def level_suggestion(ctx: Ctx) -> dict[str, Any]:
    """Suggested level I–IV from the 2014 national plan's table: the highest level any criterion reaches."""
    return service.suggest_level(ctx.body)


@routes.get(INC, perm="incidents:read", response=IncidentOut)
async def get_incident(ctx: Ctx) -> dict[str, Any]:
    """One incident with its level suggestion, allowed transitions and initial-report countdown."""
    return await service.get_incident(services(ctx.app), ctx.int_param("id"), _now(ctx))


@routes.patch(INC, perm="incidents:write", body=IncidentPatchIn, response=IncidentOut)
async def patch_incident(ctx: Ctx) -> dict[str, Any]:
    """Change summary fields or casualty/impact figures (the level suggestion is recomputed)."""
    return await service.patch_incident(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body, _now(ctx))


@routes.post(INC + "/transitions", perm="incidents:write", body=TransitionIn, response=IncidentOut)
async def transition(ctx: Ctx) -> dict[str, Any]:
    """Move the incident along the state machine; 409 illegal_transition with details.allowed otherwise."""
    return await service.transition(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body, _now(ctx))


@routes.post(INC + "/level", perm="incidents:decide", body=LevelDecisionIn, response=IncidentOut)
async def decide_level(ctx: Ctx) -> dict[str, Any]:
    """Confirm the suggested level, or override it with a reason."""
    return await service.decide_level(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body, _now(ctx))


@routes.get(INC + "/timeline", perm="incidents:read", query=TimelineQuery, response=list[TimelineItem])
async def timeline(ctx: Ctx) -> list[dict[str, Any]]:
    """Every event of this incident, oldest first; ``after`` (event id) and ``kind`` filter."""
    return await service.timeline(services(ctx.app), ctx.int_param("id"), ctx.query)


@routes.post(INC + "/notes", perm="incidents:write", body=NoteIn, response=TimelineItem, status=201)
async def add_note(ctx: Ctx) -> dict[str, Any]:
    """Add a note (with attachments) to the timeline."""
    return await service.add_note(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.post(INC + "/forward", perm="incidents:write", body=ForwardIn, response=IncidentOut)
async def forward(ctx: Ctx) -> dict[str, Any]:
    """Forward the incident to another unit (it is told in its room)."""
    return await service.forward(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body, _now(ctx))


@routes.post(INC + "/lead-unit", perm="incidents:write", body=LeadUnitIn, response=IncidentOut)
async def lead_unit(ctx: Ctx) -> dict[str, Any]:
    """Change the unit that leads the disposal."""
    return await service.change_lead_unit(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body, _now(ctx))


@routes.get(INC + "/reports", perm="incidents:read", response=ReportsOut)
async def list_reports(ctx: Ctx) -> dict[str, Any]:
    """Reports upward, with the initial report's due time, countdown and overdue flag."""
    return await service.list_reports(services(ctx.app), ctx.int_param("id"), _now(ctx))


@routes.post(INC + "/reports", perm="incidents:write", body=ReportIn, response=ReportOut, status=201)
async def submit_report(ctx: Ctx) -> dict[str, Any]:
    """File an initial, follow-up or final report upward."""
    return await service.submit_report(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body, _now(ctx))


@routes.get(INC + "/tasks", perm="tasks:read", response=list[TaskOut])
async def incident_tasks(ctx: Ctx) -> list[dict[str, Any]]:
    """The incident's tasks, plan steps in order first."""
    return await service.list_incident_tasks(services(ctx.app), ctx.int_param("id"), _now(ctx))


@routes.post(INC + "/tasks", perm="incidents:write", body=TaskCreateIn, response=TaskOut, status=201)
async def create_task(ctx: Ctx) -> dict[str, Any]:
    """Add a task by hand."""
    return await service.create_task(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body, _now(ctx))


@routes.get("/api/v1/tasks", perm="tasks:read", query=TasksQuery, response=list[TaskOut])
async def list_tasks(ctx: Ctx) -> list[dict[str, Any]]:
    """Tasks across incidents; ``mine=true`` for those assigned to me, my role or my unit (field staff)."""
    return await service.list_tasks(services(ctx.app), ctx.user, ctx.query, _now(ctx))


@routes.patch(r"/api/v1/tasks/{id:\d+}", perm="tasks:update", body=TaskPatchIn, response=TaskOut)
async def patch_task(ctx: Ctx) -> dict[str, Any]:
    """Progress (todo → doing → done) and feedback by the assignee; staff may also reassign and reschedule."""
    return await service.patch_task(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body, _now(ctx))
