"""The demo city 滨江市: its ecology and environment bureau as a unit tree, and its staff in the directory.

滨江市 is fictional: a prefecture-level city on the coast, its area roughly lon 121.2–121.8, lat 30.8–31.3
(``CITY_BBOX``), for other domains that place things on the map. People are *generated* from surname and
given-name character lists with a fixed seed, so every start produces the same ~210 people, every mobile
number is valid and unique and every ID number has a correct GB 11643 check digit. Everything is written
in one unit of work with a single ``demo.seeded`` event, not one event per row.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth.models import User
from ..core.services import Services
from ..core.uow import AnyActor
from ..org.models import Person, Unit
from ..org.schemas import id_check_char
from ..org.search import person_keys
from ..org.service import set_id_number, set_mobile

CITY_NAME = "滨江市"
CITY_BBOX = (121.2, 30.8, 121.8, 31.3)  # lon_min, lat_min, lon_max, lat_max (WGS-84)
CITY_CENTER = (121.5, 31.05)
AREA_CODE = "021"
MAIL_DOMAIN = "bjshb.gov.cn"
SEED = 20260315

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单区"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉晨宇浩然子涵欣怡梓轩思远"
    "建国志强海燕春梅晓东文博雨婷佳琪俊杰立新红霞永庆国栋德胜晓峰嘉怡雅琴振华宏伟亚楠"
)
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
                   "155", "156", "157", "158", "159", "177", "180", "181", "182", "183", "186", "187", "188",
                   "189", "199")
ID_REGIONS = ("330281", "330282", "330283", "330226", "330225")

# (position, how many, duty roles)
Staff = list[tuple[str, int, list[str]]]


@dataclass
class UnitSpec:
    name: str
    kind: str
    code: str
    staff: Staff
    children: list[UnitSpec] = field(default_factory=list)
    key: str = ""  # how the account linker finds a unit


def _district(name: str, code: str) -> UnitSpec:
    bureau = f"{name}生态环境分局"
    return UnitSpec(bureau, "district", f"BJ-{code}", [("分局局长", 1, ["leader"]), ("副局长", 2, ["leader"])], [
        UnitSpec("综合科", "team", f"BJ-{code}-ZHK",
                 [("科长", 1, ["liaison"]), ("值班员", 4, ["officer"]), ("驾驶员", 1, ["driver"])]),
        UnitSpec("环境监察大队", "team", f"BJ-{code}-JCDD",
                 [("大队长", 1, ["leader"]), ("执法队员", 5, [])], key=f"{code}:inspection"),
        UnitSpec("应急监测站", "team", f"BJ-{code}-YJJCZ", [("站长", 1, ["monitor"]), ("监测员", 4, ["monitor"])]),
    ])


def city_tree() -> UnitSpec:
    districts = [("江北区", "JB"), ("江南区", "JN"), ("临港区", "LG"), ("滨海新区", "BH"), ("青山县", "QS"),
                 ("东湖区", "DH")]
    departments = [
        UnitSpec("办公室", "department", "BJ-BGS",
                 [("主任", 1, ["liaison"]), ("副主任", 1, ["liaison"]), ("科员", 4, ["liaison"]),
                  ("驾驶员", 3, ["driver"]), ("信息化管理员", 1, [])], key="office"),
        UnitSpec("应急管理处", "department", "BJ-YJC",
                 [("处长", 1, ["leader"]), ("副处长", 1, ["leader"]), ("值班员", 8, ["officer"]),
                  ("科员", 3, ["liaison"])], key="emergency"),
        UnitSpec("监测中心", "department", "BJ-JCZX",
                 [("主任", 1, ["leader"]), ("副主任", 1, ["leader"]), ("工程师", 4, ["monitor"])], [
                     UnitSpec("应急监测站", "team", "BJ-JCZX-YJJCZ",
                              [("站长", 1, ["monitor", "leader"]), ("监测员", 8, ["monitor"]),
                               ("无人机飞手", 3, ["monitor"]), ("驾驶员", 2, ["driver"])], key="monitoring_station"),
                     UnitSpec("大气监测室", "team", "BJ-JCZX-DQ",
                              [("室主任", 1, ["monitor"]), ("监测员", 5, ["monitor"])]),
                     UnitSpec("水质监测室", "team", "BJ-JCZX-SZ",
                              [("室主任", 1, ["monitor"]), ("监测员", 5, ["monitor"])]),
                 ]),
        UnitSpec("执法支队", "department", "BJ-ZFZD", [("支队长", 1, ["leader"]), ("副支队长", 2, ["leader"])], [
            UnitSpec("执法一大队", "team", "BJ-ZFZD-1", [("大队长", 1, ["leader"]), ("执法队员", 6, [])]),
            UnitSpec("执法二大队", "team", "BJ-ZFZD-2", [("大队长", 1, ["leader"]), ("执法队员", 6, [])]),
        ]),
        UnitSpec("辐射安全处", "department", "BJ-FSC", [("处长", 1, ["leader"]), ("工程师", 3, ["monitor"])]),
        UnitSpec("专家组", "department", "BJ-ZJZ",
                 [("大气环境专家", 3, ["expert"]), ("水环境专家", 3, ["expert"]), ("危险化学品专家", 3, ["expert"]),
                  ("辐射安全专家", 1, ["expert"])]),
    ]
    return UnitSpec(f"{CITY_NAME}生态环境局", "city", "BJ",
                    [("局长", 1, ["leader"]), ("副局长", 3, ["leader"])],
                    departments + [_district(n, c) for n, c in districts])


# Demo accounts and who they are in the directory: (username, unit key, position).
ACCOUNT_PEOPLE = [
    ("commander", "emergency", "处长"),
    ("operator", "emergency", "值班员"),
    ("field", "JB:inspection", "执法队员"),
    ("pilot", "monitoring_station", "无人机飞手"),
    ("admin", "office", "信息化管理员"),
]


class _Generator:
    """Deterministic names, phones and ID numbers; never hands out the same name or mobile twice."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.names: set[str] = set()
        self.mobiles: set[str] = set()
        self.landline_block = 65810000

    def name(self) -> str:
        while True:
            surname = (self.rng.choice(COMPOUND_SURNAMES) if self.rng.random() < 0.03
                       else self.rng.choice(SURNAMES))
            given = "".join(self.rng.choice(GIVEN) for _ in range(1 if self.rng.random() < 0.3 else 2))
            if surname + given not in self.names:
                self.names.add(surname + given)
                return surname + given

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.mobiles:
                self.mobiles.add(number)
                return number

    def office_phone(self, unit_index: int, seat: int) -> str:
        # One number block per unit, like a real switchboard.
        return f"{AREA_CODE}-{self.landline_block + unit_index * 100 + seat}"

    def id_number(self) -> str:
        born = dt.date(1965, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 34))
        first17 = f"{self.rng.choice(ID_REGIONS)}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
        return first17 + id_check_char(first17)


