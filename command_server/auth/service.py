"""Login, rotating refresh tokens, logout, TOTP, lockout and user administration."""

from __future__ import annotations

import datetime as dt
import io
import secrets
import time
from dataclasses import dataclass

import pyotp
import qrcode
import qrcode.image.svg
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..core.audit import sm3_hex
from ..core.errors import ApiError, conflict, not_found
from ..core.permissions import permissions_for
from ..core.security import Actor, SystemActor, issue_access_token
from ..core.services import Services
from ..core.uow import AnyActor, UnitOfWork
from .models import AuthSession, RefreshToken, User
from .passwords import Passwords
from .schemas import TokenOut, UserCreateIn, UserOut, UserPatchIn

TOTP_ISSUER = "ECS 环境应急指挥"
PASSWORDS: web.AppKey[Passwords] = web.AppKey("passwords")


def _token_hash(token: str) -> str:
    return sm3_hex(token.encode())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def user_out(svc: Services, user: User) -> UserOut:
    from ..org.models import Person  # lazy: org depends on auth, not the other way round

    async with svc.db.read() as s:
        person_id = await s.scalar(select(Person.id).where(Person.user_id == user.id))
    return UserOut(
        id=user.id, username=user.username, display_name=user.display_name, roles=list(user.roles),
        permissions=sorted(permissions_for(user.roles)), totp_enabled=user.totp_enabled,
        is_active=user.is_active, person_id=person_id,
        locked_until=user.locked_until.isoformat() if user.locked_until and user.locked_until > _now() else None,
    )


@dataclass
class LoginContext:
    ip: str | None
    user_agent: str | None


async def _issue(svc: Services, s: AsyncSession, user: User, session_id: str) -> tuple[str, str, int]:
    raw = secrets.token_urlsafe(32)
    s.add(RefreshToken(session_id=session_id, token_hash=_token_hash(raw),
                       expires_at=_now() + dt.timedelta(seconds=svc.settings.refresh_token_ttl_s)))
    access, ttl = issue_access_token(svc.settings.secret_key, user_id=user.id, username=user.username,
                                     roles=list(user.roles), session_id=session_id,
                                     ttl_s=svc.settings.access_token_ttl_s)
    return access, raw, ttl


async def login(svc: Services, pw: Passwords, username: str, password: str, totp: str | None,
                ctx: LoginContext) -> TokenOut:
    async with svc.db.read() as s:
        user = await s.scalar(select(User).where(User.username == username))
    ok = await pw.verify(user.password_hash if user else None, password)
    actor = SystemActor(username=username[:64], ip=ctx.ip)
    if user is None or not user.is_active:
        async with svc.write(actor) as uow:
            uow.audit("auth.login_failed", target_type="user", target_id=username[:64],
                      detail={"reason": "unknown_or_disabled"})
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    now = _now()
    if user.locked_until and user.locked_until > now:
        raise ApiError(423, "account_locked", "account locked after repeated failures",
                       {"locked_until": user.locked_until.isoformat()})
    error: ApiError | None = None
    step: int | None = None
    if not ok:
        error = ApiError(401, "invalid_credentials", "wrong username or password")
    elif user.totp_enabled:
        if not totp:
            raise ApiError(401, "totp_required", "a one-time code is required", {})
        step = _verify_totp(user.totp_secret or "", totp, user.totp_last_step)
        if step is None:
            error = ApiError(401, "totp_invalid", "the one-time code is wrong or already used")
    async with svc.write(actor) as uow:
        u = await uow.session.get(User, user.id, with_for_update=True)
        assert u is not None
        if error is not None:
            u.failed_logins += 1
            detail = {"reason": error.code, "failures": u.failed_logins}
            if u.failed_logins >= svc.settings.login_max_failures:
                u.locked_until = now + dt.timedelta(seconds=svc.settings.lockout_s)
                u.failed_logins = 0
                detail["locked_until"] = u.locked_until.isoformat()
                uow.emit("auth.account_locked", subject_type="user", subject_id=u.id, payload=detail,
                         audience=["role:admin", f"user:{u.id}"])
                error = ApiError(423, "account_locked", "account locked after repeated failures",
                                 {"locked_until": u.locked_until.isoformat()})
            else:
                uow.audit("auth.login_failed", target_type="user", target_id=u.id, detail=detail)
        else:
            u.failed_logins = 0
            u.locked_until = None
            u.last_login_at = now
            if step is not None:
                u.totp_last_step = step
            if pw.needs_rehash(u.password_hash):
                u.password_hash = await pw.hash(password)
            session_id = secrets.token_hex(16)
            uow.session.add(AuthSession(id=session_id, user_id=u.id, ip=ctx.ip,
                                        user_agent=(ctx.user_agent or "")[:255]))
            await uow.session.flush()
            access, refresh, ttl = await _issue(svc, uow.session, u, session_id)
            uow.emit("auth.login", subject_type="user", subject_id=u.id,
                     payload={"session_id": session_id, "ip": ctx.ip}, audience=[f"user:{u.id}"])
            user = u
    if error is not None:
        raise error
    return TokenOut(access_token=access, refresh_token=refresh, expires_in=ttl, user=await user_out(svc, user))


