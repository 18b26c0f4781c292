"""Map features and rivers (CRUD with events), searches, coordinate conversion, river tracing, chemicals.

Searches and traces read the process-wide index (``index.py``), never the tables, and run in a worker
thread: a 20 km circle over a city is numpy work that must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import shapely
from openpyxl import Workbook
from openpyxl.styles import Font
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select

import dispersion
import gis
from dispersion import DispersionInputError, UnknownChemicalError
from gis import GisInputError, PathSegment
from gis.validate import check_lonlat

from ..core.errors import ApiError, not_found
from ..core.permissions import ROLE_PERMISSIONS
from ..core.services import Services
from ..core.uow import AnyActor
from .index import LAYERS, RIVER_LAYER, GeoIndex, feature_payload, river_payload
from .kinds import LAYER_LABELS, kind_label
from .models import MapFeature, River
from .schemas import FeatureIn, FeaturePatch, RiverIn, RiverPatch, SearchIn, TraceIn

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Who receives map events over Socket.IO: everyone who may read the map.
MAP_AUDIENCE = sorted(f"role:{r}" for r, perms in ROLE_PERMISSIONS.items() if "map:read" in perms)

# Defaults for a reach that does not say (a mid-sized lowland river).
DEFAULT_VELOCITY_MS = 0.5
DEFAULT_WIDTH_M = 50.0
DEFAULT_DEPTH_M = 3.0


# --- errors ------------------------------------------------------------------------------------------

@contextmanager
def input_errors() -> Iterator[None]:
    """Bad geometry or model input from the caller → 422 with the library's message."""
    try:
        yield
    except UnknownChemicalError as exc:
        raise ApiError(422, "unknown_chemical", str(exc)) from None
    except (GisInputError, DispersionInputError) as exc:
        raise ApiError(422, "invalid_input", str(exc)) from None


def _geometry(obj: Any, where: str, *, line_only: bool = False) -> dict[str, Any]:
    """Validated GeoJSON geometry, normalised (plain lists) for storage."""
    with input_errors():
        geom = gis.parse_geometry(obj, where=where)
    if line_only and geom.geom_type != "LineString":
        raise ApiError(422, "invalid_input", f"{where}: a river must be a LineString in flow direction, "
                                             f"got {geom.geom_type}")
    return json.loads(shapely.to_geojson(geom))


# --- coordinate systems ------------------------------------------------------------------------------

_CONVERT: dict[tuple[str, str], Callable[[Any, Any], tuple[Any, Any]]] = {
    ("wgs84", "gcj02"): gis.wgs84_to_gcj02,
    ("gcj02", "wgs84"): gis.gcj02_to_wgs84,
    ("gcj02", "bd09"): gis.gcj02_to_bd09,
    ("bd09", "gcj02"): gis.bd09_to_gcj02,
    ("wgs84", "bd09"): gis.wgs84_to_bd09,
    ("bd09", "wgs84"): gis.bd09_to_wgs84,
}


def convert_point(lon: float, lat: float, src: str, dst: str) -> tuple[float, float]:
    with input_errors():
        lon, lat = check_lonlat(lon, lat, "point")
    if src == dst:
        return lon, lat
    x, y = _CONVERT[(src, dst)](lon, lat)
    return float(x), float(y)


def convert_geom(geom: BaseGeometry, src: str, dst: str) -> BaseGeometry:
    if src == dst:
        return geom
    fn = _CONVERT[(src, dst)]

    def tx(coords: np.ndarray) -> np.ndarray:
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, tx)


def _geojson_to_crs(geom_json: dict[str, Any], crs: str) -> dict[str, Any]:
    if crs == "wgs84":
        return geom_json
    return mapping(convert_geom(shapely.geometry.shape(geom_json), "wgs84", crs))


# --- features ------------------------------------------------------------------------------------------

def _feature_out(row: MapFeature) -> dict[str, Any]:
    return {**feature_payload(row), "created_at": row.created_at, "updated_at": row.updated_at}


