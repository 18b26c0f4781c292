"""Demo monitoring: 32 stations (the map's 16 air and 8 water stations plus 8 weather stations added to the
map here) with a week of readings every 10 minutes, 30 risk-source monitors with a day of readings, the
warning rules for the main kinds of risk source, and a handful of open and acknowledged warnings.

Readings are generated with numpy (diurnal cycle + noise, fixed seed) and written with executemany in chunks;
warnings are opened through the rule engine so that they carry the same messages, recipients and
notifications as live ones.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from ..auth.models import User
from ..core.security import Actor
from ..core.services import Services
from ..core.uow import AnyActor
from ..geo.models import MapFeature
from ..monitoring.catalogue import DEFAULT_METRICS, category_for
from ..monitoring.models import MetricState, MonitoringSource
from ..monitoring.service import bulk_insert_readings
from ..warnings.engine import Hit, open_warning
from ..warnings.models import WarningRule
from ..warnings.service import ack_in
from .geodata import district_of, mapping_of

PRIORITY = 35  # after the map (10) and the organisation (20)
SEED = 20260335
STEP = dt.timedelta(minutes=10)
WEEK_POINTS = 7 * 24 * 6  # 1,008
DAY_POINTS = 24 * 6

# metric → (base, diurnal amplitude, noise sd, floor, ceiling, peak hour)
PROFILE: dict[str, tuple[float, float, float, float, float, float]] = {
    "pH": (7.4, 0.15, 0.05, 6.0, 9.0, 15), "DO": (7.2, 1.0, 0.25, 2.0, 12.0, 15),
    "CODMn": (3.6, 0.4, 0.3, 0.5, 15.0, 10), "NH3-N": (0.42, 0.08, 0.05, 0.02, 5.0, 8),
    "TP": (0.12, 0.02, 0.015, 0.01, 1.0, 8), "TN": (1.3, 0.15, 0.1, 0.1, 5.0, 8),
    "SO2": (12.0, 5.0, 3.0, 2.0, 800.0, 9), "NO2": (32.0, 12.0, 6.0, 3.0, 400.0, 8),
    "CO": (0.7, 0.2, 0.08, 0.1, 10.0, 8), "O3": (70.0, 40.0, 10.0, 5.0, 400.0, 15),
    "PM10": (62.0, 15.0, 10.0, 5.0, 600.0, 9), "PM2.5": (38.0, 10.0, 7.0, 3.0, 500.0, 9),
    "temperature": (12.0, 5.0, 0.6, -10.0, 40.0, 14), "humidity": (72.0, -15.0, 4.0, 15.0, 100.0, 14),
    "pressure": (1016.0, 1.5, 0.4, 990.0, 1040.0, 10), "wind_speed": (3.2, 1.5, 0.8, 0.0, 30.0, 14),
    "wind_dir": (120.0, 40.0, 25.0, 0.0, 359.0, 14), "rainfall": (0.0, 0.0, 0.0, 0.0, 50.0, 0),
    "VOCs": (0.6, 0.2, 0.12, 0.02, 50.0, 11), "NH3": (0.25, 0.08, 0.06, 0.0, 50.0, 11),
    "Cl2": (0.02, 0.01, 0.01, 0.0, 5.0, 11), "H2S": (0.005, 0.002, 0.002, 0.0, 1.0, 11),
    "tank_pressure": (0.85, 0.05, 0.03, 0.1, 2.5, 15), "tank_temp": (24.0, 4.0, 0.8, -5.0, 80.0, 15),
    "equipment_state": (1.0, 0.0, 0.0, -1.0, 1.0, 0),
    "COD": (28.0, 6.0, 3.0, 5.0, 200.0, 10), "discharge_flow": (2100.0, 600.0, 120.0, 0.0, 9000.0, 10),
}

# weather stations added to the map (lon, lat, name)
MET_STATIONS = [
    (121.29, 31.15, "青山县气象观测站"), (121.47, 31.20, "江北区气象观测站"), (121.50, 30.95, "江南区气象观测站"),
    (121.70, 31.20, "滨海新区气象观测站"), (121.68, 31.00, "东湖区气象观测站"), (121.71, 30.89, "临港化工园区气象站"),
    (121.77, 31.06, "滨江口海洋气象站"), (121.36, 30.88, "青山县南部气象观测站"),
]

# (name, scope_kind, metric, kind, condition fields, level, escalate)
RULES: list[tuple[str, str, str, str, dict[str, Any], str, bool]] = [
    ("化工企业厂界氨气超标", "chemical_plant", "NH3", "threshold", {"op": ">", "threshold": 1.5}, "orange", True),
    ("化工企业氯气泄漏报警", "chemical_plant", "Cl2", "threshold", {"op": ">", "threshold": 0.4}, "red", True),
    ("化工企业储罐压力持续偏高", "chemical_plant", "tank_pressure", "sustained",
     {"op": ">", "threshold": 1.6, "sustain_count": 3}, "orange", False),
    ("化工企业储罐温度骤升", "chemical_plant", "tank_temp", "rate",
     {"op": ">", "threshold": 1.0, "rate_per": "minute"}, "red", True),
    ("危废场所VOCs持续超标", "hazardous_waste", "VOCs", "sustained",
     {"op": ">", "threshold": 4.0, "sustain_minutes": 30}, "yellow", False),
    ("危废场所硫化氢超标", "hazardous_waste", "H2S", "threshold", {"op": ">", "threshold": 0.06}, "orange", False),
    ("污水处理厂出水COD超标（一级A）", "sewage_plant", "COD", "threshold", {"op": ">", "threshold": 50}, "orange",
     True),
    ("污水处理厂出水氨氮持续超标", "sewage_plant", "NH3-N", "sustained",
     {"op": ">", "threshold": 5, "sustain_count": 3}, "orange", False),
    ("污水处理厂设备故障", "sewage_plant", "equipment_state", "threshold", {"op": "<", "threshold": 0}, "yellow",
     False),
    ("水质站氨氮超III类", "water_station", "NH3-N", "threshold", {"op": ">", "threshold": 1.0}, "yellow", False),
    ("水质站溶解氧偏低", "water_station", "DO", "sustained", {"op": "<", "threshold": 5, "sustain_minutes": 60},
     "blue", False),
    ("水质站pH突变", "water_station", "pH", "rate", {"op": ">", "threshold": 1.0, "rate_per": "hour"}, "yellow",
     False),
    ("水质站数据中断", "water_station", "NH3-N", "missing", {"missing_minutes": 60}, "blue", False),
    ("空气站SO2小时浓度超标", "air_station", "SO2", "threshold", {"op": ">", "threshold": 500}, "orange", True),
    ("空气站PM2.5持续重度污染", "air_station", "PM2.5", "sustained",
     {"op": ">", "threshold": 150, "sustain_minutes": 60}, "yellow", False),
    ("气象站8级以上大风", "met_station", "wind_speed", "threshold", {"op": ">=", "threshold": 17.2}, "blue", False),
]


def _series(rng: np.random.Generator, metric: str, times_h: np.ndarray, scale: float) -> np.ndarray:
    base, amp, sd, lo, hi, peak = PROFILE[metric]
    if metric == "equipment_state":
        return np.ones_like(times_h)
    if metric == "rainfall":
        rain = (rng.random(times_h.size) < 0.04) * rng.gamma(1.2, 1.5, times_h.size)
        return np.round(rain, 1)
    walk = np.cumsum(rng.normal(0, sd * 0.15, times_h.size))
    walk -= np.linspace(0, walk[-1], times_h.size)  # no long drift
    v = base * scale + amp * np.cos(2 * math.pi * (times_h - peak) / 24.0) + walk + rng.normal(0, sd, times_h.size)
    return np.round(np.clip(v, lo, hi), 3)


async def seed(svc: Services, actor: AnyActor) -> None:
    rng = np.random.default_rng(SEED)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    end = now - dt.timedelta(minutes=now.minute % 10)
    week = [end - STEP * (WEEK_POINTS - 1 - i) for i in range(WEEK_POINTS)]
    async with svc.write(actor) as uow:
        s = uow.session
        if await s.scalar(select(MonitoringSource.id).limit(1)):
            return
        # weather stations join the map's station layer (one map.reloaded: each process reloads its index once)
        for lon, lat, name in MET_STATIONS:
            s.add(MapFeature(layer="stations", kind="met_station", name=name,
                             geometry=mapping_of_point(lon, lat),
                             properties={"district": district_of(lon, lat)[0],
                                         "address": f"滨江市{district_of(lon, lat)[0]}",
                                         "parameters": DEFAULT_METRICS["met_station"], "control_level": "市控"}))
        await s.flush()
        uow.emit("map.reloaded", subject_type="map", payload={"reason": "demo weather stations",
                                                             "layers": {"stations": len(MET_STATIONS)}})
        stations = (await s.scalars(select(MapFeature).where(MapFeature.layer == "stations")
                                    .order_by(MapFeature.id))).all()
        risks = (await s.scalars(select(MapFeature).where(MapFeature.layer == "risk_sources")
                                 .order_by(MapFeature.id))).all()
        picked = [f for f in risks if f.kind == "chemical_plant"][:18] + \
            [f for f in risks if f.kind == "sewage_plant"][:8] + [f for f in risks if f.kind == "hazardous_waste"][:4]
        sources: list[MonitoringSource] = []
        for f in [*stations, *picked]:
            src = MonitoringSource(code=f"{f.kind.upper()}-{f.id}", name=f.name, category=category_for(f.layer, f.kind),
                                   map_feature_id=f.id, feature_kind=f.kind, metrics=list(DEFAULT_METRICS[f.kind]),
                                   active=True, created_at=week[0])
            s.add(src)
            sources.append(src)
        await s.flush()

        # readings: stations a week, risk-source monitors a day
        rows: list[dict[str, Any]] = []
        last: dict[tuple[int, str], tuple[dt.datetime, float]] = {}
        hours_week = np.array([((t.hour + 8) % 24) + t.minute / 60 for t in week])  # local hour of day
        anomalies = _anomalies(sources)
        for src in sources:
            is_station = src.category != "risk_source"
            times = week if is_station else week[-DAY_POINTS:]
            hours = hours_week if is_station else hours_week[-DAY_POINTS:]
            scale = float(rng.uniform(0.8, 1.25))
            for metric in src.metrics:
                values = _series(rng, metric, hours, scale)
                for idx, v in anomalies.get((src.id, metric), []):
                    values[idx] = v
                rows.extend({"source_id": src.id, "metric": metric, "at": t, "value": float(v)}
                            for t, v in zip(times, values, strict=True))
                last[(src.id, metric)] = (times[-1], float(values[-1]))
        await bulk_insert_readings(s, rows)
        conn = await s.connection()
        await conn.execute(insert(MetricState.__table__), [
            {"source_id": k[0], "metric": k[1], "last_at": t, "last_value": v} for k, (t, v) in last.items()])

        # rules: the commander is responsible, duty officers notified, red/orange ones escalate to the admin
        users = dict((await s.execute(select(User.username, User.id))).all())
        rules: dict[str, WarningRule] = {}
        for name, kind_, metric, rkind, cond, level, escalate in RULES:
            r = WarningRule(name=name, enabled=True, scope_kind=kind_, metric=metric, kind=rkind, level=level,
                            responsible_user_ids=[users["commander"]] if "commander" in users else [],
                            notify_duty=True, escalate_after_min=15 if escalate else None,
                            escalate_to_user_ids=[], escalate_to_roles=["admin"] if escalate else [],
                            description=None, **cond)
            s.add(r)
            rules[name] = r
        await s.flush()

        # a handful of warnings, from the anomalies planted in the data
        by_id = {src.id: src for src in sources}
        opened = []
        for rule_name, sid, _metric, idx, value, extra in _planted(sources):
            src = by_id[sid]
            times = week if src.category != "risk_source" else week[-DAY_POINTS:]
            w = await open_warning(uow, rules[rule_name], src, Hit(value, times[idx], extra), now=times[idx] + STEP)
            if w is not None:
                opened.append(w)
        if "commander" in users:
            commander = Actor(user_id=users["commander"], username="commander", roles=("commander",),
                              session_id="demo-seed")
            for w in opened[:2]:
                await ack_in(uow, commander, w.id, now=w.created_at + dt.timedelta(minutes=6))
        uow.emit("monitoring.demo_seeded", subject_type="monitoring",
                 payload={"sources": len(sources), "stations": len(stations), "readings": len(rows),
                          "rules": len(rules), "warnings": len(opened)})


def mapping_of_point(lon: float, lat: float) -> dict[str, Any]:
    from shapely.geometry import Point

    return mapping_of(Point(lon, lat))


def _pick(sources: list[MonitoringSource], kind: str, n: int) -> list[MonitoringSource]:
    return [s for s in sources if s.feature_kind == kind][:n]


def _planted(sources: list[MonitoringSource]) -> list[tuple[str, int, str, int, float, dict[str, Any]]]:
    """(rule, source id, metric, index in its series, value, details) of the demo warnings."""
    out: list[tuple[str, int, str, int, float, dict[str, Any]]] = []
    water = _pick(sources, "water_station", 2)
    air = _pick(sources, "air_station", 1)
    chem = _pick(sources, "chemical_plant", 2)
    sewage = _pick(sources, "sewage_plant", 1)
    if len(water) == 2:
        out.append(("水质站氨氮超III类", water[0].id, "NH3-N", WEEK_POINTS - 4, 1.46, {}))
        out.append(("水质站氨氮超III类", water[1].id, "NH3-N", WEEK_POINTS - 30, 1.12, {}))
    if air:
        out.append(("空气站SO2小时浓度超标", air[0].id, "SO2", WEEK_POINTS - 9, 612.0, {}))
    if len(chem) == 2:
        out.append(("化工企业厂界氨气超标", chem[0].id, "NH3", DAY_POINTS - 2, 2.8, {}))
        out.append(("化工企业氯气泄漏报警", chem[1].id, "Cl2", DAY_POINTS - 1, 0.62, {}))
    if sewage:
        out.append(("污水处理厂出水COD超标（一级A）", sewage[0].id, "COD", DAY_POINTS - 3, 78.5, {}))
    return out


def _anomalies(sources: list[MonitoringSource]) -> dict[tuple[int, str], list[tuple[int, float]]]:
    """The planted peaks (and a little shoulder around them) written into the generated series."""
    out: dict[tuple[int, str], list[tuple[int, float]]] = {}
    for _rule, sid, metric, idx, value, _ in _planted(sources):
        out.setdefault((sid, metric), []).extend(
            [(idx - 2, value * 0.55), (idx - 1, value * 0.8), (idx, value)] +
            ([(idx + 1, value * 0.7)] if idx + 1 < (WEEK_POINTS if "station" in _kind(sources, sid) else DAY_POINTS)
             else []))
    return out


def _kind(sources: list[MonitoringSource], sid: int) -> str:
    return next(s.feature_kind for s in sources if s.id == sid)
