"""Briggs plume rise for hot or fast stack releases, as coded in ISC3 (user's guide vol. II §1.1.4).

Includes stack-tip downwash, the buoyancy/momentum crossover temperature difference, final
rise for unstable–neutral (A–D) and stable (E–F) classes, and the gradual "2/3 law" rise
1.6·(F·x²)^{1/3}/u before the distance of final rise. Temperatures in kelvin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import checks
from .errors import DispersionInputError

G = 9.80616  # m/s², the value ISC3 uses
# ISC3 default potential temperature gradients for the stable classes (K/m).
STABLE_DTHETA_DZ: dict[str, float] = {"E": 0.020, "F": 0.035}


@dataclass(frozen=True)
class StackParameters:
    """Stack exit conditions; all SI (m, m/s, K)."""

    exit_velocity_ms: float
    diameter_m: float
    gas_temperature_k: float
    ambient_temperature_k: float = 293.15

    def __post_init__(self) -> None:
        checks.non_negative_scalar(self.exit_velocity_ms, "exit_velocity_ms")
        checks.positive_scalar(self.diameter_m, "diameter_m")
        checks.positive_scalar(self.gas_temperature_k, "gas_temperature_k")
        checks.positive_scalar(self.ambient_temperature_k, "ambient_temperature_k")


@dataclass(frozen=True)
class RiseResult:
    downwashed_stack_height_m: float
    final_rise_m: float
    distance_to_final_rise_m: float  # 0 for momentum-dominated rise (treated as immediate)
    buoyancy_flux_m4s3: float
    buoyancy_dominated: bool


def buoyancy_flux(stack: StackParameters) -> float:
    dt = max(stack.gas_temperature_k - stack.ambient_temperature_k, 0.0)
    return G * stack.exit_velocity_ms * stack.diameter_m**2 * dt / (4.0 * stack.gas_temperature_k)


def momentum_flux(stack: StackParameters) -> float:
    return (stack.exit_velocity_ms**2 * stack.diameter_m**2
            * stack.ambient_temperature_k / (4.0 * stack.gas_temperature_k))


def stack_tip_downwash(stack_height_m: float, stack: StackParameters, u_stack_ms: float) -> float:
    """Briggs (1974): a slow jet is pulled down into the stack wake by 2d(vs/u − 1.5)."""
    vs, d = stack.exit_velocity_ms, stack.diameter_m
    if vs < 1.5 * u_stack_ms:
        return max(stack_height_m + 2.0 * d * (vs / u_stack_ms - 1.5), 0.0)
    return stack_height_m


def briggs_final_rise(
    stack_height_m: float, stack: StackParameters, u_stack_ms: float, stability: str
) -> RiseResult:
    cls = checks.stability(stability)
    us = checks.positive_scalar(u_stack_ms, "wind speed at stack height")
    hs = checks.non_negative_scalar(stack_height_m, "stack_height_m")
    vs, d, ts = stack.exit_velocity_ms, stack.diameter_m, stack.gas_temperature_k
    dt = stack.gas_temperature_k - stack.ambient_temperature_k
    fb = buoyancy_flux(stack)
    hs_dw = stack_tip_downwash(hs, stack, us)
    if cls in STABLE_DTHETA_DZ:
        s = G * STABLE_DTHETA_DZ[cls] / stack.ambient_temperature_k
        dt_crossover = 0.019582 * ts * vs * np.sqrt(s)
        if fb > 0.0 and dt >= dt_crossover:
            rise = 2.6 * (fb / (us * s)) ** (1.0 / 3.0)
            return RiseResult(hs_dw, rise, 2.0715 * us / np.sqrt(s), fb, True)
        stable_momentum = 1.5 * (momentum_flux(stack) / (us * np.sqrt(s))) ** (1.0 / 3.0)
        rise = min(stable_momentum, 3.0 * d * vs / us)
        return RiseResult(hs_dw, rise, 0.0, fb, False)
    if fb < 55.0:
        dt_crossover = 0.0297 * ts * vs ** (1.0 / 3.0) / d ** (2.0 / 3.0)
    else:
        dt_crossover = 0.00575 * ts * vs ** (2.0 / 3.0) / d ** (1.0 / 3.0)
    if fb > 0.0 and dt >= dt_crossover:
        if fb < 55.0:
            return RiseResult(hs_dw, 21.425 * fb**0.75 / us, 49.0 * fb ** (5.0 / 8.0), fb, True)
        return RiseResult(hs_dw, 38.71 * fb**0.6 / us, 119.0 * fb**0.4, fb, True)
    return RiseResult(hs_dw, 3.0 * d * vs / us, 0.0, fb, False)


def effective_height(
    x_m: ArrayLike,
    stack_height_m: float,
    stack: StackParameters | None,
    u_stack_ms: float,
    stability: str,
) -> NDArray[np.float64]:
    """Plume centreline height (m) at downwind distance ``x_m``, with gradual rise.

    Without stack parameters the release height is returned unchanged (a leak, a pool).
    """
    x = checks.as_float_array(x_m, "x_m")
    if stack is None:
        return np.full_like(x, checks.non_negative_scalar(stack_height_m, "stack_height_m"))
    res = briggs_final_rise(stack_height_m, stack, u_stack_ms, stability)
    if not res.buoyancy_dominated or res.distance_to_final_rise_m <= 0.0:
        return np.full_like(x, res.downwashed_stack_height_m + res.final_rise_m)
    xp = np.maximum(x, 0.0)
    gradual = 1.60 * (res.buoyancy_flux_m4s3 * xp**2) ** (1.0 / 3.0) / u_stack_ms
    rise = np.where(xp < res.distance_to_final_rise_m,
                    np.minimum(gradual, res.final_rise_m), res.final_rise_m)
    return res.downwashed_stack_height_m + rise


def require_stack(stack: object) -> StackParameters:
    if not isinstance(stack, StackParameters):
        raise DispersionInputError("stack must be a StackParameters instance")
    return stack
