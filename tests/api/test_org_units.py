"""Units as a tree: counts through sub-units, placement rules, moving subtrees, cycles, deleting."""

from __future__ import annotations

from typing import Any

from tests.api.test_contacts import make_person, make_unit, search
from tests.conftest import Api, AuthedApi


def _find(forest: list[dict[str, Any]], unit_id: int) -> dict[str, Any]:
    for node in forest:
        if node["id"] == unit_id:
            return node
        try:
            return _find(node["children"], unit_id)
        except KeyError:
            pass
    raise KeyError(unit_id)


async def _tree(client: AuthedApi) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/org/units")
    assert r.status == 200
    return await r.json()


async def test_tree_with_people_counts_and_order(api: Api) -> None:
    admin = await api.as_user("admin")
    city = await make_unit(admin, "滨江市生态环境局", "city", code="BJ")
    north = await make_unit(admin, "江北区生态环境分局", "district", city["id"])
    team = await make_unit(admin, "应急监测站", "team", north["id"])
    r = await admin.post("/api/v1/org/units", json={"name": "办公室", "kind": "department",
                                                    "parent_id": city["id"], "sort_order": -1})
    office = await r.json()
    await make_person(admin, city["id"], "局长甲")
    await make_person(admin, team["id"], "队员乙")
    await make_person(admin, team["id"], "队员丙")
    tree = await _tree(await api.as_user("screen"))  # org:read is enough, contacts are not needed
    assert [n["name"] for n in tree] == ["滨江市生态环境局"]
    root = tree[0]
    assert root == {**root, "kind": "city", "code": "BJ", "parent_id": None, "people_count": 3}
    assert [c["id"] for c in root["children"]] == [office["id"], north["id"]]  # sort_order first
    assert _find(tree, north["id"])["people_count"] == 2
    assert _find(tree, team["id"])["people_count"] == 2
    assert _find(tree, office["id"])["people_count"] == 0
    assert _find(tree, team["id"])["children"] == []


async def test_create_validation(api: Api) -> None:
    admin = await api.as_user("admin")
    city = await make_unit(admin, "滨江市生态环境局", "city", code="BJ")
    team = await make_unit(admin, "应急监测站", "team", city["id"])

    async def refused(body: dict[str, Any], status: int, where: str) -> None:
        r = await admin.post("/api/v1/org/units", json=body)
        assert r.status == status, (body, await r.text())
        err = (await r.json())["error"]
        if status == 422:
            assert [e["loc"] for e in err["details"]["errors"]] == [["body", where]]
        else:
            assert err["code"] == where

    await refused({"name": "另一个市", "kind": "city", "parent_id": city["id"]}, 422, "parent_id")
    await refused({"name": "无主科", "kind": "team"}, 422, "parent_id")
    await refused({"name": "孤儿", "kind": "team", "parent_id": 9999}, 422, "parent_id")
    await refused({"name": "区中区", "kind": "district", "parent_id": team["id"]}, 422, "parent_id")
    await refused({"name": "小组", "kind": "squad", "parent_id": city["id"]}, 422, "kind")
    await refused({"name": " ", "kind": "team", "parent_id": city["id"]}, 422, "name")
    await refused({"name": "重号", "kind": "team", "parent_id": city["id"], "code": "BJ"}, 409, "duplicate_code")
    r = await (await api.as_user("operator")).post("/api/v1/org/units", json={"name": "x", "kind": "city"})
    assert r.status == 403


