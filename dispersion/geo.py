"""Local metric frame around the source and its link to WGS-84.

Zones are computed in wind-aligned coordinates (x downwind, y to the left of it), rotated
into east/north of an azimuthal-equidistant projection centred on the source (distances
from the source are true there), and projected back to lon/lat.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.affinity import affine_transform
from shapely.geometry.base import BaseGeometry


@lru_cache(maxsize=256)
def _to_wgs84(lon0: float, lat0: float) -> Transformer:
    aeqd = f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs"
    return Transformer.from_crs(aeqd, "EPSG:4326", always_xy=True)


def wind_to_local(geom: BaseGeometry, wind_from_deg: float) -> BaseGeometry:
    """Wind-aligned (x downwind, y left) → (east, north) metres."""
    to = math.radians(wind_from_deg + 180.0)  # the direction the wind blows *to*
    de, dn = math.sin(to), math.cos(to)
    # columns: downwind unit vector (de, dn); left unit vector (−dn, de)
    return affine_transform(geom, [de, -dn, dn, de, 0.0, 0.0])


def local_to_lonlat(geom: BaseGeometry, lon0: float, lat0: float) -> BaseGeometry:
    tr = _to_wgs84(round(lon0, 9), round(lat0, 9))

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, project)


def lonlat_to_local(geom: BaseGeometry, lon0: float, lat0: float) -> BaseGeometry:
    """Inverse of ``local_to_lonlat`` (for checks and for callers measuring zones)."""
    tr = _to_wgs84(round(lon0, 9), round(lat0, 9))

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        e, n = tr.transform(coords[:, 0], coords[:, 1], direction="INVERSE")
        return np.column_stack([e, n])

    return shapely.transform(geom, project)
