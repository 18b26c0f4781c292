"""1-D advection–dispersion of an instantaneous spill in a river (MAP-12).

C(x, t) = M / (A·√(4πDt)) · exp(−(x − ut)² / (4Dt)) · exp(−kt)

for a mass M released at x = 0, t = 0 and mixed over the cross-section A, carried at the
mean velocity u with longitudinal dispersion coefficient D and first-order decay k
(Fischer et al. 1979, ch. 2–5). Concentrations are in g/m³ (= mg/L). The model only holds
once the spill is mixed across the channel (roughly ≥ 0.4·u·W²/ε_t downstream, with W the width
and ε_t the transverse mixing coefficient); nearer the spill it under-estimates the peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import checks
from .errors import DispersionInputError

_BISECTION_STEPS = 80  # halves the log-time bracket to ~1e-12 of its width


@dataclass(frozen=True)
class RiverSpill:
    mass_g: float
    velocity_ms: float
    dispersion_m2s: float
    area_m2: float
    decay_per_s: float = 0.0

    def concentration(self, x_m: ArrayLike, t_s: ArrayLike) -> NDArray[np.float64]:
        """C (mg/L) at distance ``x_m`` downstream (m, any sign) and time ``t_s`` (s); 0 for t ≤ 0."""
        x = checks.as_float_array(x_m, "x_m")
        t = checks.as_float_array(t_s, "t_s")
        return self._c(x, t)

    def _c(self, x: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        d, u = self.dispersion_m2s, self.velocity_ms
        ts = np.where(t > 0.0, t, 1.0)
        c = (self.mass_g / (self.area_m2 * np.sqrt(4.0 * np.pi * d * ts))
             * np.exp(-((x - u * ts) ** 2) / (4.0 * d * ts) - self.decay_per_s * ts))
        return np.where(t > 0.0, c, 0.0)

    def peak_time(self, x_m: ArrayLike) -> NDArray[np.float64]:
        """Time (s) of the maximum at each distance: the positive root of
        (u² + 4Dk)t² + 2Dt − x² = 0, from d(ln C)/dt = 0."""
        x = self._distances(x_m)
        d, u, k = self.dispersion_m2s, self.velocity_ms, self.decay_per_s
        a = u * u + 4.0 * d * k
        return (-d + np.sqrt(d * d + a * x * x)) / a

    def peak_concentration(self, x_m: ArrayLike) -> NDArray[np.float64]:
        x = self._distances(x_m)
        return self._c(x, self.peak_time(x))

    def leading_edge_time(self, x_m: ArrayLike) -> NDArray[np.float64]:
        """Time (s) at which ut + 2σ reaches x, σ = √(2Dt): the cloud's front edge
        (concentration there is e^−2 ≈ 14 % of the passing peak)."""
        x = self._distances(x_m)
        d, u = self.dispersion_m2s, self.velocity_ms
        root_t = (-2.0 * np.sqrt(2.0 * d) + np.sqrt(8.0 * d + 4.0 * u * x)) / (2.0 * u)
        return root_t**2

    def arrival_time(self, x_m: ArrayLike, threshold_mg_l: float) -> NDArray[np.float64]:
        """First time (s) C reaches ``threshold_mg_l``; NaN where the peak stays below it."""
        return self._crossing(x_m, threshold_mg_l, rising=True)

    def clear_time(self, x_m: ArrayLike, threshold_mg_l: float) -> NDArray[np.float64]:
        """Time (s) C falls back below ``threshold_mg_l`` (e.g. to reopen a water intake)."""
        return self._crossing(x_m, threshold_mg_l, rising=False)

    def _crossing(self, x_m: ArrayLike, threshold: float, *, rising: bool) -> NDArray[np.float64]:
        level = checks.positive_scalar(threshold, "threshold_mg_l")
        x = self._distances(x_m)
        tp = self.peak_time(x)
        reached = self._c(x, tp) >= level
        # C is unimodal in t (one root of d ln C/dt), so bisection on either side of the
        # peak finds the single crossing; work in log t because fronts are steep.
        if rising:
            lo, hi = np.log(tp * 1e-9), np.log(tp)
        else:
            lo, hi = np.log(tp), np.log(tp * 1e3)
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            above = self._c(x, np.exp(mid)) >= level
            if rising:
                hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
            else:
                lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        return np.where(reached, np.exp(0.5 * (lo + hi)), np.nan)

    @staticmethod
    def _distances(x_m: ArrayLike) -> NDArray[np.float64]:
        x = checks.as_float_array(x_m, "x_m")
        if np.any(x <= 0.0):
            raise DispersionInputError("distances for peak/arrival must be > 0 m downstream")
        return x


def river_spill(
    mass_kg: float,
    velocity_ms: float,
    dispersion_m2s: float,
    area_m2: float,
    decay_per_s: float = 0.0,
) -> RiverSpill:
    """Build the spill model; concentrations come out in mg/L (= g/m³)."""
    mass = checks.non_negative_scalar(mass_kg, "mass_kg") * 1000.0
    u = checks.positive_scalar(velocity_ms, "velocity_ms")
    d = checks.positive_scalar(dispersion_m2s, "dispersion_m2s")
    a = checks.positive_scalar(area_m2, "area_m2")
    k = checks.non_negative_scalar(decay_per_s, "decay_per_s")
    return RiverSpill(mass, u, d, a, k)
