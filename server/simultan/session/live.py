"""The live session of one event: owns the live state, drives the pure core, persists, publishes.

Every command runs under one lock: check capability → pure ``apply`` → persist the command
and the hub events it produced in one transaction → publish to the hub. A failure before the
commit changes nothing. After a restart ``open`` replays the log to the same state.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from simultan.core import timeline as tl
from simultan.core.capabilities import Capability
from simultan.errors import ForbiddenError
from simultan.eventdef import EventDefinition
from simultan.hub.audience import EVERYONE, Audience
from simultan.hub.hub import Hub, HubEvent, make_event
from simultan.people import Person
from simultan.store import event_log

log = logging.getLogger("simultan.session")

Clock = Callable[[], datetime]
PendingEvent = tuple[str, dict[str, Any], Audience]


@dataclass(frozen=True)
class FloorState:
    holder: Person | None
    language: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "holder": self.holder.public() if self.holder else None,
            "language": self.language,
        }


def require(person: Person, capability: Capability) -> None:
    if not person.can(capability):
        raise ForbiddenError(f"your role ({person.role}) may not {capability.value.replace('_', ' ')}")


class LiveSession:
    def __init__(
        self,
        defn: EventDefinition,
        engine: AsyncEngine,
        *,
        clock: Clock,
        buffer_size: int = 2048,
    ) -> None:
        self.defn = defn
        self.event_id = defn.event.id
        self._engine = engine
        self._clock = clock
        self._buffer_size = buffer_size
        self._lock = asyncio.Lock()
        self.items = tl.plan_from_definition(defn)
        self.timeline = tl.initial_timeline(self.items)
        self.floor = FloorState(holder=None, language=defn.event.floor_language)
        self.hub: Hub = Hub(epoch="", seq=0, snapshot=self.snapshot)
        # Hooks other planes register (media routing follows floor/booth changes).
        self.on_change: list[Callable[[str], Awaitable[None]]] = []

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Replay the event log and restore the hub's epoch, sequence and replay buffer."""
        records = await event_log.load_commands(self._engine, self.event_id)
        timeline_records = [(r.command, r.at) for r in records if r.stream == "timeline"]
        self.timeline = tl.replay(self.items, timeline_records)
        epoch, seq, stored = await event_log.load_hub(
            self._engine, self.event_id, self._buffer_size
        )
        if epoch is None:
            epoch, seq, stored = uuid.uuid4().hex, 0, []
            await event_log.start_epoch(self._engine, self.event_id, epoch)
        buffer = [
            make_event(
                epoch,
                e.seq,
                e.payload["name"],
                e.payload["data"],
                Audience.from_dict(e.payload.get("audience")),
            )
            for e in stored
        ]
        self.hub = Hub(
            epoch=epoch,
            seq=seq,
            buffer=buffer,
            buffer_size=self._buffer_size,
            snapshot=self.snapshot,
        )
        log.info(
            "= session %s opened: timeline v%d, epoch %s seq %d (%d commands replayed)",
            self.event_id,
            self.timeline.version,
            epoch[:8],
            seq,
            len(records),
        )

    def now(self) -> datetime:
        return self._clock()

    # --- views -------------------------------------------------------------------------------

    def event_info(self) -> dict[str, Any]:
        e = self.defn.event
        return {
            "id": e.id,
            "title": e.title,
            "organizer": e.organizer,
            "timezone": e.timezone,
            "days": [d.isoformat() for d in e.days],
            "floor_language": e.floor_language,
            "languages": list(self.defn.languages),
            "booths": [{"id": b.id, "language": b.language} for b in self.defn.booths],
        }

    def snapshot(self, person: Person) -> dict[str, Any]:
        now = self.now()
        return {
            "event": self.event_info(),
            "timeline": tl.to_dict(self.timeline, now),
            "floor": self.floor.to_dict(),
            "server_time": now.isoformat(),
        }

    # --- commands ----------------------------------------------------------------------------

    async def _commit(
        self,
        commands: list[event_log.LoggedCommand],
        pending: list[PendingEvent],
    ) -> list[HubEvent]:
        """Persist then publish. Called with the lock held."""
        events = self.hub.prepare(pending)
        stored = [
            event_log.StoredHubEvent(
                e.seq, {"name": e.name, "data": e.data, "audience": e.audience.to_dict()}
            )
            for e in events
        ]
        await event_log.append(
            self._engine, self.event_id, self.hub.epoch, commands, stored, self._buffer_size
        )
        self.hub.commit(events)
        return events

    async def timeline_command(self, person: Person, command: dict[str, Any]) -> dict[str, Any]:
        """Apply a moderator's timeline command (a dict as ``tl.command_from_dict`` reads)."""
        require(person, Capability.DRIVE_TIMELINE)
        parsed = tl.command_from_dict(command)
        async with self._lock:
            now = self.now()
            new, changes = tl.apply(self.timeline, parsed, now)
            data = {
                "changes": [c.to_dict() for c in changes],
                "by": person.public(),
                "timeline": tl.to_dict(new, now),
            }
            await self._commit(
                [event_log.LoggedCommand("timeline", tl.command_to_dict(parsed), now, person.id)],
                [("timeline", data, EVERYONE)],
            )
            self.timeline = new
        return {"version": new.version}

    async def publish(self, name: str, data: dict[str, Any], audience: Audience = EVERYONE) -> None:
        """A numbered event that changes no persisted state (notices, hands, chat)."""
        async with self._lock:
            await self._commit([], [(name, data, audience)])
