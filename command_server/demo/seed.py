"""Demo data seeded on first start: one account per role, then the demo city."""

from __future__ import annotations

import logging

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
    try:
        from .city import seed_city
    except ImportError:  # the demo city generator arrives with the contacts module
        log.info("demo city generator not present; seeded accounts only")
        return True
    await seed_city(svc, actor)
    return True
