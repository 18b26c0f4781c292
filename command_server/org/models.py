from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Encrypted
from ..core.db import Base, UtcDateTime, utcnow


class Unit(Base):
    """An organisational unit: city → district → department / team."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # city | district | department | team
    code: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), nullable=True,
                                                  index=True)
    # Materialised path "/1/4/9/": sub-unit queries are one LIKE, no recursion.
    path: Mapped[str] = mapped_column(String(255), index=True, default="/")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Person(Base):
    """A person in the contacts directory; may be linked to a login account."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    pinyin: Mapped[str] = mapped_column(String(255))  # full pinyin without tones, e.g. "zhangsan"
    initials: Mapped[str] = mapped_column(String(64))  # e.g. "zs"
    # Lower-case text every search matches against: name, pinyin variants (heteronyms), initials, position,
    # unit name. Never holds a phone or ID number (phone fragments match ``mobile_masked``).
    search_text: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    position: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mobile: Mapped[str | None] = mapped_column(Encrypted, nullable=True)
    # Unique: the service checks first for a friendly error; the index closes the race between two writers.
    mobile_index: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    mobile_masked: Mapped[str | None] = mapped_column(String(32), nullable=True)
    office_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(128), nullable=True)
    id_number: Mapped[str | None] = mapped_column(Encrypted, nullable=True)
    id_number_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    duty_roles: Mapped[list[str]] = mapped_column(default=list)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True,
                                                unique=True)
    remark: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
