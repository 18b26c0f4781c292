"""Dispersion runs: threat zones from ``dispersion``, affected sensitive features from the map index,
every run stored and announced with ``simulation.completed`` (on the incident timeline when it names one).

The models are CPU work (a run is some tens of milliseconds): they run in a worker thread.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select

import dispersion
from dispersion import LevelOfConcern, Met, Release
from gis import affected_features
from gis.validate import check_lonlat

from ..core.errors import ApiError, not_found
from ..core.services import Services
from ..core.uow import AnyActor
from ..geo.index import GeoIndex
from ..geo.kinds import kind_label
from ..geo.schemas import TraceIn
from ..geo.service import MAP_AUDIENCE, input_errors, reach_hydraulics, trace
from ..incidents.models import Incident
from .models import SimulationRun
from .schemas import DispersionIn, RiverRunIn, RunsQuery

# What a threat zone is checked against: every sensitive feature, and the drinking-water intakes.
AFFECTED_LAYERS: list[tuple[str, list[str] | None]] = [("sensitive", None), ("facilities", ["water_intake"])]

# Contoured zones carry ~1,400 vertices (the "possible" envelope ~7,000), and overlap cost grows with them.
# Identification uses each zone simplified to 2e-6° (≈ 0.2 m) and grown by as much again, so it still covers
# the exact zone (never misses a feature) at a twentieth of the vertices: ~5× faster over 10,000 polygons.
IDENTIFY_TOLERANCE_DEG = 2e-6


def identification_zone(polygon: BaseGeometry) -> BaseGeometry:
    """A slightly larger, much lighter copy of a zone for the overlap tests (covers the original)."""
    light = shapely.simplify(polygon, IDENTIFY_TOLERANCE_DEG, preserve_topology=True)
    return light.buffer(IDENTIFY_TOLERANCE_DEG, join_style="mitre", mitre_limit=2.0)


# --- atmospheric -------------------------------------------------------------------------------------

def _build_inputs(kind: str, body: DispersionIn) -> tuple[Release, Met, Any, Any]:
    r, m = body.release, body.meteorology
    check_lonlat(r.lon, r.lat, "release point")
    if kind == "plume":
        if r.rate_gps is None:
            raise ApiError(422, "invalid_input", "a plume (continuous release) needs release.rate_gps (g/s); "
                                                 "for an instantaneous release use /api/v1/dispersion/puff")
        if r.mass_kg is not None:
            raise ApiError(422, "invalid_input", "a plume takes release.rate_gps, not release.mass_kg")
        release = Release(r.lon, r.lat, rate_gps=r.rate_gps, height_m=r.height_m,
                          duration_s=None if r.duration_min is None else r.duration_min * 60.0)
    else:
        if r.mass_kg is None:
            raise ApiError(422, "invalid_input", "a puff (instantaneous release) needs release.mass_kg; "
                                                 "for a continuous release use /api/v1/dispersion/plume")
        if r.rate_gps is not None:
            raise ApiError(422, "invalid_input", "a puff takes release.mass_kg, not release.rate_gps")
        release = Release(r.lon, r.lat, mass_g=r.mass_kg * 1000.0, height_m=r.height_m)
    met = Met(wind_speed_ms=m.wind_speed_ms, wind_from_deg=m.wind_from_deg, stability=m.stability,
              terrain=m.terrain, mixing_height_m=m.mixing_height_m, daytime=m.daytime, insolation=m.insolation,
              cloud_cover_tenths=m.cloud_cover_tenths, ceiling_m=m.ceiling_m,
              solar_altitude_deg=m.solar_altitude_deg)
    chem = dispersion.get_chemical(body.chemical)
    if isinstance(body.levels, str):
        levels: Any = None if body.levels == "default" else body.levels
    else:
        if not body.levels:
            raise ApiError(422, "invalid_input", "levels must not be an empty list")
        levels = [LevelOfConcern(lv.name, lv.value, lv.unit) for lv in body.levels]
    return release, met, chem, levels


def compute(index: GeoIndex, kind: str, body: DispersionIn) -> dict[str, Any]:
    """Zones, affected features and summary (call in a worker thread)."""
    with input_errors():
        release, met, chem, levels = _build_inputs(kind, body)
        stability = met.stability_class()
        zones = dispersion.threat_zones(release, met, chem, levels, metric=body.metric,
                                        direction_uncertainty=body.direction_uncertainty_deg)
        features = []
        for rank, z in enumerate(zones):
            features.append({"type": "Feature", "id": rank + 1, "geometry": mapping(z.polygon), "properties": {
                "level": z.level, "threshold": z.threshold, "unit": z.unit, "length_m": round(z.length_m, 1),
                "width_m": round(z.width_m, 1), "kind": z.kind, "rank": rank}})
        zone_inputs = [(z.level if z.kind == "threat" else "possible", identification_zone(z.polygon))
                       for z in zones]
        level_of = {name: z.level for (name, _), z in zip(zone_inputs, zones, strict=True)}
        found = []
        if zone_inputs:
            for layer, kinds in AFFECTED_LAYERS:
                if layer in index.catalog.layer_names:
                    found += affected_features(index.catalog, zone_inputs, (release.lon, release.lat), [layer],
                                               kinds=kinds)
    found.sort(key=lambda a: (a.distance_m, a.zone_rank, a.feature.name))
    affected = []
    for a in found:
        d = a.to_dict()
        d.update(id=int(d["id"]), kind_label=kind_label(a.feature.kind), level=level_of[a.zone],
                 possible=a.zone == "possible")
        affected.append(d)
    threat = [z for z in zones if z.kind == "threat"]
    possible = [z for z in zones if z.kind == "possible"]
    counts: dict[str, int] = {}
    by_zone: dict[str, dict[str, int]] = {}
    population = 0.0
    for a in affected:
        counts[a["kind"]] = counts.get(a["kind"], 0) + 1
        zone_counts = by_zone.setdefault(a["zone"], {})
        zone_counts[a["kind"]] = zone_counts.get(a["kind"], 0) + 1
        pop = a["properties"].get("population")
        if isinstance(pop, (int, float)) and math.isfinite(pop):
            population += pop * a["fraction"]
    summary = {
        "chemical": {"cas": chem.cas, "name_zh": chem.name_zh, "name_en": chem.name_en},
        "release": kind,
        "stability": stability,
        "levels": [{"level": z.level, "threshold": z.threshold, "unit": z.unit, "length_m": round(z.length_m, 1),
                    "width_m": round(z.width_m, 1)} for z in threat],
        "max_length_m": round(max((z.length_m for z in threat), default=0.0), 1),
        "possible_length_m": round(max((z.length_m for z in possible), default=0.0), 1),
        "affected_total": len(affected),
        "counts": counts,
        "counts_labelled": {kind_label(k): v for k, v in counts.items()},
        "counts_by_zone": by_zone,
        "population_estimate": round(population),
        "wind": {"speed_ms": met.wind_speed_ms, "from_deg": met.wind_from_deg},
    }
    if not threat:
        summary["note"] = "the release does not reach any level of concern"
    return {"zones": {"type": "FeatureCollection", "features": features}, "affected": affected,
            "summary": summary}


async def run_dispersion(svc: Services, index: GeoIndex, actor: AnyActor, kind: str, body: DispersionIn
                         ) -> dict[str, Any]:
    out = await asyncio.to_thread(compute, index, kind, body)
    run = await _store(svc, actor, kind, body.incident_id, body.model_dump(mode="json"), out["summary"],
                       out["zones"], {"affected": out["affected"]})
    return {"run_id": run.id, "kind": kind, "incident_id": run.incident_id, "created_at": run.created_at, **out}


# --- river -------------------------------------------------------------------------------------------------

def compute_river(index: GeoIndex, body: RiverRunIn) -> dict[str, Any]:
    """Concentration curves and arrival/peak/clear times (call in a worker thread)."""
    downstream = None
    props: dict[str, Any] = {}
    if (body.lon is None) != (body.lat is None):
        raise ApiError(422, "invalid_input", "give both lon and lat, or neither")
    if body.lon is not None:
        downstream = trace(index, TraceIn(lon=body.lon, lat=body.lat, max_distance_m=body.max_distance_m,
                                          mass_kg=body.mass_kg, velocity_ms=body.velocity_ms,
                                          dispersion_m2s=body.dispersion_m2s, area_m2=body.area_m2,
                                          decay_per_s=body.decay_per_s, threshold_mg_l=body.threshold_mg_l))
        props = dict(index.reaches[str(downstream["snap"]["river_id"])].properties)
    for key in ("velocity_ms", "width_m", "depth_m", "dispersion_m2s"):
        if getattr(body, key) is not None:
            props[key] = getattr(body, key)
    hyd = reach_hydraulics(props)  # the spill reach's hydraulics, the request's values winning
    u, d = hyd["velocity_ms"], hyd["dispersion_m2s"]
    a = body.area_m2 or hyd["area_m2"]
    distances = body.distances_m
    if not distances:
        distances = ([it["river_distance_m"] for it in downstream["items"] if it["river_distance_m"] > 0]
                     if downstream else []) or [1000.0, 5000.0, 10000.0, 20000.0]
    with input_errors():
        if any(not math.isfinite(x) or x <= 0 for x in distances):
            raise dispersion.DispersionInputError("distances_m must be positive (metres downstream)")
        spill = dispersion.river_spill(body.mass_kg, u, d, a, body.decay_per_s)
        x = np.asarray(distances, dtype=float)
        peak_t = spill.peak_time(x)
        peak_c = spill.peak_concentration(x)
        lead = spill.leading_edge_time(x)
        arrival = spill.arrival_time(x, body.threshold_mg_l) if body.threshold_mg_l else lead
        clear = spill.clear_time(x, body.threshold_mg_l) if body.threshold_mg_l else None
        points = []
        for i, dist in enumerate(distances):
            t_end = max(2.5 * float(peak_t[i]), float(peak_t[i]) + 6.0 * math.sqrt(2.0 * d * float(peak_t[i])) / u)
            ts = np.linspace(0.0, t_end, body.curve_points)
            cs = spill.concentration(dist, ts)
            points.append({
                "distance_m": dist,
                "arrival_s": _num(arrival[i]),
                "leading_edge_s": _num(lead[i]),
                "peak_s": _num(peak_t[i]),
                "peak_mg_l": _num(peak_c[i]),
                "clear_s": None if clear is None else _num(clear[i]),
                "curve": [{"t_s": round(float(t), 1), "c_mg_l": float(c)} for t, c in zip(ts, cs, strict=True)],
            })
    model = {"mass_kg": body.mass_kg, "velocity_ms": u, "dispersion_m2s": d, "area_m2": a,
             "decay_per_s": body.decay_per_s, "threshold_mg_l": body.threshold_mg_l}
    summary = {
        "model": model,
        "max_peak_mg_l": max((p["peak_mg_l"] or 0.0 for p in points), default=0.0),
        "first_arrival_s": min((p["arrival_s"] for p in points if p["arrival_s"] is not None), default=None),
        "facilities": len(downstream["items"]) if downstream else 0,
        "river": downstream["snap"]["river_name"] if downstream else None,
    }
    return {"summary": summary, "result": {"model": model, "points": points, "downstream": downstream}}


def _num(v: Any) -> float | None:
    x = float(v)
    return None if not math.isfinite(x) else x


async def run_river(svc: Services, index: GeoIndex, actor: AnyActor, body: RiverRunIn) -> dict[str, Any]:
    out = await asyncio.to_thread(compute_river, index, body)
    zones = None
    if out["result"]["downstream"]:
        path = out["result"]["downstream"]["path"]
        zones = {"type": "FeatureCollection", "features": [{**path, "properties": {**path["properties"],
                                                                                     "kind": "river_path"}}]}
    run = await _store(svc, actor, "river", body.incident_id, body.model_dump(mode="json"), out["summary"], zones,
                       {"result": out["result"]})
    return {"run_id": run.id, "kind": "river", "incident_id": run.incident_id, "created_at": run.created_at,
            "summary": out["summary"], "zones": zones, "affected": [], "result": out["result"]}


# --- storage -----------------------------------------------------------------------------------------------

async def _store(svc: Services, actor: AnyActor, kind: str, incident_id: int | None, inputs: dict[str, Any],
                 summary: dict[str, Any], zones: dict[str, Any] | None, details: dict[str, Any]) -> SimulationRun:
    async with svc.write(actor) as uow:
        if incident_id is not None and await uow.session.get(Incident, incident_id) is None:
            raise ApiError(422, "unknown_incident", f"incident {incident_id} does not exist",
                           {"errors": [{"loc": ["body", "incident_id"], "msg": "no such incident"}]})
        run = SimulationRun(kind=kind, incident_id=incident_id, inputs=inputs, summary=summary, zones=zones,
                            details=details, created_by=actor.user_id, created_by_name=actor.username)
        uow.session.add(run)
        await uow.session.flush()
        audience = [*MAP_AUDIENCE, *([f"incident:{incident_id}"] if incident_id is not None else [])]
        uow.emit("simulation.completed", subject_type="simulation_run", subject_id=run.id, incident_id=incident_id,
                 payload={"run_id": run.id, "kind": kind, "incident_id": incident_id,
                          "summary": _event_summary(summary)}, audience=audience)
    return run


def _event_summary(summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("chemical", "stability", "max_length_m", "possible_length_m", "affected_total", "counts",
            "population_estimate", "max_peak_mg_l", "first_arrival_s", "river")
    return {k: summary[k] for k in keep if k in summary}


def _list_item(r: SimulationRun) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "incident_id": r.incident_id, "summary": r.summary,
            "created_by": r.created_by, "created_by_name": r.created_by_name, "created_at": r.created_at}


async def list_runs(svc: Services, q: RunsQuery) -> list[dict[str, Any]]:
    stmt = select(SimulationRun).order_by(SimulationRun.id.desc()).limit(q.limit)
    if q.incident_id is not None:
        stmt = stmt.where(SimulationRun.incident_id == q.incident_id)
    if q.kind is not None:
        stmt = stmt.where(SimulationRun.kind == q.kind)
    if q.before is not None:
        stmt = stmt.where(SimulationRun.id < q.before)
    async with svc.db.read() as s:
        return [_list_item(r) for r in (await s.scalars(stmt)).all()]


async def get_run(svc: Services, run_id: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        r = await s.get(SimulationRun, run_id)
        if r is None:
            raise not_found("simulation run", run_id)
        details = r.details or {}
        return {**_list_item(r), "inputs": r.inputs, "zones": r.zones, "affected": details.get("affected", []),
                "result": details.get("result")}
