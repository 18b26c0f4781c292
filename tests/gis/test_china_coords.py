"""GCJ-02 / BD-09 conversions: hand-computed values, a published pair, round trips."""

import math

import numpy as np
import pytest

from gis import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    inverse,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def test_offset_at_formula_origin_by_hand() -> None:
    # At lon 105, lat 35 the formula's x = y = 0, so every polynomial and
    # sine term vanishes (sin(0) = 0, sqrt(0) = 0) and only the constants
    # remain: dlat_raw = -100, dlon_raw = 300 (metre-like units).
    # sin(35°) = 0.573576436351046, squared = 0.328989928337166
    # magic = 1 - 0.00669342162296594323 * 0.328989928337166 = 0.99779793170
    # dlat = -100*180 / (6378245*(1-ee) / (magic*sqrt(magic)) * pi)
    #      = -100 m / (110,942 m per degree of latitude) = -0.000901368°
    # dlon =  300*180 / (6378245 / sqrt(magic) * cos(35°) * pi)
    #      =  300 m / (91,290 m per degree of longitude) = +0.003286241°
    ee = 0.00669342162296594323
    a = 6378245.0
    s2 = 0.573576436351046**2
    magic = 1 - ee * s2
    dlat = -100 * 180 / (a * (1 - ee) / (magic * math.sqrt(magic)) * math.pi)
    dlon = 300 * 180 / (a / math.sqrt(magic) * 0.8191520442889918 * math.pi)
    assert dlat == pytest.approx(-0.000901368, abs=1e-9)
    assert dlon == pytest.approx(0.003286241, abs=1e-9)
    lon, lat = wgs84_to_gcj02(105.0, 35.0)
    assert float(lon) == pytest.approx(105.0 + dlon, abs=1e-12)
    assert float(lat) == pytest.approx(35.0 + dlat, abs=1e-12)


def test_published_beijing_pair() -> None:
    # The test vector published in the README of the widely used
    # coordtransform library for (116.404, 39.915), near Tiananmen.
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-12)
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)
    lon, lat = wgs84_to_bd09(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41662724378733, 39.922699552216216), abs=1e-12)


def test_outside_china_unchanged() -> None:
    lon = np.array([2.35, -74.0, 151.2])
    lat = np.array([48.85, 40.7, -33.9])
    g = wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(g[0], lon)
    np.testing.assert_array_equal(g[1], lat)
    w = gcj02_to_wgs84(lon, lat)
    np.testing.assert_array_equal(w[0], lon)


def _china_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(73.5, 134.5, 41), np.linspace(18.2, 53.3, 31))
    return lon.ravel(), lat.ravel()


def test_gcj_round_trip_within_half_metre_across_china() -> None:
    lon, lat = _china_grid()
    glon, glat = wgs84_to_gcj02(lon, lat)
    # The offset itself is hundreds of metres: the inverse must do real work.
    offset, _ = inverse(lon, lat, glon, glat)
    assert offset.max() > 100
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    err, _ = inverse(lon, lat, wlon, wlat)
    assert err.max() < 0.5


def test_bd_round_trips_within_half_metre() -> None:
    lon, lat = _china_grid()
    blon, blat = wgs84_to_bd09(lon, lat)
    wlon, wlat = bd09_to_wgs84(blon, blat)
    err, _ = inverse(lon, lat, wlon, wlat)
    assert err.max() < 0.5
    glon, glat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    err, _ = inverse(lon, lat, glon, glat)
    assert err.max() < 0.5


def test_vectorised_shapes_preserved() -> None:
    lon = np.full((2, 3), 118.8)
    lat = np.full((2, 3), 32.05)
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84):
        x, y = fn(lon, lat)
        assert x.shape == (2, 3) and y.shape == (2, 3)
