"""The B2B day's schedule (pure): a slot grid, meeting requests, meetings, never a double booking.

A company's delegate (a person id) asks another for a meeting in one slot of the grid, with a
message. The invitee accepts, declines or proposes another slot (then the requester answers);
the requester may withdraw. A request expires after ``Rules.request_ttl`` or when its slot
starts, whichever comes first, and an expired request never becomes a meeting. The organizer
can schedule meetings by hand (two or a few people), move or cancel them, book an interpreter
for a language pair into one, and change the grid's meeting length, breaks and tables as long
as every meeting still fits.

The invariants, checked by ``check_invariants`` and by the property tests:
- no person (company delegate or interpreter) is in two meetings whose times overlap;
- no table holds two meetings whose times overlap, and every meeting sits on a slot of the grid
  at a table the grid has;
- every meeting made from a request was accepted before that request expired.

``apply(state, command, now)`` returns the new state and the events (who must be told what);
it raises CommandError / NotFoundError / ForbiddenError and changes nothing when a command
does not fit. Time is always passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from simultan.errors import CommandError, ForbiddenError, NotFoundError

MAX_MESSAGE = 1000
MAX_PARTICIPANTS = 4
RATE_WINDOW = timedelta(hours=1)


def _refuse(reason: str, message: str, **details: object) -> CommandError:
    return CommandError(message, details={"reason": reason, **details})


# --- the grid --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True)
class Grid:
    """Meeting slots laid out in the B2B windows (aware datetimes), at ``tables`` tables."""

    windows: tuple[tuple[datetime, datetime], ...]
    meeting_minutes: int = 20
    break_minutes: int = 5
    tables: int = 10

    def __post_init__(self) -> None:
        if not 5 <= self.meeting_minutes <= 240:
            raise _refuse("bad_grid", "a meeting lasts 5 to 240 minutes")
        if not 0 <= self.break_minutes <= 120:
            raise _refuse("bad_grid", "a break between meetings lasts 0 to 120 minutes")
        if not 1 <= self.tables <= 500:
            raise _refuse("bad_grid", "there are 1 to 500 parallel tables")

    def slots(self) -> tuple[Slot, ...]:
        length = timedelta(minutes=self.meeting_minutes)
        step = length + timedelta(minutes=self.break_minutes)
        out: list[Slot] = []
        for begin, finish in sorted(self.windows):
            at = begin
            while at + length <= finish:
                out.append(Slot(at, at + length))
                at += step
        return tuple(out)

    def slot_at(self, start: datetime) -> Slot:
        """The slot starting at ``start``; CommandError ``outside_grid`` if there is none."""
        for slot in self.slots():
            if slot.start == start:
                return slot
        raise _refuse(
            "outside_grid",
            f"no meeting slot starts at {start.isoformat()}: pick a slot of the B2B grid",
        )


@dataclass(frozen=True)
class Rules:
    request_ttl: timedelta = timedelta(hours=48)
    requests_per_hour: int = 20


# --- requests and meetings ---------------------------------------------------------------------


class RequestStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


@dataclass(frozen=True)
class MeetingRequest:
    id: str
    requester: str
    invitee: str
    start: datetime
    message: str
    created_at: datetime
    expires_at: datetime
    status: RequestStatus = RequestStatus.PENDING
    # Who must answer next: the invitee, or the requester after the invitee proposed a slot.
    awaiting: str = ""
    proposals: int = 0
    meeting_id: str | None = None
    answered_at: datetime | None = None

    @property
    def people(self) -> tuple[str, str]:
        return (self.requester, self.invitee)


@dataclass(frozen=True)
class Interpretation:
    interpreter: str
    languages: tuple[str, str]


@dataclass(frozen=True)
class Presence:
    person: str
    at: datetime
    present: bool


@dataclass(frozen=True)
class Meeting:
    id: str
    start: datetime
    end: datetime
    table: int
    participants: tuple[str, ...]
    request_id: str | None = None
    cancelled: bool = False
    interpretation: Interpretation | None = None
    presence: tuple[Presence, ...] = ()

    @property
    def people(self) -> tuple[str, ...]:
        """Everyone who sits at this meeting: the companies' delegates and an interpreter."""
        if self.interpretation is None:
            return self.participants
        return (*self.participants, self.interpretation.interpreter)


