"""A unit of work: one write transaction that also records its events and audit rows.

Domain services change rows through ``uow.session`` and describe what happened with ``uow.emit``; the
event and audit rows are written at the end of the same transaction, under a lock that gives them
consecutive ids (SQLite: the per-process write lock; PostgreSQL: a transaction-scoped advisory lock), so
commit order equals id order. After commit the bus is told, and every process's event pump delivers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from . import timing
from .audit import GENESIS, AuditEntry, entry_hash
from .db import Database, utcnow
from .events import Event
from .security import Actor, SystemActor

ORDER_LOCK_KEY = 0x45435301  # "ECS" + 1: the advisory lock that orders event and audit ids on PostgreSQL

AnyActor = Actor | SystemActor
# PostgreSQL: the lock, then the same three figures read after it (migration 0008): one round trip
_ORDER_LOCK_AND_LAST_IDS = text("SELECT max_event, last_audit_id, last_hash FROM ecs_order_lock(:k)")
_AUDIT_COLUMNS = tuple(c.key for c in AuditEntry.__table__.columns)
# Built once: constructing them per unit of work was ~0.2 ms of CPU per write, under the write lock.
_LAST_AUDIT = select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1).subquery()
_LAST_IDS = select(select(func.max(Event.id)).scalar_subquery(), select(_LAST_AUDIT.c.id).scalar_subquery(),
                   select(_LAST_AUDIT.c.hash).scalar_subquery())
_INSERT_EVENTS = insert(Event.__table__)
_INSERT_AUDIT = insert(AuditEntry.__table__)
# PostgreSQL: the event and the audit rows in one statement (one round trip inline under the write lock, not
# two), columns as arrays, so that the statement's text is the same for any number of rows.
_PG_RECORDS = text("""
WITH ev AS (
    INSERT INTO events (id, at, type, actor_id, actor_name, subject_type, subject_id, incident_id, audience, payload)
    SELECT e.id, :at, e.type, :actor_id, :actor_name, e.subject_type, e.subject_id, e.incident_id, e.audience,
           e.payload
    FROM unnest(CAST(:ev_id AS bigint[]), CAST(:ev_type AS varchar[]), CAST(:ev_subject_type AS varchar[]),
                CAST(:ev_subject_id AS varchar[]), CAST(:ev_incident_id AS integer[]), CAST(:ev_audience AS json[]),
                CAST(:ev_payload AS json[]))
         AS e(id, type, subject_type, subject_id, incident_id, audience, payload)
)
INSERT INTO audit_log (id, at, user_id, username, role, action, target_type, target_id, ip, detail, prev_hash, hash)
SELECT a.id, :at, :actor_id, :actor_name, :role, a.action, a.target_type, a.target_id, :ip, a.detail, a.prev_hash,
       a.hash
FROM unnest(CAST(:au_id AS bigint[]), CAST(:au_action AS varchar[]), CAST(:au_target_type AS varchar[]),
            CAST(:au_target_id AS varchar[]), CAST(:au_detail AS json[]), CAST(:au_prev_hash AS varchar[]),
            CAST(:au_hash AS varchar[]))
     AS a(id, action, target_type, target_id, detail, prev_hash, hash)
