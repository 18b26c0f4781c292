"""Demo incidents: 15 environmental emergencies in 滨江市 across every state and level I–IV.

Each has a realistic title, place in its district, figures that give its level, a history of state changes
on the timeline, tasks in every status, notes and reports upward — two of them with the initial report
overdue, so the console's red status and the overdue warning have something to show. When the alarms demo
has open alarms, some incidents are created from them (``alarms.service.link_to_incident``, imported lazily).
One unit of work; rows inserted in bulk; timeline events are emitted with ``incident_id`` (one per step of
each incident's history), so the workspace shows a real timeline.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ..auth.models import User
from ..core.db import utcnow
from ..core.services import Services
from ..core.uow import AnyActor
from ..incidents import levels
from ..incidents.models import Incident, IncidentReport, Task
from ..incidents.service import everyone, report_due_at
from ..org.models import Unit

PRIORITY = 50  # after alarms (40): see demo/seed.py
SEED = 20260316

# The path through the state machine to each state.
PATHS: dict[str, list[str]] = {
    "reported": [], "verifying": ["verifying"], "responding": ["verifying", "responding"],
    "disposing": ["verifying", "responding", "disposing"],
    "closed": ["verifying", "responding", "disposing", "closed"],
    "assessed": ["verifying", "responding", "disposing", "closed", "assessed"],
    "false_alarm": ["verifying", "false_alarm"], "merged": ["merged"],
}


@dataclass
class Spec:
    title: str
    type: str
    state: str
    level: str | None
    district: int  # index into the districts (江北, 江南, 临港, 滨海新区, 青山县, 东湖)
    pollutant: str | None
    hours_ago: float
    address: str
    description: str
    figures: dict[str, Any] = field(default_factory=dict)
    initial_report: bool = True
    tasks: list[tuple[str, str]] = field(default_factory=list)  # (title, status)
    notes: list[str] = field(default_factory=list)


SPECS: list[Spec] = [
    Spec("临港区化工园区液氨储罐阀门泄漏", "hazchem_leak", "responding", "III", 2, "液氨", 3.0,
         "临港区化工园区纬三路 8 号",
         "液氨储罐出料阀门法兰垫片破损，现场可闻到强烈刺激性气味，下风向约 800 米有居民区。",
         {"poisoned_or_injured": 12, "evacuated": 1_200},
         tasks=[("下风向 500 m、1 km、2 km 布设氨气监测点", "doing"), ("协调园区消防水幕稀释", "done"),
                ("核实下风向敏感目标并组织疏散", "doing"), ("收集事故企业物料清单", "todo")],
         notes=["监测组 10:42 到达现场，下风向 500 m 氨浓度 28 mg/m³。",
                "园区消防已架设水幕，泄漏点已用堵漏夹具临时封堵。"]),
    Spec("滨江干流青山段柴油泄漏形成油污带", "water", "responding", "II", 4, "柴油", 3.5,
         "青山县滨江干流青山大桥下游 1.5 km",
         "货船碰撞致油舱破损，江面出现约 3 km 油污带，下游 12 km 为青山县水厂取水口。",
         {"water_intake_cutoff": "county", "direct_loss_cny": 8_000_000}, initial_report=False,
         tasks=[("下游布设两道围油栏", "doing"), ("通知青山县水厂暂停取水", "done"),
                ("每 2 小时采样分析石油类", "todo")],
         notes=["青山县水厂 09:30 起暂停取水，启用应急备用水源。"]),
    Spec("江北区电镀企业含铬废水偷排", "water", "disposing", "III", 0, "六价铬", 30,
         "江北区工业园区兴业路 66 号", "群众举报排污口排出黄色废水，现场检测下游断面六价铬 0.8 mg/L，超标 15 倍。",
         {"direct_loss_cny": 6_500_000},
         tasks=[("封堵排污口", "done"), ("下游断面加密监测", "done"), ("对企业立案调查", "doing")],
         notes=["排污口已封堵，下游断面六价铬浓度呈下降趋势。"]),
    Spec("滨海新区化工企业储罐区火灾次生污染", "fire_explosion", "disposing", "II", 3, "苯乙烯", 52,
         "滨海新区石化路 18 号", "储罐区火灾，消防废水可能经雨水管网进入近岸海域，周边 3 km 范围内疏散群众。",
         {"evacuated": 15_000, "poisoned_or_injured": 8},
         tasks=[("关闭雨水排口，消防废水截流至事故池", "done"), ("近岸海域布点监测", "doing"),
                ("大气 VOCs 走航监测", "done"), ("评估疏散区返回条件", "todo")]),
    Spec("东湖区垃圾焚烧厂烟气超标排放", "air", "verifying", None, 5, "二氧化硫", 1.5,
         "东湖区环湖北路 300 号", "在线监测显示二氧化硫小时均值连续 3 小时超标，周边居民投诉异味。",
         initial_report=True),
    Spec("江南区加油站地下油罐渗漏", "soil", "verifying", None, 1, "汽油", 6,
         "江南区南环路与建设路交叉口", "邻近居民地下室出现汽油味，疑似加油站地下储罐渗漏。", initial_report=False),
    Spec("临港区危废仓库桶装废溶剂倾倒", "hazardous_waste", "reported", None, 2, "废有机溶剂", 0.5,
         "临港区港城大道 1200 号", "巡查发现仓库外空地有约 20 桶废溶剂倾倒，部分桶体破损渗漏。", initial_report=False),
    Spec("青山县尾矿库渗滤液外溢", "water", "reported", "IV", 4, "重金属", 5,
         "青山县石门乡尾矿库", "连续降雨后尾矿库排洪设施渗滤液外溢进入溪沟，下游 5 km 有乡镇取水口。",
         {"water_intake_cutoff": None}, initial_report=False),
    Spec("滨海新区工业探伤用放射源丢失", "radiation", "closed", "III", 3, "铱-192", 24 * 12,
         "滨海新区临港装备制造园", "探伤公司报告一枚Ⅲ类铱-192 放射源在运输途中丢失，已于次日找回。",
         {"radiation": "class_iii"},
         tasks=[("组织辐射巡测搜寻", "done"), ("对探伤公司开展执法检查", "done")],
         notes=["放射源已在运输车辆夹层中找回，包装完好，无辐射污染。"]),
    Spec("江北区化工厂氯气泄漏", "hazchem_leak", "closed", "IV", 0, "氯气", 24 * 20,
         "江北区化工路 9 号", "液氯钢瓶阀门泄漏，企业启用碱液吸收装置处置，厂界外氯气浓度未超标。",
         {"poisoned_or_injured": 3},
         tasks=[("厂界及下风向氯气监测", "done"), ("调查事故原因", "done")]),
    Spec("江南区内河大面积死鱼", "water", "assessed", "IV", 1, "氨氮", 24 * 40,
         "江南区映月河", "映月河约 2 km 河段出现死鱼，初步判断为上游养殖废水排放导致溶解氧骤降。",
         tasks=[("上下游断面溶解氧、氨氮监测", "done"), ("排查上游排口", "done"), ("打捞死鱼并无害化处置", "done")]),
    Spec("临港区危化品运输车侧翻硫酸泄漏", "hazchem_leak", "assessed", "III", 2, "硫酸", 24 * 55,
         "临港区 G15 高速临港出口匝道", "槽罐车侧翻，约 8 吨浓硫酸泄漏，部分流入路边沟渠。",
         {"direct_loss_cny": 5_200_000},
         tasks=[("筑坝拦截，石灰中和", "done"), ("沟渠水体 pH 监测", "done")]),
    Spec("东湖区餐厨垃圾处理厂恶臭扰民", "air", "false_alarm", None, 5, "硫化氢", 24 * 3,
         "东湖区静脉产业园", "居民投诉恶臭，现场核实为厂区正常检修放空，厂界臭气浓度达标。"),
    Spec("临港区化工园区氨味投诉（重复报告）", "hazchem_leak", "merged", None, 2, "氨", 2.8,
         "临港区化工园区纬三路", "多名群众反映园区附近有氨味，与液氨储罐泄漏为同一事件。"),
    Spec("江北区入江支流油膜", "water", "responding", "IV", 0, "油类", 4.5,
         "江北区北港河入江口", "北港河入江口出现约 200 米油膜，来源待查。",
         tasks=[("布设吸油毡", "doing"), ("沿河排查来源", "todo")]),
]
# spec index → index of the incident it is merged into
MERGED_INTO = {13: 0}
FALSE_ALARM_REASON = "现场核实为检修放空，厂界臭气浓度达标"


def _alarm_modules() -> tuple[Any, Any] | None:
    try:
        return (importlib.import_module("command_server.alarms.models"),
                importlib.import_module("command_server.alarms.service"))
    except ImportError:
        return None


def _criteria(spec: Spec) -> dict[str, Any]:
    base = {"deaths": 0, "poisoned_or_injured": 0, "evacuated": 0, "direct_loss_cny": 0,
            "water_intake_cutoff": None, "radiation": None, "cross_boundary": None}
    return {**base, **spec.figures}


async def seed(svc: Services, actor: AnyActor) -> None:
    rng = random.Random(SEED)
    now = utcnow()
    async with svc.write(actor) as uow:
        s = uow.session
        districts = list((await s.scalars(select(Unit).where(Unit.kind == "district")
                                          .order_by(Unit.sort_order, Unit.id))).all())
        codes = dict((await s.execute(select(Unit.code, Unit.id).where(Unit.code.is_not(None)))).all())
        users = dict((await s.execute(select(User.username, User.id))).all())
        open_alarms: dict[str, list[Any]] = {}
        mods = _alarm_modules()
        if mods is not None:
            alarm_cls = mods[0].Alarm
            for a in (await s.scalars(select(alarm_cls).where(alarm_cls.status == "open")
                                      .order_by(alarm_cls.received_at.desc()))).all():
                open_alarms.setdefault(a.event_type, []).append(a)

        incidents: list[Incident] = []
        linked: dict[int, list[int]] = {}
        for i, spec in enumerate(SPECS):
            district = districts[spec.district % len(districts)] if districts else None
            created = now - dt.timedelta(hours=spec.hours_ago)
            lon = 121.2 + 0.6 * rng.random()
            lat = 30.8 + 0.5 * rng.random()
            alarm = None
            if spec.state in ("reported", "verifying", "responding") and open_alarms.get(spec.type):
                alarm = open_alarms[spec.type].pop(0)
                linked[i] = [alarm.id]
                if alarm.lon is not None and alarm.lat is not None:
                    lon, lat = alarm.lon, alarm.lat
            criteria = _criteria(spec)
            suggested = levels.suggest(criteria)["level"]
            inc = Incident(title=spec.title, type=spec.type, state=spec.state, level=spec.level,
                           level_suggested=suggested,
                           level_reason=None if spec.level in (None, suggested) else "结合社会影响研判调整级别",
                           lon=round(lon, 6), lat=round(lat, 6), address=spec.address,
                           district_unit_id=district.id if district else None,
                           lead_unit_id=codes.get("BJ-YJC") if spec.level in ("I", "II") else
                           (district.id if district else None),
                           pollutant=spec.pollutant, description=spec.description,
                           occurred_at=created - dt.timedelta(minutes=20), alarm_ids=linked.get(i, []),
                           forwarded_unit_ids=[], created_by=users.get("operator"), created_at=created,
                           updated_at=created, state_changed_at=created + dt.timedelta(hours=spec.hours_ago / 3),
                           **criteria)
            if spec.state in ("closed", "assessed"):
                inc.closed_at = created + dt.timedelta(hours=min(spec.hours_ago * 0.6, 72))
            elif spec.state in ("false_alarm", "merged"):
                inc.closed_at = created + dt.timedelta(hours=min(spec.hours_ago * 0.5, 2))
            if spec.initial_report and spec.state != "merged":
                inc.initial_report_at = created + dt.timedelta(minutes=rng.randint(40, 100))
            incidents.append(inc)
        s.add_all(incidents)
        await s.flush()
        for i, target in MERGED_INTO.items():
            incidents[i].merged_into_id = incidents[target].id

        tasks: list[Task] = []
        reports: list[IncidentReport] = []
        assignees = [("user", users.get("field")), ("unit", codes.get("BJ-JCZX-YJJCZ")), ("role", "field"),
                     ("unit", codes.get("BJ-ZFZD-1")), ("role", "pilot")]
        for inc, spec in zip(incidents, SPECS, strict=True):
            for order, (title, status) in enumerate(spec.tasks, start=1):
                kind, who = assignees[(order - 1 + inc.id) % len(assignees)]
                due = inc.created_at + dt.timedelta(hours=order)
                t = Task(incident_id=inc.id, title=title, source="manual", status=status, due_at=due,
                         plan_step_order=None, feedback_file_ids=[], created_by=users.get("operator"),
                         created_at=inc.created_at + dt.timedelta(minutes=15), updated_at=now,
                         assignee_user_id=who if kind == "user" else None,
                         assignee_unit_id=who if kind == "unit" else None,
                         assignee_role=who if kind == "role" else None)
                if status in ("doing", "done"):
                    t.started_at = t.created_at + dt.timedelta(minutes=10)
                if status == "done":
                    t.done_at = min(due, now)
                    t.feedback = "已完成，现场照片及数据已上传。"
                tasks.append(t)
            if inc.initial_report_at is not None:
                reports.append(IncidentReport(
                    incident_id=inc.id, kind="initial", file_ids=[], level_at_submit=inc.level or inc.level_suggested,
                    due_at=report_due_at(inc), submitted_by=users.get("operator"), submitted_by_name="operator",
                    submitted_at=inc.initial_report_at,
                    content=f"【首报】{inc.title}。{spec.description}目前已派员赶赴现场核实处置。"))
                if spec.state in ("responding", "disposing", "closed", "assessed"):
                    reports.append(IncidentReport(
                        incident_id=inc.id, kind="follow_up", file_ids=[], level_at_submit=inc.level,
                        submitted_by=users.get("operator"), submitted_by_name="operator",
                        submitted_at=inc.initial_report_at + dt.timedelta(hours=min(spec.hours_ago / 4, 6)),
                        content=f"【续报】{inc.title}：应急监测持续开展，污染范围已得到控制。"))
                if spec.state in ("closed", "assessed") and inc.closed_at is not None:
                    reports.append(IncidentReport(
                        incident_id=inc.id, kind="final", file_ids=[], level_at_submit=inc.level,
                        submitted_by=users.get("commander"), submitted_by_name="commander",
                        submitted_at=inc.closed_at + dt.timedelta(hours=4),
                        content=f"【终报】{inc.title}：应急处置工作已结束，环境质量恢复正常，事件调查评估另行报送。"))
        s.add_all(tasks)
        s.add_all(reports)
        await s.flush()

        for i, (inc, spec) in enumerate(zip(incidents, SPECS, strict=True)):
            aud = everyone(inc.id)
            uow.emit("incident.created", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                     payload={"title": inc.title, "type": inc.type, "state": "reported", "demo": True,
                              "alarm_ids": inc.alarm_ids, "at": inc.created_at.isoformat()},
                     audience=aud, audit=False)
            if i in linked and mods is not None:
                await mods[1].link_to_incident(uow, linked[i], inc.id)
            before = "reported"
            for step in PATHS[spec.state]:
                payload: dict[str, Any] = {"from": before, "to": step, "title": inc.title, "demo": True,
                                           "reason": FALSE_ALARM_REASON if step == "false_alarm" else None}
                if step == "merged":
                    payload["merged_into_id"] = inc.merged_into_id
                uow.emit("incident.state_changed", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                         payload=payload, audience=aud, audit=False)
                before = step
            if inc.level:
                uow.emit("incident.level_changed", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                         payload={"from": None, "to": inc.level, "suggested": inc.level_suggested,
                                  "override": inc.level != inc.level_suggested, "reason": inc.level_reason,
                                  "title": inc.title, "demo": True}, audience=aud, audit=False)
            for text in spec.notes:
                uow.emit("incident.note_added", subject_type="incident", subject_id=inc.id, incident_id=inc.id,
                         payload={"text": text, "file_ids": [], "files": [], "demo": True},
                         audience=[f"incident:{inc.id}"], audit=False)
        for t in tasks:
            uow.emit("task.created", subject_type="task", subject_id=t.id, incident_id=t.incident_id,
                     payload={"task_id": t.id, "title": t.title, "status": t.status, "demo": True,
                              "assignee_user_id": t.assignee_user_id, "assignee_unit_id": t.assignee_unit_id,
                              "assignee_role": t.assignee_role}, audience=[f"incident:{t.incident_id}"], audit=False)
        for r in reports:
            uow.emit("incident.report_submitted", subject_type="incident_report", subject_id=r.id,
                     incident_id=r.incident_id, payload={"report_id": r.id, "kind": r.kind, "demo": True,
                                                         "excerpt": r.content[:200]},
                     audience=[f"incident:{r.incident_id}"], audit=False)
        by_state: dict[str, int] = {}
        for inc in incidents:
            by_state[inc.state] = by_state.get(inc.state, 0) + 1
        uow.emit("incident.seeded", subject_type="incident", payload={
            "count": len(incidents), "by_state": by_state, "tasks": len(tasks), "reports": len(reports),
            "linked_alarms": sum(len(v) for v in linked.values())}, audience=["role:admin"])
