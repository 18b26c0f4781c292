"""The plan library, plan matching and starting the response over REST (CMD-2, PRE-6). Logic: ``service.py``."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ..core.api import Ctx, RouteTable, dumps
from ..core.errors import ApiError
from ..core.services import services
from ..files.service import first_file_part
from . import importer, service
from .schemas import (
    DiffOut,
    DiffQuery,
    ImportResult,
    MatchOut,
    PlanOut,
    PlanPage,
    PlanQuery,
    PlanWriteIn,
    ResponseIn,
    ResponseOut,
    VersionDetail,
    VersionOut,
)

routes = RouteTable("plans")

IMPORT_MAX_BYTES = 5 * 1024 * 1024


@routes.get("/api/v1/plans", perm="plans:read", query=PlanQuery, response=PlanPage)
async def list_plans(ctx: Ctx) -> dict[str, Any]:
    """The plan library: filter by type, level, kind; `q` searches Chinese text (title, guide, steps,
    pollutants) and ranks by score."""
    return await service.list_plans(services(ctx.app), ctx.query)


@routes.post("/api/v1/plans", perm="plans:write", body=PlanWriteIn, response=PlanOut, status=201)
async def create_plan(ctx: Ctx) -> dict[str, Any]:
    """Create a plan (version 1)."""
    return await service.create_plan(services(ctx.app), ctx.user, ctx.body)


@routes.get(r"/api/v1/plans/{id:\d+}", perm="plans:read", response=PlanOut)
async def get_plan(ctx: Ctx) -> dict[str, Any]:
    """One plan, current version."""
    return await service.get_plan(services(ctx.app), ctx.int_param("id"))


@routes.put(r"/api/v1/plans/{id:\d+}", perm="plans:write", body=PlanWriteIn, response=PlanOut)
async def update_plan(ctx: Ctx) -> dict[str, Any]:
    """Edit a plan: saves a new version and keeps the previous ones (409 on a stale `base_version`)."""
    return await service.update_plan(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.delete(r"/api/v1/plans/{id:\d+}", perm="plans:write", status=204)
async def retire_plan(ctx: Ctx) -> None:
    """Retire a plan: it leaves the library and matching; its versions stay."""
    await service.retire_plan(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.get(r"/api/v1/plans/{id:\d+}/versions", perm="plans:read", response=list[VersionOut])
async def list_versions(ctx: Ctx) -> list[dict[str, Any]]:
    """Every saved version of a plan, newest first."""
    return await service.list_versions(services(ctx.app), ctx.int_param("id"))


@routes.get(r"/api/v1/plans/{id:\d+}/versions/{version:\d+}", perm="plans:read", response=VersionDetail)
async def get_version(ctx: Ctx) -> dict[str, Any]:
    """One old version as it was saved."""
    return await service.get_version(services(ctx.app), ctx.int_param("id"), ctx.int_param("version"))


@routes.get(r"/api/v1/plans/{id:\d+}/diff", perm="plans:read", query=DiffQuery, response=DiffOut)
async def diff_versions(ctx: Ctx) -> dict[str, Any]:
    """Fields that differ between two versions (`?from=1&to=2`); steps also item by item."""
    return await service.diff_versions(services(ctx.app), ctx.int_param("id"), ctx.query.from_, ctx.query.to)


@routes.get(r"/api/v1/plans/{id:\d+}/export.json", perm="plans:read", response_content_type="application/json")
async def export_plan(ctx: Ctx) -> web.Response:
    """The plan as a JSON document that the import accepts."""
    doc = await service.export_plan(services(ctx.app), ctx.int_param("id"))
    name = f"预案-{doc['plan']['title']}.json"
    return web.Response(text=dumps(doc), content_type="application/json", headers={
        "Content-Disposition": f"attachment; filename=\"plan-{ctx.int_param('id')}.json\"; "
                               f"filename*=UTF-8''{quote(name)}"})


@routes.get("/api/v1/plans/import-template.xlsx", perm="plans:read",
            response_content_type=importer.XLSX_CONTENT_TYPE)
async def import_template(ctx: Ctx) -> web.Response:
    """The XLSX import template (sheets 预案, 步骤, 通知) with an example plan."""
    data = await asyncio.to_thread(importer.build_template)
    return web.Response(body=data, content_type=importer.XLSX_CONTENT_TYPE, headers={
        "Content-Disposition": "attachment; filename=\"plan-template.xlsx\"; "
                               f"filename*=UTF-8''{quote('预案导入模板.xlsx')}"})


@routes.post("/api/v1/plans/import", perm="plans:write", raw_body="multipart/form-data", response=ImportResult)
async def import_plans(ctx: Ctx) -> dict[str, Any]:
    """Import plans from a JSON template or an XLSX workbook (field `file`): valid plans are created, every
    problem is reported with its plan, sheet and row."""
    part = await first_file_part(ctx.request)
    data = await _read_limited(part, IMPORT_MAX_BYTES)
    try:
        candidates = await asyncio.to_thread(importer.parse, data, part.filename,
                                             part.headers.get("Content-Type"))
    except importer.ImportFormatError as exc:
        code = "unsupported_type" if exc.status == 415 else "invalid_template"
        raise ApiError(exc.status, code, str(exc)) from None
    return await service.import_plans(services(ctx.app), ctx.user, candidates)


@routes.get(r"/api/v1/incidents/{id:\d+}/plan-matches", perm="plans:read", response=list[MatchOut])
async def plan_matches(ctx: Ctx) -> list[dict[str, Any]]:
    """Every active plan scored for the incident (type, pollutant, level, area, text), best first."""
    return await service.plan_matches(services(ctx.app), ctx.int_param("id"))


@routes.post(r"/api/v1/incidents/{id:\d+}/response", perm="response:start", body=ResponseIn, response=ResponseOut,
             status=201)
async def start_response(ctx: Ctx) -> dict[str, Any]:
    """Start the response from a plan: tasks per step, the level's notifications, state → responding —
    all in one transaction (409 unless the incident is reported or verifying)."""
    return await service.start_response(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body.plan_id,
                                        ctx.body.reason)


async def _read_limited(part: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", "the import file exceeds the size limit", {"max_bytes": limit})
        chunks.append(chunk)
    if not size:
        raise ApiError(400, "empty_file", "the uploaded file is empty")
    return b"".join(chunks)
