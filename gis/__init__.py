"""Geometry for the command system: coordinates, indexes, searches, rivers.

Pure Python: no HTTP, no storage. See gis/README.md for the entry points.
"""

from gis.catalog import SpatialCatalog
from gis.china_coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gis.errors import GisInputError
from gis.features import Feature
from gis.geodesy import bearing_deg, destination, distance_m, inverse
from gis.geojson import (
    feature_collection,
    feature_from_geojson,
    features_from_collection,
    parse_area,
    parse_geometry,
)
from gis.hits import Hit, Hits
from gis.layer_index import LayerIndex
from gis.projection import LocalProjection, utm_crs_for
from gis.rivers import Downstream, PathSegment, RiverNetwork, Snap, Trace
from gis.search import search_bbox, search_circle, search_nearest, search_polygon
from gis.sensitive import Affected, affected_features

__all__ = [
    "Affected",
    "Downstream",
    "Feature",
    "GisInputError",
    "Hit",
    "Hits",
    "LayerIndex",
    "LocalProjection",
    "PathSegment",
    "RiverNetwork",
    "Snap",
    "SpatialCatalog",
    "Trace",
    "affected_features",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "bearing_deg",
    "destination",
    "distance_m",
    "feature_collection",
    "feature_from_geojson",
    "features_from_collection",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "inverse",
    "out_of_china",
    "parse_area",
    "parse_geometry",
    "search_bbox",
    "search_circle",
    "search_nearest",
    "search_polygon",
    "utm_crs_for",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
