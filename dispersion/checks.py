"""Input validation shared by the models.

The checks are centralised so that every public function rejects NaN, infinities and
non-physical values with the same wording, before any arithmetic can hide them in a grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import DispersionInputError, UnknownStabilityClassError

STABILITY_CLASSES: tuple[str, ...] = ("A", "B", "C", "D", "E", "F")
TERRAINS: tuple[str, ...] = ("rural", "urban")


def as_float_array(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Convert to a float64 array and refuse NaN/inf (they would silently poison a grid)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DispersionInputError(f"{name} must be numeric, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise DispersionInputError(f"{name} must be finite (no NaN or infinity)")
    return arr


def positive(value: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = as_float_array(value, name)
    if np.any(arr <= 0.0):
        raise DispersionInputError(f"{name} must be > 0, got {_show(value)}")
    return arr


def non_negative(value: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = as_float_array(value, name)
    if np.any(arr < 0.0):
        raise DispersionInputError(f"{name} must be >= 0, got {_show(value)}")
    return arr


def positive_scalar(value: Any, name: str) -> float:
    arr = positive(value, name)
    if arr.ndim != 0:
        raise DispersionInputError(f"{name} must be a single number")
    return float(arr)


def mixing_height(value: float | None) -> float | None:
    """An optional mixing-layer height: None (no lid) or a positive number of metres."""
    return None if value is None else positive_scalar(value, "mixing_height_m")


def non_negative_scalar(value: Any, name: str) -> float:
    arr = non_negative(value, name)
    if arr.ndim != 0:
        raise DispersionInputError(f"{name} must be a single number")
    return float(arr)


def stability(value: Any) -> str:
    """Normalise a Pasquill class; accept 'a', ' D ' and 1–6 as used by some met feeds."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 1 <= value <= 6:
        return STABILITY_CLASSES[int(value) - 1]
    if isinstance(value, str) and value.strip().upper() in STABILITY_CLASSES:
        return value.strip().upper()
    raise UnknownStabilityClassError(
        f"unknown stability class {value!r}; expected one of {', '.join(STABILITY_CLASSES)}"
    )


def terrain(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in TERRAINS:
        return value.strip().lower()
    raise UnknownStabilityClassError(f"unknown terrain {value!r}; expected 'rural' or 'urban'")


def _show(value: Any) -> str:
    arr = np.asarray(value)
    return repr(value) if arr.size <= 4 else f"an array with min {np.min(arr)!r}"
