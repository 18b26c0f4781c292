"""monitoring readings: no per-row foreign key to the source (checked per batch; see monitoring/models.py)

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

FK = 'fk_monitoring_readings_source_id_monitoring_sources'


def upgrade() -> None:
    # Readings whose source is gone can only exist if an earlier version left them; the cascade would have
    # deleted them, so do the same before the constraint that did it is dropped.
    op.execute("DELETE FROM monitoring_readings WHERE source_id NOT IN (SELECT id FROM monitoring_sources)")
    with op.batch_alter_table('monitoring_readings') as batch:
        batch.drop_constraint(FK, type_='foreignkey')


def downgrade() -> None:
    with op.batch_alter_table('monitoring_readings') as batch:
        batch.create_foreign_key(FK, 'monitoring_sources', ['source_id'], ['id'], ondelete='CASCADE')
