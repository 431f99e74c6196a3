"""B2B storage: company profiles (own table) and the schedule's commands (the event log).

The schedule is event-sourced like the timeline: every accepted ``core.b2b`` command is
appended to ``event_log`` under the stream ``b2b`` and replayed at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from simultan.core.b2b_profiles import Profile
from simultan.store.event_log import LoggedCommand, append, load_commands
from simultan.store.schema import metadata, registrations

STREAM = "b2b"

profiles = sa.Table(
    "b2b_profiles",
    metadata,
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


@dataclass(frozen=True)
class StoredProfile:
    person_id: str
    name: str  # the delegate's name from the registration (never the email)
    profile: Profile
    has_logo: bool

    def public(self) -> dict[str, object]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            **self.profile.as_dict(),
            "logo": f"/api/b2b/logos/{self.person_id}" if self.has_logo else None,
        }


def _profile(row: sa.Row[Any]) -> StoredProfile:
    return StoredProfile(
        person_id=row.person_id,
        name=row.name,
        profile=Profile(
            organization=row.organization,
            sector=row.sector,
            offers=row.offers,
            seeks=row.seeks,
            languages=tuple(row.languages),
            country=row.country,
            city=row.city,
        ),
        has_logo=row.has_logo,
    )


class B2BStore:
    def __init__(self, engine: AsyncEngine, event_id: str) -> None:
        self._engine = engine
        self.event_id = event_id

    def _select(self) -> sa.Select[Any]:
        p = profiles.c
        return (
            sa.select(
                p.person_id,
                registrations.c.name,
                p.organization,
                p.sector,
                p.offers,
                p.seeks,
                p.languages,
                p.country,
                p.city,
                p.logo_type.is_not(None).label("has_logo"),
            )
            .join(registrations, registrations.c.id == p.person_id)
            .where(p.event_id == self.event_id, registrations.c.status == "approved")
        )

    async def save_profile(self, person_id: str, profile: Profile, now: datetime) -> None:
        values = {**profile.as_dict(), "updated_at": now.astimezone(UTC)}
        async with self._engine.begin() as conn:
            done = await conn.execute(
                sa.update(profiles)
                .where(profiles.c.person_id == person_id, profiles.c.event_id == self.event_id)
                .values(**values)
            )
            if done.rowcount == 0:
                await conn.execute(
                    sa.insert(profiles).values(
                        person_id=person_id, event_id=self.event_id, **values
                    )
                )

    async def set_logo(self, person_id: str, body: bytes | None, kind: str | None) -> bool:
        """Store (or with None remove) the logo; False when the person has no profile yet."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                sa.update(profiles)
                .where(profiles.c.person_id == person_id, profiles.c.event_id == self.event_id)
                .values(logo=body, logo_type=kind)
            )
        return bool(done.rowcount)

    async def logo(self, person_id: str) -> tuple[bytes, str] | None:
        query = sa.select(profiles.c.logo, profiles.c.logo_type).where(
            profiles.c.person_id == person_id, profiles.c.event_id == self.event_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row.logo is None or row.logo_type is None:
            return None
        return bytes(row.logo), str(row.logo_type)

    async def profile(self, person_id: str) -> StoredProfile | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(self._select().where(profiles.c.person_id == person_id))
            ).first()
        return None if row is None else _profile(row)

    async def all_profiles(self) -> list[StoredProfile]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(self._select().order_by(profiles.c.organization))).all()
        return [_profile(r) for r in rows]

    async def commands(self) -> list[tuple[dict[str, Any], datetime]]:
        records = await load_commands(self._engine, self.event_id)
        return [(r.command, r.at) for r in records if r.stream == STREAM]

    async def append_command(self, command: dict[str, Any], at: datetime, actor: str) -> None:
        # No hub events and no epoch: the B2B stream is replayed, not resumed by clients.
        await append(
            self._engine,
            self.event_id,
            "",
            [LoggedCommand(STREAM, command, at, actor)],
            [],
            keep=0,
        )
