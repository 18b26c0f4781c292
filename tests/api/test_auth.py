"""Login, refresh rotation and reuse detection, logout, lockout, TOTP, user administration."""

from __future__ import annotations

import pyotp

from tests.conftest import DEMO_PASSWORD, Api


async def test_login_returns_tokens_and_user(api: Api) -> None:
    tokens = await api.login("operator")
    assert tokens["token_type"] == "bearer"
    assert tokens["user"]["username"] == "operator"
    assert tokens["user"]["roles"] == ["operator"]
    assert "contacts:read" in tokens["user"]["permissions"]
    r = await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status == 200
    assert (await r.json())["username"] == "operator"


async def test_wrong_password_is_401_and_lockout_after_five(api: Api) -> None:
    for i in range(4):
        r = await api.client.post("/api/v1/auth/login", json={"username": "field", "password": "nope-123"})
        assert r.status == 401, i
        assert (await r.json())["error"]["code"] == "invalid_credentials"
    r = await api.client.post("/api/v1/auth/login", json={"username": "field", "password": "nope-123"})
    assert r.status == 423
    body = await r.json()
    assert body["error"]["code"] == "account_locked"
    assert body["error"]["details"]["locked_until"]
    # Even the right password is refused while locked.
    r = await api.client.post("/api/v1/auth/login", json={"username": "field", "password": DEMO_PASSWORD})
    assert r.status == 423
    # An admin unlocks.
    admin = await api.as_user("admin")
    users = await (await admin.get("/api/v1/users")).json()
    field_id = next(u["id"] for u in users if u["username"] == "field")
    r = await admin.patch(f"/api/v1/users/{field_id}", json={"unlock": True})
    assert r.status == 200
    await api.login("field")


async def test_unknown_user_is_same_error(api: Api) -> None:
    r = await api.client.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever1"})
    assert r.status == 401
    assert (await r.json())["error"]["code"] == "invalid_credentials"


async def test_refresh_rotates_and_reuse_revokes_family(api: Api) -> None:
    t1 = await api.login("commander")
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": t1["refresh_token"]})
    assert r.status == 200
    t2 = await r.json()
    assert t2["refresh_token"] != t1["refresh_token"]
    # The old token comes back: the whole family dies, including the newest tokens.
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": t1["refresh_token"]})
    assert r.status == 401
    assert (await r.json())["error"]["code"] == "refresh_token_reused"
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": t2["refresh_token"]})
    assert r.status == 401
    r = await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {t2['access_token']}"})
    assert r.status == 401
    assert (await r.json())["error"]["code"] == "session_revoked"


async def test_logout_ends_session(api: Api) -> None:
    t = await api.login("operator")
    r = await api.client.post("/api/v1/auth/logout", json={"refresh_token": t["refresh_token"]})
    assert r.status == 204
    r = await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {t['access_token']}"})
    assert r.status == 401
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": t["refresh_token"]})
    assert r.status == 401


async def test_totp_enrol_then_login_requires_code(api: Api) -> None:
    op = await api.as_user("operator")
    r = await op.post("/api/v1/auth/totp/enroll")
    assert r.status == 200
    enrol = await r.json()
    assert enrol["otpauth_uri"].startswith("otpauth://totp/")
    assert "<svg" in enrol["qr_svg"]
    totp = pyotp.TOTP(enrol["secret"])
    r = await op.post("/api/v1/auth/totp/confirm", json={"code": "000000" if totp.now() != "000000" else "111111"})
    assert r.status == 400
    r = await op.post("/api/v1/auth/totp/confirm", json={"code": totp.now()})
    assert r.status == 200 and (await r.json())["totp_enabled"] is True

    r = await api.client.post("/api/v1/auth/login", json={"username": "operator", "password": DEMO_PASSWORD})
    assert r.status == 401
    assert (await r.json())["error"]["code"] == "totp_required"
    # The code used for confirmation cannot be replayed; the next step's code is accepted.
    import time

    next_code = totp.at(time.time() + 30)
    tokens = await api.login("operator", totp=next_code)
    assert tokens["user"]["totp_enabled"] is True
    r = await api.client.post("/api/v1/auth/login",
                              json={"username": "operator", "password": DEMO_PASSWORD, "totp": next_code})
    assert r.status == 401
    assert (await r.json())["error"]["code"] == "totp_invalid"


async def test_validation_error_shape(api: Api) -> None:
    r = await api.client.post("/api/v1/auth/login", json={"username": "", "password": "x"})
    assert r.status == 422
    body = await r.json()
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["details"]["errors"][0]["loc"][0] == "body"
    r = await api.client.post("/api/v1/auth/login", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert (await r.json())["error"]["code"] == "invalid_json"


async def test_admin_creates_user_with_password_policy(api: Api) -> None:
    admin = await api.as_user("admin")
    r = await admin.post("/api/v1/users", json={"username": "zhang.wei", "display_name": "张伟",
                                                "password": "short", "roles": ["operator"]})
    assert r.status == 422
    r = await admin.post("/api/v1/users", json={"username": "zhang.wei", "display_name": "张伟",
                                                "password": "Secret123", "roles": ["operator", "nobody"]})
    assert r.status == 422
    r = await admin.post("/api/v1/users", json={"username": "zhang.wei", "display_name": "张伟",
                                                "password": "Secret123", "roles": ["operator"]})
    assert r.status == 201
    await api.login("zhang.wei", "Secret123")
    r = await admin.post("/api/v1/users", json={"username": "zhang.wei", "display_name": "张伟",
                                                "password": "Secret123", "roles": ["operator"]})
    assert r.status == 409


async def test_a_remembered_token_still_expires_and_a_forged_one_is_refused(api: Api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tokens are verified once and remembered (core/security.py); expiry is still checked on every use."""
    import time

    t = await api.login("operator")
    headers = {"Authorization": f"Bearer {t['access_token']}"}
    for _ in range(2):  # the second use comes from the cache
        r = await api.client.get("/api/v1/auth/me", headers=headers)
        assert r.status == 200
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + t["expires_in"] + 1)
    r = await api.client.get("/api/v1/auth/me", headers=headers)
    assert r.status == 401
    assert (await r.json())["error"]["code"] == "token_expired"
    monkeypatch.setattr(time, "time", real)
    assert (await api.client.get("/api/v1/auth/me", headers=headers)).status == 200
    # the same claims under another signature: not the remembered token, and refused
    head, body, sig = t["access_token"].split(".")
    forged = f"{head}.{body}.{sig[:-4]}{'AAAA' if not sig.endswith('AAAA') else 'BBBB'}"
    r = await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status == 401
    assert (await r.json())["error"]["code"] == "unauthorized"
