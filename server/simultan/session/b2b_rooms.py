"""B2B meetings on time: each meeting is a private room in the media plane's ``b2b`` layer.

A participant (or the interpreter booked into it) is admitted from the meeting's start until
its end (``core.b2b.admit``: a third party, too early or too late is a typed error and
changes nothing); the room forwards every company's audio and video to the others (member
slots, as in the group discussions) and, with an interpreter booked, carries the
interpretation on the channel of each of the pair's languages; each side chooses to hear the
interpretation or the original (``hear``; by default the interpretation when its language is
one of the pair). ``tick`` (once a second, with
the session's clock; ``run`` in the app) tells each meeting's people when its room opens, when
its last minute starts, when the grace starts and when it closes (``notify``: the live
session's ``b2b_room`` event to each of them, with their next meeting), and closes a room
when its meeting's end plus the grace has passed: its sessions go back to the plenary. Joins
and leaves are marked in the schedule (the report's "held" and durations).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from simultan.core import b2b
from simultan.core.b2b import Meeting, Phase
from simultan.errors import CommandError, ForbiddenError
from simultan.media.plane import INTERPRETER_PREFIX, MediaPlane, RoomMedia
from simultan.media.rooms import member_key
from simultan.session.b2b import B2BSchedule
from simultan.session.ticker import every

log = logging.getLogger("simultan.b2b.rooms")

LAYER = "b2b"


def room_id(meeting_id: str) -> str:
    return f"b2b:{meeting_id}"


HEAR_CHOICES = ("auto", "interpretation", "original")


@dataclass(frozen=True)
class Seat:
    meeting_id: str
    person_id: str
    # What this tab hears in a meeting with an interpreter: "auto" (the interpretation when
    # its channel is one of the pair), "interpretation" or "original" (``b2b_hear``).
    hear: str = "auto"
    language: str | None = None  # the person's language (the pair's channel they hear)


def heard_channel(meeting: Meeting, seat: Seat) -> tuple[bool, str | None]:
    """(overridden, channel) for a seat's choice: "auto" keeps the tab's own channel; the
    interpretation is the pair's channel in the person's language (else the pair's first);
    the original is no channel (None)."""
    if meeting.interpretation is None or seat.hear == "auto":
        return False, None
    if seat.hear == "original":
        return True, None
    pair = meeting.interpretation.languages
    return True, seat.language if seat.language in pair else pair[0]


def room_media(meeting: Meeting, seats: dict[str, Seat] | None = None) -> RoomMedia:
    """Every company's member key; an interpreter's voice on both languages' channels; the
    channel each seated tab chose to hear (``seats``: media session id -> seat)."""
    routes: dict[str, str] = {}
    channels: dict[str, str | None] = {}
    if meeting.interpretation is not None:
        key = f"{INTERPRETER_PREFIX}{meeting.interpretation.interpreter}"
        routes = {language: key for language in meeting.interpretation.languages}
        for sid, seat in (seats or {}).items():
            overridden, channel = heard_channel(meeting, seat)
            if seat.meeting_id == meeting.id and overridden:
                channels[sid] = channel
    return RoomMedia(
        members=tuple(member_key(p) for p in meeting.participants),
        routes=routes,
        channels=channels,
    )


# (person id, the ``b2b_room`` event's data): the live session tells that person's pages.
Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


def room_notice(meeting: Meeting, phase: Phase, nxt: Meeting | None) -> dict[str, Any]:
    """What a meeting's people are told when its phase changes (``b2b_room`` event)."""
    return {
        "meeting": meeting.id,
        "phase": phase.value,
        "start": meeting.start.isoformat(),
        "end": meeting.end.isoformat(),
        "next": None if nxt is None else {"meeting": nxt.id, "start": nxt.start.isoformat()},
    }


class B2BRooms:
    def __init__(
        self,
        schedule: B2BSchedule,
        media: Callable[[], MediaPlane | None],
        notify: Notify | None = None,
        *,
        alive: Callable[[str], bool] | None = None,
    ) -> None:
        self.schedule = schedule
        self._media = media
        self._notify = notify
        # Whether a media session id still has a tab (its socket or its peer connection).
        self._alive = alive
        self.seats: dict[str, Seat] = {}  # media session id -> seat
        self.phases: dict[str, Phase] = {}  # meeting id -> phase last told
        # A change to the schedule (an interpreter booked or removed, a meeting moved or
        # cancelled) re-points the open rooms at once.
        schedule.on_change.append(self._schedule_changed)

    async def _schedule_changed(self, state: Any, event: Any) -> None:
        if self.seats:
            self.sync()

    def seat(self, session_id: str) -> Seat | None:
        return self.seats.get(session_id)

    def publish_key(self, session_id: str, person_id: str) -> str:
        """The source key this tab publishes under in its meeting: a company's member key, or
        the booked interpreter's voice; ForbiddenError for a tab in no meeting."""
        seat = self.seats.get(session_id)
        meeting = self.schedule.state.meetings.get(seat.meeting_id) if seat else None
        if seat is None or meeting is None or seat.person_id != person_id:
            raise ForbiddenError(
                "join your B2B meeting before you publish to it", details={"reason": "no_seat"}
            )
        if meeting.interpretation and meeting.interpretation.interpreter == person_id:
            return f"{INTERPRETER_PREFIX}{person_id}"
        return member_key(person_id)

    async def join(
        self, session_id: str, person_id: str, meeting_id: str, language: str | None = None
    ) -> Meeting:
        """Admit ``person_id``'s tab into the meeting's room; typed errors change nothing."""
        meeting = b2b.admit(self.schedule.state, meeting_id, person_id, self.schedule.clock())
        previous = self.seats.get(session_id)
        if previous is not None and previous.meeting_id != meeting_id:
            await self.leave(session_id)
        kept = previous is not None and previous.meeting_id == meeting_id
        hear = previous.hear if previous is not None and kept else "auto"
        self.seats[session_id] = Seat(meeting_id, person_id, hear, language)
        await self.schedule.run(b2b.MarkPresence(meeting_id, person_id, True), person_id)
        self.sync()
        log.info("> b2b %s joins meeting %s (%s)", person_id, meeting_id, session_id)
        return meeting

    def hear(self, session_id: str, person_id: str, choice: str) -> dict[str, Any]:
        """This tab's choice in its meeting: the interpretation, the original or the
        automatic one. Typed errors change nothing: a tab in no meeting (``no_seat``), a
        meeting without an interpreter (``no_interpretation``), the interpreter
        (``interpreter``), an unknown choice (``bad_choice``)."""
        if choice not in HEAR_CHOICES:
            raise CommandError(
                f"hear one of {', '.join(HEAR_CHOICES)}", details={"reason": "bad_choice"}
            )
        seat = self.seats.get(session_id)
        meeting = self.schedule.state.meetings.get(seat.meeting_id) if seat else None
        if seat is None or meeting is None or seat.person_id != person_id:
            raise ForbiddenError(
                "join your B2B meeting before you choose what to hear",
                details={"reason": "no_seat"},
            )
        if meeting.interpretation is None:
            raise CommandError(
                "this meeting has no interpreter: you hear the original",
                details={"reason": "no_interpretation"},
            )
        if meeting.interpretation.interpreter == person_id:
            raise CommandError(
                "the interpreter hears every side's original", details={"reason": "interpreter"}
            )
        self.seats[session_id] = seat = replace(seat, hear=choice)
        self.sync()
        overridden, channel = heard_channel(meeting, seat)
        log.info("> b2b %s hears %s in meeting %s", person_id, choice, meeting.id)
        return {"meeting": meeting.id, "hear": choice, "channel": channel if overridden else None}

    async def leave(self, session_id: str) -> None:
        seat = self.seats.pop(session_id, None)
        if seat is None:
            return
        self._unplace(session_id)
        if seat.meeting_id in self.schedule.state.meetings:
            mark = b2b.MarkPresence(seat.meeting_id, seat.person_id, False)
            try:
                await self.schedule.run(mark, seat.person_id)
            except Exception:
                log.exception("! b2b leave of %s not marked", seat.person_id)
        self.sync()

    async def tick(self) -> list[tuple[str, Seat]]:
        """Tell every phase change, then close every room whose meeting is over (end + grace):
        the (session id, seat) pairs closed."""
        now = self.schedule.clock()
        await self._tell_phases(now)
        meetings = self.schedule.state.meetings
        closed = [
            (sid, seat)
            for sid, seat in self.seats.items()
            if seat.meeting_id not in meetings
            or b2b.phase(meetings[seat.meeting_id], now, self.schedule.grace) is Phase.CLOSED
        ]
        for sid, _ in closed:
            await self.leave(sid)
        if self._alive is not None:
            for sid in [sid for sid in self.seats if not self._alive(sid)]:
                await self.leave(sid)  # the tab is gone (socket and media): it has left
        if closed:
            log.info("= b2b rooms closed for %d tabs", len(closed))
        return closed

    async def _tell_phases(self, now: datetime) -> None:
        state, grace = self.schedule.state, self.schedule.grace
        for meeting, phase, news in b2b.phase_changes(state, self.phases, now, grace):
            self.phases[meeting.id] = phase
            if not news or self._notify is None:
                continue
            log.info("= b2b meeting %s: %s", meeting.id, phase.value)
            for person in meeting.people:
                nxt = b2b.next_meeting(state, person, max(now, meeting.end))
                await self._notify(person, room_notice(meeting, phase, nxt))

    async def run(self, interval: float = 1.0) -> None:
        await every(interval, self.tick, log)

    def _unplace(self, session_id: str) -> None:
        media = self._media()
        if media is not None:
            media.place(session_id, None, LAYER)

    def sync(self) -> None:
        """Push the open meetings' rooms and the seats to the media plane."""
        media = self._media()
        if media is None:
            return
        meetings = self.schedule.state.meetings
        wanted = {s.meeting_id for s in self.seats.values() if s.meeting_id in meetings}
        rooms = {room_id(mid): room_media(meetings[mid], self.seats) for mid in wanted}
        media.set_rooms(rooms, LAYER)
        for sid, seat in self.seats.items():
            media.place(sid, room_id(seat.meeting_id), LAYER)
