"""SQL ``LIKE`` patterns built from what a user typed: one escaping rule for every search box.

A search for "50%" or "a_b" means those characters, not wildcards: ``%``, ``_`` and the escape character itself
are escaped, and every pattern names its escape character (SQLite has no default one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql.elements import ColumnElement

ESCAPE = "\\"


def escape_like(text: str) -> str:
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def like(column: Any, pattern: str) -> ColumnElement[bool]:
    """``column LIKE pattern``, the pattern's literal parts already passed through :func:`escape_like`."""
    return column.like(pattern, escape=ESCAPE)


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """The column contains ``text`` as typed, ignoring case."""
    return column.ilike(f"%{escape_like(text)}%", escape=ESCAPE)
