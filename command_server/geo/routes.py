from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import ValidationError

from ..core.api import Ctx, RouteTable
from ..core.errors import ApiError
from ..core.services import services
from . import service
from .index import geo_index
from .schemas import (
    ChemicalsQuery,
    ChemicalSummary,
    ConvertOut,
    ConvertQuery,
    FeatureIn,
    FeatureOut,
    FeaturePatch,
    LayerInfo,
    LayerQuery,
    MapConfigOut,
    RiverIn,
    RiverOut,
    RiverPatch,
    SearchIn,
    SearchOut,
    SearchQuery,
    TraceIn,
    TraceOut,
)

routes = RouteTable("gis")


@routes.get("/api/v1/gis/config", perm="map:read", response=MapConfigOut)
async def map_config(ctx: Ctx) -> dict[str, Any]:
    """Base map for the console: tile URL template and its coordinate system (none = offline outline map),
    and the extent of the map data."""
    return service.map_config(services(ctx.app).settings, geo_index(ctx.app))


@routes.get("/api/v1/gis/layers", perm="map:read", response=list[LayerInfo])
async def list_layers(ctx: Ctx) -> list[dict[str, Any]]:
    """The map layers with feature counts per kind."""
    return service.layers_info(geo_index(ctx.app))


@routes.get("/api/v1/gis/layers/{layer}", perm="map:read", query=LayerQuery)
async def layer_features(ctx: Ctx) -> dict[str, Any]:
    """One layer as a GeoJSON FeatureCollection, optionally within a bbox and of some kinds
    (`rivers` gives the river reaches)."""
    q: LayerQuery = ctx.query
    return await asyncio.to_thread(service.layer_geojson, geo_index(ctx.app), ctx.params["layer"], q.bbox, q.kind,
                                   q.crs)


@routes.post("/api/v1/gis/features", perm="map:write", body=FeatureIn, response=FeatureOut, status=201)
async def create_feature(ctx: Ctx) -> dict[str, Any]:
    """Add a feature to a layer (validated GeoJSON geometry, WGS-84)."""
    return await service.create_feature(services(ctx.app), geo_index(ctx.app), ctx.user, ctx.body)


@routes.get(r"/api/v1/gis/features/{id:\d+}", perm="map:read", response=FeatureOut)
async def get_feature(ctx: Ctx) -> dict[str, Any]:
    """One feature as stored."""
    return await service.get_feature(services(ctx.app), ctx.int_param("id"))


@routes.patch(r"/api/v1/gis/features/{id:\d+}", perm="map:write", body=FeaturePatch, response=FeatureOut)
async def update_feature(ctx: Ctx) -> dict[str, Any]:
    """Change a feature's layer, kind, name, geometry or properties."""
    return await service.update_feature(services(ctx.app), geo_index(ctx.app), ctx.user, ctx.int_param("id"),
                                        ctx.body)


@routes.delete(r"/api/v1/gis/features/{id:\d+}", perm="map:write", status=204)
async def delete_feature(ctx: Ctx) -> None:
    """Remove a feature."""
    await service.delete_feature(services(ctx.app), geo_index(ctx.app), ctx.user, ctx.int_param("id"))


@routes.get("/api/v1/gis/rivers", perm="map:read", response=list[RiverOut])
async def list_rivers(ctx: Ctx) -> list[dict[str, Any]]:
    """River reaches with their hydraulics (velocity_ms, width_m, depth_m, dispersion_m2s)."""
    return await service.list_rivers(services(ctx.app))


@routes.post("/api/v1/gis/rivers", perm="map:write", body=RiverIn, response=RiverOut, status=201)
async def create_river(ctx: Ctx) -> dict[str, Any]:
    """Add a river reach (LineString in flow direction; a reach ending on another flows into it)."""
    return await service.create_river(services(ctx.app), geo_index(ctx.app), ctx.user, ctx.body)


