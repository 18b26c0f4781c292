"""Geodesic distance and bearing on the WGS-84 ellipsoid (pyproj.Geod)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod

#: One shared Geod: it is stateless and creating it costs more than a call.
WGS84_GEOD = Geod(ellps="WGS84")


def inverse(
    lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised geodesic (distance_m, bearing_deg) from point 1 to point 2.

    Bearing is the forward azimuth in degrees clockwise from true north,
    normalised to [0, 360) because that is what operators read on a compass.
    Arrays broadcast against each other.
    """
    a, b, c, d = np.broadcast_arrays(
        np.asarray(lon1, dtype=np.float64),
        np.asarray(lat1, dtype=np.float64),
        np.asarray(lon2, dtype=np.float64),
        np.asarray(lat2, dtype=np.float64),
    )
    if a.size == 0:
        empty = np.zeros(a.shape, dtype=np.float64)
        return empty, empty.copy()
    az, _, dist = WGS84_GEOD.inv(a.ravel(), b.ravel(), c.ravel(), d.ravel())
    az = np.mod(np.asarray(az, dtype=np.float64), 360.0)
    # A zero-length geodesic has no direction; report 0 rather than noise.
    dist = np.asarray(dist, dtype=np.float64)
    az[dist == 0.0] = 0.0
    return dist.reshape(a.shape), az.reshape(a.shape)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two lon/lat points."""
    dist, _ = inverse(lon1, lat1, lon2, lat2)
    return float(dist)


def bearing_deg(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Bearing from point 1 to point 2 in degrees from north, [0, 360)."""
    _, az = inverse(lon1, lat1, lon2, lat2)
    return float(az)


def destination(lon: float, lat: float, bearing: float, dist_m: float) -> tuple[float, float]:
    """The point reached from (lon, lat) after dist_m along bearing."""
    lon2, lat2, _ = WGS84_GEOD.fwd(lon, lat, bearing, dist_m)
    return float(lon2), float(lat2)