@dataclass(frozen=True)
class B2BState:
    grid: Grid
    rules: Rules = field(default_factory=Rules)
    requests: Mapping[str, MeetingRequest] = field(default_factory=dict)
    meetings: Mapping[str, Meeting] = field(default_factory=dict)
    version: int = 0

    def live_meetings(self) -> list[Meeting]:
        return sorted(
            (m for m in self.meetings.values() if not m.cancelled), key=lambda m: (m.start, m.table)
        )

    def meetings_of(self, person: str) -> list[Meeting]:
        return [m for m in self.live_meetings() if person in m.people]

    def requests_of(self, person: str) -> list[MeetingRequest]:
        found = (r for r in self.requests.values() if person in r.people)
        return sorted(found, key=lambda r: r.created_at)

    def busy(self, person: str, start: datetime, end: datetime, *, besides: str = "") -> bool:
        return any(
            m.id != besides and person in m.people and m.start < end and start < m.end
            for m in self.meetings.values()
            if not m.cancelled
        )

    def free_tables(self, start: datetime, end: datetime, *, besides: str = "") -> list[int]:
        taken = {
            m.table
            for m in self.meetings.values()
            if not m.cancelled and m.id != besides and m.start < end and start < m.end
        }
        return [t for t in range(1, self.grid.tables + 1) if t not in taken]


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestMeeting:
    name: ClassVar[str] = "request"
    request_id: str
    requester: str
    invitee: str
    start: datetime
    message: str = ""


@dataclass(frozen=True)
class Accept:
    name: ClassVar[str] = "accept"
    request_id: str
    by: str
    meeting_id: str


@dataclass(frozen=True)
class Decline:
    name: ClassVar[str] = "decline"
    request_id: str
    by: str


@dataclass(frozen=True)
class Propose:
    name: ClassVar[str] = "propose"
    request_id: str
    by: str
    start: datetime
    message: str = ""


@dataclass(frozen=True)
class Withdraw:
    name: ClassVar[str] = "withdraw"
    request_id: str
    by: str


@dataclass(frozen=True)
class Schedule:
    """The organizer puts a meeting on the grid by hand (table None: the first free one)."""

    name: ClassVar[str] = "schedule"
    meeting_id: str
    participants: tuple[str, ...]
    start: datetime
    table: int | None = None


@dataclass(frozen=True)
class Move:
    name: ClassVar[str] = "move"
    meeting_id: str
    start: datetime
    table: int | None = None


@dataclass(frozen=True)
class Cancel:
    """A participant or (``as_organizer``, after the caller's capability was checked) the
    organizer cancels a meeting."""

    name: ClassVar[str] = "cancel"
    meeting_id: str
    by: str
    as_organizer: bool = False


@dataclass(frozen=True)
class BookInterpreter:
    name: ClassVar[str] = "book_interpreter"
    meeting_id: str
    interpreter: str | None  # None removes the booking
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetGrid:
    name: ClassVar[str] = "set_grid"
    meeting_minutes: int
    break_minutes: int
    tables: int


@dataclass(frozen=True)
class MarkPresence:
    """Someone joined (present) or left a meeting's room: the report's "held" and durations."""

    name: ClassVar[str] = "presence"
    meeting_id: str
    person: str
    present: bool


@dataclass(frozen=True)
class Expire:
    """The clock's sweep: expire every pending request whose time is up (``apply`` does it
    before every command; this one does nothing else). Logged, so a restart replays it and
    the expiry notices are not sent twice."""

    name: ClassVar[str] = "expire"


Command = (
    RequestMeeting
    | Accept
    | Decline
    | Propose
    | Withdraw
    | Schedule
    | Move
    | Cancel
    | BookInterpreter
    | SetGrid
    | MarkPresence
    | Expire
)
COMMANDS: dict[str, type[Command]] = {
    c.name: c
    for c in (
        RequestMeeting,
        Accept,
        Decline,
        Propose,
        Withdraw,
        Schedule,
        Move,
        Cancel,
        BookInterpreter,
        SetGrid,
        MarkPresence,
        Expire,
    )
}


