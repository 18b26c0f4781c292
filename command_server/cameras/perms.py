"""The permissions the cameras routes name (granted in ``core/permissions.py``)."""

from __future__ import annotations

from typing import Any

READ = "cameras:read"  # catalogue, live view, snapshots, recordings, playback
VIEW = READ
WRITE = "cameras:write"  # catalogue, tours, shared wall layouts
RECORD = "cameras:record"  # emergency recording


def can(actor: Any, perm: str) -> bool:
    check = getattr(actor, "can", None)
    return bool(check(perm)) if check is not None else False
