"""Demo alarms: 60 reports over the last 60 days across every channel, type and district of 滨江市.

Descriptions are built from templates per event type with the demo map's own names (plants from the
``risk_sources`` layer, roads and places from ``geodata``), so they read like real duty-log entries. Some
reports are near-duplicates of another (same type, a few hundred metres and minutes apart), a few of those
are merged; older ones are mostly closed. Alarms turned into incidents are left to the incidents demo (it
calls ``alarms.service.link_to_incident``). One unit of work, one bulk insert, one summary event.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

import gis

from ..alarms.models import Alarm
from ..alarms.schemas import COMPLAINT_CHANNELS
from ..alarms.service import READER_AUDIENCE, match_chemical, screen_opinion
from ..core.crypto import mask_phone
from ..core.db import utcnow
from ..core.services import Services
from ..core.uow import AnyActor
from ..geo.models import MapFeature
from ..org.models import Unit
from .geodata import DISTRICTS, PLACE, ROADS, district_of

PRIORITY = 40  # after the map (10) and the organisation (20): see demo/seed.py
SEED = 20260317
COUNT = 60
DAYS = 60

CHANNEL_WEIGHTS = {"hotline": 18, "complaint_12369": 12, "complaint_12345": 10, "upper_assignment": 5,
                   "monitoring": 7, "field_report": 5, "external": 3}

# type → (weight, templates, pollutants). {plant} is a risk source's name, {place}/{road} from the map.
TEMPLATES: dict[str, tuple[int, list[str], list[str]]] = {
    "hazchem_leak": (10, [
        "{plant}液氨储罐阀门泄漏，现场有刺激性气味，厂区已疏散部分员工",
        "{road}一辆槽罐车侧翻，疑似{pollutant}泄漏，路面有液体流淌",
        "{plant}装置区管线法兰泄漏{pollutant}，企业已启动厂内应急预案",
        "{plant}仓库{pollutant}包装桶破损，有白色烟雾冒出",
    ], ["液氨", "氯气", "硫酸", "盐酸", "甲醛", "苯", "氢氧化钠"]),
    "water": (12, [
        "{place}附近河段水面发黑发臭，有大量死鱼漂浮",
        "{road}雨水排口排出乳白色废水，流入滨江支流",
        "{place}水厂取水口附近发现油膜，水厂要求核查",
        "{plant}疑似夜间偷排废水，河水呈红褐色",
    ], ["COD", "氨氮", "石油类", ""]),
    "air": (11, [
        "{place}小区居民反映夜间有刺鼻异味，多名居民头晕",
        "{plant}烟囱冒黄烟，周边能闻到{pollutant}气味",
        "{road}一带焚烧垃圾浓烟较大，影响周边居民",
        "{place}附近有强烈臭鸡蛋味，持续约一小时",
    ], ["硫化氢", "二氧化硫", "氯气", "氨", ""]),
    "soil": (4, [
        "{place}农田旁发现不明废渣倾倒，土壤颜色异常",
        "{plant}厂区外空地有油污渗入土壤",
    ], ["石油类", "重金属", ""]),
    "hazardous_waste": (6, [
        "{road}路边发现非法倾倒的废油桶约二十个，有渗漏",
        "{place}一处废弃厂房堆放大量疑似危险废物，无任何标识",
        "{plant}危废暂存库渗滤液外溢",
    ], ["废矿物油", "废酸", "含重金属污泥"]),
    "radiation": (2, [
        "{plant}报告一枚Ⅳ类放射源探伤设备丢失，正在查找",
        "{place}废品收购站检测到辐射剂量率异常",
    ], ["铯-137", "铱-192"]),
    "fire_explosion": (4, [
        "{plant}车间发生火灾，消防废水可能进入雨水管网",
        "{plant}发生爆炸，现场浓烟，周边有异味",
    ], ["苯", "甲苯", "丙烯腈", ""]),
    "other": (3, [
        "{place}附近噪声扰民并伴有粉尘，居民要求查处",
        "{road}施工工地扬尘严重",
    ], [""]),
}
OPINION_TAILS = ("，已有居民在网络上发帖曝光", "，多名居民在小区门口聚集", "，此前已多次投诉无人处理", "")
REPORTERS = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
CLOSE_REASONS = ("现场核查已处置完毕，企业已整改", "经监测无异常，已向投诉人反馈", "已移交属地街道处理",
                 "事件已消除，做好记录")


def _jitter(r: random.Random, lon: float, lat: float, metres: float) -> tuple[float, float]:
    return gis.destination(lon, lat, r.uniform(0, 360), r.uniform(0, metres))


async def seed(svc: Services, actor: AnyActor) -> None:
    async with svc.db.read() as s:
        if await s.scalar(select(func.count()).select_from(Alarm)):
            return
        plants = [(f.name, f.geometry["coordinates"]) for f in (await s.scalars(
            select(MapFeature).where(MapFeature.layer == "risk_sources").order_by(MapFeature.id))).all()
            if f.geometry.get("type") == "Point"]
        units = {code: uid for code, uid in (await s.execute(select(Unit.code, Unit.id))).all() if code}
    r = random.Random(SEED)
    now = utcnow().replace(second=0, microsecond=0)
    types = list(TEMPLATES)
    channels = list(CHANNEL_WEIGHTS)
    rows: list[Alarm] = []
    for i in range(COUNT):
        etype = r.choices(types, [TEMPLATES[t][0] for t in types])[0]
        channel = r.choices(channels, list(CHANNEL_WEIGHTS.values()))[0]
        _, templates, pollutants = TEMPLATES[etype]
        template = r.choice(templates)
        at_plant = "{plant}" in template and plants
        if at_plant:
            plant, (lon, lat) = r.choice(plants)
            lon, lat = _jitter(r, lon, lat, 150)
        else:
            plant = f"滨江{r.choice(PLACE)}化工有限公司"
            _, _, (w, s_, e, n), _ = r.choice(DISTRICTS)
            lon, lat = r.uniform(w + 0.01, e - 0.01), r.uniform(s_ + 0.01, n - 0.01)
        pollutant = r.choice(pollutants)
        text = template.format(plant=plant, road=r.choice(ROADS), place=r.choice(PLACE),
                               pollutant=pollutant or "不明物质")
        if channel in COMPLAINT_CHANNELS:
            text += r.choice(OPINION_TAILS)
        received = now - dt.timedelta(days=r.uniform(0, DAYS))
        rows.append(_alarm(r, channel, etype, received, lon, lat, text, pollutant, units))
        # every sixth report has a near-duplicate: same type, a few hundred metres and minutes later
        if i % 6 == 5 and len(rows) < COUNT:
            dlon, dlat = _jitter(r, lon, lat, 600)
            dup = _alarm(r, r.choice(("hotline", "complaint_12369", "complaint_12345")), etype,
                         received + dt.timedelta(minutes=r.randint(5, 90)), dlon, dlat,
                         "又接报：" + text.split("，")[0] + "，情况同前", pollutant, units)
            rows.append(dup)
        if len(rows) >= COUNT:
            break
    rows.sort(key=lambda a: a.received_at)
    async with svc.write(actor) as uow:
        uow.session.add_all(rows)
        await uow.session.flush()  # ids, so duplicates can point at their originals
        originals: dict[str, Alarm] = {}
        merged = 0
        for a in rows:
            key = f"{a.event_type}:{a.description.split('，')[0].removeprefix('又接报：')}"
            first = originals.get(key)
            if not a.description.startswith("又接报："):
                originals.setdefault(key, a)
            if first is not None and a.description.startswith("又接报："):
                if first.status == "open" and merged < 5:
                    a.status, a.merged_into_id = "merged", first.id
                    merged += 1
                elif first.status != "open":  # handled together with the report it repeats
                    a.status, a.close_reason, a.closed_at = first.status, first.close_reason, first.closed_at
                continue  # the rest stay open: the console offers them as duplicates
            if a.received_at < now - dt.timedelta(days=3):
                closing = r.random()
                if closing < 0.75:
                    a.status = "false_alarm" if closing < 0.1 else "closed"
                    a.close_reason = "经核实为误报" if closing < 0.1 else r.choice(CLOSE_REASONS)
                    a.closed_at = a.received_at + dt.timedelta(hours=r.uniform(1, 48))
        counts: dict[str, int] = {}
        for a in rows:
            counts[a.status] = counts.get(a.status, 0) + 1
        uow.emit("alarm.seeded", subject_type="alarm", payload={"count": len(rows), "by_status": counts},
                 audience=READER_AUDIENCE)


def _alarm(r: random.Random, channel: str, etype: str, received: dt.datetime, lon: float, lat: float,
           text: str, pollutant: str, units: dict[str, int]) -> Alarm:
    # The demo districts are rectangles (geodata.DISTRICTS): their own lookup is exact and needs no map index,
    # which is loaded only after seeding.
    name, code = district_of(lon, lat)
    unit_id = units.get(f"BJ-{code}")
    phone = r.choice(("139", "138", "186", "158")) + f"{r.randrange(10**8):08d}"
    keywords = screen_opinion(text) if channel in COMPLAINT_CHANNELS else []
    occurred = received - dt.timedelta(minutes=r.randint(5, 120)) if r.random() < 0.6 else None
    return Alarm(
        channel=channel, status="open", event_type=etype, received_at=received, occurred_at=occurred,
        event_at=occurred or received, address=f"滨江市{name}{r.choice(ROADS)}{r.randint(1, 999)}号",
        lon=round(lon, 6), lat=round(lat, 6), pollutant=pollutant or None,
        pollutant_cas=match_chemical(pollutant or None), description=text,
        reporter_name=r.choice(REPORTERS) + r.choice(("先生", "女士")) if channel != "monitoring" else None,
        reporter_phone=phone if channel != "monitoring" else None,
        reporter_phone_masked=mask_phone(phone) if channel != "monitoring" else None,
        attachments=[], district_unit_id=unit_id, district_name=name,
        routed_to_unit_id=unit_id if channel in COMPLAINT_CHANNELS else None,
        opinion_flag=bool(keywords), opinion_keywords=keywords,
        external_source="city-iot" if channel == "external" else None,
        external_id=f"IOT-{received:%Y%m%d}-{r.randrange(10000):04d}" if channel == "external" else None,
        created_by_id=None, created_by_name="seed", extra={})
