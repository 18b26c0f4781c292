"""alarm search index (character bigrams; see command_server/alarms/search.py)

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from alembic import op

from command_server.alarms import search

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    search.create(conn)
    search.rebuild(conn)


def downgrade() -> None:
    search.drop(op.get_bind())
