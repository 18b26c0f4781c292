"""Demo plan library of 滨江市: twelve emergency plans written as structured data (CMD-2, PRE-6).

Each plan is a short list of steps — (action, responsible, deadline in minutes) where the responsible is a
unit code of the demo city ("@BJ-YJC" = 应急管理处) or a duty role (leader, officer, monitor, expert…) —
plus its guide (处置要点), pollutants, resources and per-level notification lists naming the demo accounts
(commander, operator). All plans go in one unit of work with one summary event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..auth.models import User
from ..core.services import Services
from ..core.uow import AnyActor
from ..org.models import Unit
from ..plans.models import Plan, PlanVersion
from ..plans.schemas import PlanWriteIn
from ..plans.service import plan_data, search_tokens_for

PRIORITY = 45
BUREAU = "滨江市生态环境局"
LINGANG_PARK = {"type": "Polygon", "coordinates": [[[121.66, 30.83], [121.76, 30.83], [121.76, 30.91],
                                                    [121.66, 30.91], [121.66, 30.83]]]}

Step = tuple[str, str, int]

COMMON_START: list[Step] = [
    ("值班员接报后10分钟内核实事发时间、地点、污染物、影响范围，填报接警单并报告带班领导", "officer", 10),
]
COMMON_END: list[Step] = [
    ("按规定时限向市政府总值班室和省生态环境厅报送初报、续报，跟踪处置进展", "@BJ-BGS", 120),
]


def _plan(title: str, code: str, kind: str, types: list[str], levels: list[str], pollutants: list[dict[str, Any]],
          steps: list[Step], guide: str, resources: list[tuple[str, float, str]],
          districts: list[str] | None = None, polygon: dict[str, Any] | None = None,
          issuing_unit: str = BUREAU) -> dict[str, Any]:
    return {"title": title, "code": code, "kind": kind, "issuing_unit": issuing_unit, "event_types": types,
            "levels": levels, "pollutants": pollutants, "steps": steps, "guide": guide,
            "resources": [{"type": t, "quantity": q, "unit": u} for t, q, u in resources],
            "districts": districts or [], "polygon": polygon}


PLANS: list[dict[str, Any]] = [
    _plan("滨江市突发水污染事件应急预案", "BJHB-ZX-2025-01", "special", ["water"], ["I", "II", "III", "IV"], [],
          [*COMMON_START,
              ("启动水污染事件应急响应，成立现场指挥部，明确监测、处置、保障、宣传各工作组", "leader", 30),
              ("应急监测站在事发断面及上下游各设监测断面，按1小时频次开展水质监测", "@BJ-JCZX-YJJCZ", 60),
              ("执法支队排查污染来源，责令涉事企业停产、封堵排口", "@BJ-ZFZD", 90),
              ("组织专家研判污染团迁移时间，评估对下游取水口的影响", "expert", 120),
              ("必要时通知下游水厂启动应急供水、加强取水口监测", "@BJ-YJC", 120),
          *COMMON_END],
          "一、控源：首先切断污染源，封堵雨水及污水排口，防止污染物继续入河。\n"
          "二、监测：事发断面、上游对照断面和下游控制断面同步监测，特征污染物加密至每小时一次。\n"
          "三、拦截：根据污染物性质采用筑坝拦截、投加活性炭吸附、絮凝沉淀等方式削减污染。\n"
          "四、预警：污染团预计到达下游取水口前至少4小时通知水厂。",
          [("活性炭", 20, "吨"), ("吸附棉", 500, "件"), ("应急监测车", 2, "台"), ("橡皮艇", 2, "艘")]),
    _plan("液氨泄漏事故专项应急预案", "BJHB-ZX-2025-02", "special", ["hazchem_leak", "air"], ["II", "III", "IV"],
          [{"name": "液氨", "cas": "7664-41-7"}],
          [*COMMON_START,
              ("通知涉事企业立即关闭液氨储罐紧急切断阀，停止装卸作业", "@BJ-ZFZD", 15),
              ("根据风向划定警戒区，下风向500米内人员向上风向疏散", "leader", 30),
              ("应急监测组在厂界和下风向敏感点布点，监测空气中氨浓度", "@BJ-JCZX-YJJCZ", 45),
              ("对消防稀释废水进行围堵收集，防止含氨废水进入雨水管网和河道", "@BJ-ZFZD", 60),
              ("危险化学品专家研判泄漏量和影响范围，提出处置建议", "expert", 60),
              ("监测结果达标后报指挥部解除警戒", "leader", 480),
          *COMMON_END],
          "液氨储罐泄漏时，处置人员必须穿戴全封闭防化服和正压式空气呼吸器，从上风向接近。"
          "雾状水稀释吸收氨气，严禁直接向液氨喷水。含氨消防废水须围堵收集、调节pH后处理，不得直排。"
          "氨的嗅阈值低，人员疏散以实测浓度为准，PAC-2 为 160 ppm。",
          [("防化服", 20, "套"), ("正压式空气呼吸器", 10, "套"), ("便携式氨气检测仪", 6, "台"),
           ("应急监测车", 1, "台"), ("吸附棉", 200, "件")]),
    _plan("氯气泄漏事故专项应急预案", "BJHB-ZX-2025-03", "special", ["hazchem_leak", "air"], ["II", "III", "IV"],
          [{"name": "液氯", "cas": "7782-50-5"}],
          [*COMMON_START,
              ("责令企业关闭液氯钢瓶或储罐阀门，启动碱液吸收装置", "@BJ-ZFZD", 15),
              ("下风向800米范围设立警戒区，组织周边群众撤离", "leader", 30),
              ("监测站在下风向敏感点监测氯气浓度，每30分钟报告一次", "@BJ-JCZX-YJJCZ", 45),
              ("收集处置过程产生的碱性废液，防止进入水体", "@BJ-ZFZD", 90),
              ("专家评估人员暴露风险，提出解除警戒建议", "expert", 240),
          *COMMON_END],
          "氯气比空气重，易在低洼处积聚。泄漏钢瓶可移至碱液池中吸收；用雾状水或稀碱液喷淋稀释，"
          "处置人员佩戴正压式空气呼吸器。废碱液须收集处理。",
          [("防化服", 20, "套"), ("液碱（氢氧化钠）", 5, "吨"), ("正压式空气呼吸器", 10, "套"),
           ("应急监测车", 1, "台")]),
    _plan("江河溢油突发环境事件应急预案", "BJHB-ZX-2025-04", "special", ["water"], ["I", "II", "III", "IV"],
          [{"name": "石油类"}, {"name": "柴油"}],
          [*COMMON_START,
              ("在溢油点下游500米和2公里处布设围油栏，拦截浮油", "@BJ-ZFZD", 60),
              ("使用吸油毡、收油机回收浮油，回收物按危险废物管理", "@BJ-ZFZD", 120),
              ("沿岸巡查油膜漂移范围，监测石油类浓度", "@BJ-JCZX-YJJCZ", 90),
              ("通知下游取水口所在水厂加强监测，必要时暂停取水", "@BJ-YJC", 90),
              ("组织专家评估岸线和水生生态影响，制定清污方案", "expert", 360),
          *COMMON_END],
          "围油栏应与水流方向呈一定夹角布设，以便浮油导流至岸边收集。禁止使用未经许可的消油剂。"
          "回收的油污、吸油毡属于危险废物（HW08），须交有资质单位处置。",
          [("围油栏", 2000, "米"), ("吸油毡", 1000, "件"), ("收油机", 2, "台"), ("工作船", 2, "艘")]),
    _plan("危险废物仓库火灾次生环境污染应急预案", "BJHB-ZX-2025-05", "special",
          ["fire_explosion", "hazardous_waste", "air"], ["II", "III", "IV"], [{"name": "有毒气体"}],
          [*COMMON_START,
              ("配合消防部门，了解仓库贮存危险废物种类、数量和包装情况", "@BJ-ZFZD", 30),
              ("封堵厂区雨水排口，启用事故应急池收集消防废水", "@BJ-ZFZD", 30),
              ("在下风向敏感点监测VOCs、氯化氢、二氧化硫等特征污染物", "@BJ-JCZX-YJJCZ", 60),
              ("监测厂区外排水和周边水体，防止消防废水外溢", "monitor", 90),
              ("火灾扑灭后组织清理残余物，按危险废物转移处置", "@BJ-ZFZD", 720),
          *COMMON_END],
          "危险废物火灾处置的重点是消防废水和燃烧烟气。第一时间封堵雨水排口，消防废水全部收集；"
          "烟气影响范围以监测结果为准。火灾残余物和污染土壤须鉴别后按危险废物处置。",
          [("应急监测车", 2, "台"), ("沙袋", 500, "袋"), ("吸附棉", 300, "件"), ("防化服", 10, "套")]),
    _plan("尾矿库溃坝突发环境事件应急预案", "BJHB-ZX-2025-06", "special", ["water", "soil"], ["I", "II", "III"],
          [{"name": "重金属"}],
          [*COMMON_START,
              ("通知尾矿库企业停止排放，组织下游人员转移", "leader", 30),
              ("在溃口下游修筑拦挡坝，拦截尾砂和尾水", "@BJ-ZFZD", 120),
              ("在下游河道布设断面监测重金属（铅、镉、砷、汞）和pH", "@BJ-JCZX-YJJCZ", 90),
              ("对受污染河段投加絮凝剂、石灰进行沉淀处理", "@BJ-ZFZD", 240),
              ("专家评估下游饮用水源和农田受影响程度", "expert", 360),
          *COMMON_END],
          "尾矿库溃坝处置以拦截和降污为主：多级拦挡坝拦截尾砂，对含重金属尾水投加石灰调节pH、"
          "投加絮凝剂沉淀。下游饮用水源取水口立即加密监测。",
          [("石灰", 50, "吨"), ("聚合氯化铝", 10, "吨"), ("挖掘机", 4, "台"), ("应急监测车", 2, "台")]),
    _plan("放射源丢失被盗辐射事故应急预案", "BJHB-ZX-2025-07", "special", ["radiation"], ["I", "II", "III", "IV"],
          [{"name": "放射源"}],
          [*COMMON_START,
              ("辐射安全处核实放射源核素、活度、类别和最后确认位置", "@BJ-FSC", 30),
              ("会同公安部门立案侦查，发布协查通报", "leader", 60),
              ("使用巡测仪在可能位置开展辐射巡测搜寻", "@BJ-FSC", 120),
              ("找到放射源后设立控制区，由有资质单位收贮", "@BJ-FSC", 240),
              ("对可能受照人员进行剂量估算和医学观察", "expert", 480),
          *COMMON_END],
          "放射源丢失被盗须在2小时内报告。搜寻人员佩戴个人剂量计，控制区边界剂量率按2.5μSv/h设定。"
          "严禁非专业人员接触可疑物品。",
          [("辐射巡测仪", 4, "台"), ("个人剂量计", 20, "个"), ("铅罐", 2, "个")]),
    _plan("饮用水水源地突发环境事件应急预案", "BJHB-ZX-2025-08", "special", ["water"], ["I", "II", "III", "IV"], [],
          [*COMMON_START,
              ("立即通知水源地管理单位和水厂，评估是否关闭取水口", "@BJ-YJC", 20),
              ("在取水口、一级保护区边界和上游加密监测", "@BJ-JCZX-YJJCZ", 60),
              ("排查保护区内污染来源并予以控制", "@BJ-ZFZD", 90),
              ("需停止取水时，报请市政府启动应急供水", "leader", 120),
              ("水质连续3次达标后，经专家评估恢复取水", "expert", 1440),
          *COMMON_END],
          "饮用水水源地污染优先保障供水安全：一旦特征污染物超标或成分不明，立即建议关闭取水口，"
          "启用备用水源。取水口监测频次不低于每2小时一次。",
          [("活性炭", 30, "吨"), ("应急监测车", 2, "台"), ("便携式水质检测仪", 4, "台")]),
    _plan("滨江市重污染天气应急预案", "BJHB-ZX-2025-09", "special", ["air"], ["I", "II", "III", "IV"],
          [{"name": "二氧化硫"}, {"name": "二氧化氮"}],
          [
              ("会商空气质量预报，确定预警级别并报市政府发布", "leader", 60),
              ("通知工业企业落实应急减排清单，停产限产", "@BJ-ZFZD", 180),
              ("加密空气自动站数据审核，每小时发布空气质量状况", "@BJ-JCZX", 120),
              ("执法支队开展重点企业和工地应急减排督查", "@BJ-ZFZD", 360),
              ("跟踪预警期空气质量变化，适时调整或解除预警", "leader", 1440),
          ],
          "重污染天气按黄色、橙色、红色预警分级响应，对应企业减排清单。督查重点：停限产措施落实、"
          "扬尘管控、柴油货车管控。",
          [("移动监测车", 2, "台"), ("无人机", 4, "架")]),
    _plan("临港化工园区突发环境事件应急预案", "BJHB-ZX-2025-10", "special",
          ["hazchem_leak", "fire_explosion", "water", "air"], ["I", "II", "III", "IV"],
          [{"name": "苯", "cas": "71-43-2"}, {"name": "甲苯"}, {"name": "液氨"}],
          [*COMMON_START,
              ("园区管委会启动三级防控：装置围堰、企业事故池、园区应急池", "@BJ-LG", 30),
              ("关闭园区雨水总排口闸门，防止污染物进入入海河道", "@BJ-LG", 30),
              ("应急监测站在园区边界和下风向居民区开展大气和水质监测", "@BJ-JCZX-YJJCZ", 60),
              ("危险化学品专家研判污染物种类和扩散趋势", "expert", 90),
              ("指导企业收集处置事故废水，严禁超标排放", "@BJ-ZFZD", 240),
          *COMMON_END],
          "园区突发环境事件执行“单元—企业—园区”三级防控：先用装置围堰，再入企业事故应急池，"
          "最后启用园区公共应急池并关闭雨水总排口。大气监测覆盖园区下风向3公里内敏感点。",
          [("防化服", 30, "套"), ("应急监测车", 2, "台"), ("吸附棉", 500, "件"), ("沙袋", 1000, "袋")],
          districts=["BJ-LG"], polygon=LINGANG_PARK),
    _plan("道路交通事故次生突发环境事件应急预案", "BJHB-ZX-2025-11", "special", ["hazchem_leak", "water", "soil"],
          ["III", "IV"], [{"name": "石油类"}, {"name": "有毒气体"}],
          [*COMMON_START,
              ("了解槽罐车运输物质的名称、数量和泄漏情况（查验运单和安全技术说明书）", "officer", 20),
              ("用沙袋、吸附棉围堵泄漏物，防止流入路边沟渠和河道", "@BJ-ZFZD", 45),
              ("在事故点及周边水体、下风向开展监测", "@BJ-JCZX-YJJCZ", 60),
              ("督促运输企业委托有资质单位转运泄漏物和受污染土壤", "@BJ-ZFZD", 360),
          *COMMON_END],
          "交通事故次生污染的关键是堵截：优先封堵边沟、涵洞，阻止泄漏物进入水体。"
          "受污染土壤须清挖并按危险废物或一般固废鉴别处置。",
          [("沙袋", 300, "袋"), ("吸附棉", 300, "件"), ("应急监测车", 1, "台"), ("防化服", 10, "套")]),
    _plan("城镇污水处理厂超标排放突发环境事件应急预案", "BJHB-BM-2025-12", "department", ["water"],
          ["III", "IV"], [],
          [*COMMON_START,
              ("责令污水处理厂启动应急运行方案，减少进水或调蓄", "@BJ-ZFZD", 30),
              ("排查进水异常来源，检查上游重点排水企业", "@BJ-ZFZD", 120),
              ("对出水口和受纳水体下游断面开展监测（COD、氨氮、总磷）", "@BJ-JCZX-YJJCZ", 60),
              ("评估对下游水环境的影响，必要时通报下游地区", "expert", 180),
          *COMMON_END],
          "污水处理厂超标排放多因进水冲击或工艺故障。处置要点：调蓄进水、恢复生化系统、"
          "查明上游偷排企业。监测指标以COD、氨氮、总磷及特征污染物为主。",
          [("应急监测车", 1, "台"), ("便携式水质检测仪", 2, "台")], issuing_unit="滨江市生态环境局应急管理处"),
]


def _resolve(raw: dict[str, Any], units: dict[str, int], users: dict[str, int]) -> dict[str, Any]:
    steps = []
    for i, (action, who, minutes) in enumerate(raw["steps"], start=1):
        step: dict[str, Any] = {"order": i, "action": action, "deadline_minutes": minutes}
        if who.startswith("@") and who[1:] in units:
            step["responsible_unit_id"] = units[who[1:]]
        else:
            step["responsible_role"] = "officer" if who.startswith("@") else who
        steps.append(step)
    commander, operator = users.get("commander"), users.get("operator")
    emergency = units.get("BJ-YJC")
    notifications: dict[str, Any] = {}
    for lv in raw["levels"]:
        ids = [u for u in (commander, operator) if u]  # the command centre's duty pair hears of every level
        notifications[lv] = {"user_ids": ids, "roles": ["leader"] if lv in ("I", "II") else [],
                             "unit_ids": [emergency] if emergency and lv in ("I", "II") else []}
    return {
        **{k: raw[k] for k in ("title", "code", "kind", "issuing_unit", "event_types", "levels", "pollutants",
                               "guide", "resources")},
        "issuing_unit_id": units.get("BJ"),
        "steps": steps,
        "area": {"district_unit_ids": [units[c] for c in raw["districts"] if c in units], "polygon": raw["polygon"]},
        "notifications": notifications,
    }


async def seed(svc: Services, actor: AnyActor) -> None:
    async with svc.write(actor) as uow:
        s = uow.session
        if await s.scalar(select(Plan.id).limit(1)) is not None:
            return
        units = {code: uid for code, uid in (await s.execute(select(Unit.code, Unit.id))).all() if code}
        users = dict((await s.execute(select(User.username, User.id))).all())
        ids = []
        for raw in PLANS:
            data = plan_data(PlanWriteIn.model_validate(_resolve(raw, units, users)))
            plan = Plan(version=1, status="active", title=data["title"], code=data["code"], kind=data["kind"],
                        issuing_unit=data["issuing_unit"], issuing_unit_id=data["issuing_unit_id"],
                        event_types=data["event_types"], levels=data["levels"], pollutants=data["pollutants"],
                        district_unit_ids=data["area"]["district_unit_ids"], area_polygon=data["area"]["polygon"],
                        steps=data["steps"], guide=data["guide"], notifications=data["notifications"],
                        resources=data["resources"], attachment_ids=[], search_tokens=search_tokens_for(data))
            s.add(plan)
            await s.flush()
            s.add(PlanVersion(plan_id=plan.id, version=1, data=data, change_note="演示数据",
                              created_by=actor.user_id, created_by_name=actor.username))
            ids.append(plan.id)
        uow.emit("demo.seeded", subject_type="plans", payload={"module": "plans", "plans": len(ids)},
                 audience=["role:admin"])
