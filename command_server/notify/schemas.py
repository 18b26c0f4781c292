from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class NotificationsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unread: bool | None = Field(None, description="true: only unacknowledged; false: only acknowledged")
    limit: int = Field(50, ge=1, le=500)
    before_id: int | None = Field(None, ge=1, description="page: notifications older than this id")


class SubjectOut(BaseModel):
    type: str | None
    id: str | None


class NotificationOut(BaseModel):
    id: int
    user_id: int
    title: str
    body: str
    level: str
    channels: list[str]
    subject: SubjectOut
    incident_id: int | None
    created_at: dt.datetime
    acked_at: dt.datetime | None
    sms_status: str


class NotificationsOut(BaseModel):
    items: list[NotificationOut]
    total: int
    unread: int

    model_config = ConfigDict(json_schema_extra={"example": {"items": [], "total": 0, "unread": 0}})


