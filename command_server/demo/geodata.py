"""The demo city's map: sensitive targets, emergency resources, risk sources, monitoring stations, rivers
with their facilities, and the six districts — all GENERATED with a fixed seed, so every start is identical.

滨江市 is fictional (lon 121.2–121.8, lat 30.8–31.3). The main river 滨江 crosses it west → east to the sea
at the eastern edge; 青溪河 joins it from the north-west and 南塘河 from the south. Settlements cluster around
the six district centres; the chemical park lies in 临港区 by the river mouth. Names are built from parts
(place word + type) so they read like real Chinese names without belonging to any real place.

Everything goes in one unit of work with a single ``map.reloaded`` event: every process reloads its map
index once rather than applying ~800 events.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select

import dispersion

from ..core.services import Services
from ..core.uow import AnyActor
from ..geo.models import MapFeature, River

SEED = 20260316
CITY_BBOX = (121.2, 30.8, 121.8, 31.3)
AREA_CODE = "021"

# name, code (as in the contacts demo: unit code BJ-<code>), box (w, s, e, n), centre of settlement
DISTRICTS: list[tuple[str, str, tuple[float, float, float, float], tuple[float, float]]] = [
    ("青山县", "QS", (121.20, 30.80, 121.38, 31.30), (121.29, 31.12)),
    ("江北区", "JB", (121.38, 31.05, 121.60, 31.30), (121.48, 31.13)),
    ("江南区", "JN", (121.38, 30.80, 121.60, 31.05), (121.49, 30.98)),
    ("滨海新区", "BH", (121.60, 31.05, 121.80, 31.30), (121.69, 31.15)),
    ("东湖区", "DH", (121.60, 30.93, 121.80, 31.05), (121.68, 30.99)),
    ("临港区", "LG", (121.60, 30.80, 121.80, 30.93), (121.70, 30.87)),
]

PLACE = ("育才", "明德", "春晖", "阳光", "新华", "光明", "东方", "望江", "金桥", "银湖", "柳岸", "桃源", "长宁",
         "兴华", "永安", "和平", "胜利", "建设", "文昌", "振华", "启明", "博雅", "翠园", "锦绣", "丰泽", "龙湾",
         "凤凰", "白鹭", "云海", "天成", "嘉禾", "瑞丰", "泰和", "恒通", "江湾", "海棠", "紫荆", "枫林", "梧桐",
         "青松", "平安", "新城", "滨湖", "港城", "盛世", "玉泉", "清河", "南湖", "北塘", "西岭", "东港", "湖畔")
ROADS = ("人民路", "解放路", "中山路", "滨江大道", "青溪路", "南塘路", "临港大道", "东湖路", "建设路", "文化路",
         "学府路", "海港路", "兴业路", "科技路", "长江路", "黄河路", "环保路")
PLANT_SUFFIXES = ("化工有限公司", "精细化工有限公司", "新材料科技有限公司", "石化有限公司", "制药有限公司")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕"
GIVEN = "伟芳敏静丽强磊军洋勇艳杰涛明超霞平刚华兰萍鹏辉晨宇浩然欣怡轩远峰博婷琪俊新红庆栋胜东燕梅"


@dataclass
class _Row:
    layer: str
    kind: str
    name: str
    geometry: BaseGeometry
    properties: dict[str, Any]


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.names: set[str] = set()

    def unique(self, make: Any) -> str:
        for _ in range(200):
            name = make()
            if name not in self.names:
                self.names.add(name)
                return name
        n = 2
        while f"{name}（{n}）" in self.names:
            n += 1
        self.names.add(f"{name}（{n}）")
        return f"{name}（{n}）"

    def place(self) -> str:
        return self.r.choice(PLACE)

    def person(self) -> str:
        return self.r.choice(SURNAMES) + "".join(self.r.choice(GIVEN) for _ in range(self.r.choice((1, 2))))

    def mobile(self) -> str:
        return self.r.choice(("139", "138", "137", "136", "135", "158", "186", "189")) + \
            f"{self.r.randrange(10**8):08d}"

    def landline(self) -> str:
        return f"{AREA_CODE}-{self.r.randrange(5000_0000, 6999_9999)}"

    def point_near(self, centre: tuple[float, float], sd_deg: float = 0.035) -> tuple[float, float]:
        w, s, e, n = CITY_BBOX
        for _ in range(100):
            lon = self.r.gauss(centre[0], sd_deg)
            lat = self.r.gauss(centre[1], sd_deg * 0.9)
            if w + 0.005 < lon < e - 0.005 and s + 0.005 < lat < n - 0.005:
                return lon, lat
        return centre

    def district_centre(self, weights: tuple[float, ...] = (1, 3, 3, 2, 2, 1.5)) -> tuple[float, float]:
        return self.r.choices([d[3] for d in DISTRICTS], weights=weights)[0]


def district_of(lon: float, lat: float) -> tuple[str, str]:
    for name, code, (w, s, e, n), _ in DISTRICTS:
        if w <= lon <= e and s <= lat <= n:
            return name, code
    return DISTRICTS[0][0], DISTRICTS[0][1]


def _address(g: _Gen, lon: float, lat: float) -> str:
    return f"滨江市{district_of(lon, lat)[0]}{g.r.choice(ROADS)}{g.r.randint(1, 999)}号"


def _rect(lon: float, lat: float, w_m: float, h_m: float, angle_deg: float) -> Polygon:
    """A rotated rectangle of w × h metres centred on (lon, lat), in lon/lat."""
    k_lat = 1.0 / 111_320.0
    k_lon = k_lat / math.cos(math.radians(lat))
    a = math.radians(angle_deg)
    pts = []
    for dx, dy in ((-w_m / 2, -h_m / 2), (w_m / 2, -h_m / 2), (w_m / 2, h_m / 2), (-w_m / 2, h_m / 2)):
        x = dx * math.cos(a) - dy * math.sin(a)
        y = dx * math.sin(a) + dy * math.cos(a)
        pts.append((round(lon + x * k_lon, 6), round(lat + y * k_lat, 6)))
    return Polygon(pts)


def _blob(g: _Gen, lon: float, lat: float, radius_m: float, n: int = 14) -> Polygon:
    """An irregular star-shaped polygon (always simple: radii vary, angles increase)."""
    k_lat = 1.0 / 111_320.0
    k_lon = k_lat / math.cos(math.radians(lat))
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n
        r = radius_m * g.r.uniform(0.7, 1.15)
        pts.append((round(lon + r * math.cos(a) * k_lon, 6), round(lat + r * math.sin(a) * k_lat, 6)))
    return Polygon(pts)


# --- rivers --------------------------------------------------------------------------------------------

def _main_river() -> LineString:
    pts = []
    n = 61
    for i in range(n):
        t = i / (n - 1)
        lon = 121.20 + 0.60 * t
        lat = 31.085 - 0.075 * t + 0.012 * math.sin(2 * math.pi * 2.5 * t) * (1 - 0.5 * t)
        pts.append((round(lon, 6), round(lat, 6)))
    return LineString(pts)


def _tributary(start: tuple[float, float], end: tuple[float, float], wiggle: float, n: int = 25) -> LineString:
    pts = []
    for i in range(n):
        t = i / (n - 1)
        lon = start[0] + (end[0] - start[0]) * t
        lat = start[1] + (end[1] - start[1]) * t
        off = wiggle * math.sin(math.pi * 3 * t) * math.sin(math.pi * t)
        # offset perpendicular to the straight course
        dx, dy = end[0] - start[0], end[1] - start[1]
        norm = math.hypot(dx, dy)
        pts.append((round(lon - dy / norm * off, 6), round(lat + dx / norm * off, 6)))
    pts[-1] = end  # exactly on the receiving river
    return LineString(pts)


def rivers() -> list[tuple[str, LineString, dict[str, Any]]]:
    main = _main_river()
    c = list(main.coords)
    north_join = c[21]  # part-way along the main river
    south_join = c[38]
    return [
        ("滨江", main, {"velocity_ms": 0.6, "width_m": 320.0, "depth_m": 6.5, "dispersion_m2s": 150.0,
                       "grade": "干流", "water_quality_target": "III类"}),
        ("青溪河", _tributary((121.27, 31.285), north_join, 0.012),
         {"velocity_ms": 0.8, "width_m": 60.0, "depth_m": 3.0, "dispersion_m2s": 30.0, "grade": "一级支流",
          "water_quality_target": "II类"}),
        ("南塘河", _tributary((121.57, 30.815), south_join, 0.010),
         {"velocity_ms": 0.45, "width_m": 45.0, "depth_m": 2.5, "dispersion_m2s": 18.0, "grade": "一级支流",
          "water_quality_target": "III类"}),
    ]


def _on_river(g: _Gen, line: LineString, t: float, max_off_m: float = 80.0) -> tuple[float, float]:
    p = line.interpolate(t, normalized=True)
    off = g.r.uniform(-max_off_m, max_off_m) / 111_320.0
    return round(p.x + off * 0.3, 6), round(p.y + off, 6)


# --- the layers ------------------------------------------------------------------------------------------

def generate() -> tuple[list[_Row], list[tuple[str, LineString, dict[str, Any]]]]:
    g = _Gen(SEED)
    rows: list[_Row] = []
    river_list = rivers()

    def add(layer: str, kind: str, name: str, geom: BaseGeometry, **props: Any) -> None:
        rows.append(_Row(layer, kind, name, geom, props))

    # districts
    for name, code, (w, s, e, n), _ in DISTRICTS:
        add("districts", "district", name, box(w, s, e, n), unit_code=f"BJ-{code}", city="滨江市",
            population=g.r.randint(18, 95) * 10_000)

    def district_props(lon: float, lat: float) -> dict[str, Any]:
        return {"district": district_of(lon, lat)[0], "address": _address(g, lon, lat)}

    # sensitive: points
    for kind, count, suffixes, extra in (
        ("school", 90, ("小学", "中学", "实验学校", "初级中学", "高级中学", "外国语学校"),
         lambda: {"students": g.r.randint(300, 3200), "staff": g.r.randint(30, 260)}),
        ("kindergarten", 40, ("幼儿园", "实验幼儿园", "中心幼儿园"), lambda: {"children": g.r.randint(90, 480)}),
        ("hospital", 30, ("医院", "人民医院", "中医院", "妇幼保健院", "社区卫生服务中心"),
         lambda: {"beds": g.r.randint(20, 1200), "grade": g.r.choice(("三级甲等", "二级甲等", "二级乙等", "一级"))}),
        ("nursing_home", 20, ("养老院", "敬老院", "颐养中心"), lambda: {"residents": g.r.randint(40, 400)}),
    ):
        for _ in range(count):
            lon, lat = g.point_near(g.district_centre())
            name = g.unique(lambda suffixes=suffixes: g.place() + g.r.choice(suffixes))
            add("sensitive", kind, name, Point(round(lon, 6), round(lat, 6)), **district_props(lon, lat),
                contact=g.person(), phone=g.landline(), **extra())

    # sensitive: residential areas (polygons)
    for _ in range(120):
        lon, lat = g.point_near(g.district_centre(), 0.04)
        name = g.unique(lambda: g.place() + g.r.choice(("花园", "小区", "新村", "家园", "苑", "名邸", "公寓")))
        poly = _rect(lon, lat, g.r.uniform(180, 650), g.r.uniform(150, 450), g.r.uniform(0, 90))
        add("sensitive", "residential", name, poly, **district_props(lon, lat), population=g.r.randint(800, 9000),
            households=g.r.randint(300, 3200), contact=g.person(), phone=g.mobile())

    # rivers' facilities; intakes come with their drinking-water protection zones
    for river_name, line, _props in river_list:
        is_main = river_name == "滨江"
        n_intake, n_section, n_dam, n_gate, n_pond = (4, 6, 1, 4, 3) if is_main else (2, 3, 1, 2, 2)
        spots = sorted(g.r.uniform(0.05, 0.95) for _ in range(n_intake + n_section + n_dam + n_gate + n_pond))
        kinds = (["water_intake"] * n_intake + ["monitoring_section"] * n_section + ["dam"] * n_dam
                 + ["gate"] * n_gate + ["emergency_pond"] * n_pond)
        g.r.shuffle(kinds)
        for t, kind in zip(spots, kinds, strict=True):
            lon, lat = _on_river(g, line, t)
            base = {"river": river_name, **district_props(lon, lat)}
            if kind == "water_intake":
                name = g.unique(lambda: f"{g.place()}水厂取水口")
                add("facilities", kind, name, Point(lon, lat), **base, capacity_m3_d=g.r.randint(2, 40) * 10_000,
                    served_population=g.r.randint(5, 80) * 10_000, contact=g.person(), phone=g.landline())
                zone = _blob(g, lon, lat, g.r.uniform(700, 1300))
                add("sensitive", "water_source_protection", name.replace("取水口", "饮用水水源一级保护区"), zone,
                    **base, level="一级保护区", intake=name)
            elif kind == "monitoring_section":
                name = g.unique(lambda river_name=river_name: f"{river_name}{g.place()}断面")
                add("facilities", kind, name, Point(lon, lat), **base,
                    control_level=g.r.choice(("国控", "省控", "市控")),
                    target_class=g.r.choice(("II类", "III类")), automatic=g.r.random() < 0.5)
            elif kind == "dam":
                name = g.unique(lambda: f"{g.place()}拦河坝")
                add("facilities", kind, name, Point(lon, lat), **base, height_m=round(g.r.uniform(3, 12), 1),
                    contact=g.person(), phone=g.mobile())
            elif kind == "gate":
                name = g.unique(lambda: f"{g.place()}{g.r.choice(('闸', '节制闸', '排涝闸'))}")
                add("facilities", kind, name, Point(lon, lat), **base, openings=g.r.randint(1, 8),
                    flow_m3s=g.r.randint(20, 400), contact=g.person(), phone=g.mobile())
            else:
                name = g.unique(lambda: f"{g.place()}应急池")
                add("facilities", kind, name, Point(lon, lat), **base, capacity_m3=g.r.randint(5, 120) * 100,
                    contact=g.person(), phone=g.mobile())

    # sensitive: nature reserves (large polygons away from the towns)
    for name, (lon, lat), radius in (("青山森林自然保护区", (121.25, 31.22), 4500),
                                     ("滨海湿地自然保护区", (121.75, 31.24), 3500),
                                     ("白鹭洲湿地自然保护区", (121.74, 30.95), 2500),
                                     ("南塘河源头水源涵养区", (121.55, 30.84), 2200)):
        g.names.add(name)
        add("sensitive", "nature_reserve", name, _blob(g, lon, lat, radius, 20),
            district=district_of(lon, lat)[0], level=g.r.choice(("省级", "市级")),
            area_km2=round(math.pi * (radius / 1000) ** 2, 1))

    # resources
    stock = [("吸油毡", "kg"), ("围油栏", "米"), ("活性炭", "吨"), ("生石灰（中和剂）", "吨"), ("防化服", "套"),
             ("正压式空气呼吸器", "套"), ("编织袋", "条"), ("潜水泵", "台"), ("发电机", "台"), ("应急照明灯", "台"),
             ("硫代硫酸钠", "吨"), ("聚合氯化铝", "吨"), ("橡皮艇", "艘"), ("防毒面具", "个")]
    for i in range(24):
        lon, lat = g.point_near(g.district_centre((2, 2, 2, 2, 2, 3)))
        dist = district_of(lon, lat)[0]
        name = g.unique(lambda dist=dist: f"{dist}{g.place()}应急物资储备库") if i % 2 else \
            g.unique(lambda: f"{g.place()}环境应急物资库")
        items = [{"name": n, "unit": u, "quantity": g.r.randint(1, 50) * (100 if u in ("kg", "米", "条") else 5)}
                 for n, u in g.r.sample(stock, g.r.randint(4, 8))]
        add("resources", "depot", name, Point(round(lon, 6), round(lat, 6)), **district_props(lon, lat),
            items=items, area_m2=g.r.randint(2, 40) * 50, keeper=g.person(), contact=g.person(), phone=g.mobile())
    for _ in range(30):
        lon, lat = g.point_near(g.district_centre())
        dist = district_of(lon, lat)[0]
        name = g.unique(lambda dist=dist: g.r.choice((f"{dist}环境应急救援队", f"{g.place()}消防救援站",
                                                       f"{dist}危化品处置专业队", f"{g.place()}应急监测分队",
                                                       f"{dist}水上救援队")))
        add("resources", "team", name, Point(round(lon, 6), round(lat, 6)), **district_props(lon, lat),
            members=g.r.randint(8, 60), specialty=g.r.choice(("危化品处置", "应急监测", "水上救援", "综合救援")),
            leader=g.person(), contact=g.person(), phone=g.mobile(), on_duty=g.r.random() < 0.7)
    for _ in range(34):
        lon, lat = g.point_near(g.district_centre())
        vtype = g.r.choice(("应急监测车", "应急指挥车", "危化品抢险车", "洗消车", "物资运输车", "水质采样船"))
        plate = f"沪{g.r.choice('ABCDEFG')}·{g.r.randrange(10000, 99999)}"
        name = g.unique(lambda vtype=vtype, plate=plate: f"{vtype} {plate}")
        add("resources", "vehicle", name, Point(round(lon, 6), round(lat, 6)), **district_props(lon, lat),
            vehicle_type=vtype, plate=plate, driver=g.person(), phone=g.mobile(),
            status=g.r.choice(("待命", "待命", "待命", "出勤", "维修")))
    for _ in range(26):
        lon, lat = g.point_near(g.district_centre())
        eq = g.r.choice(("便携式气相色谱-质谱仪", "多参数水质分析仪", "有毒有害气体检测仪", "傅里叶红外气体分析仪",
                         "监测无人机", "应急监测箱", "走航监测车载系统"))
        name = g.unique(lambda eq=eq: f"{g.place()}{eq}")
        add("resources", "monitoring_equipment", name, Point(round(lon, 6), round(lat, 6)),
            **district_props(lon, lat), equipment=eq, quantity=g.r.randint(1, 6), keeper=g.person(),
            phone=g.mobile())

    # risk sources: the chemical park in 临港区 by the river mouth, more plants in 滨海新区 and along rivers
    chems = [c for c in dispersion.list_chemicals() if c.name_zh]
    park = (121.70, 30.88)
    # 120 chemical plants + 46 hazardous-waste sites + 34 sewage plants = the 200 risk sources of issue 3.
    for i in range(120):
        lon, lat = g.point_near(park if i < 26 else g.district_centre((1, 1, 1, 3, 1, 2)), 0.02 if i < 26 else 0.04)
        name = g.unique(lambda: f"滨江{g.place()}{g.r.choice(PLANT_SUFFIXES)}")
        stored = [{"name": c.name_zh, "cas": c.cas, "quantity_t": round(g.r.uniform(0.5, 120), 1)}
                  for c in g.r.sample(chems, g.r.randint(1, 3))]
        add("risk_sources", "chemical_plant", name, Point(round(lon, 6), round(lat, 6)),
            **district_props(lon, lat), risk_level=g.r.choices(("major", "high", "general"), (2, 3, 5))[0],
            chemicals=stored, employees=g.r.randint(30, 1500), contact=g.person(), phone=g.mobile(),
            in_park=i < 26)
    for _ in range(46):
        lon, lat = g.point_near(g.district_centre((1, 1, 1, 2, 1, 3)), 0.05)
        name = g.unique(lambda: f"{g.place()}{g.r.choice(('危险废物处置中心', '危废暂存库', '固废综合处置场'))}")
        add("risk_sources", "hazardous_waste", name, Point(round(lon, 6), round(lat, 6)),
            **district_props(lon, lat), risk_level=g.r.choices(("major", "high", "general"), (1, 3, 4))[0],
            capacity_t_a=g.r.randint(5, 300) * 100, contact=g.person(), phone=g.mobile())
    for i in range(34):
        river_name, line, _ = river_list[i % 3]
        lon, lat = _on_river(g, line, g.r.uniform(0.1, 0.95), 900)
        dist = district_of(lon, lat)[0]
        name = g.unique(lambda dist=dist: f"{dist}{g.place()}污水处理厂")
        add("risk_sources", "sewage_plant", name, Point(lon, lat), **district_props(lon, lat),
            risk_level=g.r.choices(("high", "general"), (1, 3))[0], capacity_t_d=g.r.randint(2, 60) * 5000,
            receiving_water=river_name, contact=g.person(), phone=g.mobile())

    # stations
    for _ in range(16):
        lon, lat = g.point_near(g.district_centre((1, 1, 1, 1, 1, 1)), 0.05)
        dist = district_of(lon, lat)[0]
        name = g.unique(lambda dist=dist: f"{dist}{g.place()}空气自动监测站")
        add("stations", "air_station", name, Point(round(lon, 6), round(lat, 6)), **district_props(lon, lat),
            parameters=["SO2", "NO2", "CO", "O3", "PM10", "PM2.5"], control_level=g.r.choice(("国控", "省控", "市控")))
    for i in range(8):
        river_name, line, _ = river_list[i % 3]
        lon, lat = _on_river(g, line, g.r.uniform(0.1, 0.95), 60)
        name = g.unique(lambda river_name=river_name: f"{river_name}{g.place()}水质自动监测站")
        add("stations", "water_station", name, Point(lon, lat), river=river_name, **district_props(lon, lat),
            parameters=["pH", "DO", "CODMn", "NH3-N", "TP", "TN"])
    return rows, river_list


async def seed_geodata(svc: Services, actor: AnyActor) -> bool:
    """Write the demo map once (False if the map already has features)."""
    async with svc.db.read() as s:
        if await s.scalar(select(func.count()).select_from(MapFeature)):
            return False
    rows, river_list = generate()
    async with svc.write(actor) as uow:
        uow.session.add_all([River(name=name, geometry=mapping_of(line), properties=props)
                             for name, line, props in river_list])
        uow.session.add_all([MapFeature(layer=r.layer, kind=r.kind, name=r.name, geometry=mapping_of(r.geometry),
                                        properties=r.properties) for r in rows])
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.layer] = counts.get(r.layer, 0) + 1
        uow.emit("map.reloaded", subject_type="map", payload={"reason": "demo map seeded", "layers": counts,
                                                             "rivers": len(river_list)})
    return True


def mapping_of(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON with plain lists (what the JSON column stores and returns)."""
    out: dict[str, Any] = shapely.geometry.mapping(geom)
    return _lists(out)


def _lists(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _lists(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_lists(x) for x in v]
    return v




PRIORITY = 10  # map layers and rivers: see demo/seed.py
seed = seed_geodata
