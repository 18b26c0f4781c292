"""Incident level from the 2014 national plan for environmental emergencies (国办函〔2014〕119号, annex 1).

Any one criterion decides: the suggested level is the highest level any criterion reaches. Boundaries, exactly
as the table (a lower bound belongs to the higher level):

| criterion | I 特别重大 | II 重大 | III 较大 | IV 一般 |
|---|---|---|---|---|
| deaths | ≥ 30 | 10–29 | 3–9 | < 3 |
| poisoned or seriously injured | ≥ 100 | 50–99 | 10–49 | < 10 |
| evacuated | ≥ 50,000 | 10,000–49,999 | 5,000–9,999 | < 5,000 |
| direct loss (CNY) | ≥ 100 M | ≥ 20 M and < 100 M | ≥ 5 M and < 20 M | < 5 M |
| drinking-water intake cut off | city (设区的市) | county town | township | — |
| radiation source | class I/II out of control, wide contamination | class I/II lost/stolen | class III | class IV/V |
| cross-boundary impact | international | cross-province | cross-city | cross-county |

So exactly 20 M CNY is II (重大) and exactly 100 M CNY is I (特别重大).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LEVELS = ("I", "II", "III", "IV")
LEVEL_NAMES = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
LEVEL_NAMES_EN = {"I": "particularly major", "II": "major", "III": "large", "IV": "general"}

# (threshold for I, II, III): value >= threshold reaches that level; below the last one is IV.
NUMERIC: dict[str, tuple[int, int, int]] = {
    "deaths": (30, 10, 3),
    "poisoned_or_injured": (100, 50, 10),
    "evacuated": (50_000, 10_000, 5_000),
    "direct_loss_cny": (100_000_000, 20_000_000, 5_000_000),
}
NUMERIC_LABELS = {
    "deaths": ("死亡", "人", "deaths", "people"),
    "poisoned_or_injured": ("中毒或重伤", "人", "poisoned or seriously injured", "people"),
    "evacuated": ("疏散转移", "人", "evacuated", "people"),
    "direct_loss_cny": ("直接经济损失", "元", "direct economic loss", "CNY"),
}

WATER_INTAKE = {"city": "I", "county": "II", "township": "III"}
WATER_LABELS = {"city": ("设区的市集中式饮用水水源地取水中断", "drinking-water intake of a city cut off"),
                "county": ("县级城市集中式饮用水水源地取水中断", "drinking-water intake of a county town cut off"),
                "township": ("乡镇集中式饮用水水源地取水中断", "drinking-water intake of a township cut off")}
RADIATION = {"class_i_ii_wide_contamination": "I", "class_i_ii_lost": "II", "class_iii": "III", "class_iv_v": "IV"}
RADIATION_LABELS = {
    "class_i_ii_wide_contamination": ("Ⅰ、Ⅱ类放射源失控造成大范围严重辐射污染",
                                      "class I/II radioactive source out of control with wide contamination"),
    "class_i_ii_lost": ("Ⅰ、Ⅱ类放射源丢失、被盗", "class I/II radioactive source lost or stolen"),
    "class_iii": ("Ⅲ类放射源丢失、被盗或失控", "class III radioactive source lost, stolen or out of control"),
    "class_iv_v": ("Ⅳ、Ⅴ类放射源丢失、被盗或失控", "class IV/V radioactive source lost, stolen or out of control"),
}
CROSS_BOUNDARY = {"international": "I", "province": "II", "city": "III", "county": "IV"}
CROSS_LABELS = {"international": ("造成跨国界影响", "impact across the national border"),
                "province": ("造成跨省级行政区域影响", "impact across a provincial boundary"),
                "city": ("造成跨设区的市级行政区域影响", "impact across a city boundary"),
                "county": ("造成跨县级行政区域影响", "impact across a county boundary")}


@dataclass
class Factor:
    criterion: str
    value: Any
    level: str
    text: str
    text_en: str
    decisive: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "value": self.value, "level": self.level, "text": self.text,
                "text_en": self.text_en, "decisive": self.decisive}


def _rank(level: str) -> int:
    return LEVELS.index(level)


def _numeric_level(criterion: str, value: int | float) -> tuple[str, str, str]:
    t1, t2, t3 = NUMERIC[criterion]
    name, unit, name_en, unit_en = NUMERIC_LABELS[criterion]
    shown = f"{value:,.0f}" if criterion == "direct_loss_cny" else f"{value:g}"
    if value >= t1:
        return "I", f"{name} {shown} {unit}（≥ {t1:,}）", f"{name_en} {shown} {unit_en} (≥ {t1:,})"
    if value >= t2:
        return ("II", f"{name} {shown} {unit}（≥ {t2:,} 且 < {t1:,}）",
                f"{name_en} {shown} {unit_en} ({t2:,} to < {t1:,})")
    if value >= t3:
        return ("III", f"{name} {shown} {unit}（≥ {t3:,} 且 < {t2:,}）",
                f"{name_en} {shown} {unit_en} ({t3:,} to < {t2:,})")
    return "IV", f"{name} {shown} {unit}（< {t3:,}）", f"{name_en} {shown} {unit_en} (< {t3:,})"


def suggest(criteria: dict[str, Any]) -> dict[str, Any]:
    """``{level, reasons, factors}``: reasons are the deciding criteria in words (zh-CN; ``factors`` also
    carry English), factors every criterion that was given, with the level it alone would reach."""
    factors: list[Factor] = []
    for name in NUMERIC:
        value = criteria.get(name)
        if value is None:
            continue
        level, text, text_en = _numeric_level(name, value)
        if value > 0 or level != "IV":
            factors.append(Factor(name, value, level, text, text_en))
    for name, table, labels in (("water_intake_cutoff", WATER_INTAKE, WATER_LABELS),
                                ("radiation", RADIATION, RADIATION_LABELS),
                                ("cross_boundary", CROSS_BOUNDARY, CROSS_LABELS)):
        value = criteria.get(name)
        if value:
            zh, en = labels[value]
            factors.append(Factor(name, value, table[value], zh, en))
    if factors:
        level = min((f.level for f in factors), key=_rank)
    else:
        level = "IV"
    for f in factors:
        f.decisive = f.level == level
    reasons = [f"{f.text} → {f.level} 级（{LEVEL_NAMES[f.level]}）" for f in factors if f.decisive]
    if not reasons:
        reasons = ["各项指标均未达到较大及以上分级标准 → IV 级（一般）"]
    reasons_en = [f"{f.text_en} → level {f.level} ({LEVEL_NAMES_EN[f.level]})" for f in factors if f.decisive] or [
        "no criterion reaches level III or above → level IV (general)"]
    return {"level": level, "level_name": LEVEL_NAMES[level], "reasons": reasons, "reasons_en": reasons_en,
            "factors": [f.as_dict() for f in factors]}
