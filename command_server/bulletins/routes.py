"""Duty announcements: a short text an operator pushes to everyone's live feed."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from ..core.api import Ctx, RouteTable
from ..core.services import services

routes = RouteTable("bulletins")


class BulletinIn(BaseModel):
    text: str = Field(min_length=1, max_length=500)

    @field_validator("text")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("text must not be blank")
        return v


class BulletinOut(BaseModel):
    id: int
    text: str


@routes.post("/api/v1/bulletins", perm="bulletins:write", body=BulletinIn, response=BulletinOut, status=201)
async def post_bulletin(ctx: Ctx) -> dict[str, object]:
    """Post an announcement to every connected console, phone and screen."""
    svc = services(ctx.app)
    async with svc.write(ctx.user) as uow:
        uow.emit("bulletin.posted", subject_type="bulletin", payload={"text": ctx.body.text}, audience=["all"])
    return {"id": uow.events[-1].id, "text": ctx.body.text}
