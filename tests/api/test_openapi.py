from __future__ import annotations

from tests.conftest import Api


async def test_openapi_document_covers_every_declared_route(api: Api) -> None:
    r = await api.client.get("/api/openapi.json")
    assert r.status == 200
    doc = await r.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    login = paths["/api/v1/auth/login"]["post"]
    schema_ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.endswith("/LoginIn")
    assert "username" in doc["components"]["schemas"]["LoginIn"]["properties"]
    # Protected operations name their permission and security scheme.
    users = paths["/api/v1/users"]["get"]
    assert users["x-permission"] == "users:admin"
    assert users["security"] == [{"bearer": []}]
    assert "/api/v1/files/{id}/content" in paths


async def test_docs_page_and_errors_are_json(api: Api) -> None:
    r = await api.client.get("/api/docs")
    assert r.status == 200
    assert "swagger-ui" in await r.text()
    r = await api.client.get("/api/v1/no-such-thing")
    assert r.status == 404
    assert (await r.json())["error"]["code"] == "not_found"
    r = await api.client.put("/api/v1/auth/login", json={})
    assert r.status == 405
    assert (await r.json())["error"]["code"] == "method_not_allowed"


async def test_health_and_readiness(api: Api) -> None:
    assert (await (await api.client.get("/healthz")).json())["status"] == "ok"
    r = await api.client.get("/readyz")
    assert r.status == 200
    assert (await r.json())["checks"]["database"] == "ok"
