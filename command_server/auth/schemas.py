from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from ..core.permissions import ROLES


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    totp: str | None = Field(None, pattern=r"^\d{6}$")


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=16, max_length=256)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[str]
    permissions: list[str]
    totp_enabled: bool
    is_active: bool
    person_id: int | None = None
    locked_until: str | None = None


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut


class TotpEnrollOut(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str


class TotpCodeIn(BaseModel):
    code: str = Field(pattern=r"^\d{6}$")


class TotpStateOut(BaseModel):
    totp_enabled: bool


def _check_password(v: str) -> str:
    if len(v) < 8 or not re.search(r"[A-Za-z]", v) or not re.search(r"\d", v):
        raise ValueError("password needs at least 8 characters with letters and digits")
    return v


def _check_roles(v: list[str]) -> list[str]:
    if not v:
        raise ValueError("at least one role")
    bad = [r for r in v if r not in ROLES]
    if bad:
        raise ValueError(f"unknown role(s): {', '.join(bad)}; known: {', '.join(ROLES)}")
    return list(dict.fromkeys(v))


class UserCreateIn(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(min_length=1, max_length=64)
    password: str
    roles: list[str]

    _pw = field_validator("password")(_check_password)
    _roles = field_validator("roles")(_check_roles)


class UserPatchIn(BaseModel):
    display_name: str | None = Field(None, min_length=1, max_length=64)
    password: str | None = None
    roles: list[str] | None = None
    is_active: bool | None = None
    unlock: bool = False

    @field_validator("password")
    @classmethod
    def _pw(cls, v: str | None) -> str | None:
        return None if v is None else _check_password(v)

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_roles(v)


class PasswordChangeIn(BaseModel):
    old_password: str = Field(min_length=1, max_length=256)
    new_password: str

    _pw = field_validator("new_password")(_check_password)
