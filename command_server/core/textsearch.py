"""Full-text indexes for the lists' ``q=`` substring searches: character bigrams, on SQLite and PostgreSQL.

One implementation, used by every entity whose list has a text box (alarms: ``alarms/search.py``, incidents:
``incidents/search.py``); each declares a :class:`TextIndex` — the search table, its key column, the fields
and the model — and gets the index, its upkeep, its DDL and the list's WHERE conditions from it.

Why bigrams: the search is a substring search (``ILIKE '%死鱼%'``) and Chinese queries are mostly two
characters long. A trigram index (SQLite FTS5 ``trigram``, PostgreSQL ``pg_trgm``) cannot serve a two-character
pattern, and without an index every search read every row (100,000 alarms: 0.5 s each, the first cost in
bench/api_latency.py; 10,000 incidents on PostgreSQL: 40–90 ms). Each searchable field is split into runs of
letters/digits, lowercased, and each run of two or more characters becomes its overlapping bigrams in order. A
query run becomes a *phrase* of its bigrams, so "液氨泄漏" must appear as consecutive bigrams 液氨 氨泄 泄漏 in
one field. The index narrows the candidates; the original ``ILIKE`` is still applied to them, so results are
exactly the substring search's. A query with no run of two characters (a single character) cannot use the
index and scans, as before.

Storage: SQLite — an FTS5 table ``<table>(grams)`` whose rowid is the row's id (unicode61 tokenizer; fields are
separated by the token ``sep``, which no bigram equals). PostgreSQL — ``<table>(<key>, grams tsvector)`` with a
GIN index; the tsvector is written with explicit positions (a gap between fields) and queried with ``<->``
phrases, both by cast so no text-search parser or dictionary touches the grams. The tables are not ORM models
(FTS5 is a virtual table); migrations create them and :func:`include_object` keeps them out of the
models-vs-migrations comparison. Rows are kept in step by mapper events on the model (every ORM insert and
update, in the same transaction; :meth:`TextIndex.track`); bulk loads call :meth:`TextIndex.rebuild`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, inspect, or_, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TextualSelect

from .like import contains

_SEP = "sep"  # separates fields on SQLite: three letters, so never equal to a bigram

# Every declared index by table name: for include_object, whichever entity declared it.
INDEXES: dict[str, TextIndex] = {}


# --- text → grams (pure) ------------------------------------------------------------------------------------------


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


# --- one entity's index ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TextIndex:
    """The bigram index of one entity's searchable text fields.

    ``table``: the search table (``alarm_search``); ``key``: its column holding the row's id on PostgreSQL
    (``alarm_id``; SQLite uses the FTS5 rowid); ``fields``: the model's text columns the list's ``q=`` searches,
    in the order the ``ILIKE`` recheck names them; ``model``: the ORM class (its table and integer primary key).
    """

    table: str
    key: str
    fields: tuple[str, ...]
    model: Any
    _pk: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pk", inspect(self.model).primary_key[0].name)
        INDEXES[self.table] = self

    @property
    def source(self) -> str:
        return str(self.model.__tablename__)

    # --- reading ----------------------------------------------------------------------------------------------

    def hits(self, dialect: str, q: str) -> TextualSelect | None:
        """The ids of the rows whose index entries match the query (a candidate set unless :func:`is_exact`),
        or None when the index cannot narrow it."""
        phrases = query_phrases(q)
        if not phrases:
            return None
        t = self.table
        if dialect == "sqlite":
            m = " AND ".join('"' + " ".join(p) + '"' for p in phrases)
            sub = text(f"SELECT rowid AS id FROM {t} WHERE {t} MATCH :fts_q").bindparams(fts_q=m)
        else:
            tq = " & ".join("(" + " <-> ".join(_pg_quote(g) for g in p) + ")" for p in phrases)
            sub = text(f"SELECT {self.key} AS id FROM {t} WHERE grams @@ CAST(:fts_q AS tsquery)"
                       ).bindparams(fts_q=tq)
        return sub.columns(self._id)

    def match_condition(self, dialect: str, q: str, *, probe_only: bool = False) -> ColumnElement[bool] | None:
        """``model.id IN (index hits)`` for the query, or None when the index cannot narrow it.

        ``probe_only``: written ``<table>.id + 0 IN (…)`` so that SQLite does not drive the query from the hits
        (rowid lookups, then a sort) but tests rows met in another index's order against them."""
        sub = self.hits(dialect, q)
        if sub is None:
            return None
        return ((self._id + 0) if probe_only else self._id).in_(sub)

    def conditions(self, dialect: str, q: str, *, probe_only: bool = False) -> list[ColumnElement[bool]]:
        """The WHERE conditions of the substring search for ``q`` as typed (``core/like.py``: ``%`` and ``_`` are
        literal): the index's candidates, then the ``ILIKE`` over every field unless the index alone is exact,
        or the ``ILIKE`` alone (a scan) when the index cannot narrow the query."""
        out: list[ColumnElement[bool]] = []
        hit = self.match_condition(dialect, q, probe_only=probe_only)
        if hit is not None:
            out.append(hit)
        if hit is None or not is_exact(q):
            out.append(or_(*[contains(getattr(self.model, f), q) for f in self.fields]))
        return out

    @property
    def _id(self) -> Any:
        return getattr(self.model, self._pk)

    # --- keeping the index in step --------------------------------------------------------------------------

    def write_rows(self, conn: Connection, rows: Sequence[tuple[int, list[str | None]]], *, replace: bool) -> None:
        """Index (row id, field values) pairs; ``replace`` drops their old entries first."""
        if not rows:
            return
        t = self.table
        ids = [{"id": i} for i, _ in rows]
        if conn.dialect.name == "sqlite":
            if replace:
                conn.execute(text(f"DELETE FROM {t} WHERE rowid = :id"), ids)
            conn.execute(text(f"INSERT INTO {t} (rowid, grams) VALUES (:id, :g)"),
                         [{"id": i, "g": _sqlite_doc(field_grams(v))} for i, v in rows])
        else:
            if replace:
                conn.execute(text(f"DELETE FROM {t} WHERE {self.key} = :id"), ids)
            conn.execute(text(f"INSERT INTO {t} ({self.key}, grams) VALUES (:id, CAST(:g AS tsvector))"),
                         [{"id": i, "g": _pg_doc(field_grams(v))} for i, v in rows])

    def rebuild(self, conn: Connection, chunk: int = 5000) -> int:
        """Index every row again (migrations, bulk loads: Core inserts bypass the mapper events), then
        :meth:`compact`. Returns the number of rows indexed."""
        conn.execute(text(f"DELETE FROM {self.table}"))
        cols = ", ".join(self.fields)
        pk = self._pk
        last, n = 0, 0
        while True:
            batch = conn.execute(text(f"SELECT {pk}, {cols} FROM {self.source} WHERE {pk} > :last "
                                      f"ORDER BY {pk} LIMIT :n"), {"last": last, "n": chunk}).all()
            if not batch:
                self.compact(conn)
                return n
            self.write_rows(conn, [(r[0], list(r[1:])) for r in batch], replace=False)
            last, n = batch[-1][0], n + len(batch)

    def compact(self, conn: Connection) -> None:
        """Leave the index in the shape in which a single-row insert stays cheap.

        SQLite: a bulk load leaves FTS5 with dozens of segments on several levels, and FTS5 merges them while
        committing ordinary inserts — one alarm intake (on the event loop) then paid a 110–160 ms commit every
        ~130 inserts, the whole benchmark's tail. ``optimize`` merges them into one segment once (0.2 s for
        100,000 alarms); afterwards the incremental automerge stays small (30,000 inserts: max 25 ms, p99 0.3 ms).
        PostgreSQL: GIN's "fast update" pending list is flushed by whichever insert finds it full (4 MB), so one
        request pays for thousands; with ``fastupdate = off`` every insert updates the index itself (~50 entries).
        """
        t = self.table
        if conn.dialect.name == "sqlite":
            conn.execute(text(f"INSERT INTO {t}({t}) VALUES ('optimize')"))
        else:
            conn.execute(text(f"ALTER INDEX ix_{t}_grams SET (fastupdate = off)"))
            conn.execute(text(f"SELECT gin_clean_pending_list('ix_{t}_grams'::regclass)"))

    def _values(self, row: Any) -> list[str | None]:
        return [getattr(row, f) for f in self.fields]

    def track(self) -> None:
        """Keep the index in step with every ORM insert and update of the model, in the same transaction."""

        def on_insert(_mapper: Any, conn: Connection, target: Any) -> None:
            self.write_rows(conn, [(getattr(target, self._pk), self._values(target))], replace=False)

        def on_update(_mapper: Any, conn: Connection, target: Any) -> None:
            state = inspect(target)
            if any(state.attrs[f].history.has_changes() for f in self.fields):
                self.write_rows(conn, [(getattr(target, self._pk), self._values(target))], replace=True)

        event.listen(self.model, "after_insert", on_insert)
        event.listen(self.model, "after_update", on_update)

    # --- DDL (used by the migrations) -----------------------------------------------------------------------

    def create(self, conn: Connection) -> None:
        t = self.table
        if conn.dialect.name == "sqlite":
            conn.execute(text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {t} USING fts5(grams, tokenize='unicode61')"))
        else:
            conn.execute(text(f"CREATE TABLE IF NOT EXISTS {t} ({self.key} integer PRIMARY KEY "
                              f"REFERENCES {self.source}({self._pk}) ON DELETE CASCADE, grams tsvector NOT NULL)"))
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{t}_grams ON {t} USING gin (grams)"))

    def drop(self, conn: Connection) -> None:
        conn.execute(text(f"DROP TABLE IF EXISTS {self.table}"))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """For Alembic comparisons: the search tables (and FTS5's shadow tables, ``<table>_data`` …) are not ORM
    models. Covers every declared index."""
    return not (type_ == "table" and name is not None and any(name.startswith(t) for t in INDEXES))
