"""Registrations: the discussion topic a city chose (groups "by topic").

Revision ID: 0003
Revises: 0002

Frozen: the column is spelled out here, not taken from the live schema module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(sa.Column("topic", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("topic")
