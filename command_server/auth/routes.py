from __future__ import annotations

from ..core.api import Ctx, RouteTable, client_ip
from ..core.errors import not_found
from ..core.services import services
from . import service
from .models import User
from .schemas import (
    LoginIn,
    PasswordChangeIn,
    RefreshIn,
    TokenOut,
    TotpCodeIn,
    TotpEnrollOut,
    TotpStateOut,
    UserCreateIn,
    UserOut,
    UserPatchIn,
)
from .service import PASSWORDS

routes = RouteTable("auth")


@routes.post("/api/v1/auth/login", public=True, body=LoginIn, response=TokenOut)
async def login(ctx: Ctx) -> TokenOut:
    """Log in with username and password (and a TOTP code when enabled)."""
    b: LoginIn = ctx.body
    return await service.login(services(ctx.app), ctx.app[PASSWORDS], b.username, b.password, b.totp,
                               service.LoginContext(client_ip(ctx.request), ctx.request.headers.get("User-Agent")))


@routes.post("/api/v1/auth/refresh", public=True, body=RefreshIn, response=TokenOut)
async def refresh(ctx: Ctx) -> TokenOut:
    """Exchange a refresh token for new tokens; the refresh token rotates, reuse revokes the session."""
    return await service.refresh(services(ctx.app), ctx.body.refresh_token, client_ip(ctx.request))


@routes.post("/api/v1/auth/logout", public=True, body=RefreshIn, status=204)
async def logout(ctx: Ctx) -> None:
    """End the session the refresh token belongs to (authenticated by possession of that token)."""
    await service.logout(services(ctx.app), ctx.body.refresh_token, client_ip(ctx.request))


@routes.get("/api/v1/auth/me", perm="profile:read", response=UserOut)
async def me(ctx: Ctx) -> UserOut:
    """The logged-in user with roles and permissions."""
    svc = services(ctx.app)
    async with svc.db.read() as s:
        user = await s.get(User, ctx.user.user_id)
    if user is None:
        raise not_found("user", ctx.user.user_id)
    return await service.user_out(svc, user)


@routes.post("/api/v1/auth/password", perm="profile:write", body=PasswordChangeIn, status=204)
async def change_password(ctx: Ctx) -> None:
    """Change one's own password."""
    await service.change_password(services(ctx.app), ctx.app[PASSWORDS], ctx.user, ctx.body.old_password,
                                  ctx.body.new_password)


@routes.post("/api/v1/auth/totp/enroll", perm="profile:write", response=TotpEnrollOut)
async def totp_enroll(ctx: Ctx) -> dict[str, str]:
    """Start TOTP enrolment: returns the secret, an otpauth:// URI and a QR code (SVG)."""
    return await service.totp_enroll(services(ctx.app), ctx.user)


@routes.post("/api/v1/auth/totp/confirm", perm="profile:write", body=TotpCodeIn, response=TotpStateOut)
async def totp_confirm(ctx: Ctx) -> dict[str, bool]:
    """Finish enrolment with a code from the authenticator app."""
    return {"totp_enabled": await service.totp_confirm(services(ctx.app), ctx.user, ctx.body.code)}


@routes.post("/api/v1/auth/totp/disable", perm="profile:write", body=TotpCodeIn, response=TotpStateOut)
async def totp_disable(ctx: Ctx) -> dict[str, bool]:
    """Turn two-factor login off (needs a current code)."""
    return {"totp_enabled": await service.totp_disable(services(ctx.app), ctx.user, ctx.body.code)}


@routes.get("/api/v1/users", perm="users:admin", response=list[UserOut])
async def list_users(ctx: Ctx) -> list[UserOut]:
    """All user accounts."""
    return await service.list_users(services(ctx.app))


@routes.post("/api/v1/users", perm="users:admin", body=UserCreateIn, response=UserOut, status=201)
async def create_user(ctx: Ctx) -> UserOut:
    """Create a user account."""
    svc = services(ctx.app)
    user = await service.create_user(svc, ctx.app[PASSWORDS], ctx.user, ctx.body)
    return await service.user_out(svc, user)


@routes.patch(r"/api/v1/users/{id:\d+}", perm="users:admin", body=UserPatchIn, response=UserOut)
async def patch_user(ctx: Ctx) -> UserOut:
    """Change roles, reset the password, unlock, enable or disable an account."""
    svc = services(ctx.app)
    user = await service.patch_user(svc, ctx.app[PASSWORDS], ctx.user, ctx.int_param("id"), ctx.body)
    return await service.user_out(svc, user)
