"""B2B meetings on time: each meeting is a private room in the media plane's ``b2b`` layer.

A participant (or the interpreter booked into it) is admitted from the meeting's start until
its end (``core.b2b.admit``: a third party, too early or too late is a typed error and
changes nothing); the room forwards every company's audio and video to the others (member
slots, as in the group discussions) and, with an interpreter booked, carries the
interpretation on the channel of each of the pair's languages. ``tick`` (once a second, with
the session's clock) closes a room when its meeting's end plus the grace has passed: its
sessions go back to the plenary and the caller tells their pages. Joins and leaves are marked
in the schedule (the report's "held" and durations).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from simultan.core import b2b
from simultan.core.b2b import Meeting, Phase
from simultan.media.plane import INTERPRETER_PREFIX, MediaPlane, RoomMedia
from simultan.media.rooms import member_key
from simultan.session.b2b import B2BSchedule

log = logging.getLogger("simultan.b2b.rooms")

LAYER = "b2b"


def room_id(meeting_id: str) -> str:
    return f"b2b:{meeting_id}"


def room_media(meeting: Meeting) -> RoomMedia:
    """Every company's member key; an interpreter's voice on both languages' channels."""
    routes: dict[str, str] = {}
    if meeting.interpretation is not None:
        key = f"{INTERPRETER_PREFIX}{meeting.interpretation.interpreter}"
        routes = {language: key for language in meeting.interpretation.languages}
    return RoomMedia(members=tuple(member_key(p) for p in meeting.participants), routes=routes)


@dataclass(frozen=True)
class Seat:
    meeting_id: str
    person_id: str


class B2BRooms:
    def __init__(self, schedule: B2BSchedule, media: Callable[[], MediaPlane | None]) -> None:
        self.schedule = schedule
        self._media = media
        self.seats: dict[str, Seat] = {}  # media session id -> seat

    async def join(self, session_id: str, person_id: str, meeting_id: str) -> Meeting:
        """Admit ``person_id``'s tab into the meeting's room; typed errors change nothing."""
        meeting = b2b.admit(self.schedule.state, meeting_id, person_id, self.schedule.clock())
        previous = self.seats.get(session_id)
        if previous is not None and previous.meeting_id != meeting_id:
            await self.leave(session_id)
        self.seats[session_id] = Seat(meeting_id, person_id)
        await self.schedule.run(b2b.MarkPresence(meeting_id, person_id, True), person_id)
        self.sync()
        log.info("> b2b %s joins meeting %s (%s)", person_id, meeting_id, session_id)
        return meeting

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
        """Close every room whose meeting is over (end + grace): (session id, seat) closed."""
        now = self.schedule.clock()
        meetings = self.schedule.state.meetings
        closed = [
            (sid, seat)
            for sid, seat in self.seats.items()
            if seat.meeting_id not in meetings
            or b2b.phase(meetings[seat.meeting_id], now, self.schedule.grace) is Phase.CLOSED
        ]
        for sid, _ in closed:
            await self.leave(sid)
        if closed:
            log.info("= b2b rooms closed for %d tabs", len(closed))
        return closed

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
        media.set_rooms({room_id(mid): room_media(meetings[mid]) for mid in wanted}, LAYER)
        for sid, seat in self.seats.items():
            media.place(sid, room_id(seat.meeting_id), LAYER)