def _verify_totp(secret: str, code: str, last_step: int | None) -> int | None:
    """Return the accepted time step, or None. One step of clock drift either way; a used step is refused."""
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in (now_step, now_step - 1, now_step + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def refresh(svc: Services, raw: str, ip: str | None) -> TokenOut:
    h = _token_hash(raw)
    async with svc.db.read() as s:
        row = (await s.execute(select(RefreshToken, AuthSession, User)
                               .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                               .join(User, User.id == AuthSession.user_id)
                               .where(RefreshToken.token_hash == h))).first()
    if row is None:
        raise ApiError(401, "invalid_refresh_token", "refresh token not recognised")
    token, session, user = row
    now = _now()
    actor = Actor(user.id, user.username, tuple(user.roles), session.id, ip, permissions_for(user.roles))
    if session.revoked_at is not None or not user.is_active:
        raise ApiError(401, "session_revoked", "this session has ended; log in again")
    if token.used_at is not None:
        # A rotated token came back: it was stolen or replayed. End the whole family.
        async with svc.write(actor) as uow:
            await _revoke(uow, session.id, user.id, "refresh_reuse")
        svc.sessions.mark_revoked(session.id)
        raise ApiError(401, "refresh_token_reused", "refresh token reuse detected; the session was revoked")
    if token.expires_at <= now:
        raise ApiError(401, "refresh_token_expired", "refresh token expired; log in again")
    async with svc.write(actor) as uow:
        claimed = await uow.session.execute(
            update(RefreshToken).where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
            .values(used_at=now))
        if claimed.rowcount != 1:  # lost a race with another refresh of the same token
            raise ApiError(401, "refresh_token_reused", "refresh token already used")
        access, new_raw, ttl = await _issue(svc, uow.session, user, session.id)
        uow.audit("auth.refresh", target_type="user", target_id=user.id, detail={"session_id": session.id})
    return TokenOut(access_token=access, refresh_token=new_raw, expires_in=ttl, user=await user_out(svc, user))


async def _revoke(uow: UnitOfWork, session_id: str, user_id: int, reason: str) -> None:
    s = uow.session
    await s.execute(update(AuthSession).where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
                    .values(revoked_at=_now(), revoked_reason=reason))
    uow.emit("auth.session_revoked", subject_type="user", subject_id=user_id,
             payload={"session_id": session_id, "reason": reason}, audience=[f"user:{user_id}"])


async def logout(svc: Services, raw: str, ip: str | None) -> None:
    async with svc.db.read() as s:
        row = (await s.execute(select(RefreshToken, AuthSession, User)
                               .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                               .join(User, User.id == AuthSession.user_id)
                               .where(RefreshToken.token_hash == _token_hash(raw)))).first()
    if row is None:
        raise ApiError(401, "invalid_refresh_token", "refresh token not recognised")
    _token, session, user = row
    if session.revoked_at is None:
        actor = Actor(user.id, user.username, tuple(user.roles), session.id, ip, permissions_for(user.roles))
        async with svc.write(actor) as uow:
            await _revoke(uow, session.id, user.id, "logout")
    svc.sessions.mark_revoked(session.id)


# --- session guard: is this access token's session still alive? -----------------------------------

async def _session_alive(svc: Services, session_id: str) -> bool:
    async with svc.db.read() as s:
        row = (await s.execute(select(AuthSession.revoked_at, User.is_active)
                               .join(User, User.id == AuthSession.user_id)
                               .where(AuthSession.id == session_id))).first()
    return row is not None and row[0] is None and bool(row[1])


async def session_alive(svc: Services, actor: Actor) -> None:
    cache = svc.sessions
    sid = actor.session_id
    alive = cache.get(sid)
    if alive is None:
        started = time.monotonic()
        alive = await _session_alive(svc, sid)
        cache.put(sid, alive, at=started)
    else:
        cache.refresh_ahead(sid, lambda: _session_alive(svc, sid))
    if not alive:
        raise ApiError(401, "session_revoked", "this session has ended; log in again")


# --- TOTP enrolment -------------------------------------------------------------------------------

async def totp_enroll(svc: Services, actor: Actor) -> dict[str, str]:
    secret = pyotp.random_base32()
    async with svc.write(actor) as uow:
        user = await uow.session.get(User, actor.user_id)
        if user is None:
            raise not_found("user", actor.user_id)
        if user.totp_enabled:
            raise conflict("totp_already_enabled", "two-factor login is already enabled; disable it first")
        user.totp_pending_secret = secret
        uow.audit("auth.totp_enroll_started", target_type="user", target_id=user.id)
        username = user.username
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)
    img = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    buf = io.BytesIO()
    img.save(buf)
    return {"secret": secret, "otpauth_uri": uri, "qr_svg": buf.getvalue().decode("utf-8")}


