"""XLSX export and import: headers, masking, content headers, round trip with per-row errors, limits."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

import aiohttp
from openpyxl import Workbook, load_workbook

from tests.api.test_contacts import VALID_ID, make_person, make_unit, search
from tests.conftest import Api, AuthedApi

HEADERS = ["姓名", "单位", "职务", "手机", "办公电话", "邮箱", "身份证号", "值班角色", "备注"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _directory(admin: AuthedApi) -> dict[str, Any]:
    city = await make_unit(admin, "滨江市生态环境局", "city")
    north = await make_unit(admin, "江北区生态环境分局", "district", city["id"])
    south = await make_unit(admin, "江南区生态环境分局", "district", city["id"])
    north_station = await make_unit(admin, "应急监测站", "team", north["id"])
    south_station = await make_unit(admin, "应急监测站", "team", south["id"])
    people = [
        await make_person(admin, north_station["id"], "张三", mobile="13812345678", position="站长",
                          id_number=VALID_ID, duty_roles=["leader", "monitor"], office_phone="021-65810001"),
        await make_person(admin, south_station["id"], "李四", mobile="13900001111", position="监测员",
                          email="lisi@example.gov.cn", duty_roles=["monitor"]),
        await make_person(admin, city["id"], "王五", position="局长", remark="无手机"),
    ]
    return {"city": city, "north_station": north_station, "south_station": south_station, "people": people}


async def _export(client: AuthedApi, **params: Any) -> tuple[aiohttp.ClientResponse, list[list[Any]]]:
    r = await client.get("/api/v1/people/export.xlsx", params=params)
    assert r.status == 200, await r.text()
    ws = load_workbook(io.BytesIO(await r.read())).active
    assert ws is not None
    return r, [list(row) for row in ws.iter_rows(values_only=True)]


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def _import(client: AuthedApi, data: bytes, filename: str = "contacts.xlsx",
                  content_type: str = XLSX) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    return await client.post("/api/v1/people/import", data=form)


async def test_export_headers_rows_and_masking(api: Api) -> None:
    admin = await api.as_user("admin")
    await _directory(admin)
    r, rows = await _export(admin)
    assert r.headers["Content-Type"] == XLSX
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('通讯录.xlsx')}" in disposition
    assert rows[0] == HEADERS
    by_name = {row[0]: row for row in rows[1:]}
    assert sorted(by_name) == ["张三", "李四", "王五"]
    # Units whose names repeat are written as a path that tells them apart.
    assert by_name["张三"] == ["张三", "江北区生态环境分局/应急监测站", "站长", "13812345678", "021-65810001", None,
                             VALID_ID, "带班领导、监测员", None]
    assert by_name["王五"][1] == "滨江市生态环境局" and by_name["王五"][3] is None

    _, rows = await _export(await api.as_user("operator"))
    zs = next(row for row in rows if row[0] == "张三")
    assert zs[3] == "13812345678" and zs[6] == "1101**********002X"
    _, rows = await _export(await api.as_user("pilot"))
    zs = next(row for row in rows if row[0] == "张三")
    assert zs[3] == "138****5678" and zs[6] == "1101**********002X"
    # The same filters as the JSON list.
    _, rows = await _export(admin, q="ls")
    assert [row[0] for row in rows[1:]] == ["李四"]
    assert (await (await api.as_user("screen")).get("/api/v1/people/export.xlsx")).status == 403


async def test_round_trip_with_changes_and_bad_rows(api: Api) -> None:
    admin = await api.as_user("admin")
    d = await _directory(admin)
    op = await api.as_user("operator")  # has contacts:write but not :identity, so ID numbers export masked
    _, rows = await _export(op)
    zs_row = next(i for i, row in enumerate(rows) if row[0] == "张三")
    rows[zs_row][2] = "高级工程师"
    rows.append(["赵六", "江南区生态环境分局/应急监测站", "监测员", "+86 137-0000-2222", None, None, None, "监测员",
                 None])
    rows.append(["钱七", "应急监测站", None, "13700003333", None, None, None, None, None])  # ambiguous unit
    rows.append(["孙八", "滨江市生态环境局", None, "12345", None, None, None, "值班员", None])  # bad mobile
    rows.append([None] * 9)  # blank rows are skipped, not errors
    rows.append(["周九", "不存在的单位", None, None, None, None, None, None, None])
    rows.append(["吴十", "滨江市生态环境局", None, "13700002222", None, None, None, None, None])  # same as 赵六
    rows.append(["郑一", "滨江市生态环境局", None, None, None, None, "110105194912310021", "船长", None])
    r = await _import(op, _xlsx(rows))
    assert r.status == 200, await r.text()
    result = await r.json()
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 1, 2)
    errors = {e["row"]: e["message"] for e in result["errors"]}
    assert sorted(errors) == [6, 7, 9, 10, 11]
    assert errors[6].startswith("单位:") and "not unique" in errors[6]
    assert errors[7].startswith("手机:")
    assert errors[9].startswith("单位:") and "不存在的单位" in errors[9]
    assert errors[10].startswith("手机:") and "row 5" in errors[10]
    assert errors[11].startswith("值班角色:") and "船长" in errors[11]

    zs = await (await admin.get(f"/api/v1/people/{d['people'][0]['id']}")).json()
    assert zs["position"] == "高级工程师"
    assert zs["id_number"] == VALID_ID  # the masked cell kept the stored number
    assert zs["duty_roles"] == ["leader", "monitor"]
    new = (await (await admin.get("/api/v1/people", params={"q": "13700002222"})).json())["items"]
    assert [(p["name"], p["unit_id"], p["duty_roles"]) for p in new] == [
        ("赵六", d["south_station"]["id"], ["monitor"])]
    assert await search(admin, "孙八") == [] and await search(admin, "钱七") == []
    total = (await (await admin.get("/api/v1/people")).json())["total"]
    assert total == 4
    ev = (await (await admin.get("/api/v1/events", params={"type": "people.imported"})).json())["items"]
    assert [e["payload"] for e in ev] == [{"created": 1, "updated": 1, "unchanged": 2, "errors": 5}]


async def test_import_rejects_non_xlsx_bad_template_and_masked_mobile(api: Api) -> None:
    admin = await api.as_user("admin")
    await _directory(admin)
    r = await _import(admin, "姓名,单位\n张三,办公室\n".encode(), "contacts.csv", "text/csv")
    assert r.status == 415 and (await r.json())["error"]["code"] == "unsupported_type"
    r = await _import(admin, b"PK\x03\x04not really a zip", "x.xlsx")
    assert r.status == 415
    r = await _import(admin, _xlsx([["name", "unit"], ["张三", "办公室"]]))
    assert r.status == 422 and (await r.json())["error"]["code"] == "invalid_template"
    r = await _import(admin, b"PK\x03\x04" + b"\0" * (5 * 1024 * 1024 + 1))
    assert r.status == 413
    r = await admin.post("/api/v1/people/import", json={})
    assert r.status == 400
    _, rows = await _export(await api.as_user("pilot"))  # masked mobiles
    r = await _import(admin, _xlsx(rows))
    result = await r.json()
    assert result["created"] == 0 and result["updated"] == 0
    masked_errors = [e for e in result["errors"] if "masked" in e["message"]]
    assert len(masked_errors) == 2  # 张三 and 李四; 王五 has no mobile and matches by name and unit
    assert result["unchanged"] == 1
    r = await _import(await api.as_user("pilot"), _xlsx(rows))
    assert r.status == 403


async def test_export_never_writes_formulas(api: Api) -> None:
    import zipfile

    admin = await api.as_user("admin")
    city = await make_unit(admin, "滨江市生态环境局", "city")
    await make_person(admin, city["id"], "王五", remark='=HYPERLINK("http://evil.example","点我")', position="=1+1")
    r, rows = await _export(admin)
    assert rows[1][2] == "=1+1" and rows[1][8].startswith("=HYPERLINK(")
    sheet = zipfile.ZipFile(io.BytesIO(await r.read())).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet
