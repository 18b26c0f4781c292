"""Organisation units and the contacts directory over REST (DUTY-2). Thin: logic is in ``service.py``."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ..core.api import Ctx, RouteTable
from ..core.errors import ApiError
from ..core.services import services
from ..files.service import first_file_part
from . import service, xlsx
from .schemas import (
    ExportQuery,
    ImportResult,
    PeoplePage,
    PeopleQuery,
    PersonCreateIn,
    PersonOut,
    PersonPatchIn,
    UnitCreateIn,
    UnitOut,
    UnitPatchIn,
)

routes = RouteTable("org")

IMPORT_MAX_BYTES = 5 * 1024 * 1024


# --- units ----------------------------------------------------------------------------------------------------


@routes.get("/api/v1/org/units", perm="org:read", response=list[UnitOut])
async def list_units(ctx: Ctx) -> list[dict[str, Any]]:
    """The unit tree (a forest), each node with people_count including its sub-units."""
    return await service.unit_tree(services(ctx.app))


@routes.post("/api/v1/org/units", perm="org:write", body=UnitCreateIn, response=UnitOut, status=201)
async def create_unit(ctx: Ctx) -> dict[str, Any]:
    """Create a unit under a parent (a city is a root)."""
    return await service.create_unit(services(ctx.app), ctx.user, ctx.body)


@routes.patch(r"/api/v1/org/units/{id:\d+}", perm="org:write", body=UnitPatchIn, response=UnitOut)
async def patch_unit(ctx: Ctx) -> dict[str, Any]:
    """Rename, re-code or move a unit; moving rewrites the whole subtree; cycles are refused (409)."""
    return await service.patch_unit(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.delete(r"/api/v1/org/units/{id:\d+}", perm="org:write", status=204)
async def delete_unit(ctx: Ctx) -> None:
    """Delete an empty unit (409 unit_not_empty while it has people or sub-units)."""
    await service.delete_unit(services(ctx.app), ctx.user, ctx.int_param("id"))


# --- people ---------------------------------------------------------------------------------------------------


@routes.get("/api/v1/people", perm="contacts:read", query=PeopleQuery, response=PeoplePage)
async def list_people(ctx: Ctx) -> dict[str, Any]:
    """Search the directory: name, pinyin, initials, unit, position, phone; paged and ranked."""
    return await service.search_people(services(ctx.app), ctx.user, ctx.query)


@routes.post("/api/v1/people", perm="contacts:write", body=PersonCreateIn, response=PersonOut, status=201)
async def create_person(ctx: Ctx) -> dict[str, Any]:
    """Add a person to the directory."""
    return await service.create_person(services(ctx.app), ctx.user, ctx.body)


@routes.get(r"/api/v1/people/{id:\d+}", perm="contacts:read", response=PersonOut)
async def get_person(ctx: Ctx) -> dict[str, Any]:
    """One person."""
    return await service.get_person(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.patch(r"/api/v1/people/{id:\d+}", perm="contacts:write", body=PersonPatchIn, response=PersonOut)
async def patch_person(ctx: Ctx) -> dict[str, Any]:
    """Change some fields of a person (null clears an optional field)."""
    return await service.patch_person(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.delete(r"/api/v1/people/{id:\d+}", perm="contacts:write", status=204)
async def delete_person(ctx: Ctx) -> None:
    """Remove a person from the directory."""
    await service.delete_person(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.get("/api/v1/people/export.xlsx", perm="contacts:read", query=ExportQuery,
            response_content_type=xlsx.XLSX_CONTENT_TYPE)
async def export_people(ctx: Ctx) -> web.Response:
    """The (filtered) directory as XLSX; phone and ID numbers masked as in the JSON for this caller."""
    rows = await service.export_rows(services(ctx.app), ctx.user, ctx.query)
    data = await asyncio.to_thread(xlsx.build, rows)
    disposition = f"attachment; filename=\"contacts.xlsx\"; filename*=UTF-8''{quote(xlsx.EXPORT_FILENAME)}"
    return web.Response(body=data, content_type=xlsx.XLSX_CONTENT_TYPE,
                        headers={"Content-Disposition": disposition})


@routes.post("/api/v1/people/import", perm="contacts:write", raw_body="multipart/form-data",
             response=ImportResult)
async def import_people(ctx: Ctx) -> dict[str, Any]:
    """Import an XLSX in the export format (field `file`); rows matching a mobile number update that person."""
    part = await first_file_part(ctx.request)
    data = await _read_limited(part, IMPORT_MAX_BYTES)
    try:
        rows = await asyncio.to_thread(xlsx.read, data)
    except xlsx.NotXlsx as exc:
        raise ApiError(415, "unsupported_type", str(exc), {"expected": xlsx.XLSX_CONTENT_TYPE}) from None
    except xlsx.BadTemplate as exc:
        raise ApiError(422, "invalid_template", str(exc), {"headers": xlsx.HEADERS}) from None
    return await service.import_people(services(ctx.app), ctx.user, rows)


async def _read_limited(part: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", "the spreadsheet exceeds the import size limit",
                           {"max_bytes": limit})
        chunks.append(chunk)
    if not size:
        raise ApiError(400, "empty_file", "the uploaded file is empty")
    return b"".join(chunks)