class Change(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    PROPOSED = "proposed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    SCHEDULED = "scheduled"
    MOVED = "moved"
    CANCELLED = "cancelled"
    INTERPRETER = "interpreter"
    GRID = "grid"


@dataclass(frozen=True)
class B2BEvent:
    """What changed, and whom to tell (mail notice and an updated calendar)."""

    change: Change
    subject: str  # a request or meeting id ("" for the grid)
    notify: tuple[str, ...]


# --- applying ----------------------------------------------------------------------------------


def expires_at(rules: Rules, created: datetime, slot_start: datetime) -> datetime:
    return min(created + rules.request_ttl, slot_start)


def due_to_expire(state: B2BState, now: datetime) -> bool:
    """Whether a pending request's time is up (the clock's sweep then applies ``Expire``)."""
    return any(
        r.status is RequestStatus.PENDING and r.expires_at <= now for r in state.requests.values()
    )


def expire(state: B2BState, now: datetime) -> tuple[B2BState, tuple[B2BEvent, ...]]:
    """Mark every pending request whose time is up as expired."""
    stale = [
        r
        for r in state.requests.values()
        if r.status is RequestStatus.PENDING and r.expires_at <= now
    ]
    if not stale:
        return state, ()
    requests = dict(state.requests)
    for r in stale:
        requests[r.id] = replace(r, status=RequestStatus.EXPIRED)
    events = tuple(B2BEvent(Change.EXPIRED, r.id, r.people) for r in stale)
    return replace(state, requests=requests), events


def _message(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_MESSAGE:
        raise _refuse("message_too_long", f"a message has at most {MAX_MESSAGE} characters")
    return text


def _request(state: B2BState, request_id: str) -> MeetingRequest:
    try:
        return state.requests[request_id]
    except KeyError:
        raise NotFoundError("no such meeting request", details={"reason": "no_request"}) from None


def _meeting(state: B2BState, meeting_id: str) -> Meeting:
    found = state.meetings.get(meeting_id)
    if found is None or found.cancelled:
        raise NotFoundError("no such meeting", details={"reason": "no_meeting"})
    return found


def _pending_for(state: B2BState, request_id: str, by: str, now: datetime) -> MeetingRequest:
    r = _request(state, request_id)
    if by not in r.people:
        raise ForbiddenError(
            "this request is between other people", details={"reason": "not_yours"}
        )
    if r.status is RequestStatus.EXPIRED or (
        r.status is RequestStatus.PENDING and r.expires_at <= now
    ):
        raise _refuse("expired", "this request has expired: send a new one")
    if r.status is not RequestStatus.PENDING:
        raise _refuse("not_pending", f"this request was already {r.status.value}")
    return r


def _check_free(
    state: B2BState, people: Iterable[str], slot: Slot, *, besides: str = ""
) -> list[int]:
    """The free tables at ``slot``; CommandError when a person is busy or no table is free."""
    for person in people:
        if state.busy(person, slot.start, slot.end, besides=besides):
            raise _refuse(
                "slot_taken", "someone in this meeting already has a meeting then", person=person
            )
    tables = state.free_tables(slot.start, slot.end, besides=besides)
    if not tables:
        raise _refuse("no_table", "every table is taken in this slot")
    return tables


def _pick_table(tables: list[int], wanted: int | None, grid: Grid) -> int:
    if wanted is None:
        return tables[0]
    if not 1 <= wanted <= grid.tables:
        raise _refuse("outside_grid", f"there are tables 1 to {grid.tables}")
    if wanted not in tables:
        raise _refuse("table_taken", f"table {wanted} is taken in this slot")
    return wanted


def _people(participants: Iterable[str]) -> tuple[str, ...]:
    people = tuple(dict.fromkeys(p for p in participants if p))
    if not 2 <= len(people) <= MAX_PARTICIPANTS:
        raise _refuse(
            "bad_participants", f"a meeting has 2 to {MAX_PARTICIPANTS} different participants"
        )
    return people


def _new_id(state: B2BState, new_id: str) -> None:
    if not new_id or new_id in state.requests or new_id in state.meetings:
        raise _refuse("duplicate_id", "this id is already in use")


def apply(
    state: B2BState, command: Command, now: datetime
) -> tuple[B2BState, tuple[B2BEvent, ...]]:
    """Apply one command at ``now``: (new state, events); raise and change nothing if refused."""
    state, expired = expire(state, now)
    new, events = _apply(state, command, now)
    return replace(new, version=state.version + 1), expired + events


def _apply(
    state: B2BState, command: Command, now: datetime
) -> tuple[B2BState, tuple[B2BEvent, ...]]:
    requests = dict(state.requests)
    meetings = dict(state.meetings)
    match command:
        case RequestMeeting(request_id=rid, requester=requester, invitee=invitee, start=start):
            _new_id(state, rid)
            if requester == invitee or not invitee:
                raise _refuse("self", "ask another company for a meeting")
            message = _message(command.message)
            recent = sum(
                1
                for r in state.requests.values()
                if r.requester == requester and r.created_at > now - RATE_WINDOW
            )
            if recent >= state.rules.requests_per_hour:
                raise _refuse(
                    "rate_limited",
                    f"at most {state.rules.requests_per_hour} requests an hour: try again later",
                )
            slot = state.grid.slot_at(start)
            if slot.start <= now:
                raise _refuse("slot_past", "this slot has already started")
            _check_free(state, (requester, invitee), slot)
            if any(
                r.status is RequestStatus.PENDING and set(r.people) == {requester, invitee}
                for r in state.requests.values()
            ):
                raise _refuse("duplicate_request", "a request between you two is still open")
            requests[rid] = MeetingRequest(
                id=rid,
                requester=requester,
                invitee=invitee,
                start=slot.start,
                message=message,
                created_at=now,
                expires_at=expires_at(state.rules, now, slot.start),
                awaiting=invitee,
            )
            events: tuple[B2BEvent, ...] = (B2BEvent(Change.REQUESTED, rid, (invitee,)),)
        case Accept(request_id=rid, by=by, meeting_id=mid):
            r = _pending_for(state, rid, by, now)
            if by != r.awaiting:
                raise _refuse("not_your_turn", "the other side must answer this request")
            _new_id(state, mid)
            slot = state.grid.slot_at(r.start)
            tables = _check_free(state, r.people, slot)
            meetings[mid] = Meeting(
                id=mid, start=slot.start, end=slot.end, table=tables[0], participants=r.people,
                request_id=rid,
            )  # fmt: skip
            requests[rid] = replace(
                r, status=RequestStatus.ACCEPTED, meeting_id=mid, answered_at=now
            )
            events = (B2BEvent(Change.ACCEPTED, mid, r.people),)
        case Decline(request_id=rid, by=by):
            r = _pending_for(state, rid, by, now)
            if by != r.awaiting:
                raise _refuse("not_your_turn", "the other side must answer this request")
            requests[rid] = replace(r, status=RequestStatus.DECLINED, answered_at=now)
            events = (B2BEvent(Change.DECLINED, rid, r.people),)
        case Propose(request_id=rid, by=by, start=start):
            r = _pending_for(state, rid, by, now)
            if by != r.awaiting:
                raise _refuse("not_your_turn", "the other side must answer this request")
            message = _message(command.message) or r.message
            slot = state.grid.slot_at(start)
            if slot.start <= now:
                raise _refuse("slot_past", "this slot has already started")
            if slot.start == r.start:
                raise _refuse("same_slot", "propose a different slot, or accept this one")
            _check_free(state, r.people, slot)
            other = r.requester if by == r.invitee else r.invitee
            requests[rid] = replace(
                r,
                start=slot.start,
                message=message,
                awaiting=other,
                proposals=r.proposals + 1,
                expires_at=expires_at(state.rules, now, slot.start),
            )
            events = (B2BEvent(Change.PROPOSED, rid, (other,)),)
        case Withdraw(request_id=rid, by=by):
            r = _pending_for(state, rid, by, now)
            if by != r.requester:
                raise ForbiddenError(
                    "only the requester can withdraw a request", details={"reason": "not_yours"}
                )
            requests[rid] = replace(r, status=RequestStatus.WITHDRAWN, answered_at=now)
            events = (B2BEvent(Change.WITHDRAWN, rid, (r.invitee,)),)
        case Schedule(meeting_id=mid, participants=participants, start=start, table=table):
            _new_id(state, mid)
            people = _people(participants)
            slot = state.grid.slot_at(start)
            tables = _check_free(state, people, slot)
            meetings[mid] = Meeting(
                id=mid,
                start=slot.start,
                end=slot.end,
                table=_pick_table(tables, table, state.grid),
                participants=people,
            )
            events = (B2BEvent(Change.SCHEDULED, mid, people),)
        case Move(meeting_id=mid, start=start, table=table):
            m = _meeting(state, mid)
            slot = state.grid.slot_at(start)
            tables = _check_free(state, m.people, slot, besides=mid)
            meetings[mid] = replace(
                m, start=slot.start, end=slot.end, table=_pick_table(tables, table, state.grid)
            )
            events = (B2BEvent(Change.MOVED, mid, m.people),)
        case Cancel(meeting_id=mid, by=by, as_organizer=as_organizer):
            m = _meeting(state, mid)
            if not as_organizer and by not in m.participants:
                raise ForbiddenError("this meeting is not yours", details={"reason": "not_yours"})
            if m.end <= now:
                raise _refuse("meeting_over", "this meeting is over")
            meetings[mid] = replace(m, cancelled=True)
            events = (B2BEvent(Change.CANCELLED, mid, m.people),)
        case BookInterpreter(meeting_id=mid, interpreter=interpreter, languages=languages):
            m = _meeting(state, mid)
            if interpreter is None:
                meetings[mid] = replace(m, interpretation=None)
                notify = m.people
            else:
                if len(languages) != 2 or languages[0] == languages[1]:
                    raise _refuse("bad_languages", "book an interpreter for two languages")
                if interpreter in m.participants:
                    raise _refuse("bad_participants", "a participant cannot interpret")
                if state.busy(interpreter, m.start, m.end, besides=mid):
                    raise _refuse(
                        "slot_taken", "the interpreter has another meeting then", person=interpreter
                    )
                booked = Interpretation(interpreter, (languages[0], languages[1]))
                meetings[mid] = replace(m, interpretation=booked)
                notify = (*m.people, interpreter) if interpreter not in m.people else m.people
            events = (B2BEvent(Change.INTERPRETER, mid, tuple(dict.fromkeys(notify))),)
        case SetGrid(meeting_minutes=minutes, break_minutes=pause, tables=tables_n):
            grid = Grid(state.grid.windows, minutes, pause, tables_n)
            slots = {(s.start, s.end) for s in grid.slots()}
            for m in state.live_meetings():
                if (m.start, m.end) not in slots or m.table > grid.tables:
                    raise _refuse(
                        "grid_orphans",
                        "a scheduled meeting would fall off the new grid: move or cancel it first",
                        meeting=m.id,
                    )
            state = replace(state, grid=grid)
            affected = sorted({p for m in state.live_meetings() if m.end > now for p in m.people})
            events = (B2BEvent(Change.GRID, "", tuple(affected)),)
        case MarkPresence(meeting_id=mid, person=person, present=present):
            m = _meeting(state, mid)
            if person not in m.people:
                raise ForbiddenError(
                    "this meeting is private to its participants", details={"reason": "not_member"}
                )
            meetings[mid] = replace(m, presence=(*m.presence, Presence(person, now, present)))
            events = ()
        case Expire():
            events = ()  # ``apply`` expired what was due
        case _:
            raise CommandError(f"unknown B2B command {command!r}")
    return replace(state, requests=requests, meetings=meetings), events


# --- invariants, report, rooms on time --------------------------------------------------------


def check_invariants(state: B2BState) -> None:
    """Raise AssertionError when the schedule double-books someone or something is off-grid."""
    live = state.live_meetings()
    slots = {(s.start, s.end) for s in state.grid.slots()}
    for i, a in enumerate(live):
        assert (a.start, a.end) in slots, f"meeting {a.id} is off the grid"
        assert 1 <= a.table <= state.grid.tables, f"meeting {a.id} at a table the grid lacks"
        for b in live[i + 1 :]:
            if a.start < b.end and b.start < a.end:
                assert a.table != b.table, f"table {a.table} double-booked: {a.id}, {b.id}"
                common = set(a.people) & set(b.people)
                assert not common, f"{common} double-booked: {a.id}, {b.id}"
    for m in state.meetings.values():
        if m.request_id is not None:
            r = state.requests[m.request_id]
            assert r.status is RequestStatus.ACCEPTED and r.answered_at is not None
            assert r.answered_at < r.expires_at, f"expired request {r.id} became a meeting"


def together(meeting: Meeting, until: datetime) -> timedelta:
    """How long every participant was in the room at once (up to ``until``)."""
    present: set[str] = set()
    since: datetime | None = None
    total = timedelta()
    needed = set(meeting.participants)
    for mark in sorted(meeting.presence, key=lambda p: p.at):
        at = min(mark.at, until)
        if mark.present:
            present.add(mark.person)
        else:
            present.discard(mark.person)
        full = needed <= present
        if full and since is None:
            since = at
        elif not full and since is not None:
            total += at - since
            since = None
    if since is not None and until > since:
        total += until - since
    return total


def report(state: B2BState, now: datetime, grace: timedelta) -> dict[str, Any]:
    """The organizer's report: requests by outcome; meetings held (all joined) and durations."""
    counts = {s.value: 0 for s in RequestStatus}
    for r in state.requests.values():
        status = r.status
        if status is RequestStatus.PENDING and r.expires_at <= now:
            status = RequestStatus.EXPIRED
        counts[status.value] += 1
    rows: list[dict[str, Any]] = []
    for m in sorted(state.meetings.values(), key=lambda m: (m.start, m.table)):
        joined = {p.person for p in m.presence if p.present}
        length = together(m, min(now, m.end + grace))
        rows.append(
            {
                "id": m.id,
                "start": m.start.isoformat(),
                "end": m.end.isoformat(),
                "table": m.table,
                "participants": list(m.participants),
                "cancelled": m.cancelled,
                "held": not m.cancelled and set(m.participants) <= joined,
                "together_seconds": round(length.total_seconds()),
                "interpreter": m.interpretation.interpreter if m.interpretation else None,
            }
        )
    held = [row for row in rows if row["held"]]
    return {
        "requested": len(state.requests),
        "requests": counts,
        "meetings": sum(1 for row in rows if not row["cancelled"]),
        "cancelled": sum(1 for row in rows if row["cancelled"]),
        "held": len(held),
        "held_seconds": sum(row["together_seconds"] for row in held),
        "rows": rows,
    }


class Phase(StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    ENDING = "ending"  # the last minute: a warning on every page
    GRACE = "grace"  # past the end; the room closes when the grace is over
    CLOSED = "closed"


WARNING = timedelta(minutes=1)


def phase(meeting: Meeting, now: datetime, grace: timedelta) -> Phase:
    if meeting.cancelled or now >= meeting.end + grace:
        return Phase.CLOSED
    if now < meeting.start:
        return Phase.UPCOMING
    if now < meeting.end - WARNING:
        return Phase.OPEN
    if now < meeting.end:
        return Phase.ENDING
    return Phase.GRACE


def phase_changes(
    state: B2BState, known: Mapping[str, Phase], now: datetime, grace: timedelta
) -> list[tuple[Meeting, Phase, bool]]:
    """(meeting, phase now, news) for every meeting whose phase is not ``known`` any more.

    A change is news to its people (the room opens, the last minute starts, the grace starts,
    the room closes), except for a meeting first seen upcoming or already closed: that one
    is only to be noted."""
    out: list[tuple[Meeting, Phase, bool]] = []
    for m in state.meetings.values():
        now_phase = phase(m, now, grace)
        before = known.get(m.id)
        if now_phase is before:
            continue
        first_sight = before is None and now_phase in (Phase.UPCOMING, Phase.CLOSED)
        out.append((m, now_phase, not first_sight))
    return out


def admit(state: B2BState, meeting_id: str, person: str, now: datetime) -> Meeting:
    """The meeting ``person`` may enter now; typed errors for a third party, too early or over.

    A late participant is admitted until the meeting's end (not during the grace)."""
    m = _meeting(state, meeting_id)
    if person not in m.people:
        raise ForbiddenError(
            "this meeting is private to its participants", details={"reason": "not_member"}
        )
    if now < m.start:
        raise _refuse(
            "not_open", "this meeting's room opens at its start", opens=m.start.isoformat()
        )
    if now >= m.end:
        raise _refuse("meeting_over", "this meeting is over")
    return m


def next_meeting(state: B2BState, person: str, now: datetime) -> Meeting | None:
    """The person's meeting that is running or comes next."""
    for m in state.meetings_of(person):
        if m.end > now:
            return m
    return None


# --- serialization -------------------------------------------------------------------------------

_TIMES = frozenset({"start"})
_TUPLES = frozenset({"participants", "languages"})


def command_to_dict(command: Command) -> dict[str, Any]:
    out: dict[str, Any] = {"command": command.name}
    for f in dataclasses.fields(command):
        value = getattr(command, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def command_from_dict(data: Mapping[str, Any]) -> Command:
    """Rebuild a command from ``command_to_dict`` output; CommandError if it is not one."""
    cls = COMMANDS.get(str(data.get("command")))
    if cls is None:
        raise CommandError(f"unknown B2B command {data.get('command')!r}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in _TIMES:
            value = datetime.fromisoformat(value)
        elif f.name in _TUPLES:
            value = tuple(value)
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise CommandError(f"bad B2B command: {exc}") from exc


def replay(state: B2BState, records: Iterable[tuple[Mapping[str, Any], datetime]]) -> B2BState:
    for data, at in records:
        state, _ = apply(state, command_from_dict(data), at)
    return state
