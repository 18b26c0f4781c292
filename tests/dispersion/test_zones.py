"""Threat zones: geometry validity, nesting, sizes against the plume formula, orientation."""

import math

import numpy as np
import pytest
from pyproj import Geod
from scipy.optimize import brentq
from shapely.geometry import MultiPolygon, Point, Polygon

from dispersion import (
    DispersionInputError,
    LevelOfConcern,
    Met,
    Release,
    StackParameters,
    direction_uncertainty_deg,
    get_chemical,
    plume_concentration,
    ppm_to_mg_m3,
    threat_zones,
)
from dispersion.sigmas import briggs_sigmas
from dispersion.zones import contour_polygon

LON, LAT = 116.40, 39.90
GEOD = Geod(ellps="WGS84")


def chlorine_zones(wind_from: float = 270.0, u: float = 3.0, cls: str = "D"):
    release = Release(lon=LON, lat=LAT, rate_gps=500.0, height_m=1.0)
    met = Met(wind_speed_ms=u, wind_from_deg=wind_from, stability=cls)
    return release, met, threat_zones(release, met, "chlorine")


def test_three_nested_valid_zones_plus_possible() -> None:
    _, _, zones = chlorine_zones()
    assert [(z.level, z.kind) for z in zones] == [
        ("AEGL-3", "threat"), ("AEGL-2", "threat"), ("AEGL-1", "threat"), ("AEGL-1", "possible")]
    for z in zones:
        assert z.polygon.is_valid and not z.polygon.is_empty
        assert isinstance(z.polygon, (Polygon, MultiPolygon))
    a3, a2, a1, possible = zones
    # nested, allowing for the marching-squares interpolation of two different grids (1 m)
    assert a2.local_polygon.buffer(1.0).contains(a3.local_polygon)
    assert a1.local_polygon.buffer(1.0).contains(a2.local_polygon)
    assert possible.local_polygon.buffer(1.0).contains(a1.local_polygon)
    assert a3.length_m < a2.length_m < a1.length_m
    assert a3.width_m < a2.width_m < a1.width_m < possible.width_m
    # the same nesting holds on the map
    assert a1.polygon.buffer(1e-5).contains(a2.polygon)


def _grid_cell(length_m: float) -> float:
    # the x grid is x_far·1.06·s², s uniform on 481 points: the last cell is 2·1.06·x_far/480
    return 2.0 * length_m * 1.06 / (481 - 1)


@pytest.mark.parametrize("cls", ["B", "D", "F"])
def test_length_and_width_match_the_plume_formula(cls: str) -> None:
    _release, _met, zones = chlorine_zones(cls=cls)
    for zone in zones[:3]:
        level = float(ppm_to_mg_m3(zone.threshold, 70.90)) / 1000.0
        # u at 1 m release height is the 10 m wind (ISC3), so u = 3 m/s; centreline at ground
        probe = np.geomspace(1.0, 300_000.0, 2000)
        x_peak = float(probe[np.argmax(plume_concentration(500.0, 3.0, probe, 0.0, 0.0, 1.0, cls))])
        def excess(x: float, level: float = level) -> float:
            return float(plume_concentration(500.0, 3.0, x, 0.0, 0.0, 1.0, cls)) - level

        x_far = brentq(excess, x_peak, 300_000.0)
        # spec: within one grid cell; contouring log10(C) actually lands within 0.1 %
        assert zone.length_m == pytest.approx(x_far, abs=_grid_cell(x_far))
        assert zone.length_m == pytest.approx(x_far, rel=1e-3)
        # maximum width: max over x of 2·σy·√(2 ln(C0/L))
        xs = np.geomspace(1.0, x_far, 20000)
        c0 = plume_concentration(500.0, 3.0, xs, 0.0, 0.0, 1.0, cls)
        sy, _ = briggs_sigmas(xs, cls)
        width = float(np.max(2 * sy * np.sqrt(2 * np.log(np.maximum(c0 / level, 1.0)))))
        dy = width * 1.06 / 240
        assert zone.width_m == pytest.approx(width, abs=2 * dy)


def _lonlat_bounds(zone) -> tuple[float, float, float, float]:
    return zone.polygon.bounds


def test_wind_from_west_puts_zone_east() -> None:
    _, _, zones = chlorine_zones(wind_from=270.0)
    for z in zones[:3]:
        minx, _miny, maxx, _maxy = _lonlat_bounds(z)
        assert minx > LON - 1e-4  # at most a few metres upwind (the contour's lead-in cell)
        assert z.polygon.centroid.x > LON
        assert abs(z.polygon.centroid.y - LAT) < 1e-4
        # the farthest point is length_m away along the ground
        lon_far = maxx
        _, _, dist = GEOD.inv(LON, LAT, lon_far, LAT)
        assert dist == pytest.approx(z.length_m, rel=0.005)


def test_wind_from_north_puts_zone_south() -> None:
    _, _, zones = chlorine_zones(wind_from=0.0)
    _minx, miny, _maxx, maxy = _lonlat_bounds(zones[2])
    assert maxy < LAT + 1e-4 and miny < LAT - 0.01
    assert abs(zones[2].polygon.centroid.x - LON) < 1e-4
    _, _, dist = GEOD.inv(LON, LAT, LON, miny)
    assert dist == pytest.approx(zones[2].length_m, rel=0.005)


