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
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from simultan.core import floor as fl
from simultan.core import followups
from simultan.core import runofshow as ros
from simultan.core import timeline as tl
from simultan.core.booth_console import check_base_version
from simultan.core.capabilities import Capability
from simultan.errors import CommandError, ForbiddenError
from simultan.eventdef import EventDefinition, plan_from_definition
from simultan.hub.audience import EVERYONE, Audience
from simultan.hub.hub import Hub, HubEvent, make_event
from simultan.people import Person
from simultan.session.floor import FloorDriver
from simultan.session.runofshow import RunOfShowDriver
from simultan.session.stage import Stage
from simultan.store import event_log

if TYPE_CHECKING:
    from simultan.core import booths as bc
    from simultan.session.b2b_rooms import B2BRooms
    from simultan.session.media_sessions import MediaSessions
    from simultan.store.registrations import Registrations

log = logging.getLogger("simultan.session")

Clock = Callable[[], datetime]
PendingEvent = tuple[str, dict[str, Any], Audience]


def require(person: Person, capability: Capability) -> None:
    if not person.can(capability):
        raise ForbiddenError(
            f"your role ({person.role}) may not {capability.value.replace('_', ' ')}"
        )


class LiveSession:
    def __init__(
        self,
        defn: EventDefinition,
        engine: AsyncEngine,
        *,
        clock: Clock,
        buffer_size: int = 2048,
        floor_limit: int = fl.DEFAULT_LIMIT,
    ) -> None:
        self.defn = defn
        self.event_id = defn.event.id
        self._engine = engine
        self._clock = clock
        self._buffer_size = buffer_size
        self._lock = asyncio.Lock()
        self.items = plan_from_definition(defn)
        self.timeline = tl.initial_timeline(self.items)
        self.stage = Stage(defn)
        self.floor_driver = FloorDriver(self, defn.event.floor_language, limit=floor_limit)
        self.run_of_show = RunOfShowDriver(self)
        self.recording = False
        # Record every channel while an agenda item is live (settings.record_with_agenda).
        self.record_with_agenda = False
        self.booth_settings = {"rotation_minutes": 30, "cue_minutes": 5}
        self.recordings_dir = Path("var/recordings")
        from simultan.session.rooms import RoomsDriver

        self.rooms = RoomsDriver(self)
        self.stage.after_routes = self.rooms.sync_media
        self.hub: Hub = Hub(epoch="", seq=0, snapshot=self.snapshot)
        self.hub.room_of = self.rooms.room_of
        # Hooks other planes register (media routing follows floor/booth changes).
        self.on_change: list[Callable[[str], Awaitable[None]]] = []
        # Media sessions that outlive a websocket (session/media_sessions.py), with media.
        self.media_sessions: MediaSessions | None = None
        # The B2B meetings' rooms (session/b2b_rooms.py), for an event with a B2B day.
        self.b2b_rooms: B2BRooms | None = None
        # Each tab's ICE servers (session/ice_config.py; the app sets it from settings).
        self.rtc_config: Callable[[Person], dict[str, Any]] = lambda person: {
            "ice_servers": [],
            "ice_transport_policy": "all",
            "expires": None,
        }

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Replay the event log and restore the hub's epoch, sequence and replay buffer."""
        records = await event_log.load_commands(self._engine, self.event_id)
        timeline_records = [(r.command, r.at) for r in records if r.stream == "timeline"]
        self.timeline = tl.replay(self.items, timeline_records)
        rooms = None
        for r in records:
            if r.stream == "floor":
                self.floor_driver.restore(r.command)
            elif r.stream == "rooms":
                rooms = r.command
        if rooms is not None:
            self.rooms.restore(rooms)
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
        self.hub.room_of = self.rooms.room_of
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

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def lock(self) -> asyncio.Lock:
        """Every command runs under it (drivers like the floor's take it too)."""
        return self._lock

    @property
    def floor(self) -> fl.Floor:
        return self.floor_driver.floor

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

    def speakers(self) -> list[dict[str, Any]]:
        """Connected people who may be given the floor (for the moderators)."""
        seen: dict[str, dict[str, Any]] = {}
        for conn in self.hub.connections:
            if _is_speaker(conn.person):
                seen[conn.person.id] = conn.person.public()
        return list(seen.values())

    def snapshot(self, person: Person) -> dict[str, Any]:
        now = self.now()
        extra: dict[str, Any] = {}
        if person.can(Capability.GIVE_FLOOR):
            extra["speakers"] = self.speakers()
        return {
            **extra,
            "recording": self.recording,
            "booth_settings": self.booth_settings,
            "event": self.event_info(),
            "timeline": tl.to_dict(self.timeline, now),
            "run_of_show": self.run_of_show.to_dict(now),
            "floor": self.floor_driver.view(),
            "booth_chat": self.stage.chat_for(person),
            "rooms": self.rooms.snapshot(),
            **self.stage.snapshot(self.floor.language, now),
            "server_time": now.isoformat(),
        }

    # --- commands ----------------------------------------------------------------------------

    async def commit(
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
        """Apply a moderator's timeline command (a dict as ``tl.command_from_dict`` reads).

        The floor language and agenda recording that follow it (core/followups.py) are
        committed in the same transaction as the timeline change."""
        require(person, Capability.DRIVE_TIMELINE)
        parsed = tl.command_from_dict(command)
        async with self._lock:
            now = self.now()
            new, changes = tl.apply(self.timeline, parsed, now)
            follow = followups.after_timeline(
                new,
                changes,
                floor_language=self.floor.language,
                default_language=self.defn.event.floor_language,
                record_with_agenda=self.record_with_agenda and self.stage.media is not None,
                recording=self.recording,
            )
            show = self.run_of_show.view(now, new)
            data = {
                "changes": [c.to_dict() for c in changes],
                "by": person.public(),
                "timeline": tl.to_dict(new, now),
                "run_of_show": ros.to_dict(show, now),
            }
            commands = [
                event_log.LoggedCommand("timeline", tl.command_to_dict(parsed), now, person.id)
            ]
            pending: list[PendingEvent] = [("timeline", data, EVERYONE)]
            floor = self.floor
            if follow.floor_language is not None and not floor.live:
                # while someone is live the floor speaks their language, not the agenda's
                floor, floor_changes = fl.apply(floor, fl.SetLanguage(follow.floor_language), now)
                commands.append(
                    event_log.LoggedCommand(
                        "floor", self.floor_driver.to_record(floor), now, person.id
                    )
                )
                pending.append(
                    ("floor", self.floor_driver.event_data(floor, floor_changes, person), EVERYONE)
                )
            if follow.recording is not None:
                commands.append(
                    event_log.LoggedCommand("recording", {"on": follow.recording}, now, person.id)
                )
                pending.append(("recording_state", {"on": follow.recording}, EVERYONE))
            await self.commit(commands, pending)
            self.timeline = new
            self.run_of_show.shown(show, now)
            if floor is not self.floor:
                self.floor_driver.floor = floor
                self.stage.apply_routes(floor.language)
        if follow.recording is not None:
            await self._record(person, follow.recording, announce_state=False)
        return {"version": new.version}

    async def publish(self, name: str, data: dict[str, Any], audience: Audience = EVERYONE) -> None:
        """A numbered event that changes no persisted state (notices, hands, chat)."""
        async with self._lock:
            await self.commit([], [(name, data, audience)])

    async def presence(self, person: Person, present: bool) -> None:
        """A speaker's first tab opened (or last one closed): tell the moderators."""
        if _is_speaker(person):
            await self.publish(
                "presence",
                {"person": person.public(), "present": present},
                Audience(capability=Capability.GIVE_FLOOR),
            )

    def registrations(self) -> Registrations:
        from simultan.store.registrations import Registrations

        return Registrations(self._engine, self.event_id)

    async def person_by_id(self, person_id: str) -> Person:
        from simultan.store.registrations import Status

        reg = await self.registrations().get(person_id)
        if reg.status is not Status.APPROVED:
            raise CommandError(f"{reg.name} is not an approved participant")
        return reg.person

    # --- the floor ---------------------------------------------------------------------------

    async def set_floor_language(self, person: Person, language: str) -> dict[str, Any]:
        require(person, Capability.SET_FLOOR_LANGUAGE)
        return await self.floor_driver.set_language(person, language)

    # --- recording ---------------------------------------------------------------------------

    async def set_recording(self, person: Person, on: bool) -> dict[str, Any]:
        """Start or stop recording every channel, each to its own file."""
        media = self.stage.media
        if media is None:
            raise CommandError("the media plane is off on this server")
        if on == self.recording:
            return {"recording": on}
        return await self._record(person, on, announce_state=True)

    async def _record(self, person: Person, on: bool, *, announce_state: bool) -> dict[str, Any]:
        media = self.stage.media
        if media is None:
            raise CommandError("the media plane is off on this server")
        files: list[str] = []
        if on:
            folder = await media.start_recording(
                self.recordings_dir / self.now().strftime("%Y%m%dT%H%M%SZ")
            )
            files = [str(folder)]
        else:
            files = [str(p) for p in await media.stop_recording()]
        self.recording = on
        await self.publish(
            "recording",
            {"on": on, "by": person.public(), "files": files},
            Audience(capability=Capability.RECORD),
        )
        if announce_state:
            await self.publish("recording_state", {"on": on})
        return {"recording": on, "files": files}

    # --- booths ------------------------------------------------------------------------------

    async def booth_command(
        self,
        person: Person,
        booth_id: str,
        action: str,
        to: str | None,
        on: bool | None,
        *,
        base_version: int | None = None,
    ) -> dict[str, Any]:
        cmd = self.stage.booth_command(person, booth_id, action, to, on)
        async with self._lock:
            check_base_version(self.stage.booths[booth_id], action, base_version)
            self.stage.check_audio(booth_id, cmd)
            now = self.now()
            booth, events = self.stage.apply(booth_id, cmd, now)
            await self.commit([], [self.stage.booth_event(booth, events, now, self.floor.language)])
            self.stage.apply_routes(self.floor.language)
        return {"version": booth.version}

    async def booth_source(self, person: Person, booth_id: str, choice: str) -> dict[str, Any]:
        """An interpreter chooses what their booth hears (core.routing rule d)."""
        async with self._lock:
            if self.stage.choose_source(person, booth_id, choice):
                booth = self.stage.booths[booth_id]
                now = self.now()
                await self.commit([], [self.stage.booth_event(booth, (), now, self.floor.language)])
                self.stage.apply_routes(self.floor.language)
        return {"hear_choice": self.stage.choices.get(booth_id, "auto")}

    async def source_gone(self, key: str) -> None:
        """The media plane lost a source: an interpreter whose media died leaves the booth,
        so the partner is offered the mic and listeners fall back to the floor at once."""
        from simultan.core import booths as bc

        if not key.startswith("interpreter:"):
            return
        person_id = key.removeprefix("interpreter:")
        async with self._lock:
            for booth in list(self.stage.booths.values()):
                if person_id in booth.connected:
                    now = self.now()
                    new, events = self.stage.apply(booth.id, bc.Disconnect(by=person_id), now)
                    await self.commit(
                        [], [self.stage.booth_event(new, events, now, self.floor.language)]
                    )
            self.stage.apply_routes(self.floor.language)

    async def media_moves(
        self, decide: Callable[[dict[str, bc.Booth]], list[tuple[str, bc.BoothCommand]]]
    ) -> None:
        """Booth moves the media plane's observations call for (a source lost or back),
        decided under the lock from the current booths; a move the state no longer allows
        is skipped."""
        async with self._lock:
            moved = False
            for booth_id, cmd in decide(dict(self.stage.booths)):
                try:
                    now = self.now()
                    new, events = self.stage.apply(booth_id, cmd, now)
                except (CommandError, ForbiddenError):
                    continue
                await self.commit(
                    [], [self.stage.booth_event(new, events, now, self.floor.language)]
                )
                moved = True
            if moved:
                self.stage.apply_routes(self.floor.language)

    async def interpreter_present(self, person: Person, present: bool) -> None:
        """An interpreter's media joined (or left): connect (or disconnect) them in the booth."""
        from simultan.core import booths as bc

        async with self._lock:
            booth = self.stage.seat(person) if present else self.stage.booth_of(person)
            if (person.id in booth.connected) == present or not booth.is_member(person.id):
                return
            cmd = bc.Connect(by=person.id) if present else bc.Disconnect(by=person.id)
            now = self.now()
            booth, events = self.stage.apply(booth.id, cmd, now)
            await self.commit([], [self.stage.booth_event(booth, events, now, self.floor.language)])
            self.stage.apply_routes(self.floor.language)


def _is_speaker(person: Person) -> bool:
    """Panelists: may be given the floor but do not give it (moderators speak anyway)."""
    return person.can(Capability.PUBLISH_FLOOR) and not person.can(Capability.GIVE_FLOOR)
