"""Every table, imported in one place so that Alembic and the tests see the whole schema."""

from __future__ import annotations

from .auth import models as _auth  # noqa: F401
from .core import audit as _audit  # noqa: F401
from .core import events as _events  # noqa: F401
from .core.db import Base
from .files import models as _files  # noqa: F401
from .org import models as _org  # noqa: F401

metadata = Base.metadata
