"""Levels of concern: the defaults ALOHA uses and custom thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import checks
from .chemicals import Chemical
from .errors import DispersionInputError
from .units import normalise_unit, to_g_m3

# ALOHA's order of preference for the default set: AEGL (60 min), then ERPG, then PAC.
DEFAULT_FAMILIES = ("AEGL", "ERPG", "PAC")


@dataclass(frozen=True)
class LevelOfConcern:
    name: str  # e.g. "AEGL-3"
    value: float
    unit: str  # "ppm" or "mg/m3"
    source: str = "custom"

    def __post_init__(self) -> None:
        checks.positive_scalar(self.value, f"level {self.name!r}")
        normalise_unit(self.unit)

    def g_m3(self, molecular_weight: float | None) -> float:
        return to_g_m3(self.value, self.unit, molecular_weight)


def default_levels(chemical: Chemical, family: str | None = None) -> list[LevelOfConcern]:
    """Tiers 3, 2, 1 of the first family with any value (or of ``family``), most severe first.

    A chemical with none of them falls back to IDLH, and a flammable one without toxic
    levels to 60 % and 10 % of the LEL (ALOHA's flammable-area defaults).
    """
    wanted = family.upper() if family else None
    for fam in (wanted,) if wanted else DEFAULT_FAMILIES:
        found = [LevelOfConcern(f"{fam}-{n}", v.value, v.unit, v.source)
                 for n in (3, 2, 1) if (v := chemical.level(f"{fam}-{n}")) is not None]
        if found:
            return found
    if wanted not in (None, "IDLH"):
        raise DispersionInputError(f"{chemical.name_en} has no {wanted} values")
    idlh = chemical.level("IDLH")
    if idlh is not None:
        return [LevelOfConcern("IDLH", idlh.value, idlh.unit, idlh.source)]
    if chemical.lel_ppm:
        return [LevelOfConcern("60% LEL", 0.6 * chemical.lel_ppm, "ppm", "ALOHA flammable default"),
                LevelOfConcern("10% LEL", 0.1 * chemical.lel_ppm, "ppm", "ALOHA flammable default")]
    raise DispersionInputError(f"no levels of concern known for {chemical.name_en}; give custom levels")


def resolve_levels(
    chemical: Chemical | None, levels: Sequence[LevelOfConcern] | str | None
) -> list[LevelOfConcern]:
    if levels is None or isinstance(levels, str):
        if chemical is None:
            raise DispersionInputError("default levels need a chemical")
        return default_levels(chemical, levels)
    out = list(levels)
    if not out:
        raise DispersionInputError("levels must not be empty")
    for lv in out:
        if not isinstance(lv, LevelOfConcern):
            raise DispersionInputError("levels must be LevelOfConcern items")
    return out
