"""The contacts directory: pinyin search, masking per role, validation, duplicates, events, encryption at rest."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from command_server.core.services import SERVICES
from tests.conftest import Api, AuthedApi

# GB 11643's own example: 11010519491231002X is valid; change the check character and it is not.
VALID_ID = "11010519491231002X"
WRONG_CHECK_ID = "110105194912310021"


async def make_unit(admin: AuthedApi, name: str, kind: str, parent_id: int | None = None,
                    code: str | None = None) -> dict[str, Any]:
    r = await admin.post("/api/v1/org/units", json={"name": name, "kind": kind, "parent_id": parent_id,
                                                    "code": code})
    assert r.status == 201, await r.text()
    return await r.json()


async def make_person(admin: AuthedApi, unit_id: int, name: str, **fields: Any) -> dict[str, Any]:
    r = await admin.post("/api/v1/people", json={"name": name, "unit_id": unit_id, **fields})
    assert r.status == 201, await r.text()
    return await r.json()


async def search(client: AuthedApi, q: str, **params: Any) -> list[str]:
    r = await client.get("/api/v1/people", params={"q": q, "page_size": 200, **params})
    assert r.status == 200, await r.text()
    return [p["name"] for p in (await r.json())["items"]]


async def small_org(admin: AuthedApi) -> dict[str, int]:
    city = await make_unit(admin, "滨江市生态环境局", "city")
    station = await make_unit(admin, "应急监测站", "team", city["id"])
    inspect = await make_unit(admin, "环境监察大队", "team", city["id"])
    return {"city": city["id"], "station": station["id"], "inspect": inspect["id"]}


@pytest.fixture
async def people(api: Api) -> dict[str, Any]:
    admin = await api.as_user("admin")
    units = await small_org(admin)
    made = {
        "张三": await make_person(admin, units["station"], "张三", mobile="13812345678", position="监测员"),
        "张三丰": await make_person(admin, units["station"], "张三丰", mobile="13900001111", position="站长"),
        "单雄信": await make_person(admin, units["inspect"], "单雄信", mobile="13700002222"),
        "曾小贤": await make_person(admin, units["inspect"], "曾小贤"),
        "李四": await make_person(admin, units["inspect"], "李四", mobile="15000003333", position="执法队员"),
    }
    return {"admin": admin, "units": units, "people": made}


async def test_initials_full_pinyin_and_partial_name(api: Api, people: dict[str, Any]) -> None:
    op = await api.as_user("operator")
    names = await search(op, "zs")
    assert names[:2] == ["张三", "张三丰"] and "李四" not in names
    assert set(await search(op, "zhangsan")) == {"张三", "张三丰"}
    assert set(await search(op, "Zhang San")) == {"张三", "张三丰"}
    assert await search(op, "zsf") == ["张三丰"]
    assert await search(op, "三丰") == ["张三丰"]
    # Exact name ranks before a longer name it is a prefix of.
    assert (await search(op, "张三"))[:2] == ["张三", "张三丰"]
    assert await search(op, "lisi") == ["李四"]
    assert await search(op, "wangwu") == []


async def test_heteronym_surnames_are_found_both_ways(api: Api, people: dict[str, Any]) -> None:
    op = await api.as_user("operator")
    for q in ("sxx", "dxx", "shanxiongxin", "danxiongxin"):
        assert await search(op, q) == ["单雄信"], q
    for q in ("zxx", "zengxiaoxian", "cengxiaoxian"):
        assert await search(op, q) == ["曾小贤"], q
    # 单 also reads chan, so "cxx" rightly finds both; the surname reading ranks nothing lower here.
    assert set(await search(op, "cxx")) == {"曾小贤", "单雄信"}
    person = (await (await op.get("/api/v1/people", params={"q": "单雄信"})).json())["items"][0]
    assert person["pinyin"] == "shanxiongxin"  # the surname reading is the primary one
    assert person["initials"] == "sxx"


async def test_phone_unit_and_position_search(api: Api, people: dict[str, Any]) -> None:
    op = await api.as_user("operator")
    assert await search(op, "13812345678") == ["张三"]
    assert await search(op, "+86 138-1234-5678") == ["张三"]
    assert await search(op, "5678") == ["张三"]  # the last four digits, shown in the masked form
    assert await search(op, "138") == ["张三"]  # the first three
    assert await search(op, "2345") == []  # hidden middle digits are not searchable
    assert await search(op, "13812345679") == []
    assert set(await search(op, "监察大队")) == {"单雄信", "曾小贤", "李四"}
    assert await search(op, "站长") == ["张三丰"]
    # LIKE wildcards in a query are literal characters, not "match anything".
    assert await search(op, "%") == []
    assert await search(op, "_") == []


async def test_unit_filter_and_paging(api: Api, people: dict[str, Any]) -> None:
    op = await api.as_user("operator")
    units = people["units"]
    r = await op.get("/api/v1/people", params={"unit_id": units["city"], "page_size": 2, "page": 2})
    page = await r.json()
    assert page["total"] == 5 and page["page"] == 2 and page["page_size"] == 2 and len(page["items"]) == 2
    r = await op.get("/api/v1/people", params={"unit_id": units["city"], "include_sub_units": "false"})
    assert (await r.json())["total"] == 0
    assert set(await search(op, "", unit_id=units["station"])) == {"张三", "张三丰"}
    assert await search(op, "zs", unit_id=units["inspect"]) == []
    r = await op.get("/api/v1/people", params={"page_size": 500})
    assert r.status == 422


async def test_masking_per_role(api: Api, people: dict[str, Any]) -> None:
    admin = people["admin"]
    p = await make_person(admin, people["units"]["city"], "王五", mobile="186 0000 4444", id_number=VALID_ID)
    url = f"/api/v1/people/{p['id']}"
    full = await (await admin.get(url)).json()
    assert full["mobile"] == "18600004444" and full["id_number"] == VALID_ID
    op = await (await (await api.as_user("operator")).get(url)).json()
    assert op["mobile"] == "18600004444"
    assert op["id_number"] == "1101**********002X"
    pilot = await (await (await api.as_user("pilot")).get(url)).json()  # contacts:read without :sensitive
    assert pilot["mobile"] == "186****4444"
    assert pilot["id_number"] == "1101**********002X"
    for role in ("screen", "enterprise"):
        r = await (await api.as_user(role)).get("/api/v1/people")
        assert r.status == 403, role
        assert (await r.json())["error"]["details"]["permission"] == "contacts:read"
    r = await (await api.as_user("pilot")).post("/api/v1/people", json={"name": "x", "unit_id": 1})
    assert r.status == 403


def _locs(body: dict[str, Any]) -> list[list[str]]:
    return [e["loc"] for e in body["error"]["details"]["errors"]]


@pytest.mark.parametrize(("field", "value", "loc"), [
    ("name", "", ["body", "name"]),
    ("name", "张" * 33, ["body", "name"]),
    ("mobile", "12345678901", ["body", "mobile"]),
    ("mobile", "1381234567", ["body", "mobile"]),
    ("office_phone", "12345", ["body", "office_phone"]),
    ("email", "someone@", ["body", "email"]),
    ("id_number", "11010519491231002", ["body", "id_number"]),
    ("duty_roles", ["captain"], ["body", "duty_roles", "0"]),
])
async def test_validation_errors_name_the_field(api: Api, field: str, value: Any, loc: list[str]) -> None:
    admin = await api.as_user("admin")
    units = await small_org(admin)
    body = {"name": "赵六", "unit_id": units["city"], field: value}
    r = await admin.post("/api/v1/people", json=body)
    assert r.status == 422, await r.text()
    assert _locs(await r.json()) == [loc]


async def test_unit_must_exist_and_id_check_digit(api: Api) -> None:
    admin = await api.as_user("admin")
    units = await small_org(admin)
    r = await admin.post("/api/v1/people", json={"name": "赵六", "unit_id": 9999})
    assert r.status == 422
    assert _locs(await r.json()) == [["body", "unit_id"]]
    r = await admin.post("/api/v1/people", json={"name": "赵六", "unit_id": units["city"], "id_number": WRONG_CHECK_ID})
    assert r.status == 422
    err = (await r.json())["error"]["details"]["errors"][0]
    assert err["loc"] == ["body", "id_number"] and "check digit" in err["msg"] and "X" in err["msg"]
    r = await admin.post("/api/v1/people", json={"name": "赵六", "unit_id": units["city"],
                                                 "id_number": "110105194913310028"})  # month 13
    assert r.status == 422 and "birth date" in (await r.text())
    p = await make_person(admin, units["city"], "赵六", id_number=VALID_ID.lower(),
                          office_phone="(021) 6581 2345 转 12", email="Zhao.Liu@Example.gov.cn",
                          mobile="+86 139-0000-5555", duty_roles=["leader", "leader"])
    assert p["id_number"] == VALID_ID
    assert p["office_phone"] == "021-65812345-12"
    assert p["email"] == "zhao.liu@example.gov.cn"
    assert p["mobile"] == "13900005555"
    assert p["duty_roles"] == ["leader"]


async def test_duplicate_mobile_is_409(api: Api, people: dict[str, Any]) -> None:
    admin = people["admin"]
    r = await admin.post("/api/v1/people", json={"name": "重复", "unit_id": people["units"]["city"],
                                                 "mobile": "+86 138 1234 5678"})
    assert r.status == 409
    body = await r.json()
    assert body["error"]["code"] == "duplicate_mobile"
    assert body["error"]["details"]["person_id"] == people["people"]["张三"]["id"]
    li = people["people"]["李四"]["id"]
    r = await admin.patch(f"/api/v1/people/{li}", json={"mobile": "13812345678"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "duplicate_mobile"
    # Setting one's own number again is not a duplicate.
    r = await admin.patch(f"/api/v1/people/{li}", json={"mobile": "15000003333"})
    assert r.status == 200


async def test_patch_is_partial_and_delete(api: Api, people: dict[str, Any]) -> None:
    admin = people["admin"]
    zs = people["people"]["张三"]
    url = f"/api/v1/people/{zs['id']}"
    r = await admin.patch(url, json={"position": "站长助理", "unit_id": people["units"]["inspect"]})
    assert r.status == 200
    p = await r.json()
    assert p["position"] == "站长助理" and p["unit_name"] == "环境监察大队"
    assert p["mobile"] == "13812345678" and p["name"] == "张三"
    # The search text followed the move to the new unit and the new position.
    op = await api.as_user("operator")
    assert "张三" in await search(op, "监察大队")
    assert "张三" not in await search(op, "监测站")
    assert await search(op, "站长助理") == ["张三"]
    r = await admin.patch(url, json={"name": None})
    assert r.status == 422 and _locs(await r.json()) == [["body", "name"]]
    r = await admin.patch(url, json={"position": None})
    assert (await r.json())["position"] is None
    r = await admin.delete(url)
    assert r.status == 204
    assert (await admin.get(url)).status == 404
    assert (await admin.delete(url)).status == 404


async def test_link_to_account(api: Api, people: dict[str, Any]) -> None:
    admin = people["admin"]
    users = await (await admin.get("/api/v1/users")).json()
    field_id = next(u["id"] for u in users if u["username"] == "field")
    zs = people["people"]["张三"]
    r = await admin.patch(f"/api/v1/people/{zs['id']}", json={"user_id": field_id})
    assert r.status == 200 and (await r.json())["user_id"] == field_id
    me = await (await (await api.as_user("field")).get("/api/v1/auth/me")).json()
    assert me["person_id"] == zs["id"]
    r = await admin.patch(f"/api/v1/people/{people['people']['李四']['id']}", json={"user_id": field_id})
    assert r.status == 409 and (await r.json())["error"]["code"] == "user_already_linked"
    r = await admin.patch(f"/api/v1/people/{zs['id']}", json={"user_id": 99999})
    assert r.status == 422 and _locs(await r.json()) == [["body", "user_id"]]


async def test_writes_emit_events_without_numbers(api: Api) -> None:
    admin = await api.as_user("admin")
    units = await small_org(admin)
    p = await make_person(admin, units["city"], "孙七", mobile="13611112222", id_number=VALID_ID)
    await admin.patch(f"/api/v1/people/{p['id']}", json={"mobile": "13633334444", "remark": "新号码"})
    await admin.patch(f"/api/v1/people/{p['id']}", json={"remark": "新号码"})  # no change: no event
    await admin.delete(f"/api/v1/people/{p['id']}")
    op = await api.as_user("operator")
    r = await op.get("/api/v1/events", params={"type": "person.", "after": 0})
    events = (await r.json())["items"]
    assert [e["type"] for e in events] == ["person.created", "person.updated", "person.deleted"]
    assert all(e["subject_id"] == str(p["id"]) for e in events)
    assert events[1]["payload"]["fields"] == ["remark", "mobile"]
    dumped = json.dumps(events)
    for secret in ("13611112222", "13633334444", "1361111", "2222", VALID_ID, "19491231"):
        assert secret not in dumped, secret
    r = await op.get("/api/v1/events", params={"type": "unit.", "after": 0})
    assert [e["type"] for e in (await r.json())["items"]] == ["unit.created"] * 3


async def test_phone_and_id_are_ciphertext_at_rest(api: Api) -> None:
    admin = await api.as_user("admin")
    units = await small_org(admin)
    p = await make_person(admin, units["city"], "周八", mobile="13598765432", id_number=VALID_ID)
    async with api.app[SERVICES].db.engine.connect() as conn:
        row = (await conn.execute(text("SELECT mobile, id_number, mobile_index, mobile_masked, search_text "
                                       "FROM people WHERE id = :id"), {"id": p["id"]})).one()
    mobile, id_number, index, masked, search_text = row
    assert mobile.startswith("sm4g1:") and id_number.startswith("sm4g1:")
    raw = " ".join(str(v) for v in row)
    for clear in ("13598765432", "98765432", VALID_ID, "110105194912"):
        assert clear not in raw
    assert masked == "135****5432"
    assert len(index) == 64 and "5432" not in search_text
    r = await admin.patch(f"/api/v1/people/{p['id']}", json={"mobile": None})
    assert (await r.json())["mobile"] is None
    async with api.app[SERVICES].db.engine.connect() as conn:
        cleared = (await conn.execute(text("SELECT mobile, mobile_index, mobile_masked FROM people WHERE id = :id"),
                                      {"id": p["id"]})).one()
    assert tuple(cleared) == (None, None, None)


async def test_usual_reading_ranks_before_rare_heteronyms(api: Api) -> None:
    admin = await api.as_user("admin")
    org = await small_org(admin)
    unit = next(iter(org.values()))
    # 董 can also be read "zhong"; a search for "zh" must still list 张 (zhang) first.
    await make_person(admin, unit, "董华博")
    await make_person(admin, unit, "张辉峰")
    names = await search(admin, "zh")
    assert names.index("张辉峰") < names.index("董华博")
