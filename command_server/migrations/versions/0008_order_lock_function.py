"""PostgreSQL: one function takes the event-order lock and reads the last event and audit ids after it

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# A write's records need the order lock and, once it is held, the newest event id and audit entry (core/uow.py).
# As two statements they were two round trips, both inline on the event loop. In one VOLATILE function each
# query takes a fresh snapshot (READ COMMITTED), so the reads after the lock see every transaction that
# committed before the lock was granted — as the second statement did.
FUNCTION = """
CREATE FUNCTION ecs_order_lock(k bigint, OUT max_event bigint, OUT last_audit_id bigint, OUT last_hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(k);
    SELECT max(id) INTO max_event FROM events;
    SELECT id, hash INTO last_audit_id, last_hash FROM audit_log ORDER BY id DESC LIMIT 1;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION ecs_order_lock(bigint)")
