"""The incidents' text-search index (``incident_search``): the list's ``q=`` over title, address and pollutant,
through the shared character-bigram index of ``core/textsearch.py`` (why bigrams, the storage on SQLite and
PostgreSQL, and when the index alone answers a query are explained there).

Without it the incident list's text count was an ``ILIKE`` scan of every incident: 40–90 ms on PostgreSQL over
10,000 incidents, the one statement above 90 ms left in docs/performance.md's fifth round."""

from __future__ import annotations

from ..core.textsearch import TextIndex
from .models import Incident

# In the order the list's ILIKE recheck names them (service._filtered).
FIELDS = ("title", "address", "pollutant")

INDEX = TextIndex(table="incident_search", key="incident_id", fields=FIELDS, model=Incident)
INDEX.track()  # every ORM insert and update of an Incident, wherever Incident is used (incidents/__init__.py)
