"""Checks on caller-supplied coordinates and numbers, raising GisInputError."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from gis.errors import GisInputError

#: Web-Mercator base maps end here; a point beyond it cannot have been
#: picked on the map and local projections/bearings degenerate at the pole.
MAX_ABS_LAT = 85.05112878


def check_lonlat(lon: object, lat: object, what: str = "point") -> tuple[float, float]:
    """Return (lon, lat) as floats or raise GisInputError explaining why not."""
    try:
        x = float(lon)  # type: ignore[arg-type]
        y = float(lat)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise GisInputError(f"{what}: longitude/latitude must be numbers, got {lon!r}, {lat!r}") from None
    check_lonlat_arrays(np.array([x]), np.array([y]), what)
    return x, y


def check_lonlat_arrays(lon: ArrayLike, lat: ArrayLike, what: str = "coordinates") -> None:
    """Raise GisInputError if any lon/lat is NaN/inf, out of range or polar."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise GisInputError(f"{what}: coordinates must be finite numbers (NaN or infinity found)")
    if (np.abs(x) > 180.0).any():
        raise GisInputError(f"{what}: longitude must be within [-180, 180]")
    if (np.abs(y) > 90.0).any():
        raise GisInputError(f"{what}: latitude must be within [-90, 90]")
    if (np.abs(y) > MAX_ABS_LAT).any():
        raise GisInputError(
            f"{what}: latitude beyond ±{MAX_ABS_LAT:.4f}° (a pole) is not supported; "
            "check that longitude and latitude are not swapped"
        )


def check_positive(value: object, what: str, *, allow_zero: bool = False) -> float:
    """A finite positive float, or GisInputError."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise GisInputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise GisInputError(
            f"{what} must be a finite {'non-negative' if allow_zero else 'positive'} number, got {value!r}"
        )
    return v


def check_count(value: object, what: str) -> int:
    """A positive int (bool rejected: True is not a count), or GisInputError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise GisInputError(f"{what} must be a positive integer, got {value!r}")
    return int(value)
