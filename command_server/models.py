"""Every table, gathered in one place so that Alembic and the tests see the whole schema."""

from __future__ import annotations

from .core import audit as _audit  # noqa: F401
from .core import events as _events  # noqa: F401
from .core.db import Base
from .domains import domain_modules

domain_modules("models")
metadata = Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Tables Alembic must not compare with the models: search indexes kept by hand (FTS5 is virtual)."""
    from .alarms.search import include_object as alarm_search

    return alarm_search(obj, name, type_, reflected, compare_to)