async def test_move_rewrites_subtree_and_refuses_cycles(api: Api) -> None:
    admin = await api.as_user("admin")
    city = await make_unit(admin, "滨江市生态环境局", "city")
    north = await make_unit(admin, "江北区生态环境分局", "district", city["id"])
    south = await make_unit(admin, "江南区生态环境分局", "district", city["id"])
    station = await make_unit(admin, "应急监测站", "team", north["id"])
    squad = await make_unit(admin, "采样组", "team", station["id"])
    await make_person(admin, station["id"], "站长甲")
    await make_person(admin, squad["id"], "采样员乙")
    op = await api.as_user("operator")
    assert set(await search(op, "", unit_id=north["id"])) == {"站长甲", "采样员乙"}

    r = await admin.patch(f"/api/v1/org/units/{station['id']}", json={"parent_id": south["id"]})
    assert r.status == 200, await r.text()
    assert (await r.json())["people_count"] == 2
    # The grandchild moved with it: sub-unit search follows the rewritten paths.
    assert await search(op, "", unit_id=north["id"]) == []
    assert set(await search(op, "", unit_id=south["id"])) == {"站长甲", "采样员乙"}
    assert set(await search(op, "", unit_id=station["id"])) == {"站长甲", "采样员乙"}
    tree = await _tree(op)
    assert [c["id"] for c in _find(tree, south["id"])["children"]] == [station["id"]]
    assert _find(tree, north["id"])["people_count"] == 0 and _find(tree, south["id"])["people_count"] == 2

    for target in (station["id"], squad["id"]):
        r = await admin.patch(f"/api/v1/org/units/{station['id']}", json={"parent_id": target})
        assert r.status == 409 and (await r.json())["error"]["code"] == "unit_cycle"
    r = await admin.patch(f"/api/v1/org/units/{city['id']}", json={"parent_id": squad["id"]})
    assert r.status == 409 and (await r.json())["error"]["code"] == "unit_cycle"
    r = await admin.patch(f"/api/v1/org/units/{station['id']}", json={"parent_id": 9999})
    assert r.status == 422
    # A district holding teams cannot become a team's parent kind it is not allowed to be.
    r = await admin.patch(f"/api/v1/org/units/{south['id']}", json={"kind": "city"})
    assert r.status == 422


async def test_rename_updates_people_search(api: Api) -> None:
    admin = await api.as_user("admin")
    city = await make_unit(admin, "滨江市生态环境局", "city")
    team = await make_unit(admin, "采样组", "team", city["id"])
    await make_person(admin, team["id"], "采样员乙")
    op = await api.as_user("operator")
    assert await search(op, "辐射监测组") == []
    r = await admin.patch(f"/api/v1/org/units/{team['id']}", json={"name": "辐射监测组", "code": "FS-1"})
    assert r.status == 200 and (await r.json())["code"] == "FS-1"
    assert await search(op, "辐射监测组") == ["采样员乙"]
    assert await search(op, "采样组") == []
    r = await op.get("/api/v1/events", params={"type": "unit.updated"})
    payload = (await r.json())["items"][0]["payload"]
    assert sorted(payload["fields"]) == ["code", "name"]


async def test_delete_only_empty_units(api: Api) -> None:
    admin = await api.as_user("admin")
    city = await make_unit(admin, "滨江市生态环境局", "city")
    team = await make_unit(admin, "采样组", "team", city["id"])
    person = await make_person(admin, team["id"], "采样员乙")
    r = await admin.delete(f"/api/v1/org/units/{city['id']}")
    assert r.status == 409
    body = (await r.json())["error"]
    assert body["code"] == "unit_not_empty" and body["details"] == {"children": 1, "people": 0}
    r = await admin.delete(f"/api/v1/org/units/{team['id']}")
    assert r.status == 409 and (await r.json())["error"]["details"] == {"children": 0, "people": 1}
    assert (await admin.delete(f"/api/v1/people/{person['id']}")).status == 204
    assert (await admin.delete(f"/api/v1/org/units/{team['id']}")).status == 204
    assert (await admin.delete(f"/api/v1/org/units/{team['id']}")).status == 404
    assert [n["children"] for n in await _tree(admin)] == [[]]
    r = await admin.get("/api/v1/events", params={"type": "unit.deleted"})
    assert [e["subject_id"] for e in (await r.json())["items"]] == [str(team["id"])]