async def totp_confirm(svc: Services, actor: Actor, code: str) -> bool:
    async with svc.write(actor) as uow:
        user = await uow.session.get(User, actor.user_id)
        if user is None or not user.totp_pending_secret:
            raise conflict("totp_not_enrolling", "start the enrolment first")
        step = _verify_totp(user.totp_pending_secret, code, None)
        if step is None:
            raise ApiError(400, "totp_invalid", "the one-time code is wrong")
        user.totp_secret, user.totp_pending_secret = user.totp_pending_secret, None
        user.totp_enabled = True
        user.totp_last_step = step
        uow.emit("auth.totp_enabled", subject_type="user", subject_id=user.id, audience=[f"user:{user.id}"])
    return True


async def totp_disable(svc: Services, actor: Actor, code: str) -> bool:
    async with svc.write(actor) as uow:
        user = await uow.session.get(User, actor.user_id)
        if user is None or not user.totp_enabled:
            raise conflict("totp_not_enabled", "two-factor login is not enabled")
        if _verify_totp(user.totp_secret or "", code, user.totp_last_step) is None:
            raise ApiError(400, "totp_invalid", "the one-time code is wrong or already used")
        user.totp_enabled = False
        user.totp_secret = None
        user.totp_last_step = None
        uow.emit("auth.totp_disabled", subject_type="user", subject_id=user.id, audience=[f"user:{user.id}"])
    return False


# --- user administration --------------------------------------------------------------------------

async def list_users(svc: Services) -> list[UserOut]:
    async with svc.db.read() as s:
        users = (await s.scalars(select(User).order_by(User.id))).all()
    return [await user_out(svc, u) for u in users]


async def create_user(svc: Services, pw: Passwords, actor: AnyActor, data: UserCreateIn,
                      *, is_demo: bool = False) -> User:
    hashed = await pw.hash(data.password)
    async with svc.write(actor) as uow:
        if await uow.session.scalar(select(User.id).where(User.username == data.username)):
            raise conflict("username_taken", f"username {data.username} is taken")
        user = User(username=data.username, display_name=data.display_name, password_hash=hashed,
                    roles=data.roles, is_demo=is_demo, is_active=True, failed_logins=0, totp_enabled=False)
        uow.session.add(user)
        await uow.session.flush()
        uow.emit("user.created", subject_type="user", subject_id=user.id,
                 payload={"username": user.username, "roles": user.roles}, audience=["role:admin"])
    return user


async def patch_user(svc: Services, pw: Passwords, actor: Actor, user_id: int, data: UserPatchIn) -> User:
    hashed = await pw.hash(data.password) if data.password else None
    async with svc.write(actor) as uow:
        user = await uow.session.get(User, user_id)
        if user is None:
            raise not_found("user", user_id)
        changed: dict[str, object] = {}
        if data.display_name is not None:
            user.display_name = changed["display_name"] = data.display_name
        if data.roles is not None:
            if user.id == actor.user_id and "admin" not in data.roles:
                raise conflict("cannot_demote_self", "an admin cannot remove their own admin role")
            user.roles = changed["roles"] = data.roles  # type: ignore[assignment]
        if hashed is not None:
            user.password_hash = hashed
            user.is_demo = False
            changed["password"] = "changed"
        if data.unlock:
            user.locked_until = None
            user.failed_logins = 0
            changed["unlocked"] = True
        end_sessions = data.roles is not None or hashed is not None
        if data.is_active is not None:
            if user.id == actor.user_id and not data.is_active:
                raise conflict("cannot_disable_self", "an admin cannot disable their own account")
            user.is_active = changed["is_active"] = data.is_active  # type: ignore[assignment]
            end_sessions = end_sessions or not data.is_active
        if end_sessions:
            live = (await uow.session.scalars(select(AuthSession.id).where(
                AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None)))).all()
            for sid in live:
                await _revoke(uow, sid, user.id, "account_changed")
                svc.sessions.mark_revoked(sid)
        uow.emit("user.updated", subject_type="user", subject_id=user.id, payload=changed, audience=["role:admin"])
    return user


async def change_password(svc: Services, pw: Passwords, actor: Actor, old: str, new: str) -> None:
    async with svc.db.read() as s:
        user = await s.get(User, actor.user_id)
    if user is None or not await pw.verify(user.password_hash, old):
        raise ApiError(400, "wrong_password", "the current password is wrong")
    hashed = await pw.hash(new)
    async with svc.write(actor) as uow:
        u = await uow.session.get(User, actor.user_id)
        assert u is not None
        u.password_hash = hashed
        u.is_demo = False
        uow.audit("auth.password_changed", target_type="user", target_id=u.id)