def _flatten(spec: UnitSpec, parent: UnitSpec | None = None) -> list[tuple[UnitSpec, UnitSpec | None]]:
    out = [(spec, parent)]
    for child in spec.children:
        out += _flatten(child, spec)
    return out


async def seed_city(svc: Services, actor: AnyActor) -> None:
    gen = _Generator(SEED)
    tree = city_tree()
    async with svc.write(actor) as uow:
        s = uow.session
        units = await _add_units(s, tree)
        people = _make_people(gen, tree, units)
        await _link_accounts(s, people)
        s.add_all([p for p, _ in people])
        uow.emit("demo.seeded", subject_type="org", subject_id=units[id(tree)].id,
                 payload={"city": CITY_NAME, "units": len(units), "people": len(people)}, audience=["all"])


async def _add_units(s: AsyncSession, tree: UnitSpec) -> dict[int, Unit]:
    """Insert the tree level by level (a path needs the parent's id); keyed by id() of the spec."""
    units: dict[int, Unit] = {}
    level: list[tuple[UnitSpec, UnitSpec | None]] = [(tree, None)]
    while level:
        batch = []
        for order, (spec, parent) in enumerate(level):
            parent_unit = units[id(parent)] if parent else None
            u = Unit(name=spec.name, kind=spec.kind, code=spec.code, sort_order=order,
                     parent_id=parent_unit.id if parent_unit else None, path="/")
            units[id(spec)] = u
            batch.append((u, parent_unit))
        s.add_all([u for u, _ in batch])
        await s.flush()
        for u, parent_unit in batch:
            u.path = f"{parent_unit.path if parent_unit else '/'}{u.id}/"
        level = [(child, spec) for spec, _ in level for child in spec.children]
    return units


def _make_people(gen: _Generator, tree: UnitSpec, units: dict[int, Unit]) -> list[tuple[Person, str]]:
    """People for every unit; returned with the unit key + position that account linking looks for."""
    people: list[tuple[Person, str]] = []
    for index, (spec, _parent) in enumerate(_flatten(tree)):
        unit = units[id(spec)]
        seat = 0
        for position, count, roles in spec.staff:
            for _ in range(count):
                seat += 1
                people.append((_person(gen, unit, position, roles, gen.office_phone(index, seat)),
                               f"{spec.key}|{position}"))
    return people


def _person(gen: _Generator, unit: Unit, position: str, roles: list[str], office_phone: str) -> Person:
    name = gen.name()
    keys = person_keys(name, unit_name=unit.name, position=position)
    senior = bool({"leader", "expert"} & set(roles))
    p = Person(name=name, unit_id=unit.id, position=position, office_phone=office_phone,
               email=f"{keys.pinyin}{gen.rng.randrange(10, 99)}@{MAIL_DOMAIN}" if senior or gen.rng.random() < 0.5
               else None,
               duty_roles=list(roles), pinyin=keys.pinyin, initials=keys.initials, search_text=keys.search_text,
               remark="24小时应急值守" if "officer" in roles else None)
    set_mobile(p, gen.mobile())
    set_id_number(p, gen.id_number() if senior or gen.rng.random() < 0.3 else None)
    return p


async def _link_accounts(s: AsyncSession, people: list[tuple[Person, str]]) -> None:
    users = dict((await s.execute(select(User.username, User.id))).all())
    taken: set[int] = set()
    for username, key, position in ACCOUNT_PEOPLE:
        if username not in users:
            continue
        for i, (p, where) in enumerate(people):
            if where == f"{key}|{position}" and i not in taken:
                p.user_id = users[username]
                taken.add(i)
                break


PRIORITY = 20  # organisation and people: see demo/seed.py
seed = seed_city
