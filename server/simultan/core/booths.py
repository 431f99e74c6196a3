"""The interpretation booth: who holds the mic, and how it changes hands.

A booth is one language (``zh``, ``ja``, ``es``) staffed by interpreters in seats A and B,
optionally a backup. Exactly one of them interprets at a time; the others listen, help and
take over every half hour or so. This module is the pure state machine behind that:
``apply(booth, command, now) -> (booth, events)``, with no I/O and no clock of its own.

Why it is shaped this way:

- **Invariants by construction.** ``Booth.__post_init__`` rejects any state in which two
  people could be live, the live person is not a connected member, or a pending handover
  names someone absent. Every state ``apply`` returns is built through that check, so the hub
  and the media plane can trust a ``Booth`` without re-validating it.
- **One pending handover, oriented like the mic.** ``Handover.from_person`` is always whoever
  is live right now (``None`` when the mic is off) and ``to_person`` whoever would take over;
  ``kind`` records who started it ("offer" by the outgoing side, "request" by the incoming
  side). So "the pending handover involves the live one" is simply ``pending.from_person ==
  live``. When the mic is lost (release, disconnect), the booth itself offers it to a
  partner: an offer with ``from_person=None``, which the partner accepts (or takes the mic).
- **Atomic handover.** Accepting moves the mic in one step: ``mic_off`` for the outgoing and
  ``mic_live`` for the incoming carry the same instant, in that order, so no listener ever
  gets two interpreters at once, nor a gap the SFU would have to paper over.
- **Events are enough to rebuild the state.** They are ordered so that replaying any prefix
  yields a state that satisfies the invariants (a live interpreter goes off before their
  disconnect is announced; a cancelled handover is announced before its cause).
- **Success always changes something.** Every accepted command bumps ``version`` and emits
  at least one event; redundant moves (connecting twice, coughing while coughing) are
  ``CommandError``s, so a retried or duplicated message is visible instead of silent.
- **Coughing is not a handover.** It is a momentary mute by the live interpreter; the mic
  stays theirs, and routing does not change (the client or SFU silences the track).

Errors: a person who is not a member of the booth gets ``ForbiddenError``; a member asking for
an impossible move gets ``CommandError``. ``ForceHandover`` is the moderator's tool: ``by`` is
not a member, and the caller checks the ``force_handover`` capability before applying it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar, Literal, TypeAlias

from simultan.errors import CommandError, ConfigError, ForbiddenError

if TYPE_CHECKING:
    from simultan.eventdef import BoothDef

Seat: TypeAlias = Literal["A", "B", "backup"]
SEATS: tuple[Seat, ...] = ("A", "B", "backup")
_SEAT_BY_NAME: dict[str, Seat] = {seat: seat for seat in SEATS}

HandoverKind: TypeAlias = Literal["offer", "request"]
DEFAULT_ROTATION = timedelta(minutes=30)


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got {moment!r}")


# --- state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handover:
    """A proposed move of the mic from ``from_person`` to ``to_person``.

    ``from_person`` is the live interpreter, or ``None`` when the booth offers a mic that
    nobody holds (after a release or a disconnect). ``kind`` says who started it: an "offer"
    comes from the outgoing side, a "request" from the incoming side.
    """

    from_person: str | None
    to_person: str
    kind: HandoverKind
    since: datetime

    def __post_init__(self) -> None:
        _require_aware(self.since, "Handover.since")
        if self.kind == "request" and self.from_person is None:
            raise ValueError("a request needs someone live to ask")
        if self.from_person == self.to_person:
            raise ValueError("a handover needs two different people")

    @property
    def initiator(self) -> str | None:
        """Who may cancel it; ``None`` for the booth's own offer after the mic was lost."""
        return self.from_person if self.kind == "offer" else self.to_person

    @property
    def responder(self) -> str:
        """Who may accept or decline it."""
        if self.kind == "request" and self.from_person is not None:
            return self.from_person
        return self.to_person


