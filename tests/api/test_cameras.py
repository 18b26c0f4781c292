"""The camera catalogue (COM-2), tours and saved wall layouts, on both databases, without any media.

Credentials: never in an answer, an event or the audit log, SM4-encrypted at rest. RTSP URLs are validated and
credentials written into them are moved to the write-only fields. XLSX import creates, updates and reports
row errors. Media endpoints answer 503 ``media_unavailable`` while video is unavailable.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import aiohttp
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from command_server.cameras import perms
from command_server.cameras.service import gaps_of, jpeg_size, schedule_active
from command_server.core.permissions import ROLE_PERMISSIONS
from command_server.core.services import SERVICES
from tests.api.test_contacts import make_unit
from tests.conftest import Api, AuthedApi, start_api

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SECRET_PW = "S3cret-pw!"


def camera_body(name: str = "化工园区北门", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "kind": "ptz_dome", "url": "rtsp://192.0.2.10:554/Streaming/101",
                            "lon": 121.701, "lat": 30.884, "tags": ["化工园区", "重点"]}
    body.update(over)
    return body


async def district(admin: AuthedApi) -> dict[str, Any]:
    city = await make_unit(admin, "滨江市生态环境局", "city", code="BJ")
    return await make_unit(admin, "临港区生态环境分局", "district", city["id"], code="BJ-LG")


async def make_camera(client: AuthedApi, name: str = "化工园区北门", **over: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/cameras", json=camera_body(name, **over))
    assert r.status == 201, await r.text()
    return await r.json()


async def test_create_read_update_delete(api: Api) -> None:
    admin = await api.as_user("admin")
    unit = await district(admin)
    r = await admin.post("/api/v1/cameras", json=camera_body(unit_id=unit["id"], username="admin",
                                                             password=SECRET_PW, transport="udp",
                                                             recording_mode="continuous",
                                                             recording_schedule=[{"days": [1, 2, 3, 4, 5],
                                                                                  "start": "08:00", "end": "18:00"}],
                                                             retention_days=7))
    assert r.status == 201, await r.text()
    cam = await r.json()
    assert r.headers["Location"] == f"/api/v1/cameras/{cam['id']}"
    assert cam["unit_name"] == "临港区生态环境分局" and cam["transport"] == "udp"
    assert cam["status"] == "unknown" and cam["has_password"] is True and cam["username"] == "admin"
    assert cam["recording_schedule"] == [{"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"}]
    assert "password" not in cam

    op = await api.as_user("operator")
    r = await op.patch(f"/api/v1/cameras/{cam['id']}", json={"name": "化工园区北门球机", "tags": ["化工园区"],
                                                             "lon": 121.702, "lat": 30.885})
    assert r.status == 200, await r.text()
    changed = await r.json()
    assert changed["name"] == "化工园区北门球机" and changed["tags"] == ["化工园区"]
    assert changed["has_password"] is True, "a patch without a password keeps it"

    # readers see the catalogue but not the account name
    field = await api.as_user("field")
    r = await field.get(f"/api/v1/cameras/{cam['id']}")
    assert r.status == 200
    got = await r.json()
    assert got["username"] is None and got["has_password"] is True and got["name"] == "化工园区北门球机"

    # list with filters
    await make_camera(admin, "取水口一号", kind="fixed", tags=["饮用水源"], lon=121.5, lat=31.0)
    r = await field.get("/api/v1/cameras", params={"kind": "ptz_dome"})
    assert [c["name"] for c in (await r.json())["items"]] == ["化工园区北门球机"]
    r = await field.get("/api/v1/cameras", params={"q": "饮用水"})
    assert [c["name"] for c in (await r.json())["items"]] == ["取水口一号"]
    r = await field.get("/api/v1/cameras", params={"unit_id": unit["id"]})
    assert (await r.json())["total"] == 1
    r = await field.get("/api/v1/cameras", params={"status": "unknown", "page_size": 1})
    page = await r.json()
    assert page["total"] == 2 and len(page["items"]) == 1

    # the map overlay
    r = await field.get("/api/v1/cameras/geojson")
    fc = await r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    f = next(f for f in fc["features"] if f["id"] == cam["id"])
    assert f["geometry"]["coordinates"] == [121.702, 30.885] and f["properties"]["status"] == "unknown"

    # clearing the password
    r = await admin.patch(f"/api/v1/cameras/{cam['id']}", json={"password": None})
    assert (await r.json())["has_password"] is False

    r = await admin.delete(f"/api/v1/cameras/{cam['id']}")
    assert r.status == 204
    r = await admin.get(f"/api/v1/cameras/{cam['id']}")
    assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"


@pytest.mark.parametrize(("url", "fragment"), [
    ("http://192.0.2.1/stream", "rtsp://"),
    ("rtmp://192.0.2.1/live", "rtsp://"),
    ("rtsp:///nohost", "no host"),
    ("rtsp://192.0.2.1:99999/x", "malformed"),
    ("rtsp://192.0.2.1/a b", "spaces"),
    ("   ", "blank"),
])
async def test_url_must_be_rtsp(api: Api, url: str, fragment: str) -> None:
    admin = await api.as_user("admin")
    r = await admin.post("/api/v1/cameras", json=camera_body(url=url))
    assert r.status == 422, await r.text()
    body = await r.json()
    assert body["error"]["code"] == "validation_error"
    assert fragment in json.dumps(body, ensure_ascii=False)


async def test_other_validation(api: Api) -> None:
    admin = await api.as_user("admin")
    for over, fragment in [
        ({"kind": "satellite"}, "kind"),
        ({"transport": "sctp"}, "transport"),
        ({"lon": 121.5, "lat": None}, "both lon and lat"),
        ({"lat": 91}, "lat"),
        ({"retention_days": 0}, "retention_days"),
        ({"recording_mode": "always"}, "recording_mode"),
        ({"recording_schedule": [{"days": [8], "start": "08:00", "end": "18:00"}]}, "weekdays"),
        ({"recording_schedule": [{"start": "8am"}]}, "HH:MM"),
        ({"tags": ["x" * 41]}, "40 characters"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"protocol": "gb28181"}, "protocol"),
        ({"unit_id": 999999}, "unit 999999 does not exist"),
    ]:
        r = await admin.post("/api/v1/cameras", json=camera_body(**over))
        assert r.status == 422, f"{over}: {r.status} {await r.text()}"
        assert fragment in json.dumps(await r.json(), ensure_ascii=False), (over, await r.text())
    await make_camera(admin)
    r = await admin.post("/api/v1/cameras", json=camera_body())
    assert r.status == 409 and (await r.json())["error"]["code"] == "camera_name_taken"
    other = await make_camera(admin, "另一台")
    r = await admin.patch(f"/api/v1/cameras/{other['id']}", json={"name": "化工园区北门"})
    assert r.status == 409
    r = await admin.patch(f"/api/v1/cameras/{other['id']}", json={"url": None})
    assert r.status == 422 and "url cannot be null" in await r.text()
    r = await admin.patch(f"/api/v1/cameras/{other['id']}", json={"url": "http://x/y"})
    assert r.status == 422


async def test_password_never_leaves_and_is_encrypted_at_rest(api: Api) -> None:
    admin = await api.as_user("admin")
    # credentials written into the URL are taken out of it
    r = await admin.post("/api/v1/cameras", json=camera_body(url=f"rtsp://ops:{SECRET_PW.replace('!', '%21')}"
                                                                 f"@192.0.2.10:554/Streaming/101"))
    assert r.status == 201, await r.text()
    cam = await r.json()
    assert cam["url"] == "rtsp://192.0.2.10:554/Streaming/101"
    assert cam["username"] == "ops" and cam["has_password"] is True
    texts = [await r.text()]
    for path in (f"/api/v1/cameras/{cam['id']}", "/api/v1/cameras", "/api/v1/cameras/geojson",
                 "/api/v1/cameras/export.xlsx", "/api/v1/events?limit=100"):
        r = await admin.get(path)
        assert r.status == 200, (path, r.status)
        texts.append((await r.read()).decode("latin-1"))
    r = await admin.patch(f"/api/v1/cameras/{cam['id']}", json={"password": "An0ther-pw", "name": "改名"})
    texts.append(await r.text())
    texts.append(await (await admin.get("/api/v1/events?limit=100")).text())
    for t in texts:
        assert SECRET_PW not in t and "An0ther-pw" not in t and "S3cret-pw%21" not in t

    db = api.app[SERVICES].db
    async with db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT password, url FROM cameras WHERE id = :i"),
                                     {"i": cam["id"]})).one()
        audit = (await conn.execute(text("SELECT detail FROM audit_log"))).scalars().all()
    assert audit and not any("An0ther-pw" in str(d) or SECRET_PW in str(d) for d in audit)
    assert stored[0].startswith("sm4g1:") and "An0ther-pw" not in stored[0]
    assert "ops" not in stored[1]
    from command_server.cameras.service import load_camera

    row = await load_camera(api.app[SERVICES], cam["id"])
    assert row.password == "An0ther-pw" and row.username == "ops"

    # a different password in the URL than in the field is a contradiction
    r = await admin.post("/api/v1/cameras", json=camera_body("矛盾", url="rtsp://a:b@192.0.2.1/x", password="c"))
    assert r.status == 422 and "different password" in await r.text()


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def _import(client: AuthedApi, data: bytes, content_type: str = XLSX) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="cameras.xlsx", content_type=content_type)
    return await client.post("/api/v1/cameras/import", data=form)


async def test_xlsx_import_template_and_export(api: Api) -> None:
    admin = await api.as_user("admin")
    await district(admin)
    r = await admin.get("/api/v1/cameras/import-template")
    assert r.status == 200 and r.headers["Content-Type"].startswith(XLSX)
    header = [c for c in next(load_workbook(io.BytesIO(await r.read())).active.iter_rows(values_only=True))]
    assert header[:3] == ["名称", "类型", "视频地址"]
    existing = await make_camera(admin, "取水口一号", kind="fixed", password="old-pw", username="u")

    rows = [
        header,
        ["园区东门", "云台球机", "rtsp://admin:pw1@192.0.2.21:554/ch1", "tcp", None, None, 121.70, 30.88,
         "临港大道1号", "BJ-LG", "化工园区,重点", "连续录像", 15, "否", "是", "备注"],
        ["园区西门", "布控球", "rtsp://192.0.2.22/ch1", "udp", "admin", "pw2", 121.69, 30.87, None,
         "临港区生态环境分局", "化工园区", "仅紧急录像", 30, "是", "是", None],
        ["取水口一号", "固定摄像机", "rtsp://192.0.2.30/new", None, None, None, None, None, None, None,
         "饮用水源", None, None, None, None, None],
        ["坏地址", "固定摄像机", "http://192.0.2.40/x", None, None, None, None, None, None, None, None, None,
         None, None, None, None],
        ["坏类型", "卫星", "rtsp://192.0.2.41/x"] + [None] * 13,
        ["坏单位", "枪机", "rtsp://192.0.2.42/x"] + [None] * 6 + ["不存在的单位"] + [None] * 6,
        ["园区东门", "枪机", "rtsp://192.0.2.43/x"] + [None] * 13,
        [None] * 16,
        [None, "枪机", "rtsp://192.0.2.44/x"] + [None] * 13,
    ]
    r = await _import(admin, _xlsx(rows))
    assert r.status == 200, await r.text()
    out = await r.json()
    assert (out["created"], out["updated"], out["unchanged"]) == (2, 1, 0), out
    errors = {e["row"]: e["message"] for e in out["errors"]}
    assert set(errors) == {5, 6, 7, 8, 10}, errors
    assert errors[5].startswith("视频地址") and "rtsp://" in errors[5]
    assert "卫星" in errors[6] and "不存在的单位" in errors[7]
    assert "row 2" in errors[8] and errors[10].startswith("名称")

    r = await admin.get("/api/v1/cameras", params={"q": "园区"})
    cams = {c["name"]: c for c in (await r.json())["items"]}
    east, west = cams["园区东门"], cams["园区西门"]
    assert east["kind"] == "ptz_dome" and east["username"] == "admin" and east["has_password"]
    assert east["url"] == "rtsp://192.0.2.21:554/ch1" and east["recording_mode"] == "continuous"
    assert east["retention_days"] == 15 and east["tags"] == ["化工园区", "重点"] and east["unit_name"]
    assert west["kind"] == "deployable_ball" and west["transport"] == "udp" and west["transcode_h265"] is True
    r = await admin.get(f"/api/v1/cameras/{existing['id']}")
    updated = await r.json()
    assert updated["url"] == "rtsp://192.0.2.30/new" and updated["tags"] == ["饮用水源"]
    assert updated["has_password"] and updated["username"] == "u", "blank cells keep the stored values"

    # the same sheet again changes nothing
    r = await _import(admin, _xlsx(rows[:4]))
    assert (await r.json())["unchanged"] == 3

    # export in the import format, without passwords
    r = await admin.get("/api/v1/cameras/export.xlsx")
    sheet = [list(x) for x in load_workbook(io.BytesIO(await r.read())).active.iter_rows(values_only=True)]
    assert sheet[0] == header and len(sheet) == 4
    assert all(row[5] in (None, "") for row in sheet[1:])
    r = await _import(admin, _xlsx(sheet))
    assert (await r.json())["unchanged"] == 3, "an export imports back unchanged"

    # not a spreadsheet, a wrong template, a reader
    r = await _import(admin, b"plain text", "text/plain")
    assert r.status == 415
    r = await _import(admin, _xlsx([["甲", "乙"], ["1", "2"]]))
    assert r.status == 422 and (await r.json())["error"]["code"] == "invalid_template"
    field = await api.as_user("field")
    r = await _import(field, _xlsx(rows))
    assert r.status == 403


async def test_tours(api: Api) -> None:
    admin = await api.as_user("admin")
    a = await make_camera(admin, "甲")
    b = await make_camera(admin, "乙")
    r = await admin.post("/api/v1/camera-tours", json={"name": "园区轮巡", "dwell_s": 10, "layout": "4",
                                                       "camera_ids": [b["id"], a["id"], b["id"]]})
    assert r.status == 201, await r.text()
    tour = await r.json()
    assert tour["camera_ids"] == [b["id"], a["id"]], "order kept, repeats dropped"
    r = await admin.post("/api/v1/camera-tours", json={"name": "园区轮巡", "camera_ids": [a["id"]]})
    assert r.status == 409
    r = await admin.post("/api/v1/camera-tours", json={"name": "x", "camera_ids": [a["id"], 99999]})
    assert r.status == 422 and "99999" in await r.text()
    r = await admin.post("/api/v1/camera-tours", json={"name": "x", "camera_ids": [], "dwell_s": 1})
    assert r.status == 422
    r = await admin.patch(f"/api/v1/camera-tours/{tour['id']}", json={"dwell_s": 30, "layout": "1"})
    assert (await r.json())["dwell_s"] == 30
    screen = await api.as_user("screen")
    r = await screen.get("/api/v1/camera-tours")
    assert [t["name"] for t in await r.json()] == ["园区轮巡"], "the big screen can play tours"
    r = await screen.get(f"/api/v1/camera-tours/{tour['id']}")
    assert (await r.json())["layout"] == "1"
    r = await screen.post("/api/v1/camera-tours", json={"name": "y", "camera_ids": [a["id"]]})
    assert r.status == 403
    r = await admin.delete(f"/api/v1/camera-tours/{tour['id']}")
    assert r.status == 204
    assert (await admin.get(f"/api/v1/camera-tours/{tour['id']}")).status == 404


async def test_wall_layouts_per_user(api: Api) -> None:
    admin = await api.as_user("admin")
    op = await api.as_user("operator")
    field = await api.as_user("field")
    a = await make_camera(admin, "甲")
    b = await make_camera(admin, "乙")
    r = await admin.post("/api/v1/wall-layouts", json={"name": "默认", "layout": "1+5", "cells": [a["id"]],
                                                       "is_default": True, "shared": True})
    assert r.status == 201, await r.text()
    shared = await r.json()
    assert shared["cells"] == [a["id"], None, None, None, None, None] and shared["shared"]

    r = await op.post("/api/v1/wall-layouts", json={"name": "我的四画面", "layout": "4",
                                                    "cells": [b["id"], None, a["id"]], "is_default": True})
    assert r.status == 201, await r.text()
    mine = await r.json()
    assert mine["mine"] and not mine["shared"] and len(mine["cells"]) == 4
    r = await op.get("/api/v1/wall-layouts")
    got = await r.json()
    assert [w["name"] for w in got] == ["我的四画面", "默认"]
    assert got[0]["is_default"] and not got[1]["is_default"], "the own default wins over the shared one"

    # another user sees the shared layout, not the operator's
    r = await field.get("/api/v1/wall-layouts")
    got = await r.json()
    assert [w["name"] for w in got] == ["默认"] and got[0]["is_default"]
    r = await field.request("PUT", f"/api/v1/wall-layouts/{mine['id']}", json={"name": "偷改", "layout": "1"})
    assert r.status == 404
    r = await field.delete(f"/api/v1/wall-layouts/{shared['id']}")
    assert r.status == 403
    r = await field.post("/api/v1/wall-layouts", json={"name": "共享", "shared": True})
    assert r.status == 403

    # validation: cells beyond the layout, unknown cameras, duplicate names
    r = await op.post("/api/v1/wall-layouts", json={"name": "x", "layout": "1", "cells": [a["id"], b["id"]]})
    assert r.status == 422 and "1 cells" in await r.text()
    r = await op.post("/api/v1/wall-layouts", json={"name": "x", "layout": "4", "cells": [424242]})
    assert r.status == 422 and "424242" in await r.text()
    r = await op.post("/api/v1/wall-layouts", json={"name": "我的四画面", "layout": "9"})
    assert r.status == 409
    r = await op.post("/api/v1/wall-layouts", json={"name": "九画面", "layout": "9", "is_default": True})
    nine = await r.json()
    r = await op.get("/api/v1/wall-layouts")
    got = await r.json()
    assert got[0]["id"] == nine["id"] and [w["is_default"] for w in got].count(True) == 1
    r = await op.request("PUT", f"/api/v1/wall-layouts/{mine['id']}", json={"name": "我的四画面", "layout": "16",
                                                                  "cells": [b["id"]]})
    assert r.status == 200 and len((await r.json())["cells"]) == 16
    r = await op.delete(f"/api/v1/wall-layouts/{mine['id']}")
    assert r.status == 204


async def test_permissions(api: Api) -> None:
    """Readers (incl. the big screen) see cameras; only camera administrators change them; enterprises see none."""
    admin = await api.as_user("admin")
    cam = await make_camera(admin)
    for role in ("commander", "operator", "field", "pilot", "screen"):
        client = await api.as_user(role)
        assert (await client.get("/api/v1/cameras")).status == 200, role
        assert (await client.get("/api/v1/recordings")).status == 200, role
    ent = await api.as_user("enterprise")
    for path in ("/api/v1/cameras", "/api/v1/camera-tours", "/api/v1/recordings", "/api/v1/wall-layouts"):
        assert (await ent.get(path)).status == 403, path
    for role in ("commander", "field", "screen"):
        client = await api.as_user(role)
        r = await client.patch(f"/api/v1/cameras/{cam['id']}", json={"name": "x"})
        assert r.status == 403, role
        assert (await r.json())["error"]["details"]["permission"] == perms.WRITE
    op = await api.as_user("operator")
    assert (await op.patch(f"/api/v1/cameras/{cam['id']}", json={"name": "y"})).status == 200
    # emergency recording: the staff roles (commander too, once cameras:record is granted)
    for role, perm_set in ROLE_PERMISSIONS.items():
        if role == "enterprise":
            continue
        client = await api.as_user(role)
        r = await client.post(f"/api/v1/cameras/{cam['id']}/recordings")
        assert (r.status == 403) == (perms.RECORD not in perm_set), (role, r.status)
    assert perms.RECORD in ROLE_PERMISSIONS["operator"] and perms.RECORD not in ROLE_PERMISSIONS["field"]
    assert perms.READ in ROLE_PERMISSIONS["screen"] and perms.READ not in ROLE_PERMISSIONS["enterprise"]


async def test_media_unavailable_is_503(settings_factory, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ECS_MEDIA_ENABLED", "false")
    api = await start_api(settings_factory())
    try:
        admin = await api.as_user("admin")
        cam = await make_camera(admin)
        cid = cam["id"]
        offer = {"sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
        calls = [("POST", f"/api/v1/cameras/{cid}/webrtc", offer), ("POST", f"/api/v1/cameras/{cid}/snapshot", None),
                 ("POST", f"/api/v1/cameras/{cid}/recordings", None), ("POST", f"/api/v1/cameras/{cid}/probe", None),
                 ("POST", "/api/v1/cameras/probe", {"url": "rtsp://192.0.2.1/x"}),
                 ("GET", f"/api/v1/cameras/{cid}/stats", None), ("GET", "/api/v1/media/stats", None),
                 ("DELETE", f"/api/v1/cameras/{cid}/webrtc/abc", None),
                 ("POST", f"/api/v1/cameras/{cid}/playback",
                  {**offer, "from": "2026-01-01T08:00:00", "to": "2026-01-01T09:00:00"}),
                 ("GET", f"/api/v1/cameras/{cid}/clip?from=2026-01-01T08:00:00&to=2026-01-01T09:00:00", None)]
        for method, path, body in calls:
            r = await admin.request(method, path, json=body)
            assert r.status == 503, (path, r.status, await r.text())
            err = (await r.json())["error"]
            assert err["code"] == "media_unavailable" and "ECS_MEDIA_ENABLED" in err["details"]["reason"]
        # a missing camera is still a 404, and raw SDP is accepted as a body
        r = await admin.post("/api/v1/cameras/999/webrtc", data="v=0\r\n", headers={"Content-Type": "application/sdp"})
        assert r.status == 404
        # the catalogue works without media
        assert (await admin.get("/api/v1/cameras")).status == 200
    finally:
        await api.client.close()


async def test_demo_seed(settings_factory) -> None:  # type: ignore[no-untyped-def]
    api = await start_api(settings_factory(seed_demo_city=True))
    try:
        op = await api.as_user("operator")
        cams = (await (await op.get("/api/v1/cameras")).json())["items"]
        assert 36 <= len(cams) <= 44
        kinds = {c["kind"] for c in cams}
        assert kinds == {"fixed", "ptz_dome", "deployable_ball", "body_cam", "vehicle", "drone"}
        assert all(c["url"].startswith("rtsp://127.0.0.1:8554/demo/") for c in cams)
        assert all(c["lon"] and 121.2 <= c["lon"] <= 121.8 and 30.8 <= c["lat"] <= 31.3 for c in cams)
        assert all(c["unit_name"] for c in cams)
        tags = {t for c in cams for t in c["tags"]}
        assert {"风险源", "饮用水源", "监测断面", "布控球"} <= tags
        assert any(c["recording_mode"] == "continuous" for c in cams)
        tours = await (await op.get("/api/v1/camera-tours")).json()
        assert len(tours) >= 2 and all(t["camera_ids"] for t in tours)
        layouts = await (await op.get("/api/v1/wall-layouts")).json()
        assert layouts and layouts[0]["is_default"] and layouts[0]["shared"] and any(layouts[0]["cells"])
    finally:
        await api.client.close()


def test_schedule_windows() -> None:
    tz = dt.timezone(dt.timedelta(hours=8))
    monday_9 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=tz)
    sunday_23 = dt.datetime(2026, 11, 29, 23, 0, tzinfo=tz)
    office = [{"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"}]
    night = [{"days": [7], "start": "22:00", "end": "06:00"}]
    assert schedule_active([], monday_9)
    assert schedule_active(office, monday_9) and not schedule_active(office, sunday_23)
    assert schedule_active(night, sunday_23)
    assert schedule_active(night, dt.datetime(2026, 11, 30, 5, 59, tzinfo=tz)), "Sunday's night runs into Monday"
    assert not schedule_active(night, dt.datetime(2026, 11, 30, 6, 0, tzinfo=tz))
    assert schedule_active([{"days": [1], "start": "00:00", "end": "24:00"}], monday_9)


def test_gaps_between_segments() -> None:
    class R:
        def __init__(self, a: int, b: int) -> None:
            base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            self.start_at = base + dt.timedelta(seconds=a)
            self.end_at = base + dt.timedelta(seconds=b)

    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    gaps = gaps_of([R(10, 300), R(301, 600), R(700, 900)], base, base + dt.timedelta(seconds=1000))  # type: ignore[list-item]
    assert [(g["start"] - base).total_seconds() for g in gaps] == [0, 600, 900]
    assert [g["seconds"] for g in gaps] == [10, 100, 100]


def test_jpeg_size() -> None:
    # SOI, APP0 (length 16), SOF0 with 360 x 640
    jpeg = (b"\xff\xd8" + b"\xff\xe0\x00\x10" + b"JFIF\x00" + b"\x00" * 9
            + b"\xff\xc0\x00\x11\x08\x01\x68\x02\x80\x03" + b"\x00" * 9 + b"\xff\xd9")
    assert jpeg_size(jpeg) == (640, 360)
    assert jpeg_size(b"not a jpeg") is None


async def test_recordings_index_gaps_and_retention(api: Api, tmp_path: Any) -> None:
    """Segments announced by the gateway are indexed (idempotently), gaps are reported, and retention deletes
    old segments (files first) — emergency ones only once released — and then the oldest over the quota."""
    from command_server.cameras.media import MEDIA
    from command_server.cameras.service import add_segment

    svc = api.app[SERVICES]
    admin = await api.as_user("admin")
    cam = await make_camera(admin, retention_days=2)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def seg(days_ago: float, n: int, *, emergency: bool = False, rid: str = "r1") -> dict[str, Any]:
        p = tmp_path / f"{n}.mp4"
        p.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 1000)
        start = now - dt.timedelta(days=days_ago)
        return {"camera_id": str(cam["id"]), "recording_id": rid, "path": p, "start": start,
                "end": start + dt.timedelta(seconds=300), "size": 1024, "has_audio": False, "emergency": emergency}

    segs = [seg(5, 1), seg(5, 2, emergency=True, rid="e1"), seg(4, 3, emergency=True, rid="e2"), seg(1, 4),
            seg(0.01, 5)]
    for s in segs:
        assert await add_segment(svc, s)
    assert await add_segment(svc, segs[0]) == 1, "a segment announced twice is indexed once"
    assert await add_segment(svc, {"camera_id": "x"}) is None

    r = await admin.get("/api/v1/recordings", params={"camera_id": cam["id"]})
    page = await r.json()
    assert page["total"] == 5 and [x["emergency"] for x in page["items"]] == [False, True, True, False, False]
    assert page["items"][0]["camera_name"] == cam["name"] and page["items"][0]["duration_s"] == 300
    r = await admin.get("/api/v1/recordings", params={"camera_id": cam["id"], "emergency": "true"})
    assert (await r.json())["total"] == 2
    frm = (now - dt.timedelta(days=1, hours=1)).isoformat()
    r = await admin.get("/api/v1/recordings", params={"camera_id": cam["id"], "from": frm, "to": now.isoformat()})
    ranged = await r.json()
    assert ranged["total"] == 2 and len(ranged["gaps"]) == 3  # before, between and after the two segments
    r = await admin.get(f"/api/v1/recordings/{page['items'][3]['id']}/download")
    assert r.status == 200 and r.headers["Content-Type"] == "video/mp4"

    m = api.app[MEDIA]
    deleted, freed = await m.retention_sweep()
    assert (deleted, freed) == (1, 1024), "only the old continuous segment: emergency ones wait for release"
    assert not (tmp_path / "1.mp4").exists() and (tmp_path / "2.mp4").exists()
    r = await admin.post(f"/api/v1/recordings/{page['items'][1]['id']}/release")
    assert r.status == 200
    assert await m.retention_sweep() == (1, 1024)
    assert not (tmp_path / "2.mp4").exists() and (tmp_path / "3.mp4").exists()
    # over a quota of 2 KiB (3 KiB left): the oldest deletable segment goes, the unreleased emergency one stays
    m.settings = m.settings.model_copy(update={"quota_gb": 2048 / 1024 ** 3})
    assert await m.retention_sweep() == (1, 1024)
    assert not (tmp_path / "4.mp4").exists()
    assert await m.retention_sweep() == (0, 0)
    # even over the quota, an emergency recording is kept until released
    m.settings = m.settings.model_copy(update={"quota_gb": 1 / 1024 ** 3})
    assert await m.retention_sweep() == (1, 1024)
    left = (await (await admin.get("/api/v1/recordings", params={"camera_id": cam["id"]})).json())["items"]
    assert [(x["emergency"], x["released"]) for x in left] == [(True, False)]
    r = await admin.get(f"/api/v1/recordings/{page['items'][0]['id']}/download")
    assert r.status == 404
    (tmp_path / "3.mp4").unlink()
    r = await admin.get(f"/api/v1/recordings/{left[0]['id']}/download")
    assert r.status == 410 and (await r.json())["error"]["code"] == "recording_missing"
