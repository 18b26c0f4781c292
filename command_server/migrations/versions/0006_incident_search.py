"""incident search index (character bigrams, as the alarms'; see command_server/core/textsearch.py)

Creates ``incident_search`` (SQLite: FTS5; PostgreSQL: tsvector + GIN with ``fastupdate = off``) and indexes
every incident that already exists; ``rebuild`` compacts it afterwards (FTS5 ``optimize``), so no later
single-incident insert pays for merging a bulk-built index.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

from alembic import op

from command_server.incidents import search

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    search.INDEX.create(conn)
    search.INDEX.rebuild(conn)


def downgrade() -> None:
    search.INDEX.drop(op.get_bind())
