"""Access tokens and the authenticated caller (the "actor") that every route and socket sees."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import jwt

from .errors import ApiError
from .permissions import permissions_for

log = logging.getLogger("ecs.security")

ALGORITHM = "HS256"
ISSUER = "ecs"


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    roles: tuple[str, ...]
    session_id: str  # the refresh-token family; logout revokes it
    ip: str | None = None
    permissions: frozenset[str] = field(default=frozenset())

    def can(self, perm: str) -> bool:
        return perm in self.permissions

    def require(self, perm: str) -> None:
        if perm not in self.permissions:
            raise ApiError(403, "forbidden", f"permission {perm} required", {"permission": perm})

    @property
    def primary_role(self) -> str:
        return self.roles[0] if self.roles else ""


@dataclass(frozen=True)
class SystemActor:
    """Writes made by the server itself (seeding, rules, schedulers)."""

    username: str = "system"
    user_id: None = None
    roles: tuple[str, ...] = ("system",)
    ip: str | None = None

    @property
    def primary_role(self) -> str:
        return "system"


def issue_access_token(secret: str, *, user_id: int, username: str, roles: list[str], session_id: str,
                       ttl_s: int) -> tuple[str, int]:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "name": username,
        "roles": roles,
        "sid": session_id,
        "iat": now,
        "exp": now + dt.timedelta(seconds=ttl_s),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), ttl_s


def decode_access_token(secret: str, token: str, *, ip: str | None = None) -> Actor:
    actor, exp = _verified(secret, token)
    if time.time() >= exp:  # as PyJWT decides it, with no leeway
        raise ApiError(401, "token_expired", "access token expired")
    return actor if ip is None else dataclasses.replace(actor, ip=ip)


@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Actor, float]:
    """A token's actor and expiry, its signature and claims checked once: a client sends the same token with
    every request until it refreshes it, and checking it was about a twentieth of the event loop's busy time
    under load (docs/performance.md, API latency, eleventh round). Only valid tokens are remembered (an
    exception is not cached); expiry is checked on every use by the caller, and a revoked session by the
    session guard, as before."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "sub", "sid"]})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token_expired", "access token expired") from None
    except jwt.PyJWTError:
        raise ApiError(401, "unauthorized", "invalid access token") from None
    roles = tuple(str(r) for r in claims.get("roles", []))
    actor = Actor(
        user_id=int(claims["sub"]),
        username=str(claims.get("name", "")),
        roles=roles,
        session_id=str(claims["sid"]),
        permissions=permissions_for(roles),
    )
    return actor, float(claims["exp"])


class SessionCache:
    """Remembers session liveness for a few seconds so that an authenticated request costs no extra query.

    A revocation made in this process is seen at once; one made by another process within ``ttl_s``.
    Past half its life an entry still in use is re-read in the background (``refresh_ahead``), so that a
    session or API key in steady use never makes a request wait for the read: every few seconds one
    request per session did, ~12 ms in the slowest 2 % under load (docs/performance.md, API latency, eleventh
    round). Nothing is ever answered from an entry older than ``ttl_s``.
    """

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[bool, float]] = {}
        self._refreshing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, session_id: str) -> bool | None:
        hit = self._entries.get(session_id)
        if hit is None or time.monotonic() - hit[1] > self.ttl_s:
            return None
        return hit[0]

    def put(self, session_id: str, alive: bool, at: float | None = None) -> None:
        """``at``: when the read that found it began (default now); an entry is as old as its read."""
        if len(self._entries) > 50_000:
            self._entries.clear()
        self._entries[session_id] = (alive, time.monotonic() if at is None else at)

    def refresh_ahead(self, session_id: str, read: Callable[[], Awaitable[bool]]) -> None:
        """Re-read a live entry past half its life in a background task (one at a time per entry). A
        revocation recorded while the read runs wins over it."""
        hit = self._entries.get(session_id)
        if (hit is None or not hit[0] or session_id in self._refreshing
                or time.monotonic() - hit[1] < self.ttl_s / 2):
            return
        self._refreshing.add(session_id)

        async def run() -> None:
            started = time.monotonic()
            try:
                alive = await read()
                current = self._entries.get(session_id)
                if current is None or current[1] <= started:
                    self.put(session_id, alive, at=started)
            except Exception:
                log.warning("background liveness read of %s failed; the next request reads it", session_id,
                            exc_info=True)
            finally:
                self._refreshing.discard(session_id)

        task = asyncio.get_running_loop().create_task(run(), name="liveness-refresh")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop background reads (the app is shutting down)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def mark_revoked(self, session_id: str) -> None:
        self.put(session_id, False)