@routes.patch(r"/api/v1/gis/rivers/{id:\d+}", perm="map:write", body=RiverPatch, response=RiverOut)
async def update_river(ctx: Ctx) -> dict[str, Any]:
    """Change a river reach."""
    return await service.update_river(services(ctx.app), geo_index(ctx.app), ctx.user, ctx.int_param("id"),
                                      ctx.body)


@routes.delete(r"/api/v1/gis/rivers/{id:\d+}", perm="map:write", status=204)
async def delete_river(ctx: Ctx) -> None:
    """Remove a river reach."""
    await service.delete_river(services(ctx.app), geo_index(ctx.app), ctx.user, ctx.int_param("id"))


@routes.get("/api/v1/gis/search", perm="map:read", query=SearchQuery, response=SearchOut)
async def search_get(ctx: Ctx) -> dict[str, Any]:
    """Circle (lon, lat, radius_m), rectangle (bbox) or nearest (lon, lat, limit) search over layers."""
    q: SearchQuery = ctx.query
    try:
        body = SearchIn.model_validate(q.model_dump())
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "invalid query parameters",
                       {"errors": exc.errors(include_url=False, include_context=False, include_input=False)}) from None
    return await service.search_async(geo_index(ctx.app), body)


@routes.post("/api/v1/gis/search", perm="map:read", body=SearchIn, response=SearchOut)
async def search_post(ctx: Ctx) -> dict[str, Any]:
    """Circle, rectangle, polygon (GeoJSON) or nearest search over layers; distance and bearing per result."""
    return await service.search_async(geo_index(ctx.app), ctx.body)


@routes.post("/api/v1/gis/search/export.xlsx", perm="map:read", body=SearchIn,
             response_content_type=service.XLSX_CONTENT_TYPE)
async def search_export(ctx: Ctx) -> web.Response:
    """The same search as a spreadsheet of the result table."""
    q: SearchIn = ctx.body
    result = await service.search_async(geo_index(ctx.app), q)
    shape = {"circle": f"圆形 半径{q.radius_m or 0:g}米", "rectangle": "矩形", "polygon": "多边形",
             "nearest": "最近"}[q.shape]
    title = f"周边查询结果（{shape}，共{result['total']}项，列出{len(result['items'])}项）"
    data = await asyncio.to_thread(service.export_xlsx, result, title)
    return web.Response(body=data, headers={
        "Content-Type": service.XLSX_CONTENT_TYPE,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote('周边查询结果.xlsx')}",
    })


@routes.get("/api/v1/gis/convert", perm="map:read", query=ConvertQuery, response=ConvertOut)
async def convert(ctx: Ctx) -> dict[str, Any]:
    """Convert a point between WGS-84, GCJ-02 (AMap/Tencent) and BD-09 (Baidu)."""
    q: ConvertQuery = ctx.query
    lon, lat = service.convert_point(q.lon, q.lat, q.from_, q.to)
    return {"lon": lon, "lat": lat, "crs": q.to, "source": {"lon": q.lon, "lat": q.lat, "crs": q.from_}}


@routes.post("/api/v1/gis/rivers/trace", perm="map:read", body=TraceIn, response=TraceOut)
async def trace(ctx: Ctx) -> dict[str, Any]:
    """Follow a spill downstream: snapped point, path, facilities in flow order with arrival and peak times."""
    return await asyncio.to_thread(service.trace, geo_index(ctx.app), ctx.body)


@routes.get("/api/v1/chemicals", perm="map:read", query=ChemicalsQuery, response=list[ChemicalSummary])
async def chemicals(ctx: Ctx) -> list[dict[str, Any]]:
    """Hazardous substances known to the dispersion model (search by CAS, name or alias)."""
    q: ChemicalsQuery = ctx.query
    return service.list_chemicals(q.q, q.limit)


@routes.get("/api/v1/chemicals/{cas}", perm="map:read")
async def chemical(ctx: Ctx) -> dict[str, Any]:
    """One substance: levels of concern with sources, disposal and first-aid notes."""
    return service.chemical_detail(ctx.params["cas"])
