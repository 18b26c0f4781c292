from __future__ import annotations

from typing import Any

from ..core.api import Ctx, RouteTable
from ..core.services import services
from . import service
from .schemas import NotificationOut, NotificationsOut, NotificationsQuery

routes = RouteTable("notifications")


@routes.get("/api/v1/notifications", perm="notifications:read", query=NotificationsQuery,
            response=NotificationsOut)
async def list_notifications(ctx: Ctx) -> dict[str, Any]:
    """The caller's own notifications, newest first (`unread=true` for the unacknowledged ones)."""
    q: NotificationsQuery = ctx.query
    return await service.list_notifications(services(ctx.app), ctx.user, unread=q.unread, limit=q.limit,
                                             before_id=q.before_id)


@routes.post("/api/v1/notifications/{id}/ack", perm="notifications:read", response=NotificationOut)
async def ack_notification(ctx: Ctx) -> dict[str, Any]:
    """Acknowledge one of the caller's notifications (a warning's notification also acknowledges the warning
    for the caller)."""
    return await service.ack_notification(services(ctx.app), ctx.user, ctx.int_param("id"))