@dataclass(frozen=True)
class Booth:
    """One booth's state. Construct it through ``booth_from_definition`` and ``apply``."""

    id: str
    language: str
    retour: bool = False
    members: Mapping[Seat, str] = field(default_factory=dict)
    connected: frozenset[str] = frozenset()
    live: str | None = None
    pending: Handover | None = None
    coughing: bool = False
    live_since: datetime | None = None
    version: int = 0

    def __post_init__(self) -> None:
        # A read-only copy: a frozen booth must not change behind the caller's back.
        object.__setattr__(self, "members", MappingProxyType(dict(self.members)))
        problem = _violation(self)
        if problem is not None:
            raise ValueError(f"booth {self.id!r}: {problem}")

    @property
    def member_ids(self) -> frozenset[str]:
        return frozenset(self.members.values())

    def is_member(self, person: str) -> bool:
        return person in self.members.values()

    def seat_of(self, person: str) -> Seat | None:
        return next((seat for seat, who in self.members.items() if who == person), None)

    def seated(self) -> tuple[tuple[Seat, str], ...]:
        """Members in seat order (A, B, backup)."""
        return tuple((seat, self.members[seat]) for seat in SEATS if seat in self.members)


def _violation(b: Booth) -> str | None:
    """The first broken invariant of ``b``, or None."""
    people = list(b.members.values())
    if any(seat not in SEATS for seat in b.members):
        return f"unknown seat in {sorted(b.members)}"
    if len(set(people)) != len(people) or not all(people):
        return "each seat needs its own, non-empty person id"
    if not b.connected <= b.member_ids:
        return f"non-members marked connected: {sorted(b.connected - b.member_ids)}"
    if b.live is not None and b.live not in b.connected:
        return f"{b.live} is live but not a connected member"
    if (b.live is None) != (b.live_since is None):
        return "live and live_since must be set together"
    if b.live_since is not None:
        _require_aware(b.live_since, "Booth.live_since")
    if b.coughing and b.live is None:
        return "coughing without a live interpreter"
    if b.pending is not None:
        if b.pending.from_person != b.live:
            return "a pending handover must start from the live interpreter (or an off mic)"
        if b.pending.to_person not in b.connected:
            return f"pending handover to {b.pending.to_person}, who is not connected"
    if b.version < 0:
        return "version must not be negative"
    return None


def booth_from_definition(defn: BoothDef, person_ids: Mapping[str, str] | None = None) -> Booth:
    """A fresh booth (nobody connected, mic off, version 0) from the event definition.

    Each interpreter's person id is ``person_ids[key]`` where ``key`` is the interpreter's
    email, or their name when the definition has no email; without an entry the key itself
    is the person id. That lets the store map definition entries to registration ids while
    a bare definition still yields stable, readable ids. Raises ``ConfigError`` when two
    interpreters share a seat or a person id.
    """
    ids = person_ids or {}
    members: dict[Seat, str] = {}
    for interpreter in defn.interpreters:
        seat = _SEAT_BY_NAME.get(interpreter.seat)
        if seat is None:
            raise ConfigError(f"booth {defn.id}: unknown seat {interpreter.seat!r}")
        key = interpreter.email or interpreter.name
        person = ids.get(key, key)
        if seat in members:
            raise ConfigError(f"booth {defn.id}: seat {seat} is given to two interpreters")
        if person in members.values():
            raise ConfigError(f"booth {defn.id}: {person} sits in two seats")
        members[seat] = person
    return Booth(id=defn.id, language=defn.language, retour=defn.retour, members=members)


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connect:
    by: str


@dataclass(frozen=True)
class Disconnect:
    by: str


@dataclass(frozen=True)
class TakeMic:
    """Go live when nobody is; resolves a pending offer of the off mic."""

    by: str


@dataclass(frozen=True)
class ReleaseMic:
    """The live interpreter goes off; the mic is offered to a connected partner."""

    by: str


@dataclass(frozen=True)
class OfferMic:
    by: str
    to: str


@dataclass(frozen=True)
class RequestMic:
    by: str


