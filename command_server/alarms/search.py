"""The alarms' text-search index (``alarm_search``): the list's ``q=`` over description, address, pollutant,
reporter, district and external id, through the shared character-bigram index of ``core/textsearch.py`` (why
bigrams, the storage on SQLite and PostgreSQL, and when the index alone answers a query are explained there).

The module-level names are the index's methods and the shared pure functions, so that the service, the
migrations (0002, 0004) and bench/api_latency.py keep calling ``search.rebuild(conn)`` and the like."""

from __future__ import annotations

from ..core.textsearch import TextIndex, bigrams, field_grams, is_exact, query_phrases, runs
from .models import Alarm

__all__ = ["FIELDS", "INDEX", "TABLE", "bigrams", "compact", "create", "drop", "field_grams", "hits", "is_exact",
           "match_condition", "query_phrases", "rebuild", "runs", "write_rows"]

TABLE = "alarm_search"
# In the order the list's ILIKE recheck names them (the SQL is the same as before the index was shared).
FIELDS = ("description", "address", "pollutant", "reporter_name", "district_name", "external_id")

INDEX = TextIndex(table=TABLE, key="alarm_id", fields=FIELDS, model=Alarm)
INDEX.track()  # every ORM insert and update of an Alarm, wherever Alarm is used (imported by alarms/__init__.py)

hits = INDEX.hits
match_condition = INDEX.match_condition
write_rows = INDEX.write_rows
rebuild = INDEX.rebuild
compact = INDEX.compact
create = INDEX.create
drop = INDEX.drop
