"""alarm list: a district's alarms by status (the page's count answered from the index alone)

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alarms_district_status_received", "alarms", ["district_unit_id", "status", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_alarms_district_status_received", "alarms")