@dataclass(frozen=True)
class Accept:
    by: str


@dataclass(frozen=True)
class Decline:
    by: str


@dataclass(frozen=True)
class Cancel:
    by: str


@dataclass(frozen=True)
class ForceHandover:
    """A moderator moves the mic at once; ``to=None`` switches it off. ``by`` is no member."""

    by: str
    to: str | None


@dataclass(frozen=True)
class Cough:
    by: str
    on: bool


BoothCommand: TypeAlias = (
    Connect
    | Disconnect
    | TakeMic
    | ReleaseMic
    | OfferMic
    | RequestMic
    | Accept
    | Decline
    | Cancel
    | ForceHandover
    | Cough
)


# --- events ---------------------------------------------------------------------------------


class BoothEventKind(StrEnum):
    MEMBER_CONNECTED = "member_connected"
    MEMBER_DISCONNECTED = "member_disconnected"
    MIC_LIVE = "mic_live"
    MIC_OFF = "mic_off"
    HANDOVER_REQUESTED = "handover_requested"
    HANDOVER_OFFERED = "handover_offered"
    HANDOVER_ACCEPTED = "handover_accepted"
    HANDOVER_DECLINED = "handover_declined"
    HANDOVER_CANCELLED = "handover_cancelled"
    HANDOVER_FORCED = "handover_forced"
    COUGH_ON = "cough_on"
    COUGH_OFF = "cough_off"


CancelReason: TypeAlias = Literal["cancelled", "disconnected", "released", "taken", "forced"]


@dataclass(frozen=True, kw_only=True)
class BoothEvent:
    kind: ClassVar[BoothEventKind]
    booth: str
    at: datetime

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind.value}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True, kw_only=True)
class _PersonEvent(BoothEvent):
    person: str


class MemberConnected(_PersonEvent):
    kind = BoothEventKind.MEMBER_CONNECTED


class MemberDisconnected(_PersonEvent):
    kind = BoothEventKind.MEMBER_DISCONNECTED


class MicLive(_PersonEvent):
    kind = BoothEventKind.MIC_LIVE


class MicOff(_PersonEvent):
    kind = BoothEventKind.MIC_OFF


class CoughOn(_PersonEvent):
    kind = BoothEventKind.COUGH_ON


class CoughOff(_PersonEvent):
    kind = BoothEventKind.COUGH_OFF


@dataclass(frozen=True, kw_only=True)
class _HandoverEvent(BoothEvent):
    from_person: str | None
    to_person: str


class HandoverRequested(_HandoverEvent):
    kind = BoothEventKind.HANDOVER_REQUESTED


class HandoverOffered(_HandoverEvent):
    kind = BoothEventKind.HANDOVER_OFFERED


@dataclass(frozen=True, kw_only=True)
class HandoverAccepted(_HandoverEvent):
    kind = BoothEventKind.HANDOVER_ACCEPTED
    by: str


@dataclass(frozen=True, kw_only=True)
class HandoverDeclined(_HandoverEvent):
    kind = BoothEventKind.HANDOVER_DECLINED
    by: str


@dataclass(frozen=True, kw_only=True)
class HandoverCancelled(_HandoverEvent):
    kind = BoothEventKind.HANDOVER_CANCELLED
    by: str
    reason: CancelReason


@dataclass(frozen=True, kw_only=True)
class HandoverForced(BoothEvent):
    kind = BoothEventKind.HANDOVER_FORCED
    from_person: str | None
    to_person: str | None
    by: str


# --- transitions ----------------------------------------------------------------------------

Result: TypeAlias = tuple[Booth, tuple[BoothEvent, ...]]


