"""Attachments: content-addressed storage, limits, type checks, permissions."""

from __future__ import annotations

import hashlib

import aiohttp

from command_server.files.service import FILE_STORE
from tests.conftest import Api, start_api

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def _form(data: bytes, filename: str, content_type: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    return form


async def test_upload_and_download_round_trip(api: Api) -> None:
    op = await api.as_user("operator")
    r = await op.post("/api/v1/files", data=_form(PNG, "现场照片.png", "image/png"))
    assert r.status == 201, await r.text()
    meta = await r.json()
    assert meta["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert meta["size"] == len(PNG)
    assert api.app[FILE_STORE].path_for(meta["sha256"]).read_bytes() == PNG
    r = await op.get(meta["url"])
    assert r.status == 200
    assert await r.read() == PNG
    assert r.headers["Content-Type"] == "image/png"
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    # The same bytes again are stored once but recorded twice.
    r2 = await (await op.post("/api/v1/files", data=_form(PNG, "again.png", "image/png"))).json()
    assert r2["sha256"] == meta["sha256"] and r2["id"] != meta["id"]


async def test_type_and_content_checks(api: Api) -> None:
    op = await api.as_user("operator")
    r = await op.post("/api/v1/files", data=_form(b"<script>alert(1)</script>", "x.html", "text/html"))
    assert r.status == 415
    assert (await r.json())["error"]["code"] == "unsupported_type"
    r = await op.post("/api/v1/files", data=_form(b"<script>", "fake.png", "image/png"))
    assert r.status == 415
    assert (await r.json())["error"]["code"] == "content_mismatch"
    r = await op.post("/api/v1/files", data=_form(b"", "empty.txt", "text/plain"))
    assert r.status == 400
    r = await op.post("/api/v1/files", json={"file": "nope"})
    assert r.status == 400
    assert (await r.json())["error"]["code"] == "multipart_required"


async def test_size_limit(settings_factory) -> None:  # type: ignore[no-untyped-def]
    api = await start_api(settings_factory(upload_max_bytes=1000))
    try:
        op = await api.as_user("operator")
        r = await op.post("/api/v1/files", data=_form(b"a" * 1001, "big.txt", "text/plain"))
        assert r.status == 413
        assert (await r.json())["error"]["details"]["max_bytes"] == 1000
        r = await op.post("/api/v1/files", data=_form(b"a" * 1000, "ok.txt", "text/plain"))
        assert r.status == 201
        # A refused upload leaves no temporary file behind.
        assert list((api.app[FILE_STORE].root / "tmp").iterdir()) == []
    finally:
        await api.client.close()


async def test_enterprise_sees_only_its_own_files(api: Api) -> None:
    op = await api.as_user("operator")
    ent = await api.as_user("enterprise")
    mine = await (await ent.post("/api/v1/files", data=_form(b"plan", "预案.txt", "text/plain"))).json()
    theirs = await (await op.post("/api/v1/files", data=_form(b"internal", "内部.txt", "text/plain"))).json()
    assert (await ent.get(mine["url"])).status == 200
    assert (await ent.get(theirs["url"])).status == 404
    assert (await ent.get(f"/api/v1/files/{theirs['id']}")).status == 404
    assert (await op.get(mine["url"])).status == 200
