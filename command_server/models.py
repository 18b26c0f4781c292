"""Every table, gathered in one place so that Alembic and the tests see the whole schema."""

from __future__ import annotations

from .core import audit as _audit  # noqa: F401
from .core import events as _events  # noqa: F401
from .core.db import Base
from .domains import domain_modules

domain_modules("models")
metadata = Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Tables Alembic must not compare with the models: search indexes kept by hand (FTS5 is virtual). Every
    domain's index registered itself when ``domain_modules`` imported its package above."""
    from .core.textsearch import include_object as search_tables

    return search_tables(obj, name, type_, reflected, compare_to)
