from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from ..core.api import Ctx, RouteTable
from ..core.services import services
from . import service
from .schemas import FileOut
from .service import FILE_STORE

routes = RouteTable("files")


@routes.post("/api/v1/files", perm="files:write", raw_body="multipart/form-data", response=FileOut, status=201)
async def upload(ctx: Ctx) -> dict[str, object]:
    """Upload an attachment (multipart field `file`); size and content type are checked."""
    part = await service.first_file_part(ctx.request)
    f = await service.save_upload(services(ctx.app), ctx.app[FILE_STORE], ctx.user, part)
    return service.file_out(f)


@routes.get(r"/api/v1/files/{id:\d+}", perm="files:read", response=FileOut)
async def metadata(ctx: Ctx) -> dict[str, object]:
    """File metadata."""
    return service.file_out(await service.get_for(services(ctx.app), ctx.user, ctx.int_param("id")))


@routes.get(r"/api/v1/files/{id:\d+}/content", perm="files:read", response_content_type="application/octet-stream")
async def content(ctx: Ctx) -> web.StreamResponse:
    """Download the file's bytes."""
    f = await service.get_for(services(ctx.app), ctx.user, ctx.int_param("id"))
    path = ctx.app[FILE_STORE].path_for(f.sha256)
    if not path.exists():
        return web.json_response({"error": {"code": "file_missing", "message": "stored bytes are missing",
                                            "details": {"id": f.id}}}, status=410)
    resp = web.FileResponse(path, headers={
        "Content-Type": f.content_type,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f.filename)}",
        "X-Content-Type-Options": "nosniff",
    })
    return resp
