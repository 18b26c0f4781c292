"""Steady Gaussian plume from a continuous point source (Turner 1970, eq. 3.1 and 3.12–3.14)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import checks
from .gaussian import horizontal_factor, vertical_factor
from .sigmas import briggs_sigmas


def plume_concentration(
    q_gps: ArrayLike,
    u_ms: ArrayLike,
    x_m: ArrayLike,
    y_m: ArrayLike,
    z_m: ArrayLike,
    source_height_m: ArrayLike,
    stability: str,
    terrain: str = "rural",
    mixing_height_m: float | None = None,
) -> NDArray[np.float64]:
    """Concentration (g/m³) at (x downwind, y crosswind, z above ground), metres.

    All array arguments broadcast. Work is done on each factor's own broadcast shape, so
    passing x as a row (1, nx) and y as a column (ny, 1) evaluates the sigmas and the
    vertical term once per column. Zero upwind (x ≤ 0).
    """
    q = checks.non_negative(q_gps, "q_gps")
    u = checks.positive(u_ms, "u_ms")
    x = checks.as_float_array(x_m, "x_m")
    y = checks.as_float_array(y_m, "y_m")
    z = checks.non_negative(z_m, "z_m")
    h = checks.non_negative(source_height_m, "source_height_m")
    zi = checks.mixing_height(mixing_height_m)
    downwind = x > 0.0
    x_safe = np.where(downwind, x, 1.0)  # keeps σ > 0 where the result is masked anyway
    sy, sz = briggs_sigmas(x_safe, stability, terrain)
    gz = vertical_factor(z, h, sz, zi)
    gy = horizontal_factor(y, sy)
    return np.where(downwind, (q / u) * gy * gz, 0.0)


def crosswind_integrated_concentration(
    q_gps: ArrayLike,
    u_ms: ArrayLike,
    x_m: ArrayLike,
    z_m: ArrayLike,
    source_height_m: ArrayLike,
    stability: str,
    terrain: str = "rural",
    mixing_height_m: float | None = None,
) -> NDArray[np.float64]:
    """∫C dy (g/m²): the plume with the crosswind Gaussian integrated out (Q/u · g_z)."""
    q = checks.non_negative(q_gps, "q_gps")
    u = checks.positive(u_ms, "u_ms")
    x = checks.as_float_array(x_m, "x_m")
    z = checks.non_negative(z_m, "z_m")
    h = checks.non_negative(source_height_m, "source_height_m")
    zi = checks.mixing_height(mixing_height_m)
    downwind = x > 0.0
    _, sz = briggs_sigmas(np.where(downwind, x, 1.0), stability, terrain)
    return np.where(downwind, (q / u) * vertical_factor(z, h, sz, zi), 0.0)
