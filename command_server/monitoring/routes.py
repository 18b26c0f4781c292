from __future__ import annotations

from typing import Any

from ..core.api import Ctx, RouteTable
from ..core.services import services
from . import service
from .schemas import (
    CatalogueMetric,
    IngestOut,
    ReadingsIn,
    SeriesOut,
    SeriesQuery,
    SourceIn,
    SourceOut,
    SourcePatch,
    SourcesOut,
    SourcesQuery,
)

routes = RouteTable("monitoring")


@routes.post("/api/v1/monitoring/readings", perm="monitoring:ingest", api_key=True, body=ReadingsIn,
             defer_body=True, response=IngestOut)
async def ingest_readings(ctx: Ctx) -> dict[str, Any]:
    """Store a batch of readings (up to 20,000) and evaluate the matching warning rules. Bad rows are
    reported per row in `rejected`; the others are stored. A re-sent reading is counted as a duplicate."""
    svc = services(ctx.app)
    assert svc.offload is not None
    # parsed, checked and stored in an offload worker where the server has them (core/offload.py)
    return await svc.offload.run(service.INGEST_BODY, ctx.user, ctx.body)  # type: ignore[no-any-return]


@routes.get("/api/v1/monitoring/series", perm="monitoring:read", query=SeriesQuery, response=SeriesOut)
async def get_series(ctx: Ctx) -> dict[str, Any]:
    """A metric of a source between `from` and `to`, down-sampled to at most `points` buckets
    (avg/min/max/n per bucket), with the threshold lines of the rules that apply."""
    return await service.series(services(ctx.app), ctx.query)


@routes.get("/api/v1/monitoring/metrics", perm="monitoring:read", response=list[CatalogueMetric])
async def list_metrics(ctx: Ctx) -> list[dict[str, Any]]:
    """The metric catalogue (code, name, unit)."""
    return service.catalogue()


@routes.get("/api/v1/monitoring/sources", perm="monitoring:read", query=SourcesQuery, response=SourcesOut)
async def list_sources(ctx: Ctx) -> dict[str, Any]:
    """Monitoring stations and risk-source monitors with location (from their map feature) and last values."""
    return await service.list_sources(services(ctx.app), ctx.query)


@routes.post("/api/v1/monitoring/sources", perm="monitoring:write", body=SourceIn, response=SourceOut, status=201)
async def create_source(ctx: Ctx) -> dict[str, Any]:
    """Register a monitoring source for a map feature of layer `stations` or `risk_sources`."""
    return await service.create_source(services(ctx.app), ctx.user, ctx.body)


@routes.get("/api/v1/monitoring/sources/{id}", perm="monitoring:read", response=SourceOut)
async def get_source(ctx: Ctx) -> dict[str, Any]:
    """One monitoring source."""
    return await service.get_source(services(ctx.app), ctx.int_param("id"))


@routes.patch("/api/v1/monitoring/sources/{id}", perm="monitoring:write", body=SourcePatch, response=SourceOut)
async def update_source(ctx: Ctx) -> dict[str, Any]:
    """Rename a source, change its metrics, or (de)activate it."""
    return await service.update_source(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.delete("/api/v1/monitoring/sources/{id}", perm="monitoring:write", status=204)
async def delete_source(ctx: Ctx) -> None:
    """Delete a source and its readings."""
    await service.delete_source(services(ctx.app), ctx.user, ctx.int_param("id"))
