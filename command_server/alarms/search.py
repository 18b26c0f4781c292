"""Full-text index of alarms for the list's ``q=`` search: character bigrams, on SQLite and PostgreSQL.

Why bigrams: the search is a substring search (``ILIKE '%死鱼%'``) and Chinese queries are mostly two
characters long. A trigram index (SQLite FTS5 ``trigram``, PostgreSQL ``pg_trgm``) cannot serve a two-character
pattern, and without an index every search read all 100,000 alarms (0.5 s each; the first cost in
bench/api_latency.py). Each searchable field is split into runs of letters/digits, lowercased, and each run
of two or more characters becomes its overlapping bigrams in order. A query run becomes a *phrase* of its
bigrams, so "液氨泄漏" must appear as consecutive bigrams 液氨 氨泄 泄漏 in one field. The index narrows the
candidates; the original ``ILIKE`` is still applied to them, so results are exactly the substring search's.
A query with no run of two characters (a single character) cannot use the index and scans, as before.

Storage: SQLite — an FTS5 table ``alarm_search(grams)`` whose rowid is the alarm id (unicode61 tokenizer;
fields are separated by the token ``sep``, which no bigram equals). PostgreSQL — ``alarm_search(alarm_id,
grams tsvector)`` with a GIN index; the tsvector is written with explicit positions (a gap between fields)
and queried with ``<->`` phrases, both by cast so no text-search parser or dictionary touches the grams.
The tables are not ORM models (FTS5 is a virtual table); the migration creates them and
``include_object`` keeps them out of the models-vs-migrations comparison. Rows are kept in step by mapper
events on ``Alarm`` (every ORM insert and update, in the same transaction); bulk loads call ``rebuild``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TextualSelect

from .models import Alarm

TABLE = "alarm_search"
FIELDS = ("description", "address", "pollutant", "reporter_name", "district_name", "external_id")
_SEP = "sep"  # separates fields on SQLite: three letters, so never equal to a bigram


def runs(value: str) -> list[str]:
    """Maximal runs of letters/digits, lowercased."""
    out: list[str] = []
    cur: list[str] = []
    for ch in value.lower():
        if ch.isalnum():
            cur.append(ch)
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


def bigrams(run: str) -> list[str]:
    return [run[i:i + 2] for i in range(len(run) - 1)]


def field_grams(values: Iterable[str | None]) -> list[list[str]]:
    """Per field, its bigrams in order (runs of one field are separated too: a phrase never spans them)."""
    out = []
    for v in values:
        grams: list[str] = []
        for r in runs(v or ""):
            if grams:
                grams.append("")  # a break between runs
            grams.extend(bigrams(r))
        out.append(grams)
    return out


def _sqlite_doc(fields: list[list[str]]) -> str:
    parts: list[str] = []
    for grams in fields:
        parts.extend(g if g else _SEP for g in grams)
        parts.append(_SEP)
    return " ".join(parts)


def _pg_doc(fields: list[list[str]]) -> str:
    """tsvector text with positions; a break (between runs or fields) skips a position."""
    positions: dict[str, list[int]] = {}
    pos = 1
    for grams in fields:
        for g in grams:
            if g:
                positions.setdefault(g, []).append(min(pos, 16383))
            pos += 1
        pos += 1
    return " ".join(_pg_quote(g) + ":" + ",".join(map(str, sorted(set(p)))) for g, p in positions.items())


def _pg_quote(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def query_phrases(q: str) -> list[list[str]]:
    """The phrases a query needs (one per run of two or more characters); empty = the index cannot help."""
    return [bigrams(r) for r in runs(q) if len(r) >= 2]


def _ideograph_or_digit(ch: str) -> bool:
    o = ord(ch)
    return ("0" <= ch <= "9" or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
            or 0x20000 <= o <= 0x3134F)


def is_exact(q: str) -> bool:
    """True when the index alone answers the substring search, so the ``ILIKE`` recheck can be skipped.

    That holds for a query that is one run of two or more Chinese characters and ASCII digits: its bigrams
    as a phrase occur in a field exactly when the query occurs in it — runs are indexed with a break between
    them, so a phrase never spans punctuation or a space, and these characters have no case and no
    diacritics for the tokenizer (SQLite's unicode61) to fold. Latin letters keep the recheck (unicode61
    strips accents, LIKE does not), and so does punctuation in the query, which must match literally.
    Rechecking "废水" (15,000 hits) cost PostgreSQL a sequential ILIKE over all alarms: 120 ms a count."""
    return len(q) >= 2 and all(_ideograph_or_digit(ch) for ch in q)


def match_condition(dialect: str, q: str, *, probe_only: bool = False) -> ColumnElement[bool] | None:
    """``Alarm.id IN (index hits)`` for the query, or None when the index cannot narrow it.

    ``probe_only``: written ``alarms.id + 0 IN (…)`` so that SQLite does not drive the query from the hits
    (rowid lookups, then a sort) but tests rows met in another index's order against them."""
    sub = hits(dialect, q)
    if sub is None:
        return None
    return ((Alarm.id + 0) if probe_only else Alarm.id).in_(sub)


