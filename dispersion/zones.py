"""Threat zones: contours of ground-level concentration as WGS-84 polygons.

Per level: find how far downwind and how wide the level reaches from the centreline
profile (cheap, 1-D), lay a wind-aligned grid just over that box, contour log10(C) with
contourpy (log because a Gaussian is a parabola in log space, so marching-squares'
linear interpolation is nearly exact), build shapely polygons with their holes, rotate to
east/north and project to lon/lat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import contourpy
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.affinity import rotate
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from . import checks
from .chemicals import Chemical, get_chemical
from .errors import DispersionInputError
from .geo import local_to_lonlat, wind_to_local
from .levels import LevelOfConcern, resolve_levels
from .scenario import Field, Met, Release, ResolvedScenario, ground_field
from .sigmas import briggs_sigmas

# Downwind search range for the centreline profile (m).
_PROFILE_X = np.geomspace(0.5, 300_000.0, 4000)
GRID_NX = 481
GRID_NY = 241  # odd: one row lies on the centreline
_MARGIN = 1.06


@dataclass(frozen=True)
class Zone:
    level: str
    threshold: float
    unit: str
    polygon: BaseGeometry  # shapely Polygon/MultiPolygon, lon/lat (WGS-84)
    length_m: float  # furthest downwind reach from the source
    width_m: float  # largest crosswind extent
    kind: str  # "threat" | "possible"
    local_polygon: BaseGeometry | None = None  # same zone in wind-aligned metres (x downwind)


def direction_uncertainty_deg(wind_speed_ms: float) -> float:
    """Half-angle of the wind-direction envelope: 90°/u clipped to 15–45°, full circle below 1 m/s.

    ALOHA-like: hourly wind direction wanders more the lighter the wind; 2 m/s → ±45°,
    3 m/s → ±30°, ≥ 6 m/s → ±15°. Below 1 m/s the direction is not meaningful at all.
    """
    u = checks.positive_scalar(wind_speed_ms, "wind_speed_ms")
    if u < 1.0:
        return 180.0
    return float(min(45.0, max(15.0, 90.0 / u)))


def threat_zones(
    release: Release,
    met: Met,
    chemical: Chemical | str | None = None,
    levels: Sequence[LevelOfConcern] | str | None = None,
    *,
    metric: str = "peak",
    direction_uncertainty: float | None = None,
    grid: tuple[int, int] = (GRID_NX, GRID_NY),
) -> list[Zone]:
    """Zones for each level of concern (most severe first) plus one "possible" zone.

    ``levels``: None for the chemical's defaults (AEGL → ERPG → PAC), a family name
    ("AEGL", "ERPG", "PAC", "IDLH"), or a list of ``LevelOfConcern``. Levels the release
    never reaches produce no zone. ``metric`` applies to instantaneous releases
    (see ``ground_field``). ``direction_uncertainty`` overrides the half-angle in degrees.
    """
    chem = get_chemical(chemical) if isinstance(chemical, str) else chemical
    loc = resolve_levels(chem, levels)
    mw = chem.molecular_weight if chem is not None else None
    nx, ny = grid
    if nx < 16 or ny < 16:
        raise DispersionInputError("grid must be at least 16 x 16")
    field, sc = ground_field(release, met, metric=metric)
    profile = _centreline_profile(field, sc)

    zones: list[Zone] = []
    for level in sorted(loc, key=lambda lv: -lv.g_m3(mw)):
        local = _level_polygon(field, profile, level.g_m3(mw), nx, ny)
        if local is None:
            continue
        zones.append(_make_zone(level.name, level.value, level.unit, local, "threat", release, met))
    if zones:
        half = (direction_uncertainty if direction_uncertainty is not None
                else direction_uncertainty_deg(met.wind_speed_ms))
        last = zones[-1]
        assert last.local_polygon is not None
        envelope = _direction_envelope(last.local_polygon, float(half))
        zones.append(_make_zone(last.level, last.threshold, last.unit, envelope, "possible", release, met))
    return zones


def _make_zone(name: str, value: float, unit: str, local: BaseGeometry, kind: str,
               release: Release, met: Met) -> Zone:
    _, miny, maxx, maxy = local.bounds
    enu = wind_to_local(local, float(met.wind_from_deg))
    lonlat = local_to_lonlat(enu, release.lon, release.lat)
    return Zone(name, value, unit, lonlat, max(maxx, 0.0), maxy - miny, kind, local)


def _centreline_profile(field: Field, sc: ResolvedScenario
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """x, ground centreline C and σy along the log-spaced search range."""
    c0 = field(_PROFILE_X[np.newaxis, :], np.zeros((1, 1)))[0]
    sigma_y, _ = briggs_sigmas(_PROFILE_X, sc.stability, sc.terrain)
    return _PROFILE_X, c0, sigma_y


def _level_polygon(field: Field, profile: tuple[NDArray[np.float64], ...], level: float,
                   nx: int, ny: int) -> BaseGeometry | None:
    x, c0, sigma_y = profile
    above = c0 >= level
    if not np.any(above):
        return None
    if above[-1]:
        raise DispersionInputError("level of concern is exceeded beyond 300 km; check the inputs")
    x_far = x[np.nonzero(above)[0][-1] + 1]  # first profile point past the last exceedance
    with np.errstate(divide="ignore", invalid="ignore"):
        half_width = np.where(above, sigma_y * np.sqrt(2.0 * np.log(c0 / level)), 0.0)
    y_half = float(np.nanmax(half_width)) * _MARGIN + 1e-6
    first = int(np.nonzero(above)[0][0])
    x_start = float(x[first - 1]) if first > 0 else 0.0  # last point below the level, or the source
    # Cells grow quadratically from the near end: the zone's tip near the source is a few
    # metres wide and would fall between the columns of a uniform kilometre-scale grid.
    s = np.linspace(0.0, 1.0, nx)
    xs = x_start + (x_far * _MARGIN - x_start) * s**2
    ys = np.linspace(-y_half, y_half, ny)
    conc = field(xs[np.newaxis, :], ys[:, np.newaxis])
    return contour_polygon(xs, ys, conc, level)


def contour_polygon(xs: NDArray[np.float64], ys: NDArray[np.float64], conc: NDArray[np.float64],
                    level: float) -> BaseGeometry | None:
    """Region where conc ≥ level as a shapely (Multi)Polygon, holes kept."""
    floor = level * 1e-12
    logc = np.log10(np.maximum(conc, floor))
    gen = contourpy.contour_generator(xs, ys, logc, fill_type=contourpy.FillType.OuterOffset)
    points, offsets = gen.filled(math.log10(level), float(logc.max()) + 1.0)
    pieces: list[Polygon] = []
    for pts, offs in zip(points, offsets, strict=True):
        rings = [pts[offs[i]:offs[i + 1]] for i in range(len(offs) - 1)]
        poly = Polygon(rings[0], rings[1:])
        if not poly.is_valid:
            poly = shapely.make_valid(poly)
        if not poly.is_empty:
            pieces.append(poly)
    if not pieces:
        return None
    merged = shapely.union_all(pieces)
    if isinstance(merged, (Polygon, MultiPolygon)):
        return merged
    polys = [g for g in getattr(merged, "geoms", []) if isinstance(g, Polygon)]
    return MultiPolygon(polys) if polys else None


def _direction_envelope(local: BaseGeometry, half_angle_deg: float) -> BaseGeometry:
    """The footprint swept through ±half_angle about the source (a circle at ≥ 180°)."""
    if half_angle_deg >= 180.0:
        coords = np.concatenate([np.asarray(g.exterior.coords) for g in _polygons(local)])
        radius = float(np.max(np.hypot(coords[:, 0], coords[:, 1])))
        return Point(0.0, 0.0).buffer(radius, quad_segs=64)
    steps = max(2, math.ceil(2.0 * half_angle_deg))  # ≤ 1° between copies
    angles = np.linspace(-half_angle_deg, half_angle_deg, steps + 1)
    swept = shapely.union_all([rotate(local, float(a), origin=(0.0, 0.0)) for a in angles])
    return swept


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    return [geom] if isinstance(geom, Polygon) else [g for g in geom.geoms if isinstance(g, Polygon)]
