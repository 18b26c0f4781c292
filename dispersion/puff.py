"""Gaussian puff for an instantaneous release.

Puff spread: the Briggs plume σ evaluated at the distance the puff centre has travelled
(σx = σy). This is the approximation ALOHA-style emergency tools make, chosen over
Slade's (1968) instantaneous-puff σ because (a) it describes the *ensemble-average*
puff, including the meander that decides where a real puff may go — what an
evacuation zone must cover — and (b) it keeps the time-integrated dose identical to the
plume's C·(u/Q), so plume and puff zones stay consistent. The cost: a single realised puff
is narrower than this, so its instantaneous peak can be several times higher than
``puff_concentration`` (Slade's σy at 100 m is ~2–3× smaller than the P–G/Briggs σy).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import checks
from .gaussian import horizontal_factor, vertical_factor
from .sigmas import briggs_sigmas


def puff_concentration(
    mass_g: ArrayLike,
    u_ms: ArrayLike,
    t_s: ArrayLike,
    x_m: ArrayLike,
    y_m: ArrayLike,
    z_m: ArrayLike,
    source_height_m: ArrayLike,
    stability: str,
    terrain: str = "rural",
    mixing_height_m: float | None = None,
) -> NDArray[np.float64]:
    """Concentration (g/m³) at time ``t_s`` after release; zero for t ≤ 0 or x ≤ 0."""
    m = checks.non_negative(mass_g, "mass_g")
    u = checks.positive(u_ms, "u_ms")
    t = checks.as_float_array(t_s, "t_s")
    x = checks.as_float_array(x_m, "x_m")
    y = checks.as_float_array(y_m, "y_m")
    z = checks.non_negative(z_m, "z_m")
    h = checks.non_negative(source_height_m, "source_height_m")
    zi = checks.mixing_height(mixing_height_m)
    travelled = u * t
    active = (t > 0.0) & (x > 0.0)
    sy, sz = briggs_sigmas(np.where(travelled > 0.0, travelled, 1.0), stability, terrain)
    c = m * horizontal_factor(x - travelled, sy) * horizontal_factor(y, sy) \
        * vertical_factor(z, h, sz, zi)
    return np.where(active, c, 0.0)


def puff_peak_concentration(
    mass_g: ArrayLike,
    u_ms: ArrayLike,
    x_m: ArrayLike,
    y_m: ArrayLike,
    z_m: ArrayLike,
    source_height_m: ArrayLike,
    stability: str,
    terrain: str = "rural",
    mixing_height_m: float | None = None,
) -> NDArray[np.float64]:
    """Maximum over time at a receptor (g/m³): the puff centre passing, σ taken at x.

    The exact maximum of ``puff_concentration`` occurs slightly earlier (the puff is still
    smaller then); the difference is of order (σx/x)², a few per cent in the zones' range.
    """
    m = checks.non_negative(mass_g, "mass_g")
    u = checks.positive(u_ms, "u_ms")  # validated for the caller's sake; not used by the peak
    del u
    x = checks.as_float_array(x_m, "x_m")
    y = checks.as_float_array(y_m, "y_m")
    z = checks.non_negative(z_m, "z_m")
    h = checks.non_negative(source_height_m, "source_height_m")
    zi = checks.mixing_height(mixing_height_m)
    downwind = x > 0.0
    sy, sz = briggs_sigmas(np.where(downwind, x, 1.0), stability, terrain)
    peak_x = 1.0 / (np.sqrt(2.0 * np.pi) * sy)
    c = m * peak_x * horizontal_factor(y, sy) * vertical_factor(z, h, sz, zi)
    return np.where(downwind, c, 0.0)


def puff_dose(
    mass_g: ArrayLike,
    u_ms: ArrayLike,
    x_m: ArrayLike,
    y_m: ArrayLike,
    z_m: ArrayLike,
    source_height_m: ArrayLike,
    stability: str,
    terrain: str = "rural",
    mixing_height_m: float | None = None,
) -> NDArray[np.float64]:
    """Time-integrated concentration ∫C dt (g·s/m³) at a receptor.

    Integrating the along-wind Gaussian over time gives 1/u, so the dose is the plume
    formula with Q replaced by the mass: M/u · g_y · g_z, σ taken at the receptor distance
    (the leading-order term; σ growth during the passage adds O((σx/x)²)).
    """
    m = checks.non_negative(mass_g, "mass_g")
    u = checks.positive(u_ms, "u_ms")
    x = checks.as_float_array(x_m, "x_m")
    y = checks.as_float_array(y_m, "y_m")
    z = checks.non_negative(z_m, "z_m")
    h = checks.non_negative(source_height_m, "source_height_m")
    zi = checks.mixing_height(mixing_height_m)
    downwind = x > 0.0
    sy, sz = briggs_sigmas(np.where(downwind, x, 1.0), stability, terrain)
    return np.where(downwind, (m / u) * horizontal_factor(y, sy) * vertical_factor(z, h, sz, zi), 0.0)
