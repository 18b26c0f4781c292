"""API keys for external systems, and idempotent external alarm intake (ALM-1)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Api, AuthedApi

ALARM = {"event_type": "water", "address": "滨江市江北区青溪路 12 号排口", "description": "在线监测 COD 超标"}


async def _key(admin: AuthedApi, name: str, scopes: list[str]) -> dict[str, Any]:
    r = await admin.post("/api/v1/integrations/api-keys", json={"name": name, "scopes": scopes})
    assert r.status == 201, await r.text()
    return await r.json()


async def _push(api: Api, key: str, **body: Any) -> tuple[int, dict[str, Any]]:
    r = await api.client.post("/api/v1/alarms", json={**ALARM, **body}, headers={"X-API-Key": key})
    return r.status, await r.json()


async def test_key_lifecycle_shown_once_works_revoked(api: Api) -> None:
    admin = await api.as_user("admin")
    created = await _key(admin, "platform-12369", ["alarms:write"])
    key = created["key"]
    assert key.startswith("ecs_") and len(key) > 40 and created["prefix"] == key[:12] and created["active"]
    listed = await (await admin.get("/api/v1/integrations/api-keys")).json()
    assert [k["name"] for k in listed] == ["platform-12369"] and "key" not in listed[0]
    assert key not in str(listed)

    status, alarm = await _push(api, key, external_id="T-1")
    assert status == 201, alarm
    assert alarm["channel"] == "external" and alarm["external_source"] == "platform-12369"
    assert alarm["created_by_name"] == "apikey:platform-12369"
    ev = await (await admin.get("/api/v1/events", params={"type": "alarm.created"})).json()
    assert ev["items"][0]["actor"]["username"] == "apikey:platform-12369"
    for _ in range(50):  # "last used" is written in the background, moments after the request
        listed = await (await admin.get("/api/v1/integrations/api-keys")).json()
        if listed[0]["last_used_at"] is not None:
            break
        await asyncio.sleep(0.05)
    assert listed[0]["last_used_at"] is not None

    r = await admin.delete(f"/api/v1/integrations/api-keys/{created['id']}")
    assert r.status == 204
    status, body = await _push(api, key, external_id="T-2")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert (await admin.delete(f"/api/v1/integrations/api-keys/{created['id']}")).status == 204  # idempotent
    assert (await admin.delete("/api/v1/integrations/api-keys/99999")).status == 404
    listed = await (await admin.get("/api/v1/integrations/api-keys")).json()
    assert listed[0]["active"] is False and listed[0]["revoked_at"]
    # the name is free again once the old key is revoked
    await _key(admin, "platform-12369", ["alarms:write"])


async def test_unknown_or_malformed_key_is_401(api: Api) -> None:
    for key in ("ecs_" + "x" * 43, "not-a-key", ""):
        r = await api.client.post("/api/v1/alarms", json=ALARM, headers={"X-API-Key": key})
        assert r.status == 401
        assert (await r.json())["error"]["code"] in ("invalid_api_key", "unauthorized")
    r = await api.client.post("/api/v1/alarms", json=ALARM, headers={"X-API-Key": "ecs_" + "x" * 43})
    assert (await r.json())["error"]["code"] == "invalid_api_key"


async def test_scopes_are_enforced(api: Api) -> None:
    admin = await api.as_user("admin")
    reader = await _key(admin, "dashboard", ["alarms:read"])
    status, body = await _push(api, reader["key"], external_id="X")
    assert status == 403 and body["error"]["details"]["permission"] == "alarms:write"
    # a key opens only routes declared api_key=True: reading the list still needs a login
    r = await api.client.get("/api/v1/alarms", headers={"X-API-Key": reader["key"]})
    assert r.status == 401


async def test_key_creation_is_validated_and_admin_only(api: Api) -> None:
    admin = await api.as_user("admin")
    for body in ({"name": "x", "scopes": []}, {"name": "x", "scopes": ["nope:write"]},
                 {"name": "x", "scopes": ["users:admin"]}, {"name": "有空格 的名字", "scopes": ["alarms:write"]},
                 {"scopes": ["alarms:write"]}):
        r = await admin.post("/api/v1/integrations/api-keys", json=body)
        assert r.status == 422, body
    await _key(admin, "dup", ["alarms:write"])
    r = await admin.post("/api/v1/integrations/api-keys", json={"name": "dup", "scopes": ["alarms:write"]})
    assert r.status == 409 and (await r.json())["error"]["code"] == "duplicate_name"
    op = await api.as_user("operator")
    assert (await op.get("/api/v1/integrations/api-keys")).status == 403
    assert (await op.post("/api/v1/integrations/api-keys", json={"name": "y", "scopes": ["alarms:write"]})
            ).status == 403
    ev = await (await admin.get("/api/v1/events", params={"type": "api_key.created"})).json()
    assert ev["items"] and "key" not in ev["items"][0]["payload"]


async def test_external_intake_is_idempotent(api: Api) -> None:
    admin = await api.as_user("admin")
    key = (await _key(admin, "city-iot", ["alarms:write"]))["key"]
    status, first = await _push(api, key, external_id="EV-2026-0001")
    assert status == 201
    status, again = await _push(api, key, external_id="EV-2026-0001", description="重发")
    assert status == 200 and again["id"] == first["id"] and again["description"] == first["description"]
    status, other = await _push(api, key, external_id="EV-2026-0002")
    assert status == 201 and other["id"] != first["id"]
    # the same external id from another source is another alarm
    status, foreign = await _push(api, key, external_id="EV-2026-0001", external_source="other-system")
    assert status == 201 and foreign["id"] != first["id"]
    # a staff member may record an external reference too; a retry is idempotent the same way
    op = await api.as_user("operator")
    r1 = await op.post("/api/v1/alarms", json={**ALARM, "external_source": "12345-hotline", "external_id": "W1"})
    r2 = await op.post("/api/v1/alarms", json={**ALARM, "external_source": "12345-hotline", "external_id": "W1"})
    assert (r1.status, r2.status) == (201, 200) and (await r1.json())["id"] == (await r2.json())["id"]
    page = await (await op.get("/api/v1/alarms", params={"q": "EV-2026-0001"})).json()
    assert page["total"] == 2


async def test_concurrent_double_submit_creates_one_alarm(api: Api) -> None:
    admin = await api.as_user("admin")
    key = (await _key(admin, "burst", ["alarms:write"]))["key"]
    for n in range(3):
        results = await asyncio.gather(*[_push(api, key, external_id=f"DUP-{n}") for _ in range(4)])
        statuses = sorted(s for s, _ in results)
        assert statuses == [200, 200, 200, 201], results
        assert len({body["id"] for _, body in results}) == 1
    op = await api.as_user("operator")
    page = await (await op.get("/api/v1/alarms", params={"channel": "external"})).json()
    assert page["total"] == 3


async def test_a_key_is_looked_up_once_and_a_revocation_elsewhere_arrives_with_its_event(settings_factory) -> None:  # type: ignore[no-untyped-def]
    """Two servers on one database. Server B remembers the key it resolved (no query per request); when server
    A revokes it, B hears of it from the ``api_key.revoked`` event its pump delivers — long before the
    liveness cache would have expired (set to a minute here)."""
    from types import SimpleNamespace

    from command_server.core.api import API_KEY_AUTH
    from command_server.core.services import services
    from tests.conftest import start_api

    settings = settings_factory()
    a = await start_api(settings)
    b = await start_api(settings)
    try:
        admin = await a.as_user("admin")
        created = await _key(admin, "city-iot", ["alarms:write"])
        svc_b = services(b.app)
        svc_b.sessions.ttl_s = 60.0
        resolve = b.app[API_KEY_AUTH]
        request = SimpleNamespace(app=b.app, remote="127.0.0.1")
        reads = 0
        real_read = svc_b.db.read

        def counting_read():  # type: ignore[no-untyped-def]
            nonlocal reads
            reads += 1
            return real_read()

        svc_b.db.read = counting_read  # type: ignore[method-assign]
        actor = await resolve(request, created["key"])
        assert (actor.username, actor.user_id, sorted(actor.permissions)) == ("apikey:city-iot", -created["id"],
                                                                              ["alarms:write"])
        assert reads == 1
        for _ in range(5):
            assert (await resolve(request, created["key"])).username == "apikey:city-iot"
        assert reads == 1  # remembered

        assert (await admin.delete(f"/api/v1/integrations/api-keys/{created['id']}")).status == 204
        deadline = asyncio.get_running_loop().time() + 5
        while True:  # B's pump polls every second (no bus between two in-process apps)
            try:
                await resolve(request, created["key"])
            except Exception as exc:
                assert getattr(exc, "code", None) == "invalid_api_key"
                break
            assert asyncio.get_running_loop().time() < deadline, "server B still accepts the revoked key"
            await asyncio.sleep(0.1)
        status, body = await _push(b, created["key"], external_id="T-9")
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
    finally:
        await b.client.close()
        await a.client.close()
