"""API keys for external systems: creation (the key is shown once), revocation, and resolving an
``X-API-Key`` header to an ``Actor`` whose permissions are the key's scopes.

A key is ``ecs_`` + 43 url-safe characters (32 random bytes). Stored is its SM3 digest: the key has 256 bits
of entropy, so a slow password hash would add cost to every request and no protection. The actor of a key has
user id ``-<key id>`` and username ``apikey:<name>``, so events and the audit trail show which system acted.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select, update

from ..core.db import utcnow
from ..core.errors import ApiError, conflict, not_found
from ..core.security import Actor
from ..core.services import Services, services
from ..core.uow import AnyActor
from .models import ApiKey
from .schemas import ApiKeyIn

log = logging.getLogger("ecs.integrations")

KEY_PREFIX = "ecs_"
SHOWN_PREFIX_LEN = 12
ROLE = "integration"
AUDIENCE = ["role:admin"]
TOUCH_EVERY_S = 60.0  # last_used_at is bookkeeping: written at most once a minute per key and process


def digest(key: str) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(key.encode("utf-8"))
    return h.finalize().hex()


def key_out(k: ApiKey, **extra: Any) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes or []),
            "description": k.description, "created_by_name": k.created_by_name, "created_at": k.created_at,
            "revoked_at": k.revoked_at, "last_used_at": k.last_used_at, "active": k.revoked_at is None, **extra}


async def list_keys(svc: Services) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        rows = (await s.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id))).all()
    return [key_out(k) for k in rows]


async def create_key(svc: Services, actor: AnyActor, body: ApiKeyIn) -> dict[str, Any]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    async with svc.write(actor) as uow:
        s = uow.session
        same = await s.scalar(select(ApiKey.id).where(ApiKey.name == body.name, ApiKey.revoked_at.is_(None)))
        if same is not None:
            raise conflict("duplicate_name", f"an active API key named {body.name} exists; revoke it first",
                           {"api_key_id": same})
        k = ApiKey(name=body.name, prefix=key[:SHOWN_PREFIX_LEN], key_hash=digest(key), scopes=body.scopes,
                   description=body.description, created_by=actor.user_id, created_by_name=actor.username)
        s.add(k)
        await s.flush()
        uow.emit("api_key.created", subject_type="api_key", subject_id=k.id,
                 payload={"name": k.name, "prefix": k.prefix, "scopes": k.scopes}, audience=AUDIENCE)
    return key_out(k, key=key)


def liveness_key(key_id: int) -> str:
    """The key's entry in the session-liveness cache (``core/security.SessionCache``): a key is revoked the way
    a session is, and its actor's ``session_id`` is this."""
    return f"apikey:{key_id}"


async def revoke_key(svc: Services, actor: AnyActor, key_id: int) -> None:
    """Revoke (idempotent): the key stops working at once in this process, and in every other one when its
    event pump delivers ``api_key.revoked`` (``KeyResolver.on_events``; at the latest after the liveness
    cache's few seconds)."""
    async with svc.write(actor) as uow:
        k = await uow.session.get(ApiKey, key_id)
        if k is None:
            raise not_found("api_key", key_id)
        if k.revoked_at is not None:
            return
        k.revoked_at = utcnow()
        uow.emit("api_key.revoked", subject_type="api_key", subject_id=k.id,
                 payload={"name": k.name, "prefix": k.prefix}, audience=AUDIENCE)
    svc.sessions.mark_revoked(liveness_key(key_id))


async def _key_alive(svc: Services, key_digest: str) -> bool:
    async with svc.db.read() as s:
        revoked = (await s.execute(select(ApiKey.revoked_at).where(ApiKey.key_hash == key_digest))).first()
    return revoked is not None and revoked[0] is None


class KeyResolver:
    """The ``API_KEY_AUTH`` hook. A key's id, name and scopes never change after it is created, so they are
    remembered by digest; whether it is still valid is remembered like a session's liveness (``SessionCache``:
    a few seconds), dropped at once on revocation. An integration pushing readings every few seconds thus
    costs no query per request — the lookup was a read session on the event loop, ~3 ms of each readings
    batch under load and 13 ms of its tail (``Server-Timing``, docs/performance.md, tenth round)."""

    MAX_KEYS = 10_000  # an unknown key is never remembered, so this bounds only real keys

    def __init__(self) -> None:
        self._touched: dict[int, float] = {}
        self._keys: dict[str, tuple[int, str, frozenset[str]]] = {}  # digest → (id, name, scopes)
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, request: web.Request, key: str) -> Actor:
        key = key.strip()
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            raise ApiError(401, "invalid_api_key", "the API key is not valid")
        svc = services(request.app)
        d = digest(key)
        known = self._keys.get(d)
        alive = None if known is None else svc.sessions.get(liveness_key(known[0]))
        if known is None or alive is None:
            started = time.monotonic()
            async with svc.db.read() as s:
                k = await s.scalar(select(ApiKey).where(ApiKey.key_hash == d))
            if k is None:
                raise ApiError(401, "invalid_api_key", "the API key is not valid or has been revoked")
            known = (k.id, k.name, frozenset(k.scopes or []))
            alive = k.revoked_at is None
            if len(self._keys) >= self.MAX_KEYS:
                self._keys.clear()
            self._keys[d] = known
            svc.sessions.put(liveness_key(k.id), alive, at=started)
        else:
            svc.sessions.refresh_ahead(liveness_key(known[0]), lambda: _key_alive(svc, d))
        if not alive:
            raise ApiError(401, "invalid_api_key", "the API key is not valid or has been revoked")
        key_id, name, scopes = known
        self._touch(svc, key_id)
        return Actor(user_id=-key_id, username=f"apikey:{name}", roles=(ROLE,), session_id=liveness_key(key_id),
                     ip=request.remote, permissions=scopes)

    def watch(self, svc: Services) -> None:
        """Hear of revocations made by other processes as soon as their events arrive."""

        async def on_events(batch: list[Any]) -> None:
            for ev in batch:
                if ev.type == "api_key.revoked" and ev.subject_id is not None:
                    svc.sessions.mark_revoked(liveness_key(int(ev.subject_id)))

        svc.pump.subscribe(on_events)

    def _touch(self, svc: Services, key_id: int) -> None:
        # Not a unit of work: "last used" is bookkeeping, and an event per request (or per minute per key)
        # would drown the event log; the request itself is what the audit records. Written in the
        # background: the request it was part of waited for a write transaction and its commit once a
        # minute per key (the slowest readings batches; docs/performance.md, API latency, eleventh round).
        now = time.monotonic()
        if now - self._touched.get(key_id, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
            return
        self._touched[key_id] = now
        task = asyncio.get_running_loop().create_task(self._write_touch(svc, key_id), name="api-key-touch")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _write_touch(svc: Services, key_id: int) -> None:
        try:
            async with svc.db.write() as s:
                await s.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))
        except Exception:
            log.warning("could not record that API key %s was used", key_id, exc_info=True)

    async def close(self) -> None:
        """Let a last-used write in flight finish (the app is shutting down)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