""")


def _pg_records(events: list[dict[str, Any]], audit: list[AuditEntry], actor: AnyActor, now: dt.datetime
                ) -> dict[str, Any]:
    """``_PG_RECORDS``'s parameters. JSON as SQLAlchemy's JSON type writes it (``json.dumps``); the instant as
    the columns store it (naive UTC, ``UtcDateTime``)."""
    dumps = json.dumps
    return {
        "at": now.astimezone(dt.UTC).replace(tzinfo=None), "actor_id": actor.user_id, "actor_name": actor.username,
        "role": actor.primary_role, "ip": actor.ip,
        "ev_id": [e["id"] for e in events], "ev_type": [e["type"] for e in events],
        "ev_subject_type": [e["subject_type"] for e in events], "ev_subject_id": [e["subject_id"] for e in events],
        "ev_incident_id": [e["incident_id"] for e in events],
        "ev_audience": [dumps(e["audience"]) for e in events], "ev_payload": [dumps(e["payload"]) for e in events],
        "au_id": [a.id for a in audit], "au_action": [a.action for a in audit],
        "au_target_type": [a.target_type for a in audit], "au_target_id": [a.target_id for a in audit],
        "au_detail": [dumps(a.detail) for a in audit], "au_prev_hash": [a.prev_hash for a in audit],
        "au_hash": [a.hash for a in audit],
    }


@dataclass
class _PendingEvent:
    type: str
    subject_type: str | None
    subject_id: str | None
    incident_id: int | None
    audience: list[str]
    payload: dict[str, Any]


@dataclass
class _PendingAudit:
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, Any]


@dataclass
class UnitOfWork:
    session: AsyncSession
    actor: AnyActor
    is_postgres: bool
    events: list[Event] = field(default_factory=list)
    _pending_events: list[_PendingEvent] = field(default_factory=list)
    _pending_audit: list[_PendingAudit] = field(default_factory=list)

    def emit(self, type: str, *, subject_type: str | None = None, subject_id: object = None,
             payload: dict[str, Any] | None = None, incident_id: int | None = None,
             audience: list[str] | tuple[str, ...] = ("all",), audit: bool = True) -> None:
        """Record a state change. It is also audited unless ``audit=False`` (reads never emit)."""
        sid = None if subject_id is None else str(subject_id)
        self._pending_events.append(_PendingEvent(type, subject_type, sid, incident_id, list(audience),
                                                  payload or {}))
        if audit:
            self.audit(type, target_type=subject_type, target_id=sid, detail=payload or {})

    def audit(self, action: str, *, target_type: str | None = None, target_id: object = None,
              detail: dict[str, Any] | None = None) -> None:
        tid = None if target_id is None else str(target_id)
        self._pending_audit.append(_PendingAudit(action, target_type, tid, detail or {}))

    async def _write_records(self) -> None:
        if not self._pending_events and not self._pending_audit:
            return
        await self.session.flush()
        # One round trip for both id sequences (and on PostgreSQL the lock): each statement here runs inline,
        # under the write lock.
        if self.is_postgres:
            # The lock held by another process (an offload worker committing a batch, another server) is waited
            # for like any slow statement: inline for a moment, then through the loop (``inline_db``).
            with timing.phase("olock"):
                max_event, last_audit_id, last_hash = (
                    await self.session.execute(_ORDER_LOCK_AND_LAST_IDS, {"k": ORDER_LOCK_KEY})).one()
        else:
            max_event, last_audit_id, last_hash = (await self.session.execute(_LAST_IDS)).one()
        now = utcnow()
        actor_id = self.actor.user_id
        actor_name = self.actor.username
        # Core inserts, not ``session.add``: the rows are complete here, and the ORM's flush (unit-of-work
        # sorting, identity map, state tracking) cost ~0.4 ms of CPU per alarm intake (7.6 → 7.2 ms in-process
        # on SQLite), all of it under the write lock. ``self.events`` are the same rows as transient objects,
        # for the caller's use.
        events: list[dict[str, Any]] = []
        next_id = (max_event or 0) + 1
        for p in self._pending_events:
            row = {"id": next_id, "at": now, "type": p.type, "actor_id": actor_id, "actor_name": actor_name,
                   "subject_type": p.subject_type, "subject_id": p.subject_id, "incident_id": p.incident_id,
                   "audience": p.audience, "payload": p.payload}
            events.append(row)
            self.events.append(Event(**row))
            next_id += 1
        audit: list[AuditEntry] = []
        next_id, prev = (last_audit_id + 1, last_hash) if last_audit_id is not None else (1, GENESIS)
        for a in self._pending_audit:
            entry = AuditEntry(id=next_id, at=now, user_id=actor_id, username=actor_name,
                               role=self.actor.primary_role, action=a.action, target_type=a.target_type,
                               target_id=a.target_id, ip=self.actor.ip, detail=a.detail, prev_hash=prev, hash="")
            entry.hash = entry_hash(entry, prev)
            prev = entry.hash
            audit.append(entry)
            next_id += 1
        if self.is_postgres:
            await self.session.execute(_PG_RECORDS, _pg_records(events, audit, self.actor, now))
        else:
            if events:
                await self.session.execute(_INSERT_EVENTS, events)
            if audit:
                await self.session.execute(_INSERT_AUDIT, [{c: getattr(e, c) for c in _AUDIT_COLUMNS} for e in audit])
        self._pending_events.clear()
        self._pending_audit.clear()


class Writer:
    """Opens units of work and tells the bus after each commit that carried events."""

    def __init__(self, db: Database, notify: Callable[[int], Any]) -> None:
        self.db = db
        self._notify = notify
        self._committed: list[Callable[[list[Event]], Any]] = []

    def on_commit(self, fn: Callable[[list[Event]], Any]) -> None:
        """``fn(events)`` right after each commit that carried events, in this process, before the writer's
        caller goes on: what must see the process's own change at once (``ConfigCache``), not a pump later."""
        self._committed.append(fn)

    @asynccontextmanager
    async def __call__(self, actor: AnyActor, unlocked: Callable[[AsyncSession], Awaitable[None]] | None = None
                       ) -> AsyncIterator[UnitOfWork]:
        """``unlocked``: statements run first in the same transaction, outside the write lock where the
        database allows it (``Database.write``)."""
        async with self.db.write(unlocked) as session:
            uow = UnitOfWork(session, actor, is_postgres=not self.db.is_sqlite)
            yield uow
            await uow._write_records()
        if uow.events:
            for fn in self._committed:
                fn(uow.events)
            self._notify(uow.events[-1].id)
