"""Alarm intake (ALM-1, ALM-5): every channel's first report of an environmental emergency."""

from . import search as _search  # noqa: F401  (registers the index's mapper events wherever Alarm is used)
