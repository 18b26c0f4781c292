"""Scoring plans against an incident: pure functions over plain inputs (no database, no HTTP).

score = Σ weight × factor, each factor in [0, 1], rounded to 4 places; plans are ranked best first (ties:
more recent version first, then id). Weights (they sum to 1):

=========  ======  ==========================================================================================
factor     weight  how the factor is scored
=========  ======  ==========================================================================================
type       0.35    1 the incident's type is one of the plan's types; 0.4 a related type (a chemical leak and
                   air/water pollution, a fire and hazardous waste…); 0 otherwise
pollutant  0.25    1 same chemical (CAS, canonical name or synonym: 氨气 = 液氨 = 7664-41-7); 0.6 same class
                   (柴油 is 石油类); 0.4 the plan names no pollutant (any substance); 0.3 the incident's
                   pollutant is unknown; 0 otherwise
level      0.15    1 the plan covers the incident's level; 0.5 an adjacent level; 0.5 level not yet set; 0
area       0.15    1 the incident's point lies in the plan's polygon, or its district is in the plan's list;
                   0.7 the plan has no area restriction (city-wide); 0.5 the incident has no location; 0
text       0.10    cosine similarity of jieba tokens (with chemical synonyms, generic words like 应急/预案
                   removed) between the incident's title + description + pollutant and the plan's text
=========  ======  ==========================================================================================

Each factor carries an explanation in Chinese (``explanation``) and English (``explanation_en``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import Point, shape

from . import text as ptext

WEIGHTS: dict[str, float] = {"type": 0.35, "pollutant": 0.25, "level": 0.15, "area": 0.15, "text": 0.10}
LEVELS = ("I", "II", "III", "IV")
TYPE_LABELS = {"water": "水污染", "air": "大气污染", "soil": "土壤污染", "hazchem_leak": "危险化学品泄漏",
               "hazardous_waste": "危险废物", "radiation": "辐射", "fire_explosion": "火灾爆炸次生污染",
               "other": "其他"}
TYPE_LABELS_EN = {"water": "water pollution", "air": "air pollution", "soil": "soil pollution",
                  "hazchem_leak": "hazardous chemical leak", "hazardous_waste": "hazardous waste",
                  "radiation": "radiation", "fire_explosion": "fire/explosion", "other": "other"}
RELATED_TYPES: dict[str, frozenset[str]] = {
    "hazchem_leak": frozenset({"air", "water", "fire_explosion"}),
    "fire_explosion": frozenset({"hazchem_leak", "air", "hazardous_waste"}),
    "hazardous_waste": frozenset({"soil", "water", "fire_explosion"}),
    "water": frozenset({"hazchem_leak", "soil"}),
    "air": frozenset({"hazchem_leak", "fire_explosion"}),
    "soil": frozenset({"water", "hazardous_waste"}),
    "radiation": frozenset(),
    "other": frozenset(),
}


@dataclass(frozen=True)
class IncidentFacts:
    type: str | None = None
    level: str | None = None
    pollutant: str | None = None
    lon: float | None = None
    lat: float | None = None
    district_unit_id: int | None = None
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class PlanFacts:
    id: int
    title: str
    event_types: Sequence[str] = ()
    levels: Sequence[str] = ()
    pollutants: Sequence[dict[str, Any]] = ()  # {name, cas, canonical}
    district_unit_ids: Sequence[int] = ()
    polygon: dict[str, Any] | None = None
    text_tokens: frozenset[str] = field(default_factory=frozenset)  # similarity tokens of the plan
    version: int = 1


@dataclass(frozen=True)
class Factor:
    score: float
    zh: str
    en: str


def type_factor(incident_type: str | None, plan_types: Sequence[str]) -> Factor:
    if not incident_type:
        return Factor(0.3, "事件类型未确定", "the incident's type is not set")
    label, label_en = TYPE_LABELS.get(incident_type, incident_type), TYPE_LABELS_EN.get(incident_type, incident_type)
    if incident_type in plan_types:
        return Factor(1.0, f"预案适用于{label}事件", f"the plan covers {label_en} incidents")
    related = [t for t in plan_types if t in RELATED_TYPES.get(incident_type, frozenset())]
    if related:
        names = "、".join(TYPE_LABELS.get(t, t) for t in related)
        names_en = ", ".join(TYPE_LABELS_EN.get(t, t) for t in related)
        return Factor(0.4, f"预案适用于相关类型（{names}），不直接覆盖{label}",
                      f"the plan covers related types ({names_en}), not {label_en} itself")
    names = "、".join(TYPE_LABELS.get(t, t) for t in plan_types) or "无"
    return Factor(0.0, f"事件类型{label}不在预案适用类型（{names}）中",
                  f"{label_en} is not among the plan's types")


def level_factor(incident_level: str | None, plan_levels: Sequence[str]) -> Factor:
    if not incident_level or incident_level not in LEVELS:
        return Factor(0.5, "事件级别尚未确定", "the incident's level is not set yet")
    covered = "、".join(plan_levels) or "无"
    if incident_level in plan_levels:
        return Factor(1.0, f"预案适用于{incident_level}级事件", f"the plan covers level {incident_level}")
    idx = LEVELS.index(incident_level)
    dist = min((abs(LEVELS.index(lv) - idx) for lv in plan_levels if lv in LEVELS), default=9)
    if dist == 1:
        return Factor(0.5, f"预案适用级别（{covered}）与{incident_level}级相邻",
                      f"the plan's levels ({covered}) are next to level {incident_level}")
    return Factor(0.0, f"预案适用级别（{covered}）不含{incident_level}级",
                  f"the plan's levels ({covered}) do not include {incident_level}")


def pollutant_keys(entry: dict[str, Any]) -> set[str]:
    keys: set[str] = set()
    for k in ("name", "cas", "canonical"):
        v = entry.get(k)
        if v:
            keys |= ptext.chemical_keys(str(v))
    return keys


def pollutant_factor(incident_pollutant: str | None, plan_pollutants: Sequence[dict[str, Any]]) -> Factor:
    if not plan_pollutants:
        return Factor(0.4, "预案未限定污染物，适用于各类物质", "the plan names no pollutant (any substance)")
    if not incident_pollutant or not incident_pollutant.strip():
        return Factor(0.3, "事件污染物未知", "the incident's pollutant is unknown")
    inc_keys = set()
    for part in _split_names(incident_pollutant):
        inc_keys |= ptext.chemical_keys(part)
    for entry in plan_pollutants:
        common = (inc_keys & pollutant_keys(entry)) - ptext.CLASS_TOKENS
        if common:
            how = entry.get("cas") if entry.get("cas") in common else sorted(common, key=len)[-1]
            return Factor(1.0, f"污染物“{incident_pollutant}”与预案所列“{entry.get('name')}”为同一物质（{how}）",
                          f"pollutant '{incident_pollutant}' is the plan's '{entry.get('name')}' ({how})")
    # A class counts when one side names it (the plan lists 石油类 or 有毒气体, or the incident's pollutant is
    # such a class): two different single chemicals of one class are not a match.
    inc_named, inc_member = inc_keys & set(ptext.CLASSES), ptext.chemical_classes(inc_keys)
    for entry in plan_pollutants:
        keys = pollutant_keys(entry)
        shared = ((keys & set(ptext.CLASSES)) & inc_member) | (inc_named & ptext.chemical_classes(keys))
        if shared:
            cls = sorted(shared)[0]
            return Factor(0.6, f"污染物“{incident_pollutant}”与预案所列“{entry.get('name')}”同属{cls}",
                          f"pollutant '{incident_pollutant}' is in the same class ({cls}) as the plan's "
                          f"'{entry.get('name')}'")
    names = "、".join(str(e.get("name")) for e in plan_pollutants)
    return Factor(0.0, f"污染物“{incident_pollutant}”不在预案所列（{names}）中",
                  f"pollutant '{incident_pollutant}' is not among the plan's ({names})")


def _split_names(value: str) -> list[str]:
    return [p for p in re.split(r"[、,，;；/\s]+", value.strip()) if p]


def point_in_polygon(lon: float, lat: float, polygon: dict[str, Any]) -> bool:
    try:
        geom = shape(polygon)
    except Exception:
        return False
    return bool(geom.covers(Point(lon, lat)))


def area_factor(incident: IncidentFacts, plan: PlanFacts) -> Factor:
    if not plan.polygon and not plan.district_unit_ids:
        return Factor(0.7, "预案未限定区域，全市适用", "the plan applies city-wide")
    has_point = incident.lon is not None and incident.lat is not None
    if not has_point and incident.district_unit_id is None:
        return Factor(0.5, "事件位置未知", "the incident's location is unknown")
    if plan.polygon and has_point and point_in_polygon(float(incident.lon), float(incident.lat),  # type: ignore[arg-type]
                                                       plan.polygon):
        return Factor(1.0, "事发地点位于预案适用范围内", "the incident lies inside the plan's area")
    if incident.district_unit_id is not None and incident.district_unit_id in plan.district_unit_ids:
        return Factor(1.0, "事发地所在区县在预案适用区县之列", "the incident's district is in the plan's list")
    return Factor(0.0, "事发地点不在预案适用范围内", "the incident lies outside the plan's area")


def text_factor(incident_tokens: set[str], plan_tokens: Iterable[str]) -> Factor:
    ptoks = set(plan_tokens)
    sim = ptext.cosine(incident_tokens, ptoks)
    common = sorted(incident_tokens & ptoks, key=lambda t: (-len(t), t))[:6]
    if not common:
        return Factor(0.0, "事件描述与预案文本无共同关键词", "no keyword in common with the plan's text")
    words = "、".join(common)
    return Factor(round(sim, 4), f"共同关键词：{words}（相似度 {sim:.2f}）",
                  f"keywords in common: {', '.join(common)} (similarity {sim:.2f})")


def score_plan(incident: IncidentFacts, plan: PlanFacts, incident_tokens: set[str] | None = None
               ) -> dict[str, Any]:
    """One plan's score with its factors and their explanations."""
    if incident_tokens is None:
        incident_tokens = ptext.similarity_tokens(incident.title, incident.description, incident.pollutant)
    factors = {
        "type": type_factor(incident.type, plan.event_types),
        "pollutant": pollutant_factor(incident.pollutant, plan.pollutants),
        "level": level_factor(incident.level, plan.levels),
        "area": area_factor(incident, plan),
        "text": text_factor(incident_tokens, plan.text_tokens),
    }
    score = sum(WEIGHTS[k] * f.score for k, f in factors.items())
    return {
        "plan_id": plan.id,
        "title": plan.title,
        "version": plan.version,
        "score": round(score, 4),
        "factors": {k: round(f.score, 4) for k, f in factors.items()},
        "weights": dict(WEIGHTS),
        "explanation": {k: f.zh for k, f in factors.items()},
        "explanation_en": {k: f.en for k, f in factors.items()},
    }


def rank(incident: IncidentFacts, plans: Iterable[PlanFacts]) -> list[dict[str, Any]]:
    """Every plan scored, best first (ties: higher version, then lower id)."""
    tokens = ptext.similarity_tokens(incident.title, incident.description, incident.pollutant)
    scored = [(score_plan(incident, p, tokens), p) for p in plans]
    scored.sort(key=lambda sp: (-sp[0]["score"], -sp[1].version, sp[1].id))
    return [s for s, _ in scored]
