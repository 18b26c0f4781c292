"""Release and meteorology inputs, and the ground-level field they produce.

``Release`` and ``Met`` are what callers fill in; ``ground_field`` turns them into a
function of (x downwind, y crosswind) that the zone code samples on a grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import checks
from .errors import DispersionInputError
from .gaussian import horizontal_factor, vertical_factor
from .plume_rise import StackParameters, effective_height
from .sigmas import briggs_sigmas
from .stability import stability_class
from .wind import MIN_TRANSPORT_WIND_MS, wind_at_height

Field = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]


@dataclass(frozen=True)
class Release:
    """A point release. Give ``rate_gps`` (continuous) *or* ``mass_g`` (instantaneous)."""

    lon: float
    lat: float
    rate_gps: float | None = None
    mass_g: float | None = None
    height_m: float = 0.0
    duration_s: float | None = None  # informational: continuous plumes are treated as steady
    stack: StackParameters | None = None

    def __post_init__(self) -> None:
        lon = float(checks.as_float_array(self.lon, "lon"))
        lat = float(checks.as_float_array(self.lat, "lat"))
        if not (-180.0 <= lon <= 180.0 and -90.0 < lat < 90.0):
            raise DispersionInputError(f"source position out of range: lon {lon}, lat {lat}")
        if (self.rate_gps is None) == (self.mass_g is None):
            raise DispersionInputError("give exactly one of rate_gps (continuous) or mass_g (instantaneous)")
        if self.rate_gps is not None:
            checks.positive_scalar(self.rate_gps, "rate_gps")
        if self.mass_g is not None:
            checks.positive_scalar(self.mass_g, "mass_g")
        checks.non_negative_scalar(self.height_m, "height_m")
        if self.duration_s is not None:
            checks.positive_scalar(self.duration_s, "duration_s")

    @property
    def instantaneous(self) -> bool:
        return self.mass_g is not None


@dataclass(frozen=True)
class Met:
    """Weather at the source. Wind at 10 m, direction it blows FROM (degrees clockwise from north).

    Give ``stability`` directly, or leave it None and give the observations
    ``stability_class`` needs (``daytime`` plus insolation or cloud cover …).
    """

    wind_speed_ms: float
    wind_from_deg: float
    stability: str | None = None
    terrain: str = "rural"
    mixing_height_m: float | None = None
    daytime: bool | None = None
    insolation: str | None = None
    cloud_cover_tenths: float | None = None
    ceiling_m: float | None = None
    solar_altitude_deg: float | None = None

    def __post_init__(self) -> None:
        checks.positive_scalar(self.wind_speed_ms, "wind_speed_ms")
        checks.as_float_array(self.wind_from_deg, "wind_from_deg")
        checks.terrain(self.terrain)
        if self.stability is not None:
            checks.stability(self.stability)
        elif self.daytime is None:
            raise DispersionInputError("give a stability class or the observations to derive it (daytime, …)")
        if self.mixing_height_m is not None:
            checks.positive_scalar(self.mixing_height_m, "mixing_height_m")

    def stability_class(self) -> str:
        if self.stability is not None:
            return checks.stability(self.stability)
        return stability_class(
            self.wind_speed_ms, daytime=bool(self.daytime), insolation=self.insolation,
            cloud_cover_tenths=self.cloud_cover_tenths, ceiling_m=self.ceiling_m,
            solar_altitude_deg=self.solar_altitude_deg,
        )


@dataclass(frozen=True)
class ResolvedScenario:
    stability: str
    terrain: str
    transport_wind_ms: float
    mixing_height_m: float | None
    instantaneous: bool
    amount: float  # g/s or g


def resolve(release: Release, met: Met) -> ResolvedScenario:
    cls = met.stability_class()
    terrain = checks.terrain(met.terrain)
    u = float(wind_at_height(met.wind_speed_ms, release.height_m, cls, terrain))
    # ISC3 floors the transport wind at 1 m/s; below it the plume model has no meaning and
    # the direction envelope (a full circle below 1 m/s) carries the hazard instead.
    u = max(u, MIN_TRANSPORT_WIND_MS)
    amount = release.mass_g if release.instantaneous else release.rate_gps
    assert amount is not None
    return ResolvedScenario(cls, terrain, u, met.mixing_height_m, release.instantaneous, float(amount))


def ground_field(
    release: Release, met: Met, *, metric: str = "peak", exposure_s: float = 3600.0
) -> tuple[Field, ResolvedScenario]:
    """Ground-level concentration (g/m³) as a function of (x row, y column) arrays.

    Continuous releases: the steady plume. Instantaneous releases: ``metric="peak"`` is the
    maximum over time at each point; ``metric="dose_average"`` is the dose divided by
    ``exposure_s`` — the average over the AEGL's 60-minute window.
    """
    if metric not in ("peak", "dose_average"):
        raise DispersionInputError("metric must be 'peak' or 'dose_average'")
    exposure = checks.positive_scalar(exposure_s, "exposure_s")
    sc = resolve(release, met)

    def field(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        downwind = x > 0.0
        xs = np.where(downwind, x, 1.0)
        sy, sz = briggs_sigmas(xs, sc.stability, sc.terrain)  # per column only
        h = effective_height(xs, release.height_m, release.stack, sc.transport_wind_ms, sc.stability)
        gz = vertical_factor(np.zeros(1), h, sz, sc.mixing_height_m)
        column = sc.amount / sc.transport_wind_ms * gz
        if sc.instantaneous:
            column = column * (sc.transport_wind_ms / (np.sqrt(2.0 * np.pi) * sy)
                               if metric == "peak" else 1.0 / exposure)
        column = np.where(downwind, column, 0.0)
        return column * horizontal_factor(y, sy)

    return field, sc
