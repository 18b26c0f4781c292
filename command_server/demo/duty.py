"""Demo duty data: the city bureau's 白班/夜班 roster for this month and the next, with a few deliberate gaps,
and a week of duty log entries and handovers.

The roster is planned by the same fair rotation the API uses (``duty.rotation``), over the bureau leaders
(局长, 副局长, the 应急管理处 heads) and the 应急管理处 duty officers from ``demo/city.py``. Generated with a
fixed seed relative to "today", inserted in bulk in one unit of work with one summary event.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import select

from ..core.db import utcnow
from ..core.services import Services
from ..core.uow import AnyActor
from ..duty.models import DutyHandover, DutyLogEntry, DutyTemplate
from ..duty.rotation import TZ, plan_roster
from ..duty.service import insert_plan, pool
from ..org.models import Person, Unit

PRIORITY = 30  # after organisation and people (20)
SEED = 20260316

POSITIONS = [
    {"key": "leader", "name": "带班领导", "count": 1, "roles": ["leader"], "lead": True},
    {"key": "officer", "name": "值班员", "count": 2, "roles": ["officer"], "lead": False},
]
SHIFTS = [
    {"key": "day", "name": "白班", "start": "08:30", "end": "17:30", "positions": POSITIONS},
    {"key": "night", "name": "夜班", "start": "17:30", "end": "08:30", "positions": POSITIONS},
]
# (days from today, shift key, position key) of slots left empty on purpose, so the console shows gaps.
GAPS = [(3, "night", "officer"), (9, "day", "officer"), (16, "night", "leader")]

PLACES = ["江北区滨江路排口", "江南区化工园区", "临港区码头", "滨海新区污水处理厂", "青山县水库", "东湖区湿地公园",
          "江北区工业园", "临港区危废处置中心"]
LOG_TEXTS: dict[str, list[str]] = {
    "intake": ["接12369投诉：{place}附近有刺激性气味，已登记并转属地分局核查",
               "接市应急局通报：{place}发生车辆侧翻，疑有化学品泄漏，已报带班领导",
               "接群众来电反映{place}河道水体发黑，已记录来电人信息",
               "接{place}在线监测站氨氮超标预警，已电话联系运维单位"],
    "disposal": ["通知{place}所在分局执法人员赶赴现场核查，预计30分钟到达",
                 "调度应急监测站对{place}开展水质采样，结果待回传",
                 "现场反馈：{place}异味系企业检修排气所致，已责令整改",
                 "协调水务部门对{place}下游取水口加密监测"],
    "other": ["检查视频会商系统、卫星电话，运行正常", "整理本班次接报台账并上报", "完成值班室设备巡检",
              "参加市应急办视频点名"],
}
HANDOVER_NOTES = ["本班次共接报{n}起，均已按程序处置。值班设备运行正常。",
                  "本班次接报{n}起，其中1起已转执法支队跟进；视频会商系统已测试。",
                  "本班次平稳，接报{n}起；上级通知已传达至各分局。"]
PENDING = [None, "{place}采样结果待回传，请跟进", "{place}企业整改情况待复查", None]


async def seed(svc: Services, actor: AnyActor) -> None:
    rng = random.Random(SEED)
    now = utcnow()
    today = now.astimezone(TZ).date()
    first, last = period(today)
    async with svc.write(actor) as uow:
        s = uow.session
        city = await s.scalar(select(Unit).where(Unit.code == "BJ"))
        office = await s.scalar(select(Unit).where(Unit.code == "BJ-YJC"))
        if city is None or office is None:
            return  # no demo city: nothing to roster
        template = DutyTemplate(name="市局应急值班", unit_ids=[city.id, office.id], include_sub_units=False,
                                shifts=SHIFTS, remark="白班 08:30–17:30，夜班 17:30–次日08:30；"
                                "每班带班领导1名、值班员2名")
        s.add(template)
        await s.flush()
        people = await pool(s, [city.id, office.id], False)
        plan = plan_roster(SHIFTS, first, last, people)
        for offset, shift_key, position_key in GAPS:
            day = today + dt.timedelta(days=offset)
            for ps in plan.shifts:
                if ps.day == day and ps.definition["key"] == shift_key:
                    drop = next((i for i, (k, _) in enumerate(ps.picks) if k == position_key), None)
                    if drop is not None:
                        del ps.picks[drop]
        rows = await insert_plan(s, template.id, plan)
        picks = {row.id: ps.picks for row, ps in zip(rows, plan.shifts, strict=True)}
        names = dict((await s.execute(select(Person.id, Person.name))).all())
        logs, handovers = _history(rng, now, rows, picks, names)
        s.add_all(logs)
        s.add_all(handovers)
        uow.emit("demo.seeded", subject_type="duty", subject_id=template.id,
                 payload={"template": template.name, "shifts": len(rows), "assignments": plan.assignments,
                          "gaps": len(GAPS), "log_entries": len(logs), "handovers": len(handovers)},
                 audience=["all"])


def period(today: dt.date) -> tuple[dt.date, dt.date]:
    """This month and the next; started a week earlier when needed, so the week of history has its shifts."""
    first = min(today.replace(day=1), today - dt.timedelta(days=8))
    return first, _add_months(today.replace(day=1), 2) - dt.timedelta(days=1)


def _add_months(first: dt.date, n: int) -> dt.date:
    y, m = divmod(first.month - 1 + n, 12)
    return first.replace(year=first.year + y, month=m + 1)


def _history(rng: random.Random, now: dt.datetime, rows: list[Any], picks: dict[int, list[tuple[str, int]]],
             names: dict[int, str]) -> tuple[list[DutyLogEntry], list[DutyHandover]]:
    """Log entries for the shifts of the past week (up to now) and a handover between each pair of them."""
    week = [r for r in rows if now - dt.timedelta(days=7) <= r.starts_at <= now]
    logs: list[DutyLogEntry] = []
    handovers: list[DutyHandover] = []
    for i, sh in enumerate(week):
        officers = [pid for key, pid in picks[sh.id] if key == "officer"] or [pid for _, pid in picks[sh.id]]
        span = (min(sh.ends_at, now) - sh.starts_at).total_seconds()
        n_intake = 0
        for _ in range(rng.randint(2, 4) if span > 3600 else 0):
            category = rng.choices(["intake", "disposal", "other"], weights=[4, 4, 2])[0]
            n_intake += category == "intake"
            author = rng.choice(officers) if officers else None
            if author is None:
                continue
            at = sh.starts_at + dt.timedelta(seconds=rng.uniform(600, span - 60))
            logs.append(DutyLogEntry(at=at, category=category, shift_id=sh.id, person_id=author,
                                     text=rng.choice(LOG_TEXTS[category]).format(place=rng.choice(PLACES)),
                                     created_by_name=names.get(author)))
        nxt = week[i + 1] if i + 1 < len(week) else None
        if nxt is None or not officers:
            continue
        author = officers[0]
        notes = rng.choice(HANDOVER_NOTES).format(n=max(n_intake, 1))
        pending = rng.choice(PENDING)
        logs.append(DutyLogEntry(at=sh.ends_at - dt.timedelta(minutes=10), category="handover", shift_id=sh.id,
                                 person_id=author, text=f"交班：{notes}", created_by_name=names.get(author)))
        incoming_leaders = [pid for key, pid in picks[nxt.id] if key == "leader"]
        acked = nxt is not week[-1] and incoming_leaders  # the handover into the running shift is still open
        handovers.append(DutyHandover(
            from_shift_id=sh.id, to_shift_id=nxt.id, notes=notes,
            pending_items=pending.format(place=rng.choice(PLACES)) if pending else None,
            created_by_person_id=author, created_by_name=names.get(author),
            created_at=sh.ends_at - dt.timedelta(minutes=5),
            acknowledged_at=nxt.starts_at + dt.timedelta(minutes=rng.randint(3, 15)) if acked else None,
            acknowledged_by_person_id=incoming_leaders[0] if acked else None,
            ack_remark="已接班，情况清楚" if acked else None))
    return logs, handovers
