"""Initial schema: registrations, event log, hub sequence state.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from simultan.store import schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (schema.registrations, schema.event_log, schema.hub_state, schema.hub_events)


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind, checkfirst=True)