def hits(dialect: str, q: str) -> TextualSelect | None:
    """The ids of the alarms whose index entries match the query (a candidate set unless :func:`is_exact`), or
    None when the index cannot narrow it."""
    phrases = query_phrases(q)
    if not phrases:
        return None
    if dialect == "sqlite":
        m = " AND ".join('"' + " ".join(p) + '"' for p in phrases)
        sub = text(f"SELECT rowid AS id FROM {TABLE} WHERE {TABLE} MATCH :fts_q").bindparams(fts_q=m)
    else:
        tq = " & ".join("(" + " <-> ".join(_pg_quote(g) for g in p) + ")" for p in phrases)
        sub = text(f"SELECT alarm_id AS id FROM {TABLE} WHERE grams @@ CAST(:fts_q AS tsquery)").bindparams(fts_q=tq)
    return sub.columns(Alarm.id)


# --- keeping the index in step ---------------------------------------------------------------------------------


def _values(row: Any) -> list[str | None]:
    return [getattr(row, f) for f in FIELDS] if not isinstance(row, dict) else [row.get(f) for f in FIELDS]


def write_rows(conn: Connection, rows: Sequence[tuple[int, list[str | None]]], *, replace: bool) -> None:
    """Index (alarm id, field values) pairs; ``replace`` drops their old entries first."""
    if not rows:
        return
    ids = [{"id": i} for i, _ in rows]
    if conn.dialect.name == "sqlite":
        if replace:
            conn.execute(text(f"DELETE FROM {TABLE} WHERE rowid = :id"), ids)
        conn.execute(text(f"INSERT INTO {TABLE} (rowid, grams) VALUES (:id, :g)"),
                     [{"id": i, "g": _sqlite_doc(field_grams(v))} for i, v in rows])
    else:
        if replace:
            conn.execute(text(f"DELETE FROM {TABLE} WHERE alarm_id = :id"), ids)
        conn.execute(text(f"INSERT INTO {TABLE} (alarm_id, grams) VALUES (:id, CAST(:g AS tsvector))"),
                     [{"id": i, "g": _pg_doc(field_grams(v))} for i, v in rows])


def rebuild(conn: Connection, chunk: int = 5000) -> int:
    """Index every alarm again (migrations, bulk loads). Returns the number of alarms indexed."""
    conn.execute(text(f"DELETE FROM {TABLE}"))
    cols = ", ".join(FIELDS)
    last, n = 0, 0
    while True:
        batch = conn.execute(text(f"SELECT id, {cols} FROM alarms WHERE id > :last ORDER BY id LIMIT :n"),
                             {"last": last, "n": chunk}).all()
        if not batch:
            compact(conn)
            return n
        write_rows(conn, [(r[0], list(r[1:])) for r in batch], replace=False)
        last, n = batch[-1][0], n + len(batch)


def compact(conn: Connection) -> None:
    """Leave the index in the shape in which a single-alarm insert stays cheap.

    SQLite: a bulk load leaves FTS5 with dozens of segments on several levels, and FTS5 merges them while
    committing ordinary inserts — one alarm intake (on the event loop) then paid a 110–160 ms commit every
    ~130 inserts, the whole benchmark's tail. ``optimize`` merges them into one segment once (0.2 s for 100,000
    alarms); afterwards the incremental automerge stays small (30,000 inserts: max 25 ms, p99 0.3 ms).
    PostgreSQL: GIN's "fast update" pending list is flushed by whichever insert finds it full (4 MB), so one
    request pays for thousands; with ``fastupdate = off`` every insert updates the index itself (~50 entries).
    """
    if conn.dialect.name == "sqlite":
        conn.execute(text(f"INSERT INTO {TABLE}({TABLE}) VALUES ('optimize')"))
    else:
        conn.execute(text(f"ALTER INDEX ix_{TABLE}_grams SET (fastupdate = off)"))
        conn.execute(text(f"SELECT gin_clean_pending_list('ix_{TABLE}_grams'::regclass)"))


@event.listens_for(Alarm, "after_insert")
def _indexed_on_insert(_mapper: Any, conn: Connection, target: Alarm) -> None:
    write_rows(conn, [(target.id, _values(target))], replace=False)


@event.listens_for(Alarm, "after_update")
def _indexed_on_update(_mapper: Any, conn: Connection, target: Alarm) -> None:
    from sqlalchemy import inspect

    state = inspect(target)
    if any(state.attrs[f].history.has_changes() for f in FIELDS):
        write_rows(conn, [(target.id, _values(target))], replace=True)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """For Alembic comparisons: the search tables (and FTS5's shadow tables) are not ORM models."""
    return not (type_ == "table" and name is not None and name.startswith(TABLE))


# --- DDL (used by the migration) --------------------------------------------------------------------------------

def create(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(grams, tokenize='unicode61')"))
    else:
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS {TABLE} (alarm_id integer PRIMARY KEY "
                          f"REFERENCES alarms(id) ON DELETE CASCADE, grams tsvector NOT NULL)"))
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_grams ON {TABLE} USING gin (grams)"))


def drop(conn: Connection) -> None:
    conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