def apply(booth: Booth, cmd: BoothCommand, now: datetime) -> Result:
    """Apply one command at ``now``: the new booth (version + 1) and what happened, in order.

    Raises ``ForbiddenError`` for non-members (except ``ForceHandover``) and ``CommandError``
    for moves the current state does not allow; the given booth is never changed.
    """
    _require_aware(now, "now")
    if isinstance(cmd, ForceHandover):
        new, events = _force(booth, cmd, now)
    else:
        if not booth.is_member(cmd.by):
            raise ForbiddenError(f"{cmd.by} is not a member of booth {booth.id}")
        if not isinstance(cmd, Connect) and cmd.by not in booth.connected:
            raise CommandError(f"{cmd.by} is not connected to booth {booth.id}")
        new, events = _member_move(booth, cmd, now)
    return replace(new, version=booth.version + 1), events


def _member_move(b: Booth, cmd: BoothCommand, now: datetime) -> Result:
    match cmd:
        case Connect(by=by):
            if by in b.connected:
                raise CommandError(f"{by} is already connected to booth {b.id}")
            return replace(b, connected=b.connected | {by}), (
                MemberConnected(booth=b.id, at=now, person=by),
            )
        case Disconnect(by=by):
            return _disconnect(b, by, now)
        case TakeMic(by=by):
            return _take(b, by, now)
        case ReleaseMic(by=by):
            return _release(b, by, now)
        case OfferMic(by=by, to=to):
            _require_live(b, by, "offer the mic")
            _require_no_pending(b)
            if to == by:
                raise CommandError("you cannot offer the mic to yourself")
            _require_connected_member(b, to)
            offer = Handover(from_person=by, to_person=to, kind="offer", since=now)
            return replace(b, pending=offer), (
                HandoverOffered(booth=b.id, at=now, from_person=by, to_person=to),
            )
        case RequestMic(by=by):
            if b.live == by:
                raise CommandError(f"{by} already holds the mic in booth {b.id}")
            if b.live is None:
                raise CommandError(f"nobody is live in booth {b.id}: take the mic instead")
            _require_no_pending(b)
            ask = Handover(from_person=b.live, to_person=by, kind="request", since=now)
            return replace(b, pending=ask), (
                HandoverRequested(booth=b.id, at=now, from_person=b.live, to_person=by),
            )
        case Accept(by=by):
            return _accept(b, by, now)
        case Decline(by=by):
            h = _pending_for_responder(b, by, "decline")
            return replace(b, pending=None), (
                HandoverDeclined(
                    booth=b.id, at=now, from_person=h.from_person, to_person=h.to_person, by=by
                ),
            )
        case Cancel(by=by):
            h = _require_pending(b)
            if h.initiator is None:
                raise CommandError("the booth offered this mic after it went off: decline it")
            if h.initiator != by:
                raise CommandError(f"only {h.initiator} can cancel this {h.kind}")
            events: list[BoothEvent] = []
            _drop_pending(b, by, "cancelled", now, events)
            return replace(b, pending=None), tuple(events)
        case Cough(by=by, on=on):
            _require_live(b, by, "cough-mute")
            if on == b.coughing:
                raise CommandError(f"cough mute is already {'on' if on else 'off'}")
            event_type = CoughOn if on else CoughOff
            return replace(b, coughing=on), (event_type(booth=b.id, at=now, person=by),)
    raise CommandError(f"unknown booth command {type(cmd).__name__}")  # pragma: no cover


def _release(b: Booth, by: str, now: datetime) -> Result:
    _require_live(b, by, "release the mic")
    events: list[BoothEvent] = []
    # Any pending handover starts from the live one, so releasing ends it; its other party
    # (who asked for the mic, or was offered it) is the first choice for the re-offer.
    preferred = _drop_pending(b, by, "released", now, events)
    state = _mic_off(replace(b, pending=None), now, events)
    return _offer_lost_mic(state, now, events, exclude=by, preferred=preferred)


def _disconnect(b: Booth, by: str, now: datetime) -> Result:
    events: list[BoothEvent] = []
    lost_offer = b.pending is not None and b.pending.from_person is None
    preferred = _drop_pending(b, by, "disconnected", now, events)
    state = replace(b, pending=_kept(b.pending, by))
    lost_mic = b.live == by
    if lost_mic:
        state = _mic_off(state, now, events)
    state = replace(state, connected=state.connected - {by})
    events.append(MemberDisconnected(booth=b.id, at=now, person=by))
    if lost_mic or (lost_offer and state.pending is None):
        # Listeners fall back to the floor (routing); the partner is asked to pick up.
        return _offer_lost_mic(state, now, events, exclude=by, preferred=preferred)
    return state, tuple(events)


