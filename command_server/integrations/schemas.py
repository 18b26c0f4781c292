from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core.permissions import all_permissions

# Never grantable to a machine: administration, identity data and decisions belong to people.
FORBIDDEN_SCOPES = frozenset({"users:admin", "apikeys:admin", "audit:read", "org:write", "contacts:identity",
                              "contacts:sensitive", "incidents:decide"})


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, description="the external system, e.g. 12369-platform")
    scopes: list[str] = Field(min_length=1, max_length=20, description='permissions, e.g. ["alarms:write"]')
    description: str | None = Field(None, max_length=300)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", v):
            raise ValueError("name may contain only letters, digits and _ . - (it names the caller in the audit)")
        return v

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        known = all_permissions()
        for s in v:
            if s not in known:
                raise ValueError(f"unknown permission {s!r}")
            if s in FORBIDDEN_SCOPES:
                raise ValueError(f"permission {s!r} cannot be given to an API key")
        return sorted(set(v))


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    description: str | None
    created_by_name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    active: bool


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="the key itself; shown only in this answer, store it now")
