"""GCJ-02 (Mars coordinates) and BD-09 (Baidu) conversions, vectorised.

Chinese base maps (AMap/Tencent: GCJ-02, Baidu: BD-09) are offset from
WGS-84 by the published obfuscation formulas written out below. Inputs may be
scalars or numpy arrays; outputs are float64 arrays of the broadcast shape
(0-d for scalars, so float(x) works). GCJ-02 leaves points outside the rough
China rectangle unchanged, as the map providers do. The BD-09 step is a plain
formula on GCJ-02 and is applied everywhere.

The inverses have no closed form; they are solved by fixed-point iteration
(the offsets vary slowly, so each step shrinks the error by ~1e-5 relative)
until the round trip is well below a centimetre.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Float = NDArray[np.float64]

#: Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

#: Iteration stops once the correction is below this (degrees ≈ 1 mm).
_ITER_TOL_DEG = 1e-8
_MAX_ITER = 30


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """The rough rectangle outside which GCJ-02 applies no offset."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    return (x < 72.004) | (x > 137.8347) | (y < 0.8293) | (y > 55.8271)


def _offset_lat(x: Float, y: Float) -> Float:
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    out += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return out


def _offset_lon(x: Float, y: Float) -> Float:
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    out += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return out


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return x.astype(np.float64, copy=True), y.astype(np.float64, copy=True)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """WGS-84 → GCJ-02."""
    x, y = _as_arrays(lon, lat)
    dlat = _offset_lat(x - 105.0, y - 35.0)
    dlon = _offset_lon(x - 105.0, y - 35.0)
    radlat = y / 180.0 * np.pi
    magic = 1.0 - KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    # Metres-of-offset → degrees with the Krasovsky meridian and parallel radii.
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = out_of_china(x, y)
    return np.where(outside, x, x + dlon), np.where(outside, y, y + dlat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """GCJ-02 → BD-09."""
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_closed(x: Float, y: Float) -> tuple[Float, Float]:
    # The published approximate inverse; a good first guess for iteration.
    x = x - 0.0065
    y = y - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(forward, target_x: Float, target_y: Float, guess_x: Float, guess_y: Float) -> tuple[Float, Float]:
    """Solve forward(x, y) = target by fixed-point iteration from a guess."""
    x, y = guess_x, guess_y
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        dx = fx - target_x
        dy = fy - target_y
        x = x - dx
        y = y - dy
        if max(float(np.max(np.abs(dx), initial=0.0)), float(np.max(np.abs(dy), initial=0.0))) < _ITER_TOL_DEG:
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """GCJ-02 → WGS-84 by iteration (round trip well under 0.5 m)."""
    x, y = _as_arrays(lon, lat)
    wx, wy = _invert(wgs84_to_gcj02, x, y, x, y)
    outside = out_of_china(x, y)
    return np.where(outside, x, wx), np.where(outside, y, wy)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """BD-09 → GCJ-02 (closed-form guess refined by iteration)."""
    x, y = _as_arrays(lon, lat)
    gx, gy = _bd09_to_gcj02_closed(x, y)
    return _invert(gcj02_to_bd09, x, y, gx, gy)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """WGS-84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """BD-09 → WGS-84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
