"""Plan matching and Chinese text: pure functions with plain inputs (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from command_server.plans import matching as m
from command_server.plans import text as t
from command_server.plans.service import Directory, notification_list_for, plan_assignments

SQUARE = {"type": "Polygon", "coordinates": [[[121.0, 30.0], [122.0, 30.0], [122.0, 31.0], [121.0, 31.0],
                                              [121.0, 30.0]]]}


def plan(**kw):  # type: ignore[no-untyped-def]
    base = dict(id=1, title="p", event_types=("hazchem_leak",), levels=("III", "IV"),
                pollutants=({"name": "液氨", "cas": "7664-41-7", "canonical": "氨"},))
    base.update(kw)
    return m.PlanFacts(**base)


def test_tokens_ammonia_synonyms_meet_by_design() -> None:
    doc = t.document_tokens("液氨储罐泄漏事故专项应急预案")
    groups = t.query_groups("氨气泄漏")
    assert [w for w, _ in groups] == ["氨气", "泄漏"]
    assert all(forms & doc for _, forms in groups)  # 氨气 → 氨 ← 液氨; 泄漏 = 泄漏
    chlorine = t.query_groups("氯气泄漏")
    assert not (chlorine[0][1] & doc)  # 氯气 never meets 液氨


def test_cas_check_digit() -> None:
    assert t.cas_valid("7664-41-7") and t.cas_valid("7782-50-5")
    assert not t.cas_valid("7664-41-8") and not t.cas_valid("abc")


def test_type_factor() -> None:
    assert m.type_factor("hazchem_leak", ["hazchem_leak"]).score == 1.0
    assert m.type_factor("air", ["hazchem_leak"]).score == 0.4  # related
    assert m.type_factor("radiation", ["water"]).score == 0.0
    assert m.type_factor(None, ["water"]).score == 0.3


def test_level_factor() -> None:
    assert m.level_factor("IV", ["III", "IV"]).score == 1.0
    assert m.level_factor("II", ["III", "IV"]).score == 0.5
    assert m.level_factor("I", ["III", "IV"]).score == 0.0
    assert m.level_factor(None, ["IV"]).score == 0.5


@pytest.mark.parametrize("given", ["7664-41-7", "氨气", "液氨", "NH3", "anhydrous ammonia"])
def test_pollutant_same_chemical_by_cas_or_synonym(given: str) -> None:
    f = m.pollutant_factor(given, [{"name": "液氨", "cas": "7664-41-7", "canonical": "氨"}])
    assert f.score == 1.0, f


def test_pollutant_class_none_and_unknown() -> None:
    oil = [{"name": "石油类", "cas": None, "canonical": None}]
    assert m.pollutant_factor("柴油", oil).score == 0.6
    assert m.pollutant_factor("氯气", [{"name": "液氨", "cas": "7664-41-7"}]).score == 0.0
    assert m.pollutant_factor("氯气", []).score == 0.4
    assert m.pollutant_factor(None, oil).score == 0.3


def test_area_factor_polygon_district_and_citywide() -> None:
    inside = m.IncidentFacts(lon=121.5, lat=30.5)
    outside = m.IncidentFacts(lon=123.5, lat=30.5, district_unit_id=7)
    assert m.area_factor(inside, plan(polygon=SQUARE)).score == 1.0
    assert m.area_factor(outside, plan(polygon=SQUARE)).score == 0.0
    assert m.area_factor(outside, plan(district_unit_ids=(7, 8))).score == 1.0
    assert m.area_factor(inside, plan(district_unit_ids=(8,))).score == 0.0
    assert m.area_factor(inside, plan()).score == 0.7
    assert m.area_factor(m.IncidentFacts(), plan(polygon=SQUARE)).score == 0.5


def test_text_factor_and_score_weights() -> None:
    inc = m.IncidentFacts(type="hazchem_leak", level="IV", pollutant="氨气", lon=121.5, lat=30.5,
                          title="某冷库氨气泄漏", description="液氨储罐阀门破裂，下风向有刺激性气味")
    p = plan(polygon=SQUARE, text_tokens=frozenset(t.similarity_tokens("液氨储罐泄漏 关闭阀门 下风向疏散")))
    s = m.score_plan(inc, p)
    assert s["factors"]["type"] == 1 and s["factors"]["pollutant"] == 1 and s["factors"]["level"] == 1
    assert s["factors"]["area"] == 1 and 0 < s["factors"]["text"] <= 1
    expected = sum(m.WEIGHTS[k] * s["factors"][k] for k in m.WEIGHTS)
    assert s["score"] == pytest.approx(expected, abs=1e-3)
    assert set(s["explanation"]) == set(m.WEIGHTS) and "氨" in s["explanation"]["pollutant"]
    assert abs(sum(m.WEIGHTS.values()) - 1.0) < 1e-9


def test_rank_best_first() -> None:
    inc = m.IncidentFacts(type="hazchem_leak", level="IV", pollutant="液氨", title="液氨泄漏")
    ammonia = plan(id=1, title="液氨泄漏", text_tokens=frozenset(t.similarity_tokens("液氨 泄漏")))
    chlorine = plan(id=2, title="氯气泄漏", pollutants=({"name": "液氯", "cas": "7782-50-5"},),
                    text_tokens=frozenset(t.similarity_tokens("液氯 泄漏")))
    water = plan(id=3, title="水污染", event_types=("water",), pollutants=(), levels=("I",))
    ranked = m.rank(inc, [water, chlorine, ammonia])
    assert [r["plan_id"] for r in ranked] == [1, 2, 3]
    assert ranked[0]["score"] > ranked[1]["score"] > ranked[2]["score"]


class _U:
    def __init__(self, id: int, roles: list[str]) -> None:
        self.id, self.roles = id, roles


class _P:
    def __init__(self, user_id: int, unit_id: int, duty_roles: list[str]) -> None:
        self.user_id, self.unit_id, self.duty_roles = user_id, unit_id, duty_roles


class _Unit:
    def __init__(self, id: int, name: str, path: str) -> None:
        self.id, self.name, self.path = id, name, path


def _directory() -> Directory:
    users = {1: _U(1, ["commander"]), 2: _U(2, ["operator"]), 3: _U(3, ["operator"])}
    units = {10: _Unit(10, "应急管理处", "/1/10/"), 11: _Unit(11, "监测科", "/1/10/11/"), 12: _Unit(12, "空", "/1/12/")}
    people = [_P(1, 10, ["leader"]), _P(2, 11, ["monitor"]), _P(3, 11, ["monitor"])]
    return Directory(users, people, units)  # type: ignore[arg-type]


def test_assignments_resolve_units_roles_and_refuse_unknown_users() -> None:
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    steps = [
        {"order": 1, "action": "核实", "responsible_role": "leader", "responsible_unit_id": None,
         "deadline_minutes": 10},
        {"order": 2, "action": "监测", "responsible_role": None, "responsible_unit_id": 11, "deadline_minutes": 30},
        {"order": 3, "action": "调度", "responsible_role": "operator", "responsible_unit_id": None,
         "deadline_minutes": 60},
        {"order": 4, "action": "巡查", "responsible_role": None, "responsible_unit_id": 12, "deadline_minutes": 60},
    ]
    p = {"steps": steps, "notifications": {"III": {"user_ids": [1], "roles": ["monitor"], "unit_ids": []}}}
    tasks, recipients, used, errors, warnings = plan_assignments(p, _directory(), "IV", now)
    assert not errors and used == "III"  # IV has no list: the nearest more severe level's
    assert recipients == [1, 2, 3]
    specs = [x["spec"] for x in tasks]
    assert specs[0]["assignee_user_id"] == 1  # one leader with an account
    assert specs[1]["assignee_unit_id"] == 11  # two people: the unit as a whole
    assert specs[2]["assignee_role"] == "operator"
    assert specs[3]["assignee_unit_id"] == 12 and any("4" in w for w in warnings)
    assert specs[1]["due_at"] == now + dt.timedelta(minutes=30)
    bad = {"steps": steps[:1], "notifications": {"IV": {"user_ids": [999], "roles": [], "unit_ids": [77]}}}
    _, _, _, errors, _ = plan_assignments(bad, _directory(), "IV", now)
    assert {e["loc"][-2] for e in errors} == {"user_ids", "unit_ids"}


def test_notification_level_fallback() -> None:
    lists = {"II": {"user_ids": [1]}, "IV": {"user_ids": [2]}}
    assert notification_list_for(lists, "III")[0] == "II"
    assert notification_list_for(lists, "IV")[0] == "IV"
    assert notification_list_for({"IV": {}}, "I")[0] == "IV"
    assert notification_list_for({}, "I")[0] is None
