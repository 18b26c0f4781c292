"""Finding the domain packages: each folder under command_server/ with a routes.py, models.py or lifecycle.py.

A new domain is a new folder; nothing central needs editing, so several modules can be built at once.
- ``models.py``: its tables (imported for Alembic and the schema test);
- ``routes.py``: a ``routes`` RouteTable, mounted under the app;
- ``lifecycle.py``: optional ``install(app)`` (when the app is built), ``async start(app)`` (after migrations
  and seeding, before the event pump runs) and ``async stop(app)``.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent
_SKIP = {"core", "migrations", "demo"}


def domain_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE)]) if m.ispkg and m.name not in _SKIP)


def domain_modules(kind: str) -> list[ModuleType]:
    """The ``kind`` module (``routes``, ``models``, ``lifecycle``) of every domain that has one."""
    out = []
    for name in domain_names():
        if (PACKAGE / name / f"{kind}.py").exists():
            out.append(importlib.import_module(f"command_server.{name}.{kind}"))
    return out
