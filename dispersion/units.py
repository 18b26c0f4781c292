"""Concentration unit conversions for gases and vapours at 25 °C, 1 atm."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import checks
from .errors import DispersionInputError

MOLAR_VOLUME_L = 24.45  # L/mol at 25 °C and 101.325 kPa, the AEGL/ERPG convention
UNITS = ("ppm", "mg/m3")


def ppm_to_mg_m3(ppm: ArrayLike, molecular_weight: float) -> NDArray[np.float64]:
    mw = checks.positive_scalar(molecular_weight, "molecular_weight")
    return checks.non_negative(ppm, "ppm") * mw / MOLAR_VOLUME_L


def mg_m3_to_ppm(mg_m3: ArrayLike, molecular_weight: float) -> NDArray[np.float64]:
    mw = checks.positive_scalar(molecular_weight, "molecular_weight")
    return checks.non_negative(mg_m3, "mg_m3") * MOLAR_VOLUME_L / mw


def normalise_unit(unit: str) -> str:
    u = unit.strip().lower().replace("³", "3").replace(" ", "")
    if u in ("ppm",):
        return "ppm"
    if u in ("mg/m3", "mg/m^3", "mgm-3"):
        return "mg/m3"
    raise DispersionInputError(f"unknown concentration unit {unit!r}; use 'ppm' or 'mg/m3'")


def to_g_m3(value: float, unit: str, molecular_weight: float | None) -> float:
    """A level of concern in g/m³, the unit the plume model works in."""
    unit = normalise_unit(unit)
    if unit == "mg/m3":
        return float(value) / 1000.0
    if molecular_weight is None:
        raise DispersionInputError("a ppm level needs the molecular weight")
    return float(ppm_to_mg_m3(value, molecular_weight)) / 1000.0
