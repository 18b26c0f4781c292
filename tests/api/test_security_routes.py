"""Every route is authenticated and permission-checked; a role × route table holds."""

from __future__ import annotations

import re

import pytest

from command_server.core.api import ROUTES_KEY
from command_server.core.permissions import ROLE_PERMISSIONS, ROLES
from tests.conftest import Api

# The only routes reachable without an access token, each with the reason.
PUBLIC = {
    ("POST", "/api/v1/auth/login"): "password is the credential",
    ("POST", "/api/v1/auth/refresh"): "the refresh token is the credential",
    ("POST", "/api/v1/auth/logout"): "the refresh token is the credential",
    ("GET", "/healthz"): "load balancer probe, reveals nothing",
    ("GET", "/readyz"): "load balancer probe, reveals nothing",
    ("GET", "/api/openapi.json"): "the API description is public",
    ("GET", "/api/docs"): "the API description is public",
}


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::[^}]+)?\}", "1", path)


def _api_routes(api: Api) -> list[tuple[str, str]]:
    """Every method+path the router serves, except static assets, Socket.IO and the SPA fallback."""
    out = []
    for route in api.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path is None or route.method == "HEAD" or path.startswith("/socket.io") or path == "/{tail}":
            continue
        out.append((route.method, path))
    return out


async def test_every_route_refuses_anonymous_callers(api: Api) -> None:
    routes = _api_routes(api)
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        r = await api.client.request(method, _concrete(path), json={})
        assert r.status == 401, f"{method} {path} answered {r.status} without a token"
        body = await r.json()
        assert body["error"]["code"] == "unauthorized"
        r = await api.client.request(method, _concrete(path), json={},
                                     headers={"Authorization": "Bearer forged.token.value"})
        assert r.status == 401, f"{method} {path} accepted a forged token"
        checked += 1
    assert checked == len([r for r in api.app[ROUTES_KEY] if not r.public]) >= 10


async def test_public_list_is_exactly_the_public_routes(api: Api) -> None:
    declared_public = {(r.method, r.path) for r in api.app[ROUTES_KEY] if r.public}
    assert declared_public == set(PUBLIC)


@pytest.mark.parametrize("role", ROLES)
async def test_permission_table_is_enforced_for_every_route(api: Api, role: str) -> None:
    """For each declared route: a role without the permission gets 403; with it, never 401/403."""
    authed = await api.as_user(role)
    granted = ROLE_PERMISSIONS[role]
    for r in api.app[ROUTES_KEY]:
        if r.public:
            continue
        resp = await authed.request(r.method, _concrete(r.path), json={})
        if r.perm in granted:
            assert resp.status not in (401, 403), f"{role} {r.method} {r.path} refused: {await resp.text()}"
        else:
            assert resp.status == 403, f"{role} {r.method} {r.path} allowed ({resp.status}) without {r.perm}"
            assert (await resp.json())["error"]["details"]["permission"] == r.perm


# Explicit expectations for routes that matter most, independent of the permission table above: if someone
# edits ROLE_PERMISSIONS carelessly, these fail.
EXPECTED = {
    ("GET", "/api/v1/users"): {"admin"},
    ("POST", "/api/v1/bulletins"): {"admin", "commander", "operator"},
    ("GET", "/api/v1/events"): {"admin", "commander", "operator", "field", "pilot", "screen"},
    ("POST", "/api/v1/files"): {"admin", "commander", "operator", "field", "pilot", "enterprise"},
}


@pytest.mark.parametrize("route", sorted(EXPECTED))
async def test_role_route_expectations(api: Api, route: tuple[str, str]) -> None:
    method, path = route
    for role in ROLES:
        authed = await api.as_user(role)
        resp = await authed.request(method, path, json={})
        allowed = role in EXPECTED[route]
        assert (resp.status != 403) == allowed, f"{role} {method} {path}: {resp.status}"
