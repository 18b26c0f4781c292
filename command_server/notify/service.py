"""Notifications: one row per recipient (acknowledgement), a ``notification.created`` event to ``user:<id>``
(every Socket.IO namespace — console, mobile, screen — receives it), and an SMS queued in the outbox.

``notify`` runs inside the caller's unit of work, so the notifications commit (or roll back) with the
caller's change. The outbox is drained after commit by ``SmsDispatcher`` (see ``lifecycle.py``): woken by the
``notification.created`` events through the pump, claimed row by row with an atomic UPDATE so that with
several server processes each SMS is sent once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from typing import Any

from aiohttp import web
from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from ..auth.models import User
from ..core.db import utcnow
from ..core.errors import ApiError, not_found
from ..core.events import Event
from ..core.security import Actor
from ..core.services import Services
from ..core.uow import UnitOfWork
from ..org.models import Person
from .models import Notification, SmsOutbox
from .sms import SmsResult, SmsSender, signature

log = logging.getLogger("ecs.notify")

CHANNELS = ("inapp", "sms")
SMS_MAX_CHARS = 480
CLAIM_STALE_AFTER = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 3
RECORD_EVERY_S = 1.0  # a slow gateway's outcomes are recorded at least this often


_REACHABLE = (select(User.id, Person.mobile).outerjoin(Person, Person.user_id == User.id)
              .where(User.id.in_(bindparam("ids", expanding=True)), User.is_active.is_(True))
              .order_by(User.id, Person.id))
_INSERT_NOTIFICATIONS = insert(Notification.__table__).returning(Notification.__table__.c.id,
                                                                  sort_by_parameter_order=True)


def notification_out(n: Notification) -> dict[str, Any]:
    return {"id": n.id, "user_id": n.user_id, "title": n.title, "body": n.body, "level": n.level,
            "channels": list(n.channels or []), "subject": {"type": n.subject_type, "id": n.subject_id},
            "incident_id": n.incident_id, "created_at": n.created_at, "acked_at": n.acked_at,
            "sms_status": n.sms_status}


async def notify(uow: UnitOfWork, *, user_ids: list[int], title: str, body: str, level: str = "info",
                 channels: tuple[str, ...] = ("inapp", "sms"), subject_type: str | None = None,
                 subject_id: object = None, incident_id: int | None = None,
                 reachable: dict[int, str | None] | None = None) -> list[Notification]:
    """Notify users inside the caller's unit of work; returns one Notification per (active) recipient.

    Unknown or inactive user ids are skipped. SMS goes to the mobile of the person linked to the user
    (``Person.user_id``); a user without one gets an outbox row with status ``skipped``. ``reachable``: the
    active users among ``user_ids`` with their mobiles, when the caller has read them already (a warning
    opened by a readings batch: ``warnings.engine.warning_contexts``).
    """
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        raise ValueError(f"unknown notification channel(s) {bad}; use {CHANNELS}")
    wanted = list(dict.fromkeys(int(u) for u in user_ids))
    if not wanted:
        return []
    s = uow.session
    # active recipients and their mobiles in one round trip (a user linked to several people: the first mobile)
    active: set[int] = set()
    phones: dict[int, str | None] = {}
    for uid, mobile in (reachable.items() if reachable is not None
                        else (await s.execute(_REACHABLE, {"ids": wanted})).all()):
        active.add(uid)
        if phones.get(uid) is None:
            phones[uid] = mobile
    recipients = [u for u in wanted if u in active]
    if len(recipients) < len(wanted):
        log.info("notify: skipped unknown or inactive users %s", sorted(set(wanted) - active))
    if not recipients:
        return []
    sid = None if subject_id is None else str(subject_id)
    title = title[:200]
    now = utcnow()
    values = [{"user_id": uid, "title": title, "body": body, "level": level[:16], "channels": list(channels),
               "subject_type": subject_type, "subject_id": sid, "incident_id": incident_id, "created_at": now,
               "acked_at": None, "extra": {},
               "sms_status": ("queued" if phones.get(uid) else "skipped") if "sms" in channels else "none"}
              for uid in recipients]
    # Core INSERTs, not the ORM's flush: the rows are complete here, and a warning opened by a readings batch
    # notifies inside the batch's transaction (docs/performance.md, API latency, eleventh round). The returned
    # Notifications are the same rows as transient objects, for the caller's use.
    ids = (await s.execute(_INSERT_NOTIFICATIONS, values)).scalars().all()
    rows = [Notification(id=i, **v) for i, v in zip(ids, values, strict=True)]
    if "sms" in channels:
        text = f"{signature()}{title}：{body}"[:SMS_MAX_CHARS]
        await s.execute(insert(SmsOutbox.__table__), [
            {"notification_id": n.id, "user_id": n.user_id, "phone": phones.get(n.user_id), "text": text,
             "status": "queued" if phones.get(n.user_id) else "skipped", "attempts": 0, "created_at": now,
             "last_error": None if phones.get(n.user_id) else "no mobile number for this user"}
            for n in rows])
    for n in rows:
        uow.emit("notification.created", subject_type="notification", subject_id=n.id, incident_id=incident_id,
                 payload={"id": n.id, "title": n.title, "body": n.body, "level": n.level,
                          "subject": {"type": subject_type, "id": sid}, "channels": list(channels)},
                 audience=[f"user:{n.user_id}"], audit=False)
    uow.audit("notification.sent", target_type=subject_type, target_id=sid,
              detail={"title": title, "level": level, "user_ids": recipients, "channels": list(channels),
                      "sms_skipped": [n.user_id for n in rows if n.sms_status == "skipped"]})
    return rows


async def list_notifications(svc: Services, actor: Actor, *, unread: bool | None, limit: int,
                             before_id: int | None) -> dict[str, Any]:
    async with svc.db.read() as s:
        cond = [Notification.user_id == actor.user_id]
        if unread is True:
            cond.append(Notification.acked_at.is_(None))
        elif unread is False:
            cond.append(Notification.acked_at.is_not(None))
        total = await s.scalar(select(func.count()).select_from(Notification).where(*cond)) or 0
        unread_count = await s.scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id == actor.user_id, Notification.acked_at.is_(None))) or 0
        q = select(Notification).where(*cond)
        if before_id is not None:
            q = q.where(Notification.id < before_id)
        rows = (await s.scalars(q.order_by(Notification.id.desc()).limit(limit))).all()
    return {"items": [notification_out(n) for n in rows], "total": total, "unread": unread_count}


async def ack_notification(svc: Services, actor: Actor, nid: int) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        n = await uow.session.get(Notification, nid)
        if n is None or n.user_id != actor.user_id:
            raise not_found("notification", nid)
        if n.acked_at is None:
            n.acked_at = dt.datetime.now(dt.UTC)
            await uow.session.flush()
            uow.emit("notification.acked", subject_type="notification", subject_id=n.id,
                     incident_id=n.incident_id,
                     payload={"id": n.id, "subject": {"type": n.subject_type, "id": n.subject_id}},
                     audience=[f"user:{n.user_id}"])
        if n.subject_type == "warning" and n.subject_id and n.subject_id.isdigit():
            # acknowledging a warning's notification acknowledges the warning for this recipient
            from ..warnings.service import ack_in

            await ack_in(uow, actor, int(n.subject_id), missing_ok=True)
    return notification_out(n)


async def ack_subject_notifications(uow: UnitOfWork, user_id: int, subject_type: str, subject_id: object) -> None:
    """Mark the user's notifications about one subject acknowledged (used when the subject itself is acked)."""
    await uow.session.execute(update(Notification).where(
        Notification.user_id == user_id, Notification.subject_type == subject_type,
        Notification.subject_id == str(subject_id), Notification.acked_at.is_(None)
    ).values(acked_at=dt.datetime.now(dt.UTC)))


