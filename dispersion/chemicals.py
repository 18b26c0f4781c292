"""The bundled table of hazardous substances and their levels of concern."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from .errors import UnknownChemicalError

TIERS = (1, 2, 3)


@dataclass(frozen=True)
class LevelValue:
    value: float
    unit: str  # "ppm" or "mg/m3"
    source: str


@dataclass(frozen=True)
class Chemical:
    cas: str
    name_en: str
    name_zh: str
    molecular_weight: float
    aliases: tuple[str, ...] = ()
    state: str = "gas"
    hazard_category: str = ""
    levels: dict[str, LevelValue] = field(default_factory=dict)
    not_recommended: tuple[str, ...] = ()
    lel_ppm: float | None = None
    disposal_zh: str = ""
    first_aid_zh: str = ""
    summary_en: str = ""

    def level(self, name: str) -> LevelValue | None:
        return self.levels.get(name.upper())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the knowledge base and the API."""
        return {
            "cas": self.cas, "name_en": self.name_en, "name_zh": self.name_zh,
            "aliases": list(self.aliases), "molecular_weight": self.molecular_weight,
            "state": self.state, "hazard_category": self.hazard_category,
            "levels": {k: {"value": v.value, "unit": v.unit, "source": v.source}
                       for k, v in self.levels.items()},
            "not_recommended": list(self.not_recommended), "lel_ppm": self.lel_ppm,
            "disposal_zh": self.disposal_zh, "first_aid_zh": self.first_aid_zh,
            "summary_en": self.summary_en,
        }


def _with_pac(levels: dict[str, LevelValue]) -> dict[str, LevelValue]:
    """DOE PAC-n is AEGL-n (60 min) where it exists, else ERPG-n (else TEEL-n, not bundled)."""
    out = dict(levels)
    for n in TIERS:
        for family in ("AEGL", "ERPG"):
            base = levels.get(f"{family}-{n}")
            if base is not None:
                out[f"PAC-{n}"] = LevelValue(base.value, base.unit, f"DOE PAC rule: {family}-{n}")
                break
    return out


def _parse(rec: dict[str, Any]) -> Chemical:
    levels = {k: LevelValue(float(v["value"]), v["unit"], v["source"]) for k, v in rec["levels"].items()}
    return Chemical(
        cas=rec["cas"], name_en=rec["name_en"], name_zh=rec["name_zh"],
        molecular_weight=float(rec["molecular_weight"]), aliases=tuple(rec.get("aliases", ())),
        state=rec.get("state", "gas"), hazard_category=rec.get("hazard_category", ""),
        levels=_with_pac(levels), not_recommended=tuple(rec.get("not_recommended", ())),
        lel_ppm=rec.get("lel_ppm"), disposal_zh=rec.get("disposal_zh", ""),
        first_aid_zh=rec.get("first_aid_zh", ""), summary_en=rec.get("summary_en", ""),
    )


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[Chemical, ...], dict[str, Chemical]]:
    text = resources.files("dispersion").joinpath("data/chemicals.json").read_text(encoding="utf-8")
    chems = tuple(_parse(r) for r in json.loads(text)["chemicals"])
    index: dict[str, Chemical] = {}
    for chem in chems:
        for key in (chem.cas, chem.name_en, chem.name_zh, *chem.aliases):
            index.setdefault(_key(key), chem)
    return chems, index


def _key(text: str) -> str:
    return " ".join(text.strip().casefold().split())


def list_chemicals() -> list[Chemical]:
    return list(_table()[0])


def get_chemical(name_or_cas: str) -> Chemical:
    """Look up by CAS number, English or Chinese name or alias (case-insensitive)."""
    if not isinstance(name_or_cas, str) or not name_or_cas.strip():
        raise UnknownChemicalError("chemical name or CAS number is required")
    found = _table()[1].get(_key(name_or_cas))
    if found is None:
        raise UnknownChemicalError(f"unknown chemical {name_or_cas!r}")
    return found
