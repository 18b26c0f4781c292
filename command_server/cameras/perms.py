"""The permissions the cameras routes name.

The intended table (see the report to the lead): ``cameras:read`` (admin, commander, operator, field, pilot,
screen) for the catalogue, live view, snapshots, recordings and playback; ``cameras:write`` (admin,
operator) for the catalogue, tours and shared layouts; ``cameras:record`` (admin, commander, operator) for
emergency recording. Until ``core/permissions.py`` grants them, the routes fall back to the map's
permissions with the same audiences (``map:read`` / ``map:write``), so the module works either way and
switches by itself once the grants exist.
"""

from __future__ import annotations

from typing import Any

from ..core.permissions import GRANTS


def _pick(wanted: str, fallback: str) -> str:
    return wanted if wanted in GRANTS else fallback


READ = _pick("cameras:read", "map:read")
VIEW = _pick("cameras:view", READ)
WRITE = _pick("cameras:write", "map:write")
RECORD = _pick("cameras:record", "map:write")


def can(actor: Any, perm: str) -> bool:
    check = getattr(actor, "can", None)
    return bool(check(perm)) if check is not None else False