def _take(b: Booth, by: str, now: datetime) -> Result:
    if b.live == by:
        raise CommandError(f"{by} already holds the mic in booth {b.id}")
    if b.live is not None:
        raise CommandError(f"{b.live} is live in booth {b.id}: request the mic instead")
    events: list[BoothEvent] = []
    h = b.pending  # with nobody live, only the booth's own offer can be pending
    if h is not None and h.to_person == by:
        events.append(HandoverAccepted(booth=b.id, at=now, from_person=None, to_person=by, by=by))
    elif h is not None:
        _drop_pending(b, by, "taken", now, events)
    events.append(MicLive(booth=b.id, at=now, person=by))
    return replace(b, live=by, live_since=now, pending=None, coughing=False), tuple(events)


def _accept(b: Booth, by: str, now: datetime) -> Result:
    h = _pending_for_responder(b, by, "accept")
    events: list[BoothEvent] = [
        HandoverAccepted(
            booth=b.id, at=now, from_person=h.from_person, to_person=h.to_person, by=by
        )
    ]
    state = _mic_off(replace(b, pending=None), now, events)
    events.append(MicLive(booth=b.id, at=now, person=h.to_person))
    return replace(state, live=h.to_person, live_since=now), tuple(events)


def _force(b: Booth, cmd: ForceHandover, now: datetime) -> Result:
    to = cmd.to
    if to is None and b.live is None:
        raise CommandError(f"the mic in booth {b.id} is already off")
    if to is not None:
        _require_connected_member(b, to)
        if to == b.live:
            raise CommandError(f"{to} already holds the mic in booth {b.id}")
    events: list[BoothEvent] = []
    if b.pending is not None:
        _drop_pending(b, cmd.by, "forced", now, events)
    events.append(HandoverForced(booth=b.id, at=now, from_person=b.live, to_person=to, by=cmd.by))
    state = _mic_off(replace(b, pending=None), now, events)
    if to is not None:
        events.append(MicLive(booth=b.id, at=now, person=to))
        state = replace(state, live=to, live_since=now)
    return state, tuple(events)


# --- helpers --------------------------------------------------------------------------------


def _mic_off(b: Booth, now: datetime, events: list[BoothEvent]) -> Booth:
    """Take the mic from whoever holds it (ending a cough first); no-op when it is off.

    The caller settles any pending handover first: one left pointing at the outgoing
    interpreter would break the invariants, and ``Booth`` refuses to be built that way.
    """
    if b.live is None:
        return b
    if b.coughing:
        events.append(CoughOff(booth=b.id, at=now, person=b.live))
    events.append(MicOff(booth=b.id, at=now, person=b.live))
    return replace(b, live=None, live_since=None, coughing=False)


def _drop_pending(
    b: Booth, by: str, reason: CancelReason, now: datetime, events: list[BoothEvent]
) -> str | None:
    """Cancel a pending handover that ``by`` takes part in (any, when forced or taken).

    Returns the other party, who is the natural first choice for a re-offer.
    """
    h = b.pending
    if h is None:
        return None
    if reason not in ("forced", "taken") and by not in (h.from_person, h.to_person):
        return None
    events.append(
        HandoverCancelled(
            booth=b.id,
            at=now,
            from_person=h.from_person,
            to_person=h.to_person,
            by=by,
            reason=reason,
        )
    )
    return h.to_person if h.from_person == by else h.from_person


def _kept(pending: Handover | None, leaving: str) -> Handover | None:
    if pending is None or leaving in (pending.from_person, pending.to_person):
        return None
    return pending


