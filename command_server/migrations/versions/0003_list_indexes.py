"""list page indexes: incidents by state / type+level newest first, alarms by district newest first

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_state_created", "incidents", ["state", "created_at", "id"])
    op.create_index("ix_incidents_type_level_created", "incidents", ["type", "level", "created_at"])
    op.create_index("ix_alarms_district_received", "alarms", ["district_unit_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_alarms_district_received", "alarms")
    op.drop_index("ix_incidents_type_level_created", "incidents")
    op.drop_index("ix_incidents_state_created", "incidents")
