"""alarm search index: compact it once (FTS5 optimize / GIN without the fast-update list); see search.compact

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

from alembic import op

from command_server.alarms import search

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    search.compact(op.get_bind())


def downgrade() -> None:
    pass  # a compacted index is a valid index: nothing to undo
