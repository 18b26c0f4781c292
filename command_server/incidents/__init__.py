"""Incidents (CMD-1): from alarm to incident, level, state machine, timeline, reports upward, tasks."""

from . import search as _search  # noqa: F401  (registers the index's mapper events wherever Incident is used)