async def get_feature(svc: Services, fid: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        row = await s.get(MapFeature, fid)
        if row is None:
            raise not_found("map feature", fid)
        return _feature_out(row)


async def create_feature(svc: Services, index: GeoIndex, actor: AnyActor, body: FeatureIn) -> dict[str, Any]:
    geometry = _geometry(body.geometry, "geometry")
    async with svc.write(actor) as uow:
        row = MapFeature(layer=body.layer, kind=body.kind, name=body.name, geometry=geometry,
                         properties=dict(body.properties))
        uow.session.add(row)
        await uow.session.flush()
        uow.emit("map_feature.created", subject_type="map_feature", subject_id=row.id,
                 payload={"feature": feature_payload(row)}, audience=MAP_AUDIENCE)
    index.apply_events(uow.events)
    return _feature_out(row)


async def update_feature(svc: Services, index: GeoIndex, actor: AnyActor, fid: int,
                         body: FeaturePatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for key in ("layer", "kind", "name", "geometry", "properties"):
        if key in changes and changes[key] is None:
            raise ApiError(422, "invalid_input", f"{key} cannot be null")
    if "geometry" in changes:
        changes["geometry"] = _geometry(changes["geometry"], "geometry")
    async with svc.write(actor) as uow:
        row = await uow.session.get(MapFeature, fid)
        if row is None:
            raise not_found("map feature", fid)
        before = {"layer": row.layer}
        for key, value in changes.items():
            setattr(row, key, value)
        await uow.session.flush()
        uow.emit("map_feature.updated", subject_type="map_feature", subject_id=row.id,
                 payload={"feature": feature_payload(row), "previous_layer": before["layer"],
                          "changed": sorted(changes)}, audience=MAP_AUDIENCE)
    index.apply_events(uow.events)
    return _feature_out(row)


async def delete_feature(svc: Services, index: GeoIndex, actor: AnyActor, fid: int) -> None:
    async with svc.write(actor) as uow:
        row = await uow.session.get(MapFeature, fid)
        if row is None:
            raise not_found("map feature", fid)
        payload = {"feature": {"id": row.id, "layer": row.layer, "kind": row.kind, "name": row.name}}
        await uow.session.delete(row)
        uow.emit("map_feature.deleted", subject_type="map_feature", subject_id=fid, payload=payload,
                 audience=MAP_AUDIENCE)
    index.apply_events(uow.events)


# --- rivers --------------------------------------------------------------------------------------------

def _river_out(row: River) -> dict[str, Any]:
    return {**river_payload(row), "updated_at": row.updated_at}


async def list_rivers(svc: Services) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        return [_river_out(r) for r in (await s.scalars(select(River).order_by(River.id))).all()]


async def create_river(svc: Services, index: GeoIndex, actor: AnyActor, body: RiverIn) -> dict[str, Any]:
    geometry = _geometry(body.geometry, "geometry", line_only=True)
    props = _river_properties(body.properties)
    async with svc.write(actor) as uow:
        row = River(name=body.name, geometry=geometry, properties=props)
        uow.session.add(row)
        await uow.session.flush()
        uow.emit("river.created", subject_type="river", subject_id=row.id, payload={"river": river_payload(row)},
                 audience=MAP_AUDIENCE)
    index.apply_events(uow.events)
    return _river_out(row)


async def update_river(svc: Services, index: GeoIndex, actor: AnyActor, rid: int, body: RiverPatch
                       ) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if any(v is None for v in changes.values()):
        raise ApiError(422, "invalid_input", "fields cannot be null")
    if "geometry" in changes:
        changes["geometry"] = _geometry(changes["geometry"], "geometry", line_only=True)
    if "properties" in changes:
        changes["properties"] = _river_properties(changes["properties"])
    async with svc.write(actor) as uow:
        row = await uow.session.get(River, rid)
        if row is None:
            raise not_found("river", rid)
        for key, value in changes.items():
            setattr(row, key, value)
        await uow.session.flush()
        uow.emit("river.updated", subject_type="river", subject_id=row.id, payload={"river": river_payload(row)},
                 audience=MAP_AUDIENCE)
    index.apply_events(uow.events)
    return _river_out(row)


async def delete_river(svc: Services, index: GeoIndex, actor: AnyActor, rid: int) -> None:
    async with svc.write(actor) as uow:
        row = await uow.session.get(River, rid)
        if row is None:
            raise not_found("river", rid)
        await uow.session.delete(row)
        uow.emit("river.deleted", subject_type="river", subject_id=rid,
                 payload={"river": {"id": rid, "name": row.name}}, audience=MAP_AUDIENCE)
    index.apply_events(uow.events)


def _river_properties(props: dict[str, Any]) -> dict[str, Any]:
    for key in ("velocity_ms", "width_m", "depth_m", "dispersion_m2s"):
        if key in props and props[key] is not None:
            v = props[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ApiError(422, "invalid_input", f"river property {key} must be a positive number, got {v!r}")
    return dict(props)


# --- layers --------------------------------------------------------------------------------------------

def layers_info(index: GeoIndex) -> list[dict[str, Any]]:
    out = []
    for name in LAYERS:
        feats = index.catalog.layer(name).features() if name in index.catalog.layer_names else []
        kinds: dict[str, int] = {}
        for f in feats:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        out.append({"layer": name, "label": LAYER_LABELS[name], "count": len(feats), "kinds": kinds})
    out.append({"layer": RIVER_LAYER, "label": LAYER_LABELS[RIVER_LAYER], "count": len(index.reaches),
                "kinds": {"river": len(index.reaches)} if index.reaches else {}})
    return out


def layer_geojson(index: GeoIndex, layer: str, bbox: Sequence[float] | None, kinds: Sequence[str] | None,
                  crs: str) -> dict[str, Any]:
    if layer == RIVER_LAYER:
        feats = list(index.reaches.values())
    elif layer in LAYERS:
        feats = index.catalog.layer(layer).features() if layer in index.catalog.layer_names else []
    else:
        raise ApiError(404, "not_found", f"unknown layer {layer!r}", {"layers": [*LAYERS, RIVER_LAYER]})
    if kinds:
        wanted = set(kinds)
        feats = [f for f in feats if f.kind in wanted]
    with input_errors():
        if bbox is not None:
            if len(bbox) != 4:
                raise GisInputError("bbox must be west,south,east,north")
            if crs != "wgs84":
                w, s = convert_point(bbox[0], bbox[1], crs, "wgs84")
                e, n = convert_point(bbox[2], bbox[3], crs, "wgs84")
                bbox = [w, s, e, n]
        fc = gis.feature_collection(sorted(feats, key=lambda f: int(f.id)), bbox=bbox)
    for item in fc["features"]:
        item["id"] = int(item["id"])
        if crs != "wgs84":
            item["geometry"] = _geojson_to_crs(item["geometry"], crs)
    return fc


# --- search --------------------------------------------------------------------------------------------

def _check_layers(layers: Sequence[str] | None) -> list[str] | None:
    if not layers:
        return None
    unknown = [x for x in layers if x not in LAYERS]
    if unknown:
        raise ApiError(422, "invalid_input", f"unknown layer(s): {', '.join(unknown)}", {"layers": list(LAYERS)})
    return list(layers)


def _need(value: Any, what: str, shape: str) -> Any:
    if value is None:
        raise ApiError(422, "invalid_input", f"a {shape} search needs {what}")
    return value


def search(index: GeoIndex, q: SearchIn) -> dict[str, Any]:
    """Run one search (call in a worker thread) → {total, reference, items}."""
    cat = index.catalog
    layers = _check_layers(q.layers)
    kinds = q.kinds or None
    crs = q.crs
    with input_errors():
        if q.shape in ("circle", "nearest"):
            lon, lat = convert_point(_need(q.lon, "lon", q.shape), _need(q.lat, "lat", q.shape), crs, "wgs84")
        if q.shape == "circle":
            hits = cat.search_circle(lon, lat, _need(q.radius_m, "radius_m", "circle"), layers=layers, kinds=kinds)
        elif q.shape == "nearest":
            hits = cat.search_nearest(lon, lat, q.limit, layers=layers, kinds=kinds,
                                      max_distance_m=q.max_distance_m)
        elif q.shape == "rectangle":
            b = _need(q.bbox, "bbox [west, south, east, north]", "rectangle")
            if len(b) != 4:
                raise GisInputError("bbox must be [west, south, east, north]")
            w, s = convert_point(b[0], b[1], crs, "wgs84")
            e, n = convert_point(b[2], b[3], crs, "wgs84")
            hits = cat.search_bbox(w, s, e, n, layers=layers, kinds=kinds)
        else:
            area = gis.parse_area(_need(q.polygon, "polygon (GeoJSON Polygon)", "polygon"), where="polygon")
            hits = cat.search_polygon(convert_geom(area, crs, "wgs84"), layers=layers, kinds=kinds)
        top = hits.top(q.limit, order=q.order)
    items = []
    for h in top:
        d = h.to_dict()
        d["id"] = int(d["id"])
        if crs != "wgs84":
            d["lon"], d["lat"] = convert_point(d["lon"], d["lat"], "wgs84", crs)
        items.append(d)
    ref_lon, ref_lat = hits.ref
    if crs != "wgs84":
        ref_lon, ref_lat = convert_point(ref_lon, ref_lat, "wgs84", crs)
    return {"total": len(hits), "reference": {"lon": ref_lon, "lat": ref_lat}, "items": items}


async def search_async(index: GeoIndex, q: SearchIn) -> dict[str, Any]:
    return await asyncio.to_thread(search, index, q)


_PROP_COLUMNS = [("地址", "address"), ("联系人", "contact"), ("联系电话", "phone")]


def export_xlsx(result: dict[str, Any], title: str) -> bytes:
    """The result table as a workbook (headers in Chinese); pure, run it in a worker thread."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "查询结果"
    ws.append([title])
    ws["A1"].font = Font(bold=True)
    headers = ["序号", "名称", "图层", "类型", "距离(米)", "方位角(°)", "经度", "纬度",
               *[h for h, _ in _PROP_COLUMNS], "其他属性"]
    ws.append(headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for i, it in enumerate(result["items"], start=1):
        props = dict(it.get("properties") or {})
        fixed = [props.pop(k, None) for _, k in _PROP_COLUMNS]
        rest = "; ".join(f"{k}={_cell_text(v)}" for k, v in props.items())
        ws.append([i, it["name"], LAYER_LABELS.get(it["layer"], it["layer"]), kind_label(it["kind"]),
                   round(it["distance_m"], 1), round(it["bearing_deg"], 1), round(it["lon"], 6),
                   round(it["lat"], 6), *[_cell_text(v) for v in fixed], rest])
    for col, width in zip("ABCDEFGHIJKL", (6, 28, 12, 16, 10, 10, 12, 12, 30, 10, 15, 50), strict=True):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    text = str(v)
    # A cell starting with = + - @ would be a formula in Excel: never let data become one.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# --- rivers: downstream trace ----------------------------------------------------------------------------

def reach_hydraulics(props: dict[str, Any], q: TraceIn | None = None) -> dict[str, float]:
    """velocity, dispersion, area of a reach from its properties, request overrides winning.

    Missing dispersion is estimated with Fischer's formula D ≈ 0.011·u²·W²/(h·u*) with u* ≈ 0.1·u.
    """
    u = float((q.velocity_ms if q and q.velocity_ms else None) or props.get("velocity_ms") or DEFAULT_VELOCITY_MS)
    w = float(props.get("width_m") or DEFAULT_WIDTH_M)
    h = float(props.get("depth_m") or DEFAULT_DEPTH_M)
    d = (q.dispersion_m2s if q and q.dispersion_m2s else None) or props.get("dispersion_m2s") \
        or 0.011 * u * u * w * w / (h * 0.1 * u)
    a = (q.area_m2 if q and q.area_m2 else None) or w * h
    return {"velocity_ms": u, "dispersion_m2s": float(d), "area_m2": float(a), "width_m": w, "depth_m": h}


def _path_params(segments: list[PathSegment], index: GeoIndex, q: TraceIn
                 ) -> Callable[[float], tuple[float, float, float, float]]:
    """For a river distance: (travel time, effective velocity, dispersion, area) along the traced path.

    Travel time sums each reach's length over its velocity; dispersion and area are averaged over the
    reaches by length, so a spill that crosses from a fast tributary into the slow main river arrives when
    the water does.
    """
    hyd = [reach_hydraulics(dict(index.reaches[s.reach_id].properties), q) for s in segments]

    def at(dist: float) -> tuple[float, float, float, float]:
        t = dsum = asum = covered = 0.0
        for seg, hp in zip(segments, hyd, strict=True):
            length = seg.to_m - seg.from_m
            part = min(length, max(0.0, dist - seg.path_start_m))
            if part <= 0:
                break
            t += part / hp["velocity_ms"]
            dsum += part * hp["dispersion_m2s"]
            asum += part * hp["area_m2"]
            covered += part
        if covered <= 0:
            hp = hyd[0]
            return 0.0, hp["velocity_ms"], hp["dispersion_m2s"], hp["area_m2"]
        return t, covered / t, dsum / covered, asum / covered

    return at


def trace(index: GeoIndex, q: TraceIn) -> dict[str, Any]:
    """Downstream trace with arrival/peak times (call in a worker thread)."""
    net = index.network()
    if net is None:
        raise ApiError(409, "no_rivers", "no rivers are on the map yet")
    crs = q.crs
    kinds = q.kinds or None
    with input_errors():
        lon, lat = convert_point(q.lon, q.lat, crs, "wgs84")
        first = net.trace_downstream(lon, lat, q.max_distance_m, max_snap_m=q.max_snap_m, kinds=kinds)
        params = _path_params(first.segments, index, q)

        def arrival_model(distances: Sequence[float]) -> list[dict[str, Any]]:
            rows = []
            for dist in distances:
                t, u, d, a = params(dist)
                if q.mass_kg is None or dist <= 0:
                    rows.append({"arrival_s": t, "peak_s": t, "peak_mg_l": None})
                    continue
                spill = dispersion.river_spill(q.mass_kg, u, d, a, q.decay_per_s)
                arrival = (spill.arrival_time(dist, q.threshold_mg_l) if q.threshold_mg_l
                           else spill.leading_edge_time(dist))
                rows.append({"arrival_s": _num(arrival), "peak_s": _num(spill.peak_time(dist)),
                             "peak_mg_l": _num(spill.peak_concentration(dist))})
            return rows

        result = net.trace_downstream(lon, lat, q.max_distance_m, max_snap_m=q.max_snap_m, kinds=kinds,
                                      arrival_model=arrival_model)
    items = []
    for it in result.items:
        d = it.to_dict()
        reach = index.reaches[it.reach_id]
        d["id"] = int(d["id"])
        d["river_id"] = int(it.reach_id)
        d["river_name"] = reach.name
        d.pop("reach_id", None)
        for key in ("arrival_s", "peak_s"):
            if d[key] is not None:
                d[key] = round(d[key], 1)
        if crs != "wgs84":
            d["lon"], d["lat"] = convert_point(d["lon"], d["lat"], "wgs84", crs)
        items.append(d)
    snap = result.snap
    slon, slat = convert_point(snap.lon, snap.lat, "wgs84", crs)
    start = index.reaches[snap.reach_id]
    path_geom = convert_geom(result.geometry, "wgs84", crs)
    return {
        "snap": {"river_id": int(snap.reach_id), "river_name": start.name, "lon": slon, "lat": slat,
                 "distance_m": round(snap.distance_m, 1), "position_m": round(snap.position_m, 1)},
        "length_m": round(result.length_m, 1),
        "reaches": [{"river_id": int(s.reach_id), "name": s.name, "from_m": round(s.from_m, 1),
                     "to_m": round(s.to_m, 1), "path_start_m": round(s.path_start_m, 1),
                     **reach_hydraulics(dict(index.reaches[s.reach_id].properties), q)}
                    for s in result.segments],
        "path": {"type": "Feature", "geometry": mapping(path_geom),
                 "properties": {"length_m": round(result.length_m, 1), "crs": crs}},
        "model": {"kind": "advection_dispersion" if q.mass_kg else "advection", "mass_kg": q.mass_kg,
                  "threshold_mg_l": q.threshold_mg_l, "decay_per_s": q.decay_per_s,
                  "arrival": ("first time C ≥ threshold" if q.threshold_mg_l else
                              "leading edge (ut + 2σ)" if q.mass_kg else "advection (distance / velocity)"),
                  "overrides": {k: getattr(q, k) for k in ("velocity_ms", "dispersion_m2s", "area_m2")
                                if getattr(q, k) is not None}},
        "items": items,
    }


def _num(v: Any) -> float | None:
    x = float(np.asarray(v).reshape(-1)[0])
    return None if not math.isfinite(x) else x


# --- chemicals -------------------------------------------------------------------------------------------

def chemical_summary(c: dispersion.Chemical) -> dict[str, Any]:
    return {"cas": c.cas, "name_en": c.name_en, "name_zh": c.name_zh, "aliases": list(c.aliases),
            "state": c.state, "hazard_category": c.hazard_category, "molecular_weight": c.molecular_weight}


def list_chemicals(q: str | None, limit: int) -> list[dict[str, Any]]:
    needle = " ".join((q or "").casefold().split())
    out = []
    for c in dispersion.list_chemicals():
        keys = [c.cas, c.name_en, c.name_zh, *c.aliases]
        if not needle or any(needle in k.casefold() for k in keys):
            out.append(chemical_summary(c))
    if needle:  # exact hits first
        out.sort(key=lambda c: 0 if needle in (c["cas"].casefold(), c["name_en"].casefold(), c["name_zh"]) else 1)
    return out[:limit]


def chemical_detail(key: str) -> dict[str, Any]:
    try:
        c = dispersion.get_chemical(key)
    except UnknownChemicalError:
        raise not_found("chemical", key) from None
    d = c.to_dict()
    for name, lv in d["levels"].items():
        if lv["unit"] == "ppm":
            lv["mg_m3"] = round(float(dispersion.ppm_to_mg_m3(lv["value"], c.molecular_weight)), 4)
        lv["name"] = name
    try:
        d["default_levels"] = [lv.name for lv in dispersion.default_levels(c)]
    except DispersionInputError:
        d["default_levels"] = []
    d["notes"] = ("Levels of concern are for emergency planning; check against the current official "
                  "AEGL/ERPG/IDLH tables before operational use.")
    return d


# --- console base map ------------------------------------------------------------------------------------

# Tiles that are drawn in GCJ-02 (the Chinese "Mars" datum): AMap and Tencent. The console then asks the
# layer API for crs=gcj02 and shifts its overlays, or every feature would sit 300–600 m off the streets.
_GCJ02_TILE_HOSTS = ("autonavi.com", "amap.com", "gtimg.com", "qq.com")


def map_config(settings: Any, index: GeoIndex) -> dict[str, Any]:
    """The console's base map. With no tile URL configured (the default: command centres are often
    offline) the console draws the district outlines and rivers on a plain background.

    ``ECS_MAP_TILE_URL`` / ``_CRS`` / ``_SUBDOMAINS`` / ``_ATTRIBUTION`` point a deployment at AMap, OSM or an
    internal tile server; the CRS is guessed from the host when not given."""
    url = (settings.map_tile_url or "").strip() or None
    crs = settings.map_tile_crs
    if crs not in ("wgs84", "gcj02"):
        crs = "gcj02" if url and any(h in url for h in _GCJ02_TILE_HOSTS) else "wgs84"
    bounds: list[float] | None = None
    geoms = [f.geometry for name in ("districts", *LAYERS) if name in index.catalog.layer_names
             for f in index.catalog.layer(name).features()]
    geoms += [f.geometry for f in index.reaches.values()]
    if geoms:
        w, s, e, n = shapely.total_bounds(geoms)
        bounds = [round(float(w), 6), round(float(s), 6), round(float(e), 6), round(float(n), 6)]
    return {
        "tile_url": url,
        "tile_crs": crs if url else "wgs84",
        "subdomains": settings.map_tile_subdomains,
        "attribution": settings.map_tile_attribution,
        "min_zoom": 3,
        "max_zoom": 18,
        "bounds": bounds,
    }
