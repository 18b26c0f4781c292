"""Briggs (1973) dispersion coefficients σy, σz as tabulated by Gifford (1976).

Every formula has the shape σ = a·x·(1 + b·x)^p. Open-country (rural) curves are Briggs'
interpolation of the Pasquill–Gifford curves; urban curves are his fit to the St Louis
data of McElroy & Pooler (1968). Several reprints garble the urban σz exponents (the D
curve is often printed with +½ instead of −½); the values below are the originals, with
the growing (1 + 0.001x)^+½ belonging only to urban A–B. Nominal range 100 m – 10 km;
beyond it the formulas are extrapolated, as ISC3 and ALOHA do.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import checks
from .errors import DispersionInputError

Coefficients = tuple[float, float, float]  # (a, b, p) in σ = a·x·(1 + b·x)^p

_RURAL_Y: dict[str, Coefficients] = {
    "A": (0.22, 1e-4, -0.5),
    "B": (0.16, 1e-4, -0.5),
    "C": (0.11, 1e-4, -0.5),
    "D": (0.08, 1e-4, -0.5),
    "E": (0.06, 1e-4, -0.5),
    "F": (0.04, 1e-4, -0.5),
}
_RURAL_Z: dict[str, Coefficients] = {
    "A": (0.20, 0.0, 0.0),
    "B": (0.12, 0.0, 0.0),
    "C": (0.08, 2e-4, -0.5),
    "D": (0.06, 1.5e-3, -0.5),
    "E": (0.03, 3e-4, -1.0),
    "F": (0.016, 3e-4, -1.0),
}
_URBAN_Y: dict[str, Coefficients] = {
    "A": (0.32, 4e-4, -0.5),
    "B": (0.32, 4e-4, -0.5),
    "C": (0.22, 4e-4, -0.5),
    "D": (0.16, 4e-4, -0.5),
    "E": (0.11, 4e-4, -0.5),
    "F": (0.11, 4e-4, -0.5),
}
_URBAN_Z: dict[str, Coefficients] = {
    "A": (0.24, 1e-3, 0.5),
    "B": (0.24, 1e-3, 0.5),
    "C": (0.20, 0.0, 0.0),
    "D": (0.14, 3e-4, -0.5),
    "E": (0.08, 1.5e-3, -0.5),
    "F": (0.08, 1.5e-3, -0.5),
}
_TABLES = {"rural": (_RURAL_Y, _RURAL_Z), "urban": (_URBAN_Y, _URBAN_Z)}


def briggs_coefficients(stability: str, terrain: str = "rural") -> tuple[Coefficients, Coefficients]:
    """The (a, b, p) triples for σy and σz of one class and terrain."""
    cls = checks.stability(stability)
    table_y, table_z = _TABLES[checks.terrain(terrain)]
    return table_y[cls], table_z[cls]


def briggs_sigmas(
    x_m: ArrayLike, stability: str, terrain: str = "rural"
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """σy and σz (m) at downwind distance ``x_m`` (m, ≥ 0; broadcasts)."""
    x = checks.as_float_array(x_m, "x_m")
    if np.any(x < 0.0):
        raise DispersionInputError("x_m must be >= 0 (sigmas are defined downwind only)")
    (ay, by, py), (az, bz, pz) = briggs_coefficients(stability, terrain)
    return _sigma(x, ay, by, py), _sigma(x, az, bz, pz)


def _sigma(x: NDArray[np.float64], a: float, b: float, p: float) -> NDArray[np.float64]:
    if b == 0.0 or p == 0.0:
        return a * x
    return a * x * (1.0 + b * x) ** p
