"""The demo city: a real unit tree, ~200 generated people with valid, unique numbers, linked accounts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from command_server.core.security import SystemActor
from command_server.core.services import SERVICES
from command_server.demo.city import seed_city
from tests.conftest import Api, start_api

MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-\d{7,8}$")


def _id_valid(v: str) -> bool:
    # GB 11643, written out independently of the code under test.
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return "10X98765432"[sum(int(c) * w for c, w in zip(v[:17], weights, strict=True)) % 11] == v[17]


def _flatten(forest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for node in forest for n in [node, *_flatten(node["children"])]]


@pytest.fixture
async def city(settings_factory) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    a = await start_api(settings_factory(seed_demo_city=True))
    try:
        yield a
    finally:
        await a.client.close()


async def _everyone(client: Any) -> list[dict[str, Any]]:
    people: list[dict[str, Any]] = []
    page = 1
    while True:
        r = await client.get("/api/v1/people", params={"page": page, "page_size": 200})
        body = await r.json()
        people += body["items"]
        if len(people) >= body["total"]:
            return people
        page += 1


async def test_demo_city_units_people_and_numbers(city: Api) -> None:
    admin = await city.as_user("admin")
    units = _flatten(await (await admin.get("/api/v1/org/units")).json())
    assert len(units) >= 10
    roots = [u for u in units if u["parent_id"] is None]
    assert [r["name"] for r in roots] == ["滨江市生态环境局"] and roots[0]["kind"] == "city"
    assert {"district", "department", "team"} <= {u["kind"] for u in units}
    assert len({u["code"] for u in units}) == len(units)

    people = await _everyone(admin)
    assert len(people) >= 150
    assert roots[0]["people_count"] == len(people)
    mobiles = [p["mobile"] for p in people]
    assert all(m and MOBILE.match(m) for m in mobiles)
    assert len(set(mobiles)) == len(mobiles)
    assert all(LANDLINE.match(p["office_phone"]) for p in people)
    ids = [p["id_number"] for p in people if p["id_number"]]
    assert len(ids) >= 30 and all(_id_valid(v) for v in ids)
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", p["name"]) for p in people)
    assert len({p["name"][0] for p in people}) >= 30  # generated from a surname list, not one family
    assert any(p["duty_roles"] == ["officer"] for p in people)
    # Positions match the unit they are in.
    for p in people:
        if p["position"] == "无人机飞手":
            assert p["unit_name"] == "应急监测站"


async def test_demo_people_are_found_by_initials_and_accounts_are_linked(city: Api) -> None:
    op = await city.as_user("operator")
    people = await _everyone(op)
    for p in people[::37]:
        r = await op.get("/api/v1/people", params={"q": p["initials"], "page_size": 200})
        found = (await r.json())["items"]
        assert p["id"] in [f["id"] for f in found], p["name"]
        assert len(found) < len(people) // 4  # the query narrows, it does not return everyone
    by_user = {p["user_id"]: p for p in people if p["user_id"]}
    expected = {"commander": ("应急管理处", "处长"), "operator": ("应急管理处", "值班员"),
                "field": ("环境监察大队", "执法队员"), "pilot": ("应急监测站", "无人机飞手")}
    for username, (unit, position) in expected.items():
        me = await (await (await city.as_user(username)).get("/api/v1/auth/me")).json()
        person = by_user[me["id"]]
        assert me["person_id"] == person["id"]
        assert (person["unit_name"], person["position"]) == (unit, position), username
    assert "screen" not in {p["user_id"] for p in people}
    ev = [e for e in (await (await op.get("/api/v1/events", params={"type": "demo.seeded"})).json())["items"]
          if "people" in e["payload"]]  # other modules' seeds announce themselves with the same type
    assert len(ev) == 1 and ev[0]["payload"]["people"] == len(people)
    assert (await (await op.get("/api/v1/events", params={"type": "person."})).json())["items"] == []


async def test_seeding_the_city_adds_the_directory(api: Api) -> None:
    svc = api.app[SERVICES]
    await seed_city(svc, SystemActor(username="seed"))
    admin = await api.as_user("admin")
    assert (await (await admin.get("/api/v1/people")).json())["total"] >= 150
