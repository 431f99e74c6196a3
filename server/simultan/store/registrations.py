"""Registrations of one event, stored in ``schema.registrations``.

Every change that must invalidate links already sent (revocation, a new role) bumps the
row's ``token_generation``; a join token carries the generation it was issued for and is
refused once they differ (``simultan.web.auth``).

SQLite keeps no time zone: times are written as UTC and read back as aware UTC datetimes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from simultan.core.capabilities import Role
from simultan.core.registration import RegistrationForm, clean_text, normalize_email
from simultan.errors import ConflictError, NotFoundError, ValidationError
from simultan.people import Person
from simultan.store.schema import registrations as table


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Registration:
    id: str
    event_id: str
    name: str
    email: str
    city: str
    country: str
    organization: str
    requested_role: Role
    role: Role
    booth: str | None
    language: str
    timezone: str
    status: Status
    token_generation: int
    created_at: datetime
    updated_at: datetime
    topic: str | None = None  # the discussion topic chosen at registration

    @property
    def person(self) -> Person:
        return Person(
            id=self.id,
            name=self.name,
            city=self.city,
            role=self.role,
            booth=self.booth,
            language=self.language,
            timezone=self.timezone,
            topic=self.topic,
        )

    def as_json(self) -> dict[str, object]:
        """Everything about this registration, email included: for organizers only."""
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "city": self.city,
            "country": self.country,
            "organization": self.organization,
            "requested_role": self.requested_role.value,
            "role": self.role.value,
            "booth": self.booth,
            "language": self.language,
            "timezone": self.timezone,
            "topic": self.topic,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _from_row(row: sa.RowMapping) -> Registration:
    return Registration(
        id=row["id"],
        event_id=row["event_id"],
        name=row["name"],
        email=row["email"],
        city=row["city"],
        country=row["country"],
        organization=row["organization"],
        requested_role=Role(row["requested_role"]),
        role=Role(row["role"]),
        booth=row["booth"],
        language=row["language"],
        timezone=row["timezone"],
        topic=row["topic"],
        status=Status(row["status"]),
        token_generation=row["token_generation"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
    )


class Registrations:
    """The registrations of one event."""

    def __init__(self, engine: AsyncEngine, event_id: str) -> None:
        self._engine = engine
        self.event_id = event_id

    async def create(
        self,
        form: RegistrationForm,
        *,
        now: datetime,
        status: Status = Status.APPROVED,
        role: Role = Role.PARTICIPANT,
        booth: str | None = None,
    ) -> Registration:
        """Store a new registration; ConflictError when the email is already registered."""
        at = _utc(now)
        registration_id = str(uuid.uuid4())
        values: dict[str, object] = {
            "id": registration_id,
            "event_id": self.event_id,
            "name": form.name,
            "email": form.email,
            "city": form.city,
            "country": form.country,
            "organization": form.organization,
            "requested_role": form.requested_role.value,
            "role": role.value,
            "booth": booth,
            "language": form.language,
            "timezone": form.timezone,
            "topic": form.topic,
            "status": status.value,
            "token_generation": 0,
            "created_at": at,
            "updated_at": at,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(table.insert().values(**values))
        except sa.exc.IntegrityError as exc:
            raise ConflictError(
                "This email address is already registered for this event. Look for the mail "
                "with your join link, or ask the organizers to send it again.",
                details={"fields": {"email": "is already registered for this event"}},
            ) from exc
        return await self.get(registration_id)

    async def get(self, registration_id: str) -> Registration:
        found = await self._one(table.c.id == registration_id)
        if found is None:
            raise NotFoundError("No such registration.")
        return found

    async def get_by_email(self, email: str) -> Registration | None:
        try:
            address = normalize_email(email)
        except ValueError:
            return None
        return await self._one(table.c.email == address)

    async def list(self) -> list[Registration]:
        query = (
            table.select()
            .where(table.c.event_id == self.event_id)
            .order_by(table.c.created_at, table.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_from_row(row) for row in rows]

    async def approve(self, registration_id: str, *, now: datetime) -> Registration:
        """Approve (or re-admit after a revocation); links of the old generation stay dead."""
        return await self._update(registration_id, now, status=Status.APPROVED.value)

    async def revoke(self, registration_id: str, *, now: datetime) -> Registration:
        return await self._update(registration_id, now, status=Status.REVOKED.value, bump=True)

    async def assign_role(
        self, registration_id: str, role: Role, booth: str | None, *, now: datetime
    ) -> Registration:
        """Give a new role (and booth): links issued for the old role stop working."""
        return await self._update(registration_id, now, role=role.value, booth=booth, bump=True)

    async def bump_generation(self, registration_id: str, *, now: datetime) -> Registration:
        return await self._update(registration_id, now, bump=True)

    async def _one(self, condition: sa.ColumnElement[bool]) -> Registration | None:
        query = table.select().where(table.c.event_id == self.event_id, condition)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _from_row(row)

    async def _update(
        self, registration_id: str, now: datetime, *, bump: bool = False, **values: Any
    ) -> Registration:
        if bump:
            values["token_generation"] = table.c.token_generation + 1
        query = (
            table.update()
            .where(table.c.event_id == self.event_id, table.c.id == registration_id)
            .values(updated_at=_utc(now), **values)
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(query)
        if result.rowcount == 0:
            raise NotFoundError("No such registration.")
        return await self.get(registration_id)


async def create_or_get_registration(
    engine: AsyncEngine,
    event_id: str,
    *,
    name: str,
    email: str,
    role: Role,
    language: str,
    timezone: str,
    now: datetime,
    booth: str | None = None,
    city: str = "",
    country: str = "",
    organization: str = "",
    topic: str | None = None,
) -> Registration:
    """An approved registration for a seeded person (organizer, moderator, interpreters).

    Used by the CLI and the demo: when the email is already registered, the existing row is
    returned unchanged (a rerun neither duplicates people nor invalidates their links).
    """
    try:
        address = normalize_email(email)
        form = RegistrationForm(
            name=clean_text(name, 200),
            email=address,
            city=clean_text(city, 120),
            country=clean_text(country, 120),
            organization=clean_text(organization, 200),
            requested_role=role,
            language=language,
            timezone=timezone,
            topic=topic,
        )
    except ValueError as exc:
        raise ValidationError(f"cannot seed {email!r}: {exc}", fields={"person": str(exc)}) from exc
    repo = Registrations(engine, event_id)
    existing = await repo.get_by_email(address)
    if existing is not None:
        return existing
    try:
        return await repo.create(form, now=now, status=Status.APPROVED, role=role, booth=booth)
    except ConflictError:
        # Seeded concurrently by another process: theirs stands.
        found = await repo.get_by_email(address)
        assert found is not None
        return found
