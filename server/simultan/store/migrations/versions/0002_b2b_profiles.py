"""B2B day: company profiles (with an optional logo).

Revision ID: 0002
Revises: 0001

Frozen: the columns are spelled out here, not taken from the live schema module, so later
changes to ``simultan.store.b2b`` need a revision of their own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "b2b_profiles",
        sa.Column("person_id", sa.String(36), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, index=True),
        sa.Column("organization", sa.String(200), nullable=False),
        sa.Column("sector", sa.String(120), nullable=False),
        sa.Column("offers", sa.Text, nullable=False),
        sa.Column("seeks", sa.Text, nullable=False),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("country", sa.String(120), nullable=False),
        sa.Column("city", sa.String(120), nullable=False),
        sa.Column("logo", sa.LargeBinary, nullable=True),
        sa.Column("logo_type", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("b2b_profiles")