def test_wind_from_north_east_points_south_west() -> None:
    _, _, zones = chlorine_zones(wind_from=45.0)
    c = zones[1].polygon.centroid
    az, _, _ = GEOD.inv(LON, LAT, c.x, c.y)
    assert az % 360 == pytest.approx(225.0, abs=0.5)


def test_direction_envelope_rule_and_calm() -> None:
    assert direction_uncertainty_deg(0.5) == 180.0
    assert direction_uncertainty_deg(2.0) == 45.0
    assert direction_uncertainty_deg(3.0) == 30.0
    assert direction_uncertainty_deg(10.0) == 15.0
    _, _, zones = chlorine_zones(u=0.8)
    possible = zones[-1].local_polygon
    r = zones[-2].length_m
    assert possible.contains(Point(-0.9 * r, 0.0))  # upwind too: direction unknown in a calm
    assert possible.area == pytest.approx(math.pi * r * r, rel=0.01)


def test_instantaneous_release_and_custom_levels() -> None:
    release = Release(lon=LON, lat=LAT, mass_g=200_000.0)
    met = Met(wind_speed_ms=4.0, wind_from_deg=180.0, daytime=False, cloud_cover_tenths=2)
    levels = [LevelOfConcern("high", 50.0, "mg/m3"), LevelOfConcern("low", 5.0, "mg/m3")]
    peak = threat_zones(release, met, None, levels)
    avg = threat_zones(release, met, None, levels, metric="dose_average")
    assert [z.level for z in peak] == ["high", "low", "low"]
    assert peak[0].polygon.centroid.y > LAT  # wind from the south → north
    # a 60-min average of a passing puff is far below its peak
    assert avg[1].length_m < peak[1].length_m


def test_unreached_level_gives_no_zone() -> None:
    release = Release(lon=LON, lat=LAT, rate_gps=0.001)
    met = Met(wind_speed_ms=5.0, wind_from_deg=90.0, stability="C")
    assert threat_zones(release, met, None, [LevelOfConcern("x", 1000.0, "mg/m3")]) == []


def test_elevated_hot_stack_zone_is_detached_from_source() -> None:
    stack = StackParameters(exit_velocity_ms=10.0, diameter_m=1.0, gas_temperature_k=420.0)
    release = Release(lon=LON, lat=LAT, rate_gps=2000.0, height_m=40.0, stack=stack)
    met = Met(wind_speed_ms=3.0, wind_from_deg=270.0, stability="B")
    zones = threat_zones(release, met, get_chemical("sulfur dioxide"), "AEGL")
    z = zones[0]
    assert not z.local_polygon.contains(Point(1.0, 0.0))
    assert z.local_polygon.bounds[0] > 50.0


def test_contour_polygon_keeps_holes_and_pieces() -> None:
    xs = np.linspace(-10, 10, 201)
    ys = np.linspace(-10, 10, 201)
    r = np.hypot(xs[None, :], ys[:, None])
    ring = contour_polygon(xs, ys, np.exp(-((r - 5.0) ** 2)), 0.5)
    assert isinstance(ring, Polygon) and len(ring.interiors) == 1
    # annulus 5 ± √ln2: area = π((5+0.8326)² − (5−0.8326)²) = 20·π·0.8326 = 52.31
    assert ring.area == pytest.approx(20 * math.pi * math.sqrt(math.log(2)), rel=0.01)
    bumps = np.exp(-((xs[None, :] - 5) ** 2 + ys[:, None] ** 2)) + np.exp(-((xs[None, :] + 5) ** 2 + ys[:, None] ** 2))
    two = contour_polygon(xs, ys, bumps, 0.5)
    assert isinstance(two, MultiPolygon) and len(two.geoms) == 2


def test_bad_inputs() -> None:
    with pytest.raises(DispersionInputError):
        Release(lon=LON, lat=LAT)  # neither rate nor mass
    with pytest.raises(DispersionInputError):
        Release(lon=LON, lat=LAT, rate_gps=1.0, mass_g=1.0)
    with pytest.raises(DispersionInputError):
        Release(lon=200.0, lat=LAT, rate_gps=1.0)
    with pytest.raises(DispersionInputError):
        Release(lon=LON, lat=LAT, mass_g=-5.0)
    with pytest.raises(DispersionInputError):
        Met(wind_speed_ms=0.0, wind_from_deg=0.0, stability="D")
    with pytest.raises(DispersionInputError):
        Met(wind_speed_ms=2.0, wind_from_deg=float("nan"), stability="D")
    with pytest.raises(DispersionInputError):
        Met(wind_speed_ms=2.0, wind_from_deg=0.0)  # no class and nothing to derive it from
    with pytest.raises(DispersionInputError):
        LevelOfConcern("x", 1.0, "ppb")
    release = Release(lon=LON, lat=LAT, rate_gps=1.0)
    met = Met(wind_speed_ms=2.0, wind_from_deg=0.0, stability="D")
    with pytest.raises(DispersionInputError):
        threat_zones(release, met, None, [LevelOfConcern("x", 1.0, "ppm")])  # ppm needs a MW
    with pytest.raises(DispersionInputError):
        threat_zones(release, met, "unobtainium")