# --- SMS after commit ---------------------------------------------------------------------------------

class SmsDispatcher:
    """Drains the outbox: claims queued rows atomically, sends them, records the outcome."""

    def __init__(self, svc: Services, sender: SmsSender) -> None:
        self.svc = svc
        self.sender = sender
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    async def on_events(self, events: list[Event]) -> None:
        if any(e.type == "notification.created" for e in events):
            self.wake()

    def start(self, poll_s: float = 15.0) -> None:
        self._task = asyncio.create_task(self._run(poll_s), name="sms-dispatcher")
        self.wake()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self, poll_s: float) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):  # not wait_for: on 3.11 it can swallow a cancel (stop)
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sms dispatcher: draining the outbox failed")

    async def drain(self, *, batch: int = 50) -> int:
        """Send every queued SMS; returns how many were attempted (safe to call from several processes).

        Outcomes are recorded together, in one transaction per claimed batch, or sooner once ``RECORD_EVERY_S``
        has passed: a transaction per message took the write lock and a commit per SMS, and a burst of warnings
        (one SMS per recipient) queued every other write of the process behind them (docs/performance.md, API
        latency, eighth round). A crash after sending and before recording resends those messages once the
        claim is stale, as it would resend one before."""
        sent = 0
        async with self._lock:
            while True:
                claimed = await self._claim(batch)
                if not claimed:
                    return sent
                outcomes: list[tuple[int, SmsResult]] = []
                since = time.monotonic()
                for row_id, phone, text in claimed:
                    outcomes.append((row_id, await self.sender.send(phone, text)))
                    sent += 1
                    if time.monotonic() - since >= RECORD_EVERY_S:
                        await self._record(outcomes)
                        outcomes, since = [], time.monotonic()
                await self._record(outcomes)

    async def _claim(self, batch: int) -> list[tuple[int, str, str]]:
        token = uuid.uuid4().hex
        now = dt.datetime.now(dt.UTC)
        stale = now - CLAIM_STALE_AFTER
        async with self.svc.db.write() as s:
            ids = (await s.scalars(select(SmsOutbox.id).where(or_(
                SmsOutbox.status == "queued",
                and_(SmsOutbox.status == "sending", SmsOutbox.claimed_at < stale))
            ).order_by(SmsOutbox.id).limit(batch))).all()
            if not ids:
                return []
            await s.execute(update(SmsOutbox).where(SmsOutbox.id.in_(ids), or_(
                SmsOutbox.status == "queued", and_(SmsOutbox.status == "sending", SmsOutbox.claimed_at < stale))
            ).values(status="sending", claim=token, claimed_at=now, attempts=SmsOutbox.attempts + 1))
        async with self.svc.db.read() as s:
            rows = (await s.execute(select(SmsOutbox.id, SmsOutbox.phone, SmsOutbox.text)
                                    .where(SmsOutbox.claim == token).order_by(SmsOutbox.id))).all()
        return [(r[0], r[1] or "", r[2]) for r in rows]

    async def _record(self, outcomes: list[tuple[int, SmsResult]]) -> None:
        if not outcomes:
            return
        now = dt.datetime.now(dt.UTC)
        async with self.svc.db.write() as s:
            rows = {r.id: r for r in (await s.execute(
                select(SmsOutbox.id, SmsOutbox.attempts, SmsOutbox.user_id, SmsOutbox.notification_id)
                .where(SmsOutbox.id.in_([row_id for row_id, _ in outcomes])))).all()}
            changes: list[dict[str, Any]] = []
            final: list[dict[str, Any]] = []  # notifications whose SMS is sent or has failed for good
            for row_id, result in outcomes:
                row = rows.get(row_id)
                if row is None:
                    continue
                if result.ok:
                    status, sent_at, error = "sent", now, None
                else:
                    status = "failed" if row.attempts >= MAX_ATTEMPTS else "queued"
                    sent_at, error = None, (result.error or "send failed")[:500]
                    log.warning("sms %s to user %s failed (attempt %s): %s", row_id, row.user_id, row.attempts,
                                result.error)
                changes.append({"b_id": row_id, "b_status": status, "b_sent_at": sent_at,
                                "b_ref": result.provider_ref if result.ok else None, "b_error": error})
                if row.notification_id is not None and status in ("sent", "failed"):
                    final.append({"b_id": row.notification_id, "b_status": status})
            conn = await s.connection()  # Core executemany: one statement for the whole batch
            outbox, notifications = SmsOutbox.__table__, Notification.__table__
            if changes:
                await conn.execute(update(outbox).where(outbox.c.id == bindparam("b_id")).values(
                    status=bindparam("b_status"), sent_at=bindparam("b_sent_at"), provider_ref=bindparam("b_ref"),
                    last_error=bindparam("b_error"), claim=None), changes)
            if final:
                await conn.execute(update(notifications).where(notifications.c.id == bindparam("b_id")).values(
                    sms_status=bindparam("b_status")), final)


SMS_DISPATCHER: web.AppKey[SmsDispatcher] = web.AppKey("sms_dispatcher")


def dispatcher(app: web.Application) -> SmsDispatcher:
    return app[SMS_DISPATCHER]


def require_user(actor: Actor) -> None:
    if actor.user_id is None:
        raise ApiError(403, "forbidden", "only a user has notifications")
