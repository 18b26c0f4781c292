"""Audit log of every write, hash-chained with SM3 so that an altered or deleted row is detected.

Each row's hash covers its own fields and the previous row's hash. ``verify`` walks the chain and names
the first row whose stored hash or link does not match. Rows are appended under the same write
serialisation as events (see ``uow.py``), so the chain is a single line even with many writers.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, UtcDateTime
from .events import BigId

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


def sm3_hex(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def entry_hash(e: AuditEntry, prev_hash: str) -> str:
    # Canonical form: a JSON array in a fixed order, keys sorted inside detail, microsecond UTC time.
    body = [
        e.id,
        e.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        e.user_id,
        e.username,
        e.role,
        e.action,
        e.target_type,
        e.target_id,
        e.ip,
        e.detail,
    ]
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return sm3_hex(prev_hash.encode() + raw.encode("utf-8"))


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


async def verify_chain(session: AsyncSession, batch: int = 5000) -> VerifyResult:
    prev_hash = GENESIS
    expected_id: int | None = None
    checked = 0
    last_id = 0
    while True:
        rows = (await session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch))).all()
        if not rows:
            return VerifyResult(True, checked)
        for e in rows:
            if expected_id is not None and e.id != expected_id:
                return VerifyResult(False, checked, expected_id, f"row {expected_id} is missing (next is {e.id})")
            if e.prev_hash != prev_hash:
                return VerifyResult(False, checked, e.id, "link to the previous row does not match")
            if entry_hash(e, prev_hash) != e.hash:
                return VerifyResult(False, checked, e.id, "row content does not match its hash")
            prev_hash = e.hash
            expected_id = e.id + 1
            last_id = e.id
            checked += 1
