"""Access tokens and the authenticated caller (the "actor") that every route and socket sees."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
import uuid
from dataclasses import dataclass, field

import jwt

from .errors import ApiError
from .permissions import permissions_for

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
    """

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[bool, float]] = {}

    def get(self, session_id: str) -> bool | None:
        hit = self._entries.get(session_id)
        if hit is None or time.monotonic() - hit[1] > self.ttl_s:
            return None
        return hit[0]

    def put(self, session_id: str, alive: bool) -> None:
        if len(self._entries) > 50_000:
            self._entries.clear()
        self._entries[session_id] = (alive, time.monotonic())

    def mark_revoked(self, session_id: str) -> None:
        self.put(session_id, False)
