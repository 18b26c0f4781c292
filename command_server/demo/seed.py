"""Demo data seeded on first start: one account per role, then the demo city."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path
from types import ModuleType

from sqlalchemy import func, select

from ..auth.models import User
from ..auth.passwords import Passwords
from ..auth.schemas import UserCreateIn
from ..auth.service import create_user
from ..core.security import SystemActor
from ..core.services import Services

log = logging.getLogger("ecs.demo")

# (username, role, display name)
DEMO_USERS: list[tuple[str, str, str]] = [
    ("admin", "admin", "系统管理员"),
    ("commander", "commander", "应急指挥长"),
    ("operator", "operator", "值班员"),
    ("field", "field", "现场处置员"),
    ("pilot", "pilot", "无人机飞手"),
    ("screen", "screen", "指挥大屏"),
    ("enterprise", "enterprise", "企业用户"),
]


async def seed_if_empty(svc: Services, pw: Passwords) -> bool:
    async with svc.db.read() as s:
        if await s.scalar(select(func.count()).select_from(User)):
            return False
    actor = SystemActor(username="seed")
    for username, role, display in DEMO_USERS:
        await create_user(svc, pw, actor,
                          UserCreateIn.model_construct(username=username, display_name=display,
                                                       password=svc.settings.demo_password, roles=[role]),
                          is_demo=True)
    if not svc.settings.seed_demo_city:
        return True
    for module in demo_modules():
        log.info("seeding demo data: %s", module.__name__.rsplit(".", 1)[-1])
        await module.seed(svc, actor)
    return True


def demo_modules() -> list[ModuleType]:
    """Every module in this folder with ``PRIORITY`` and ``async seed(svc, actor)``, lowest priority first.

    Priorities: 10 map data, 20 organisation and people, 30+ modules that refer to those.
    """
    found = []
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name == "seed":
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        if hasattr(module, "seed") and hasattr(module, "PRIORITY"):
            found.append(module)
    return sorted(found, key=lambda m: (m.PRIORITY, m.__name__))
