"""Local metric projections: WGS-84 lon/lat is stored, metres are computed in.

A `LocalProjection` is an azimuthal equidistant projection centred on a point
of interest. Distances and bearings from the centre are exact and, within a
few hundred km, all planar distances are within a tiny known factor of the
geodesic ones (see `distortion_bound`), which lets indexes screen in metres
and only confirm borderline cases geodesically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from gis.validate import check_lonlat

#: Smallest radius of curvature on WGS-84 (meridian at the equator), used
#: for a conservative distortion bound.
_MIN_RADIUS_M = 6_335_439.0

#: Lon/lat edges are densified to this step (degrees, about 1 km) before
#: projection, because a straight lon/lat edge is a curve in metres.
DENSIFY_DEG = 0.01


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS-84 UTM zone CRS containing (lon, lat)."""
    lon, lat = check_lonlat(lon, lat, "UTM reference point")
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


@dataclass(frozen=True)
class LocalProjection:
    """A transformer pair between WGS-84 lon/lat and a local metric CRS."""

    lon0: float
    lat0: float
    crs: CRS
    _fwd: Transformer = field(repr=False, compare=False)
    _inv: Transformer = field(repr=False, compare=False)

    @classmethod
    def aeqd(cls, lon0: float, lat0: float) -> LocalProjection:
        """Azimuthal equidistant projection centred at (lon0, lat0)."""
        lon0, lat0 = check_lonlat(lon0, lat0, "projection centre")
        crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0!r} +lon_0={lon0!r} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs")
        return cls._from_crs(lon0, lat0, crs)

    @classmethod
    def utm(cls, lon0: float, lat0: float) -> LocalProjection:
        """UTM zone of (lon0, lat0); useful when a standard EPSG code matters."""
        return cls._from_crs(lon0, lat0, utm_crs_for(lon0, lat0))

    @classmethod
    def for_bounds(cls, west: float, south: float, east: float, north: float) -> LocalProjection:
        """Azimuthal equidistant projection centred on a lon/lat extent."""
        check_lonlat(west, south, "extent south-west corner")
        check_lonlat(east, north, "extent north-east corner")
        return cls.aeqd((west + east) / 2.0, (south + north) / 2.0)

    @classmethod
    def _from_crs(cls, lon0: float, lat0: float, crs: CRS) -> LocalProjection:
        fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        return cls(float(lon0), float(lat0), crs, fwd, inv)

    def forward(self, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """lon/lat arrays → x/y metres."""
        x, y = self._fwd.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def inverse(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """x/y metres → lon/lat arrays."""
        lon, lat = self._inv.transform(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def forward_geom(self, geom: BaseGeometry, *, densify: bool = True) -> BaseGeometry:
        """Project a lon/lat geometry (vectorised over all its coordinates).

        With densify, long edges are first split every DENSIFY_DEG so that the
        straight lon/lat edges of GeoJSON keep their shape in metres.
        """
        # GEOS densifies an invalid polygon into an arbitrary valid one, so an
        # invalid input is projected vertex by vertex and left for the caller.
        if densify and geom.geom_type not in ("Point", "MultiPoint") and geom.is_valid:
            geom = shapely.segmentize(geom, DENSIFY_DEG)
        return shapely.transform(geom, self._fwd_xy, interleaved=False)

    def inverse_geom(self, geom: BaseGeometry) -> BaseGeometry:
        """Unproject a metric geometry to lon/lat."""
        return shapely.transform(geom, self._inv_xy, interleaved=False)

    def _fwd_xy(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return self.forward(x, y)

    def _inv_xy(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return self.inverse(x, y)


def distortion_bound(max_radius_m: float) -> float:
    """Relative bound eps with geodesic ≤ planar ≤ (1 + eps)·geodesic.

    For an azimuthal equidistant projection the radial scale is 1 and the
    azimuthal scale grows like 1 + ρ²/(6R²) with distance ρ from the centre,
    so planar lengths never shrink. We return twice that (plus a floor for
    floating-point noise) for pairs whose points all lie within max_radius_m
    of the centre.
    """
    rho = max(float(max_radius_m), 0.0) / _MIN_RADIUS_M
    return 1e-9 + rho * rho / 3.0
