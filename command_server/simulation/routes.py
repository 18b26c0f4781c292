from __future__ import annotations

from typing import Any

from ..core.api import Ctx, RouteTable
from ..core.services import services
from ..geo.index import geo_index
from . import service
from .schemas import DispersionIn, RiverRunIn, RunDetail, RunListItem, RunOut, RunsQuery

routes = RouteTable("dispersion")


@routes.post("/api/v1/dispersion/plume", perm="simulation:run", body=DispersionIn, response=RunOut, status=201)
async def plume(ctx: Ctx) -> dict[str, Any]:
    """Continuous release (Gaussian plume): threat zones, affected sensitive features, summary; stored as a run."""
    return await service.run_dispersion(services(ctx.app), geo_index(ctx.app), ctx.user, "plume", ctx.body)


@routes.post("/api/v1/dispersion/puff", perm="simulation:run", body=DispersionIn, response=RunOut, status=201)
async def puff(ctx: Ctx) -> dict[str, Any]:
    """Instantaneous release (Gaussian puff): threat zones, affected sensitive features, summary; stored."""
    return await service.run_dispersion(services(ctx.app), geo_index(ctx.app), ctx.user, "puff", ctx.body)


@routes.post("/api/v1/dispersion/river", perm="simulation:run", body=RiverRunIn, response=RunOut, status=201)
async def river(ctx: Ctx) -> dict[str, Any]:
    """River spill (1-D advection–dispersion): concentration curves, arrival/peak/clear times; with a spill
    point, the downstream facilities too. Stored as a run."""
    return await service.run_river(services(ctx.app), geo_index(ctx.app), ctx.user, ctx.body)


@routes.get("/api/v1/dispersion/runs", perm="map:read", query=RunsQuery, response=list[RunListItem])
async def runs(ctx: Ctx) -> list[dict[str, Any]]:
    """Stored runs, newest first (filter by incident)."""
    return await service.list_runs(services(ctx.app), ctx.query)


@routes.get(r"/api/v1/dispersion/runs/{id:\d+}", perm="map:read", response=RunDetail)
async def run(ctx: Ctx) -> dict[str, Any]:
    """One stored run with its inputs, zones and affected features."""
    return await service.get_run(services(ctx.app), ctx.int_param("id"))
