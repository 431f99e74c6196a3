"""The database schema (SQLAlchemy Core). Alembic migrations under store/migrations build it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

registrations = sa.Table(
    "registrations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("event_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("city", sa.String(120), nullable=False),
    sa.Column("country", sa.String(120), nullable=False),
    sa.Column("organization", sa.String(200), nullable=False, server_default=""),
    sa.Column("requested_role", sa.String(32), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("booth", sa.String(64), nullable=True),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    # The discussion topic chosen at registration (an id of the event's topics), if any.
    sa.Column("topic", sa.String(64), nullable=True),
    # pending, approved, revoked
    sa.Column("status", sa.String(16), nullable=False),
    # Bumped on revocation or re-issue: a token carries the generation it was issued for.
    sa.Column("token_generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("event_id", "email", name="uq_registration_event_email"),
)

# Every accepted live-state command, in order: the session is rebuilt by replaying it.
event_log = sa.Table(
    "event_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, index=True),
    sa.Column("stream", sa.String(32), nullable=False),  # timeline, booth:<id>, floor, ...
    sa.Column("command", sa.JSON, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(64), nullable=True),
)

# Hub sequence state: the epoch and the sequence of the last event sent, per event.
hub_state = sa.Table(
    "hub_state",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("epoch", sa.String(36), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
)

# Recent hub events, so clients can resume their sequence after a server restart.
hub_events = sa.Table(
    "hub_events",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("epoch", sa.String(36), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
)
