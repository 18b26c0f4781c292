"""``python -m command_server`` — serve (default), or ``audit verify``, ``migrate``, ``seed``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from .core.config import ConfigError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m command_server")
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("serve", help="run the server (default)")
    audit = sub.add_parser("audit", help="audit log tools")
    audit.add_argument("action", choices=["verify"])
    sub.add_parser("migrate", help="apply database migrations and exit")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.cmd == "audit":
        return asyncio.run(_audit_verify(settings))
    if args.cmd == "migrate":
        return asyncio.run(_migrate(settings))
    return _serve(settings)


def _serve(settings) -> int:  # type: ignore[no-untyped-def]
    from aiohttp import web

    from .app import create_app
    from .core.inline_db import hand_back_quickly
    from .demo.seed import DEMO_USERS

    if settings.env == "production":
        problem = asyncio.run(_demo_accounts_left(settings))
        if problem:
            print(f"configuration error: {problem}", file=sys.stderr)
            return 2
    app = create_app(settings)
    hand_back_quickly()
    url = f"http://{settings.host}:{settings.port}"
    print(f"环境应急指挥与融合通信系统 — serving at {url}  (API docs {url}/api/docs)", flush=True)
    if settings.seed_demo:
        names = ", ".join(u for u, _r, _n in DEMO_USERS)
        print(f"demo accounts: {names} — password {settings.demo_password}", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None,
                handle_signals=True)
    return 0


async def _demo_accounts_left(settings) -> str | None:  # type: ignore[no-untyped-def]
    """In production, refuse to serve while a seeded demo account still has its demo password."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from .auth.models import User
    from .core.db import Database

    db = Database(settings.db_url, schema=settings.db_schema)
    try:
        async with db.read() as s:
            names = list((await s.scalars(select(User.username).where(User.is_demo.is_(True),
                                                                    User.is_active.is_(True)))).all())
    except SQLAlchemyError:
        return None  # no schema yet: nothing seeded, migrations will create it
    finally:
        await db.dispose()
    if names:
        return (f"demo accounts still have their demo password ({', '.join(names)}); change their passwords or "
                "disable them before running with ECS_ENV=production")
    return None


async def _migrate(settings) -> int:  # type: ignore[no-untyped-def]
    from .core.db import Database
    from .core.migrate import upgrade

    db = Database(settings.db_url, schema=settings.db_schema)
    await upgrade(db.engine)
    await db.dispose()
    print("migrations applied")
    return 0


async def _audit_verify(settings) -> int:  # type: ignore[no-untyped-def]
    from .core import crypto
    from .core.audit import verify_chain
    from .core.db import Database

    crypto.configure(settings.sm4_key)
    db = Database(settings.db_url, schema=settings.db_schema)
    try:
        async with db.read() as s:
            result = await verify_chain(s)
    finally:
        await db.dispose()
    if result.ok:
        print(f"audit chain intact: {result.checked} rows verified")
        return 0
    print(f"audit chain BROKEN at row {result.broken_id}: {result.reason} ({result.checked} rows verified before)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
