"""Demo cameras: 40 devices across 滨江市 where an emergency needs eyes — the major chemical plants and the
park, the drinking-water intakes, the river monitoring sections, gates and dams — plus deployable balls
(布控球), body cams, command vehicles and a drone; two tours and a shared default wall layout.

URLs are placeholders ``rtsp://127.0.0.1:8554/demo/<n>``: the cameras are offline unless an RTSP server
serves those mounts (``tests/peers/rtsp_server.py`` can). Placement reads the demo map (priority 10) and the
district units (priority 20), so it is the same on every start.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, select

from ..cameras.models import Camera, CameraTour, WallLayout
from ..core.services import Services
from ..core.uow import AnyActor
from ..geo.models import MapFeature
from ..org.models import Unit
from .geodata import district_of

PRIORITY = 60
SEED = 20260360
URL = "rtsp://127.0.0.1:8554/demo/{n}"
RISK_ORDER = {"major": 0, "high": 1, "general": 2}


def _point(f: MapFeature) -> tuple[float, float] | None:
    g = f.geometry or {}
    if g.get("type") != "Point":
        return None
    lon, lat = g["coordinates"][:2]
    return float(lon), float(lat)


def _near(r: random.Random, lon: float, lat: float, metres: float = 60.0) -> tuple[float, float]:
    d = metres / 111_000.0
    return round(lon + r.uniform(-d, d), 6), round(lat + r.uniform(-d, d), 6)


async def seed(svc: Services, actor: AnyActor) -> None:
    async with svc.db.read() as s:
        if await s.scalar(select(func.count()).select_from(Camera)):
            return
        features = list((await s.scalars(select(MapFeature).where(
            MapFeature.layer.in_(("risk_sources", "facilities", "resources"))).order_by(MapFeature.id))).all())
        units = {code: uid for uid, code in (await s.execute(select(Unit.id, Unit.code))).all() if code}
    r = random.Random(SEED)
    by_kind: dict[str, list[MapFeature]] = {}
    for f in features:
        if _point(f) is not None:
            by_kind.setdefault(f.kind, []).append(f)
    plants = sorted(by_kind.get("chemical_plant", []),
                    key=lambda f: (not (f.properties or {}).get("in_park"),
                                   RISK_ORDER.get((f.properties or {}).get("risk_level"), 3), f.id))
    waste = sorted(by_kind.get("hazardous_waste", []),
                   key=lambda f: (RISK_ORDER.get((f.properties or {}).get("risk_level"), 3), f.id))

    specs: list[dict[str, Any]] = []

    def add(f: MapFeature | None, name: str, kind: str, tags: list[str], *, mode: str = "emergency",
            where: tuple[float, float] | None = None, metres: float = 60.0) -> None:
        p = where or (_point(f) if f is not None else None)
        if p is None:
            return
        lon, lat = _near(r, p[0], p[1], metres)
        district, code = district_of(lon, lat)
        specs.append({"name": name, "kind": kind, "lon": lon, "lat": lat, "tags": tags, "recording_mode": mode,
                      "feature_id": f.id if f is not None else None, "unit_id": units.get(f"BJ-{code}"),
                      "address": (f.properties or {}).get("address") if f is not None else district})

    # 12 at risk sources: the park's plants first (a PTZ dome at each major one), then hazardous-waste sites
    for i, f in enumerate(plants[:9]):
        kind = "ptz_dome" if (f.properties or {}).get("risk_level") == "major" or i < 3 else "fixed"
        add(f, f"{f.name}{'厂区球机' if kind == 'ptz_dome' else '厂界监控'}", kind,
            ["风险源", "化工园区" if (f.properties or {}).get("in_park") else "化工企业"])
    for f in waste[:3]:
        add(f, f"{f.name}出入口监控", "fixed", ["风险源", "危废"])
    # 8 drinking-water intakes (the first four recorded around the clock), 8 river sections, 4 gates/dams
    for i, f in enumerate(by_kind.get("water_intake", [])[:8]):
        add(f, f"{f.name}监控", "fixed" if i % 2 else "ptz_dome", ["饮用水源", (f.properties or {}).get("river", "")],
            mode="continuous" if i < 4 else "emergency")
    for f in by_kind.get("monitoring_section", [])[:8]:
        add(f, f"{f.name}视频监控", "fixed", ["监测断面", (f.properties or {}).get("river", "")])
    gates = by_kind.get("gate", [])[:3] + by_kind.get("dam", [])[:1]
    for f in gates:
        add(f, f"{f.name}球机", "ptz_dome", ["水利设施", (f.properties or {}).get("river", "")])
    # 3 deployable balls at the park gate and two sewage plants, 2 body cams and 2 command vehicles with
    # the emergency teams and vehicles, 1 drone at a depot
    park = plants[0] if plants else None
    if park is not None:
        add(park, "化工园区应急布控球1号", "deployable_ball", ["布控球", "化工园区"], metres=400)
    for i, f in enumerate(by_kind.get("sewage_plant", [])[:2], start=2):
        add(f, f"应急布控球{i}号（{f.name}）", "deployable_ball", ["布控球", "污水处理厂"], metres=150)
    teams = [f for f in by_kind.get("team", []) if "环境应急" in f.name or "监测" in f.name] or \
        by_kind.get("team", [])
    for i, f in enumerate(teams[:2], start=1):
        add(f, f"执法记录仪{i:02d}（{f.name}）", "body_cam", ["单兵", "执法记录仪"], metres=20)
    vehicles = [f for f in by_kind.get("vehicle", []) if "指挥" in f.name or "监测" in f.name] or \
        by_kind.get("vehicle", [])
    for f in vehicles[:2]:
        add(f, f"{f.name}车载监控", "vehicle", ["车载", "应急车辆"], metres=10)
    depots = by_kind.get("depot", [])
    if depots:
        add(depots[0], "应急监测无人机01", "drone", ["无人机"], metres=10)

    rows: list[Camera] = []
    seen: set[str] = set()
    for n, spec in enumerate(specs, start=1):
        name = spec["name"][:100]
        if name in seen:
            name = f"{name[:95]}-{n}"
        seen.add(name)
        rows.append(Camera(name=name, kind=spec["kind"], protocol="rtsp", url=URL.format(n=n), transport="tcp",
                           lon=spec["lon"], lat=spec["lat"], address=spec["address"], unit_id=spec["unit_id"],
                           feature_id=spec["feature_id"], tags=[t for t in spec["tags"] if t],
                           recording_mode=spec["recording_mode"], recording_schedule=[], retention_days=30,
                           transcode_h265=False, enabled=True, status="unknown", media_info={}))

    async with svc.write(actor) as uow:
        s = uow.session
        s.add_all(rows)
        await s.flush()
        park_ids = [c.id for c in rows if "化工园区" in c.tags][:8]
        intake_ids = [c.id for c in rows if "饮用水源" in c.tags]
        river_ids = [c.id for c in rows if "监测断面" in c.tags or "水利设施" in c.tags]
        tours = [
            CameraTour(name="化工园区轮巡", description="临港化工园区重点企业，每路 10 秒", dwell_s=10,
                       layout="4", camera_ids=park_ids, created_by_name="seed"),
            CameraTour(name="饮用水水源地轮巡", description="各水厂取水口，每屏 15 秒", dwell_s=15, layout="4",
                       camera_ids=intake_ids, created_by_name="seed"),
            CameraTour(name="河道断面与闸坝", description="监测断面、水闸和拦河坝，单画面每路 8 秒", dwell_s=8,
                       layout="1", camera_ids=river_ids, created_by_name="seed"),
        ]
        s.add_all([t for t in tours if t.camera_ids])
        main = park_ids[:1] + intake_ids[:2] + park_ids[1:4]
        s.add(WallLayout(user_id=None, name="默认监控墙", layout="1+5", cells=(main + [None] * 6)[:6],
                         is_default=True))
        kinds: dict[str, int] = {}
        for c in rows:
            kinds[c.kind] = kinds.get(c.kind, 0) + 1
        uow.emit("cameras.seeded", subject_type="camera",
                 payload={"cameras": len(rows), "kinds": kinds, "tours": sum(1 for t in tours if t.camera_ids)})
