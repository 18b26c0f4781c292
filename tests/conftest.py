"""Shared fixtures: a real server on a real database (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import pytest
from aiohttp.test_utils import TestClient, TestServer

from command_server.core.config import Settings

DEMO_PASSWORD = "Demo@2026"
PG_URL = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or \
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def _reachable(url: str, default_port: int) -> bool:
    u = urlparse(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or default_port), timeout=1):
            return True
    except OSError:
        return False


PG_AVAILABLE = _reachable(PG_URL, 5432)
REDIS_AVAILABLE = _reachable(REDIS_URL, 6379)
needs_redis = pytest.mark.skipif(not REDIS_AVAILABLE, reason=f"Redis not reachable at {REDIS_URL}")
needs_pg = pytest.mark.skipif(not PG_AVAILABLE, reason=f"PostgreSQL not reachable at {PG_URL}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not PG_AVAILABLE:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return request.param


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_schema(db_backend: str) -> AsyncIterator[str | None]:
    """A fresh PostgreSQL schema per test (dropped afterwards); None on SQLite."""
    if db_backend != "postgresql":
        yield None
        return
    schema = "t_" + uuid.uuid4().hex[:16]
    await _pg_admin(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        await _pg_admin(f"DROP SCHEMA {schema} CASCADE")


def make_settings(tmp_path: Any, db_backend: str, schema: str | None, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test",
        "var_dir": tmp_path / "var",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8192,
        "seed_demo": True,
        "seed_demo_city": False,
        "redis_url": None,
        "database_url": PG_URL if db_backend == "postgresql" else None,
        "db_schema": schema,
        "gc_freeze": False,  # (config.py: hundreds of apps in one process)
        "offload_workers": 0,  # worker processes per app: only where a test asks (tests/system/test_offload.py)
    }
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def settings_factory(tmp_path: Any, db_backend: str, pg_schema: str | None):  # type: ignore[no-untyped-def]
    def make(**overrides: Any) -> Settings:
        return make_settings(tmp_path, db_backend, pg_schema, **overrides)

    return make


class Api:
    """A real HTTP client against the running app, with login helpers."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.app = client.server.app

    async def login(self, username: str, password: str = DEMO_PASSWORD, totp: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"username": username, "password": password}
        if totp:
            body["totp"] = totp
        r = await self.client.post("/api/v1/auth/login", json=body)
        assert r.status == 200, await r.text()
        return await r.json()

    async def as_user(self, username: str, password: str = DEMO_PASSWORD) -> AuthedApi:
        tokens = await self.login(username, password)
        return AuthedApi(self.client, tokens)


class AuthedApi:
    def __init__(self, client: TestClient, tokens: dict[str, Any]) -> None:
        self.client = client
        self.tokens = tokens

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    def request(self, method: str, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.request("DELETE", path, **kw)


async def start_api(settings: Settings) -> Api:
    from command_server.app import create_app

    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return Api(client)


@pytest.fixture
async def api(settings_factory) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    """The app on a fresh database (SQLite, and again on PostgreSQL), seeded with the demo accounts."""
    a = await start_api(settings_factory())
    try:
        yield a
    finally:
        await a.client.close()