def _offer_lost_mic(
    b: Booth, now: datetime, events: list[BoothEvent], *, exclude: str, preferred: str | None
) -> Result:
    """Offer the now-off mic to a connected partner: ``preferred`` first, then seat order."""
    candidates = [p for _, p in b.seated() if p in b.connected and p != exclude]
    if preferred in candidates:
        candidates.insert(0, preferred)
    if not candidates:
        return b, tuple(events)
    to = candidates[0]
    offer = Handover(from_person=None, to_person=to, kind="offer", since=now)
    events.append(HandoverOffered(booth=b.id, at=now, from_person=None, to_person=to))
    return replace(b, pending=offer), tuple(events)


def _require_live(b: Booth, by: str, to_do: str) -> None:
    if b.live != by:
        holder = f"{b.live} holds it" if b.live else "the mic is off"
        raise CommandError(f"only the live interpreter can {to_do} in booth {b.id} ({holder})")


def _require_no_pending(b: Booth) -> None:
    h = b.pending
    if h is not None:
        raise CommandError(
            f"a handover from {h.from_person} to {h.to_person} is already pending "
            f"in booth {b.id}: accept, decline or cancel it first"
        )


def _require_pending(b: Booth) -> Handover:
    if b.pending is None:
        raise CommandError(f"no handover is pending in booth {b.id}")
    return b.pending


def _pending_for_responder(b: Booth, by: str, verb: str) -> Handover:
    h = _require_pending(b)
    if h.responder != by:
        if h.initiator == by:
            raise CommandError(f"you cannot {verb} your own {h.kind}; cancel it instead")
        raise CommandError(f"only {h.responder} can {verb} this {h.kind}")
    return h


def _require_connected_member(b: Booth, person: str) -> None:
    if not b.is_member(person):
        raise CommandError(f"{person} is not a member of booth {b.id}")
    if person not in b.connected:
        raise CommandError(f"{person} is not connected to booth {b.id}")


# --- queries --------------------------------------------------------------------------------


def on_mic(booth: Booth, now: datetime) -> timedelta | None:
    """How long the live interpreter has held the mic (never negative), or None."""
    if booth.live_since is None:
        return None
    return max(now - booth.live_since, timedelta(0))


def rotation_due(booth: Booth, now: datetime, interval: timedelta = DEFAULT_ROTATION) -> bool:
    """True once the live interpreter has been on the mic for ``interval`` or longer.

    Fatigue sets in after about half an hour of simultaneous interpreting; the booth page
    uses this to prompt a handover. It is only a timer: it stays true while a handover is
    pending, and it restarts whenever the mic changes hands.
    """
    held = on_mic(booth, now)
    return held is not None and held >= interval


def hanging_handover(booth: Booth, now: datetime, limit: timedelta) -> bool:
    """True when a handover has been pending for ``limit`` or longer.

    A partner who neither accepts nor declines (a frozen tab, headphones off) leaves the
    live interpreter waiting; the control page shows it so the moderator can force it.
    """
    return booth.pending is not None and now - booth.pending.since >= limit


def booth_to_dict(booth: Booth, now: datetime) -> dict[str, object]:
    """The booth as JSON-ready data for the wire (snapshots and booth pages)."""
    held = on_mic(booth, now)
    h = booth.pending
    return {
        "id": booth.id,
        "language": booth.language,
        "retour": booth.retour,
        "members": [
            {
                "seat": seat,
                "person": person,
                "connected": person in booth.connected,
                "live": person == booth.live,
            }
            for seat, person in booth.seated()
        ],
        "live": booth.live,
        "live_since": booth.live_since.isoformat() if booth.live_since else None,
        "live_minutes": None if held is None else int(held.total_seconds() // 60),
        "pending": None
        if h is None
        else {
            "from_person": h.from_person,
            "to_person": h.to_person,
            "kind": h.kind,
            "since": h.since.isoformat(),
        },
        "coughing": booth.coughing,
        "version": booth.version,
    }


def events_to_dicts(events: Iterable[BoothEvent]) -> list[dict[str, object]]:
    return [event.to_dict() for event in events]
