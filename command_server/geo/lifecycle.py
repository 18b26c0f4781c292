"""The map index's place in the app's life: built at install, loaded at start (see command_server/domains.py)."""

from __future__ import annotations

from .index import install, start

__all__ = ["install", "start"]
