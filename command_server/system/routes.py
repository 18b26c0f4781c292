"""Health, readiness, the OpenAPI document and its browsable page, and the built web console."""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..core.api import ROUTES_KEY, Ctx, RouteTable, build_openapi, json_response
from ..core.errors import ApiError
from ..core.services import services
from .lifecycle import LOOP_WATCH

routes = RouteTable("system")
VERSION = "0.1.0"
STARTED = time.time()
SWAGGER_DIR = Path(__file__).resolve().parents[2] / "web_console" / "node_modules" / "swagger-ui-dist"


@routes.get("/healthz", public=True)
async def healthz(ctx: Ctx) -> dict[str, object]:
    """Process alive."""
    return {"status": "ok", "version": VERSION, "uptime_s": round(time.time() - STARTED, 1)}


@routes.get("/readyz", public=True)
async def readyz(ctx: Ctx) -> web.Response:
    """Database (and Redis when configured) reachable."""
    svc = services(ctx.app)
    checks: dict[str, str] = {}
    ok = True
    try:
        await svc.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise: this is what a load balancer polls
        checks["database"] = f"error: {type(exc).__name__}"
        ok = False
    if svc.settings.redis_url:
        try:
            await svc.bus.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
            ok = False
    return json_response({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


class LoopQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: AwareDatetime | None = Field(None, description="only stalls that began at or after this time")
    limit: int = Field(50, ge=1, le=200)
    heap: bool = Field(False, description="also count the objects a full garbage collection walks, by type")


@routes.get("/api/v1/system/loop", perm="system:diagnose", query=LoopQuery)
async def loop_stalls(ctx: Ctx) -> dict[str, object]:
    """The event loop's health since start: how late its heartbeat ran (histogram), garbage collections, and
    the latest stalls (a beat later than the threshold), newest first, each with the loop thread's sampled
    stacks: what held the loop (``system/loopwatch.py``)."""
    if LOOP_WATCH not in ctx.app:
        raise ApiError(404, "loop_watch_off", "the stall recorder is off (ECS_LOOP_STALL_MS=0)")
    return ctx.app[LOOP_WATCH].report(since=ctx.query.since, limit=ctx.query.limit, heap=ctx.query.heap)


@routes.get("/api/openapi.json", public=True)
async def openapi(ctx: Ctx) -> dict[str, object]:
    """This API's OpenAPI 3 document."""
    return build_openapi(ctx.app[ROUTES_KEY], title="环境应急指挥与融合通信系统 API", version=VERSION)


_DOCS_HTML = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>ECS API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: '/api/openapi.json', dom_id: '#ui', persistAuthorization: true});</script>
</body></html>"""


@routes.get("/api/docs", public=True, response_content_type="text/html")
async def docs(ctx: Ctx) -> web.Response:
    """Browsable API documentation (Swagger UI from the installed swagger-ui-dist package)."""
    return web.Response(text=_DOCS_HTML, content_type="text/html")


def add_static(app: web.Application, dist: Path) -> None:
    """Serve the API docs assets and the built console with an SPA fallback for client-side routes."""
    if SWAGGER_DIR.is_dir():
        app.router.add_static("/api/docs/static/", SWAGGER_DIR)
    assets = dist / "assets"
    if assets.is_dir():
        app.router.add_static("/assets/", assets)

    root = dist.resolve()
    # Top-level files of the build (favicon, manifest); everything else is a client-side route.
    top_files = {p.name for p in root.iterdir() if p.is_file()} if root.is_dir() else set()
    index = root / "index.html"

    async def spa(request: web.Request) -> web.StreamResponse:
        path = request.match_info.get("tail", "")
        if path.startswith(("api/", "socket.io", "m/api/")) or path in ("api",):
            raise web.HTTPNotFound()
        if path in top_files and path != "index.html":
            return web.FileResponse(root / path)
        if "index.html" not in top_files:
            return web.Response(status=503, content_type="text/html",
                                text="<h1>web console not built</h1><p>run <code>make run</code></p>")
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.router.add_get("/{tail:.*}", spa)
