"""Every table, gathered in one place so that Alembic and the tests see the whole schema."""

from __future__ import annotations

from .core import audit as _audit  # noqa: F401
from .core import events as _events  # noqa: F401
from .core.db import Base
from .domains import domain_modules

domain_modules("models")
metadata = Base.metadata
