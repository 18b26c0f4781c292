"""Validated input and output of the organisation and contacts API.

Phone and ID numbers are normalised here, once, so the service, the blind indexes and the importer all see
the same canonical form (a mobile is 11 bare digits; a landline is ``area-number[-extension]``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..core.crypto import normalize_phone

UnitKind = Literal["city", "district", "department", "team"]

# Which kinds a unit of each kind may sit under; None means "a root, never under anything".
ALLOWED_PARENTS: dict[str, frozenset[str] | None] = {
    "city": None,
    "district": frozenset({"city"}),
    "department": frozenset({"city", "district", "department"}),
    "team": frozenset({"city", "district", "department", "team"}),
}

# Duty roles a person can hold on the duty roster, code → label shown to users (and used in XLSX files).
DUTY_ROLES: dict[str, str] = {
    "leader": "带班领导",
    "officer": "值班员",
    "driver": "驾驶员",
    "monitor": "监测员",
    "expert": "专家",
    "liaison": "联络员",
}
DutyRole = Literal["leader", "officer", "driver", "monitor", "expert", "liaison"]

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
# Landline: area code 0 + 2–3 digits, a 7–8 digit number, optional extension.
LANDLINE_RE = re.compile(r"^(0\d{2,3})-(\d{7,8})(?:-(\d{1,6}))?$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"


# --- normalisers (also used by the importer and the demo generator) ---------------------------------------


def clean_mobile(value: str) -> str:
    """Accept +86 / 0086 prefixes, spaces, dashes and brackets; return 11 digits or raise ValueError."""
    raw = value.strip()
    if not re.fullmatch(r"[+\d\s\-()]+", raw):
        raise ValueError("mobile number may contain only digits, spaces, dashes and a +86 prefix")
    digits = normalize_phone(raw)
    if digits.startswith("0086") and len(digits) == 15:
        digits = digits[4:]
    if not MOBILE_RE.match(digits):
        raise ValueError("mobile number must be 11 digits starting with 13–19, e.g. 13812345678")
    return digits


def clean_landline(value: str) -> str:
    """Normalise '(021) 1234 5678 转 12' and friends to '021-12345678-12'."""
    raw = value.strip()
    raw = re.sub(r"\s*(转|ext\.?|x)\s*", "-", raw, flags=re.IGNORECASE)
    raw = re.sub(r"^\((0\d{2,3})\)\s*", r"\1-", raw)
    raw = re.sub(r"\s+", "", raw)
    if not LANDLINE_RE.match(raw):
        raise ValueError("office phone must look like 021-12345678 (area code, number, optional -extension)")
    return raw


def id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def clean_id_number(value: str) -> str:
    """An 18-character PRC resident ID (GB 11643): valid birth date and check digit."""
    v = value.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", v):
        raise ValueError("ID number must be 18 characters: 17 digits and a digit or X")
    try:
        dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        raise ValueError("ID number contains an invalid birth date") from None
    expected = id_check_char(v[:17])
    if v[17] != expected:
        raise ValueError(f"ID number check digit is wrong (GB 11643 expects {expected})")
    return v


def clean_email(value: str) -> str:
    v = value.strip()
    if len(v) > 128 or not EMAIL_RE.match(v):
        raise ValueError("email address is not valid")
    return v.lower()


def _blank_to_none(v: object) -> object:
    # Forms send "" for an empty optional field; treat it as "no value" rather than a format error.
    if isinstance(v, str) and not v.strip():
        return None
    return v


# --- units ----------------------------------------------------------------------------------------------------


class UnitCreateIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: UnitKind
    parent_id: int | None = None
    code: str | None = Field(None, max_length=32, pattern=r"^[A-Za-z0-9_\-.]+$")
    sort_order: int = 0

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("name must not be blank")
        return v

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, v: object) -> object:
        return _blank_to_none(v)


class UnitPatchIn(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    kind: UnitKind | None = None
    parent_id: int | None = None
    code: str | None = Field(None, max_length=32, pattern=r"^[A-Za-z0-9_\-.]+$")
    sort_order: int | None = None

    @field_validator("name", "kind", "sort_order")
    @classmethod
    def _not_null(cls, v: object) -> object:
        # Validators run only for fields present in the JSON, so this rejects an explicit null only.
        if v is None:
            raise ValueError("may be omitted but not null")
        if isinstance(v, str):
            v = v.strip()
            if not v:
                raise ValueError("must not be blank")
        return v

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, v: object) -> object:
        return _blank_to_none(v)


class UnitOut(BaseModel):
    id: int
    name: str
    kind: str
    code: str | None
    parent_id: int | None
    sort_order: int
    people_count: int
    children: list[UnitOut] = []


# --- people ---------------------------------------------------------------------------------------------------


class _PersonFields(BaseModel):
    """Validators shared by create and patch: every format rule lives here exactly once."""

    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = re.sub(r"\s+", " ", v.strip())
        if not v:
            raise ValueError("name must not be blank")
        if len(v) > 32:
            raise ValueError("name must be at most 32 characters")
        return v

    @field_validator("position", "email", "office_phone", "mobile", "id_number", "remark", mode="before",
                     check_fields=False)
    @classmethod
    def _blank(cls, v: object) -> object:
        return _blank_to_none(v)

    @field_validator("mobile", check_fields=False)
    @classmethod
    def _mobile(cls, v: str | None) -> str | None:
        return None if v is None else clean_mobile(v)

    @field_validator("office_phone", check_fields=False)
    @classmethod
    def _landline(cls, v: str | None) -> str | None:
        return None if v is None else clean_landline(v)

    @field_validator("email", check_fields=False)
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return None if v is None else clean_email(v)

    @field_validator("id_number", check_fields=False)
    @classmethod
    def _id_number(cls, v: str | None) -> str | None:
        return None if v is None else clean_id_number(v)

    @field_validator("duty_roles", check_fields=False)
    @classmethod
    def _roles(cls, v: list[str] | None) -> list[str] | None:
        # Keep the caller's order but drop repeats, so the stored list is stable.
        return None if v is None else list(dict.fromkeys(v))


class PersonCreateIn(_PersonFields):
    name: str = Field(min_length=1, max_length=64)
    unit_id: int
    position: str | None = Field(None, max_length=64)
    mobile: str | None = Field(None, max_length=32)
    office_phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=128)
    id_number: str | None = Field(None, max_length=32)
    duty_roles: list[DutyRole] = Field(default_factory=list, max_length=len(DUTY_ROLES))
    user_id: int | None = None
    remark: str | None = Field(None, max_length=500)


class PersonPatchIn(_PersonFields):
    """Partial update: only the fields present in the JSON are changed; null clears an optional field."""

    name: str | None = Field(None, min_length=1, max_length=64)
    unit_id: int | None = None
    position: str | None = Field(None, max_length=64)
    mobile: str | None = Field(None, max_length=32)
    office_phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=128)
    id_number: str | None = Field(None, max_length=32)
    duty_roles: list[DutyRole] | None = Field(None, max_length=len(DUTY_ROLES))
    user_id: int | None = None
    remark: str | None = Field(None, max_length=500)

    @field_validator("name", "unit_id")
    @classmethod
    def _required_not_null(cls, v: object) -> object:
        # Validators run only for fields present in the JSON, so this rejects an explicit null only.
        if v is None:
            raise ValueError("may be omitted but not null")
        return v


class PersonOut(BaseModel):
    id: int
    name: str
    pinyin: str
    initials: str
    unit_id: int
    unit_name: str
    position: str | None
    mobile: str | None = Field(description="full number with contacts:sensitive, else masked (138****5678)")
    office_phone: str | None
    email: str | None
    id_number: str | None = Field(description="full with contacts:identity, else masked")
    duty_roles: list[str]
    user_id: int | None
    remark: str | None
    updated_at: dt.datetime


class PeopleQuery(BaseModel):
    q: str | None = Field(None, max_length=64)
    unit_id: int | None = None
    include_sub_units: bool = True
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(20, ge=1, le=200)


class ExportQuery(BaseModel):
    q: str | None = Field(None, max_length=64)
    unit_id: int | None = None
    include_sub_units: bool = True


class PeoplePage(BaseModel):
    items: list[PersonOut]
    total: int
    page: int
    page_size: int


class ImportRowError(BaseModel):
    row: int
    message: str


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int = Field(0, description="rows that matched a person and changed nothing")
    errors: list[ImportRowError]
