"""The plan library over HTTP: CRUD and validation, versions and diff, Chinese search, JSON/XLSX import,
export, permissions (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
from openpyxl import Workbook

from tests.conftest import Api, AuthedApi

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def user_id(client: AuthedApi) -> int:
    r = await client.get("/api/v1/auth/me")
    assert r.status == 200, await r.text()
    body = await r.json()
    return int(body.get("id") or body["user"]["id"])


async def make_unit(admin: AuthedApi, name: str, kind: str = "city", parent_id: int | None = None) -> int:
    r = await admin.post("/api/v1/org/units", json={"name": name, "kind": kind, "parent_id": parent_id})
    assert r.status == 201, await r.text()
    return int((await r.json())["id"])


def ammonia_plan(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "液氨泄漏事故专项应急预案",
        "code": "BJHB-ZX-2026-02",
        "kind": "special",
        "issuing_unit": "滨江市生态环境局",
        "event_types": ["hazchem_leak", "air"],
        "levels": ["III", "IV"],
        "pollutants": [{"name": "液氨"}],
        "steps": [
            {"order": 1, "action": "接报后核实液氨储罐泄漏点位、泄漏量和气象条件", "responsible_role": "officer",
             "deadline_minutes": 10},
            {"order": 2, "action": "在厂界及下风向敏感点布点监测氨浓度", "responsible_role": "monitor",
             "deadline_minutes": 30},
        ],
        "guide": "液氨储罐泄漏时立即关闭紧急切断阀，喷雾状水稀释，人员向上风向撤离。",
        "notifications": {"IV": {"user_ids": [], "roles": ["operator"], "unit_ids": []}},
        "resources": [{"type": "防化服", "quantity": 10, "unit": "套"}],
    }
    body.update(over)
    return body


async def create(client: AuthedApi, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/api/v1/plans", json=body)
    assert r.status == 201, await r.text()
    return await r.json()


async def test_create_get_normalises_chemicals_and_emits_event(api: Api) -> None:
    op = await api.as_user("operator")
    plan = await create(op, ammonia_plan())
    assert plan["version"] == 1 and plan["status"] == "active"
    assert plan["pollutants"][0] == {"name": "液氨", "cas": "7664-41-7", "canonical": "氨"}
    r = await op.get(f"/api/v1/plans/{plan['id']}")
    assert r.status == 200 and (await r.json())["steps"][1]["deadline_minutes"] == 30
    r = await op.get("/api/v1/events", params={"type": "plan.created"})
    assert r.status == 200
    assert any(e["type"] == "plan.created" and e["subject_id"] == str(plan["id"])
               for e in (await r.json())["items"])


async def test_validation_errors_are_clear_4xx(api: Api) -> None:
    op = await api.as_user("operator")
    cases: list[tuple[dict[str, Any], str]] = [
        (ammonia_plan(levels=["V"]), "levels"),
        (ammonia_plan(event_types=[]), "event_types"),
        (ammonia_plan(steps=[]), "steps"),
        (ammonia_plan(pollutants=[{"name": "x", "cas": "7664-41-8"}]), "pollutants"),
        (ammonia_plan(steps=[{"order": 1, "action": "a", "deadline_minutes": 5}]), "steps"),
        (ammonia_plan(steps=[{"order": 1, "action": "a", "responsible_role": "wizard", "deadline_minutes": 5}]),
         "steps"),
        (ammonia_plan(steps=[{"order": 1, "action": "a", "responsible_role": "officer", "deadline_minutes": 5},
                             {"order": 1, "action": "b", "responsible_role": "officer", "deadline_minutes": 5}]),
         "steps"),
        (ammonia_plan(area={"polygon": {"type": "Point", "coordinates": [121, 31]}}), "area"),
        (ammonia_plan(title=" "), "title"),
    ]
    for body, field in cases:
        r = await op.post("/api/v1/plans", json=body)
        assert r.status == 422, (field, await r.text())
        errs = (await r.json())["error"]["details"]["errors"]
        assert any(field in e["loc"] for e in errs), (field, errs)
    # references: unknown user, unit and file are named one by one
    r = await op.post("/api/v1/plans", json=ammonia_plan(
        notifications={"IV": {"user_ids": [9999], "unit_ids": [8888]}}, attachment_ids=[7777]))
    assert r.status == 422
    msgs = " | ".join(e["msg"] for e in (await r.json())["error"]["details"]["errors"])
    assert "user 9999" in msgs and "unit 8888" in msgs and "file 7777" in msgs
    assert (await op.get("/api/v1/plans/424242")).status == 404


async def test_versions_keep_history_and_diff(api: Api) -> None:
    op = await api.as_user("operator")
    plan = await create(op, ammonia_plan())
    pid = plan["id"]
    edited = ammonia_plan(levels=["II", "III", "IV"], change_note="扩大适用级别", base_version=1)
    edited["steps"][1]["deadline_minutes"] = 20
    edited["steps"].append({"order": 3, "action": "组织下风向居民疏散", "responsible_role": "leader",
                            "deadline_minutes": 45})
    r = await op.request("PUT", f"/api/v1/plans/{pid}", json=edited)
    assert r.status == 200, await r.text()
    assert (await r.json())["version"] == 2
    # a stale edit is refused
    r = await op.request("PUT", f"/api/v1/plans/{pid}", json=ammonia_plan(base_version=1))
    assert r.status == 409 and (await r.json())["error"]["code"] == "version_conflict"
    versions = await (await op.get(f"/api/v1/plans/{pid}/versions")).json()
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["current"]
    assert versions[0]["change_note"] == "扩大适用级别" and versions[0]["created_by_name"] == "operator"
    old = await (await op.get(f"/api/v1/plans/{pid}/versions/1")).json()
    assert old["data"]["levels"] == ["III", "IV"] and len(old["data"]["steps"]) == 2
    diff = await (await op.get(f"/api/v1/plans/{pid}/diff", params={"from": 1, "to": 2})).json()
    fields = {c["field"]: c for c in diff["changes"]}
    assert set(fields) == {"levels", "steps"}
    assert fields["levels"]["before"] == ["III", "IV"] and fields["levels"]["after"] == ["II", "III", "IV"]
    assert {(i["order"], i["change"]) for i in fields["steps"]["items"]} == {(2, "changed"), (3, "added")}
    assert (await op.get(f"/api/v1/plans/{pid}/versions/9")).status == 404
    # retiring keeps history but leaves the library
    assert (await op.delete(f"/api/v1/plans/{pid}")).status == 204
    listed = await (await op.get("/api/v1/plans")).json()
    assert pid not in [p["id"] for p in listed["items"]]
    assert len(await (await op.get(f"/api/v1/plans/{pid}/versions")).json()) == 2
    r = await op.request("PUT", f"/api/v1/plans/{pid}", json=ammonia_plan())
    assert r.status == 409


async def test_search_chinese_text_with_synonyms(api: Api) -> None:
    op = await api.as_user("operator")
    ammonia = await create(op, ammonia_plan(pollutants=[]))  # found through the guide/steps text alone
    await create(op, ammonia_plan(title="氯气泄漏突发环境事件应急预案", pollutants=[{"name": "液氯"}],
                                  guide="液氯钢瓶泄漏时用碱液吸收。", steps=[{
                                      "order": 1, "action": "关闭钢瓶阀门", "responsible_role": "officer",
                                      "deadline_minutes": 10}]))
    await create(op, ammonia_plan(title="江河溢油应急预案", event_types=["water"], pollutants=[{"name": "柴油"}],
                                  guide="布设围油栏，吸油毡回收浮油。", steps=[{
                                      "order": 1, "action": "下游布设围油栏", "responsible_role": "officer",
                                      "deadline_minutes": 30}]))

    async def search(q: str, **kw: Any) -> list[dict[str, Any]]:
        r = await op.get("/api/v1/plans", params={"q": q, **kw})
        assert r.status == 200, await r.text()
        return (await r.json())["items"]

    hits = await search("氨气泄漏")
    assert hits and hits[0]["id"] == ammonia["id"] and hits[0]["score"] > 0
    assert ammonia["id"] not in [h["id"] for h in await search("氯气泄漏")]  # control: must not match
    assert [h["title"] for h in await search("液氯")] == ["氯气泄漏突发环境事件应急预案"]
    assert [h["title"] for h in await search("溢油 围油栏")] == ["江河溢油应急预案"]
    assert [h["title"] for h in await search("7664-41-7")] == [ammonia["title"]]  # by CAS via synonyms
    assert await search("放射源丢失") == []
    assert len(await search("", type="water")) == 1
    assert len(await search("", level="III")) == 3
    assert (await op.get("/api/v1/plans", params={"level": "V"})).status == 422


async def test_json_import_export_and_per_item_errors(api: Api) -> None:
    op = await api.as_user("operator")
    plan = await create(op, ammonia_plan())
    r = await op.get(f"/api/v1/plans/{plan['id']}/export.json")
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    doc = await r.json()
    assert doc["format"] == "ecs-plan" and doc["plan"]["title"] == plan["title"]
    doc["plan"]["title"] = "液氨泄漏事故专项应急预案（复制）"
    bad = dict(ammonia_plan(title="坏预案", levels=["X"]))
    payload = json.dumps({"plans": [doc["plan"], bad, ammonia_plan()]}, ensure_ascii=False).encode()
    result = await _upload(op, payload, "plans.json", "application/json")
    assert [c["title"] for c in result["created"]] == ["液氨泄漏事故专项应急预案（复制）"]
    by_plan = {e["plan"] for e in result["errors"]}
    assert by_plan == {"plans[1]", "plans[2]"}
    assert any("already exists" in e["message"] for e in result["errors"] if e["plan"] == "plans[2]")
    r = await op.post("/api/v1/plans/import", data=_form(b"not json", "x.json", "application/json"))
    assert r.status == 422
    r = await op.post("/api/v1/plans/import", json={})
    assert r.status == 400


def _form(data: bytes, name: str, ctype: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type=ctype)
    return form


async def _upload(client: AuthedApi, data: bytes, name: str, ctype: str) -> dict[str, Any]:
    r = await client.post("/api/v1/plans/import", data=_form(data, name, ctype))
    assert r.status == 200, await r.text()
    return await r.json()


def _workbook(plans: list[list[Any]], steps: list[list[Any]], notes: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "预案"
    ws.append(["预案键", "预案名称", "预案编号", "预案类别", "发布单位", "适用事件类型", "适用级别", "污染物",
               "适用区县", "处置要点", "所需资源"])
    for r in plans:
        ws.append(r)
    s = wb.create_sheet("步骤")
    s.append(["预案键", "序号", "处置措施", "责任角色", "责任单位", "时限(分钟)"])
    for r in steps:
        s.append(r)
    n = wb.create_sheet("通知")
    n.append(["预案键", "级别", "用户", "角色", "单位"])
    for r in notes:
        n.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def test_xlsx_import_with_per_row_errors(api: Api) -> None:
    admin = await api.as_user("admin")
    city = await make_unit(admin, "滨江市生态环境局")
    await make_unit(admin, "临港区生态环境分局", "district", city)
    op = await api.as_user("operator")
    data = _workbook(
        [["A", "化工园区突发环境事件应急预案", "YA-01", "专项", "滨江市生态环境局", "危险化学品泄漏、水污染",
          "II、III", "液氨(7664-41-7)、苯", "临港区生态环境分局", "园区雨水排口立即封堵。",
          "吸附棉:200:件、围油栏:500:米"],
         ["B", "坏预案", None, "未知类别", "滨江市生态环境局", "水污染", "IV", None, "不存在区", None, None]],
        [["A", 1, "启动园区应急池，封堵雨水排口", "值班员", None, 15],
         ["A", 2, "应急监测", None, "临港区生态环境分局", 30],
         ["B", 1, "核实", "值班员", None, "abc"],
         ["C", 1, "孤儿步骤", "值班员", None, 10]],
        [["A", "III", "commander、operator", "带班领导", None],
         ["B", "IV", "nobody", None, None]],
    )
    result = await _upload(op, data, "plans.xlsx", XLSX)
    assert [c["title"] for c in result["created"]] == ["化工园区突发环境事件应急预案"]
    errs = result["errors"]
    rows = {(e.get("sheet"), e.get("row")) for e in errs}
    assert ("预案", 3) in rows  # 未知类别, 不存在区
    assert ("步骤", 4) in rows  # deadline "abc"
    assert ("步骤", 5) in rows  # plan key C does not exist
    assert ("通知", 3) in rows  # user nobody
    assert all(e.get("message") for e in errs)
    plan = await (await op.get(f"/api/v1/plans/{result['created'][0]['id']}")).json()
    assert plan["kind"] == "special" and plan["event_types"] == ["hazchem_leak", "water"]
    assert plan["pollutants"][0]["cas"] == "7664-41-7" and len(plan["area"]["district_unit_ids"]) == 1
    assert plan["steps"][1]["responsible_unit_id"] == plan["area"]["district_unit_ids"][0]
    assert plan["steps"][0]["responsible_role"] == "officer"
    assert plan["resources"][1] == {"type": "围油栏", "quantity": 500, "unit": "米"}
    assert len(plan["notifications"]["III"]["user_ids"]) == 2 and plan["notifications"]["III"]["roles"] == ["leader"]
    # the template downloads and is itself importable
    r = await op.get("/api/v1/plans/import-template.xlsx")
    assert r.status == 200 and r.headers["Content-Type"].startswith(XLSX)
    r = await op.post("/api/v1/plans/import", data=_form(b"PK\x03\x04garbage", "x.xlsx", XLSX))
    assert r.status == 415


async def test_permissions(api: Api) -> None:
    field = await api.as_user("field")
    assert (await field.get("/api/v1/plans")).status == 200
    r = await field.post("/api/v1/plans", json=ammonia_plan())
    assert r.status == 403 and (await r.json())["error"]["details"]["permission"] == "plans:write"
    enterprise = await api.as_user("enterprise")
    assert (await enterprise.get("/api/v1/plans")).status == 403
    commander = await api.as_user("commander")
    assert (await commander.post("/api/v1/plans", json=ammonia_plan())).status == 403
    assert (await api.client.get("/api/v1/plans")).status == 401
