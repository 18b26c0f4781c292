"""API key administration (admin only). The key is in the creation answer and nowhere else."""

from __future__ import annotations

from typing import Any

from ..core.api import Ctx, RouteTable
from ..core.services import services
from . import service
from .schemas import ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut

routes = RouteTable("integrations")


@routes.get("/api/v1/integrations/api-keys", perm="apikeys:admin", response=list[ApiKeyOut])
async def list_keys(ctx: Ctx) -> list[dict[str, Any]]:
    """All API keys (active first), without the keys themselves."""
    return await service.list_keys(services(ctx.app))


@routes.post("/api/v1/integrations/api-keys", perm="apikeys:admin", body=ApiKeyIn, response=ApiKeyCreatedOut,
             status=201)
async def create_key(ctx: Ctx) -> dict[str, Any]:
    """Create a key for an external system; the answer holds the key, shown this once."""
    return await service.create_key(services(ctx.app), ctx.user, ctx.body)


@routes.delete(r"/api/v1/integrations/api-keys/{id:\d+}", perm="apikeys:admin", status=204)
async def revoke_key(ctx: Ctx) -> None:
    """Revoke a key; calls with it get 401 invalid_api_key from then on."""
    await service.revoke_key(services(ctx.app), ctx.user, ctx.int_param("id"))
