"""The floor of one room: who speaks, who waits, and what language the floor is in.

The floor is a *set* of live speakers (a panel), not one holder. This module is the pure
state machine behind it: ``apply(floor, command, now) -> (floor, events)``, with no I/O and
no clock of its own, like :mod:`simultan.core.booths`. A :class:`Floor` is a value: the
plenary's live session owns one, and a group-discussion room can own another.

Rules:

- **Grants are per person**, not roles: anyone the caller vouches for (registered and
  admitted) may be granted the floor; while live they may publish (``may_publish``). A
  taken-back speaker is out of ``live`` at once, so ``may_publish`` is false for them.
- **A limit** on live speakers (``Floor.limit``, settings, default 6). ``Floor.__post_init__``
  rejects a state over the limit, so no command can reach one.
- **Mute is the server's**: ``mix_keys`` never names a muted speaker, and the media plane
  mixes only what it names.
- **The raise-hand queue** is ordered by the time a hand went up; granting the floor takes
  the hand down. Panelists of the current agenda item are *invited* (``you are on next``)
  and come first in ``candidates``.
- **The floor language** is the active speaker's, debounced: a new language must hold for
  ``language_debounce`` before it becomes the floor's, so a short interjection does not
  flip the booths' pivot. The active speaker comes from the mix's levels, with a hold time
  so the floor video does not flicker; a pinned speaker wins over the levels.
- **Success always changes something.** Redundant moves (raising a hand twice, muting the
  muted) raise :class:`AlreadySo` (a ``CommandError``): the driver answers them like a
  success and stores nothing, so a retried message creates no event. Impossible moves
  (muting someone not live, a full panel) are plain ``CommandError``s.
- **Stale commands**: a moderator's command may carry ``base_version``; if the floor moved
  since, ``ConflictError``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from simultan.errors import CommandError, ConflictError

DEFAULT_LIMIT = 6
# The active speaker must be this much louder than the current one, for this long, to
# take over the floor video (a cough or a "yes" does not).
ACTIVE_HOLD = timedelta(seconds=1.5)
SPEAKING_DBFS = -45.0
# A floor language change must hold this long before the booths' routing follows it.
LANGUAGE_DEBOUNCE = timedelta(seconds=3)


class AlreadySo(CommandError):
    """The move would change nothing (a hand raised twice, the muted muted again). Nothing
    is stored either way: a participant's own hand answers it as a typed ``unchanged``
    error (their page shows the state it already has); a moderator's move answers it like a
    success, so a retried click is harmless."""

    code = "unchanged"


# --- state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Speaker:
    """A live speaker: granted the floor at ``since``, speaking ``language``."""

    person_id: str
    language: str
    since: datetime
    muted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "language": self.language,
            "since": self.since.isoformat(),
            "muted": self.muted,
        }


@dataclass(frozen=True)
class Hand:
    person_id: str
    language: str
    raised_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "language": self.language,
            "raised_at": self.raised_at.isoformat(),
        }


@dataclass(frozen=True)
class Floor:
    language: str
    limit: int = DEFAULT_LIMIT
    live: tuple[Speaker, ...] = ()
    hands: tuple[Hand, ...] = ()  # ordered by raised_at
    invited: tuple[str, ...] = ()  # the current item's panelists, not yet live
    active: str | None = None  # whose video is the floor's (and whose language counts)
    active_since: datetime | None = None
    pinned: str | None = None
    pending_language: str | None = None  # a language waiting out the debounce
    pending_since: datetime | None = None
    # A candidate active speaker and since when they have been the loudest.
    challenger: str | None = None
    challenger_since: datetime | None = None
    version: int = 0
    hold: timedelta = field(default=ACTIVE_HOLD, compare=False)
    debounce: timedelta = field(default=LANGUAGE_DEBOUNCE, compare=False)

    def __post_init__(self) -> None:
        ids = [s.person_id for s in self.live]
        if len(self.live) > self.limit:
            raise ValueError(f"{len(self.live)} live speakers over the limit {self.limit}")
        if len(set(ids)) != len(ids):
            raise ValueError("a speaker is live twice")
        hands = [h.person_id for h in self.hands]
        if len(set(hands)) != len(hands) or set(hands) & set(ids):
            raise ValueError("a hand is raised twice, or by a live speaker")
        if any(a.raised_at > b.raised_at for a, b in itertools.pairwise(self.hands)):
            raise ValueError("hands out of order")
        if self.active is not None and self.active not in ids:
            raise ValueError("the active speaker is not live")
        if self.pinned is not None and self.pinned not in ids:
            raise ValueError("the pinned speaker is not live")

    # -- queries ---------------------------------------------------------------------------

    def speaker(self, person_id: str) -> Speaker | None:
        return next((s for s in self.live if s.person_id == person_id), None)

    def is_live(self, person_id: str) -> bool:
        return self.speaker(person_id) is not None

    def may_publish(self, person_id: str) -> bool:
        """A per-person grant: only a live speaker publishes to the floor."""
        return self.is_live(person_id)

    def hand(self, person_id: str) -> Hand | None:
        return next((h for h in self.hands if h.person_id == person_id), None)

    def place_in_queue(self, person_id: str) -> int | None:
        """1 for the first hand raised; None when not in the queue."""
        for n, h in enumerate(self.hands, 1):
            if h.person_id == person_id:
                return n
        return None

    def mix_keys(self) -> tuple[str, ...]:
        """Who reaches the mix: every live speaker who is not muted."""
        return tuple(s.person_id for s in self.live if not s.muted)

    def candidates(self) -> tuple[str, ...]:
        """Who the moderator is offered first: invited panelists, then hands by time."""
        hands = tuple(h.person_id for h in self.hands if h.person_id not in self.invited)
        return self.invited + hands

    def shown(self) -> str | None:
        """Whose video the floor shows: the pinned speaker, else the active one."""
        return self.pinned or self.active

    @property
    def full(self) -> bool:
        return len(self.live) >= self.limit


def initial_floor(
    language: str,
    *,
    limit: int = DEFAULT_LIMIT,
    hold: timedelta = ACTIVE_HOLD,
    debounce: timedelta = LANGUAGE_DEBOUNCE,
) -> Floor:
    if limit < 1:
        raise ValueError("the floor needs room for at least one speaker")
    return Floor(language=language, limit=limit, hold=hold, debounce=debounce)


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RaiseHand:
    by: str
    language: str


@dataclass(frozen=True)
class LowerHand:
    person_id: str


@dataclass(frozen=True)
class LowerAllHands:
    pass


@dataclass(frozen=True)
class Grant:
    person_id: str
    language: str


@dataclass(frozen=True)
class TakeBack:
    person_id: str


@dataclass(frozen=True)
class EndPanel:
    pass


@dataclass(frozen=True)
class Mute:
    person_id: str
    on: bool


@dataclass(frozen=True)
class SpeakerLanguage:
    person_id: str
    language: str


@dataclass(frozen=True)
class Pin:
    person_id: str | None


@dataclass(frozen=True)
class Invite:
    """The current item's panelists (replaces earlier invitations; live ones are skipped)."""

    person_ids: tuple[str, ...]


@dataclass(frozen=True)
class SetLanguage:
    """The moderator sets the floor language now (no debounce)."""

    language: str


@dataclass(frozen=True)
class Levels:
    """The mix's levels (dBFS by person id), observed at ``now``: not a user command."""

    levels: Mapping[str, float]


FloorCommand: TypeAlias = (
    RaiseHand
    | LowerHand
    | LowerAllHands
    | Grant
    | TakeBack
    | EndPanel
    | Mute
    | SpeakerLanguage
    | Pin
    | Invite
    | SetLanguage
    | Levels
)


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FloorEvent:
    kind: str
    person_id: str | None = None
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.person_id is not None:
            out["person_id"] = self.person_id
        if self.language is not None:
            out["language"] = self.language
        return out


Result: TypeAlias = tuple[Floor, tuple[FloorEvent, ...]]


# --- apply ----------------------------------------------------------------------------------


def check_version(floor: Floor, base_version: int | None) -> None:
    if base_version is not None and base_version != floor.version:
        raise ConflictError(
            f"the floor changed (version {floor.version}, your view was {base_version})",
            details={"version": floor.version},
        )


def apply(floor: Floor, cmd: FloorCommand, now: datetime) -> Result:
    """The floor after ``cmd`` at ``now``, and what changed. Raises CommandError for a move
    that is impossible or would change nothing."""
    if isinstance(cmd, Levels):
        return _levels(floor, cmd.levels, now)
    new, events = _command(floor, cmd, now)
    new, more = _settle(new, now)
    return replace(new, version=floor.version + 1), events + more


def _command(floor: Floor, cmd: FloorCommand, now: datetime) -> Result:
    if isinstance(cmd, RaiseHand):
        if floor.is_live(cmd.by):
            raise CommandError("you are on the floor already")
        if floor.hand(cmd.by) is not None:
            raise AlreadySo("your hand is raised already")
        hand = Hand(cmd.by, cmd.language, now)
        hands = tuple(sorted((*floor.hands, hand), key=lambda h: h.raised_at))
        return replace(floor, hands=hands), (FloorEvent("hand_raised", cmd.by, cmd.language),)
    if isinstance(cmd, LowerHand):
        if floor.hand(cmd.person_id) is None:
            raise AlreadySo("that hand is not raised")
        return replace(floor, hands=_without_hand(floor.hands, cmd.person_id)), (
            FloorEvent("hand_lowered", cmd.person_id),
        )
    if isinstance(cmd, LowerAllHands):
        if not floor.hands:
            raise AlreadySo("no hand is raised")
        return replace(floor, hands=()), tuple(
            FloorEvent("hand_lowered", h.person_id) for h in floor.hands
        )
    if isinstance(cmd, Grant):
        if floor.is_live(cmd.person_id):
            raise AlreadySo("that person is on the floor already")
        if floor.full:
            raise CommandError(
                f"the floor is full ({floor.limit} live speakers): take someone back first"
            )
        raised = floor.hand(cmd.person_id)
        language = cmd.language or (raised.language if raised else floor.language)
        live = (*floor.live, Speaker(cmd.person_id, language, now))
        return replace(
            floor,
            live=live,
            hands=_without_hand(floor.hands, cmd.person_id),
            invited=tuple(p for p in floor.invited if p != cmd.person_id),
        ), (FloorEvent("live", cmd.person_id, language),)
    if isinstance(cmd, TakeBack):
        _live(floor, cmd.person_id)
        return _remove(floor, (cmd.person_id,))
    if isinstance(cmd, EndPanel):
        if not floor.live and not floor.invited:
            raise AlreadySo("nobody is on the floor")
        new, events = _remove(floor, tuple(s.person_id for s in floor.live))
        return replace(new, invited=()), events
    if isinstance(cmd, Mute):
        speaker = _live(floor, cmd.person_id)
        if speaker.muted == cmd.on:
            raise AlreadySo("muted already" if cmd.on else "not muted")
        return _put(floor, replace(speaker, muted=cmd.on)), (
            FloorEvent("muted" if cmd.on else "unmuted", cmd.person_id),
        )
    if isinstance(cmd, SpeakerLanguage):
        speaker = _live(floor, cmd.person_id)
        if speaker.language == cmd.language:
            raise AlreadySo(f"already speaking {cmd.language}")
        return _put(floor, replace(speaker, language=cmd.language)), (
            FloorEvent("speaker_language", cmd.person_id, cmd.language),
        )
    if isinstance(cmd, Pin):
        if cmd.person_id is not None:
            _live(floor, cmd.person_id)
        if floor.pinned == cmd.person_id:
            raise AlreadySo("pinned already" if cmd.person_id else "nobody is pinned")
        return replace(floor, pinned=cmd.person_id), (FloorEvent("pinned", cmd.person_id),)
    if isinstance(cmd, Invite):
        invited = tuple(dict.fromkeys(p for p in cmd.person_ids if not floor.is_live(p)))
        if invited == floor.invited:
            raise AlreadySo("those panelists are invited already")
        return replace(floor, invited=invited), tuple(
            FloorEvent("invited", p) for p in invited if p not in floor.invited
        )
    if isinstance(cmd, SetLanguage):
        if cmd.language == floor.language and floor.pending_language is None:
            raise AlreadySo(f"the floor speaks {cmd.language} already")
        # The one shown speaks it now (or the floor would drift back after the debounce).
        shown = floor.speaker(floor.shown() or "")
        if shown is not None:
            floor = _put(floor, replace(shown, language=cmd.language))
        return replace(floor, language=cmd.language, pending_language=None, pending_since=None), (
            FloorEvent("language", language=cmd.language),
        )
    raise TypeError(f"not a floor command: {cmd!r}")  # pragma: no cover


def _live(floor: Floor, person_id: str) -> Speaker:
    speaker = floor.speaker(person_id)
    if speaker is None:
        raise CommandError("that person is not on the floor")
    return speaker


def _put(floor: Floor, speaker: Speaker) -> Floor:
    return replace(
        floor,
        live=tuple(speaker if s.person_id == speaker.person_id else s for s in floor.live),
    )


def _without_hand(hands: tuple[Hand, ...], person_id: str) -> tuple[Hand, ...]:
    return tuple(h for h in hands if h.person_id != person_id)


def _remove(floor: Floor, ids: Iterable[str]) -> Result:
    gone = set(ids)
    return replace(
        floor,
        live=tuple(s for s in floor.live if s.person_id not in gone),
        active=None if floor.active in gone else floor.active,
        active_since=None if floor.active in gone else floor.active_since,
        pinned=None if floor.pinned in gone else floor.pinned,
        challenger=None if floor.challenger in gone else floor.challenger,
    ), tuple(FloorEvent("off", p) for p in sorted(gone))


def _settle(floor: Floor, now: datetime) -> Result:
    """After a grant or take-back: someone live is active if anyone is, and the language
    heads for the active speaker's."""
    events: list[FloorEvent] = []
    if floor.active is None and floor.live:
        first = floor.live[0].person_id
        floor = replace(floor, active=first, active_since=now)
        events.append(FloorEvent("active", first))
    new, more = _follow_language(floor, now)
    return new, (*events, *more)


def _levels(floor: Floor, levels: Mapping[str, float], now: datetime) -> Result:
    """Who the active speaker is from the mix's levels (with a hold time), then the
    debounced language. No version bump: levels are observations, not commands."""
    events: list[FloorEvent] = []
    audible = {
        p: level
        for p, level in levels.items()
        if level > SPEAKING_DBFS and (s := floor.speaker(p)) is not None and not s.muted
    }
    loudest = max(audible, key=lambda p: audible[p]) if audible else None
    if loudest is None or loudest == floor.active or (floor.active in audible):
        # nobody speaks, the active one goes on, or the active one is still audible
        floor = replace(floor, challenger=None, challenger_since=None)
    elif floor.challenger != loudest:
        floor = replace(floor, challenger=loudest, challenger_since=now)
    elif floor.challenger_since is not None and now - floor.challenger_since >= floor.hold:
        floor = replace(floor, active=loudest, active_since=now, challenger=None)
        floor = replace(floor, challenger_since=None)
        events.append(FloorEvent("active", loudest))
    new, more = _follow_language(floor, now)
    return new, (*events, *more)


def _follow_language(floor: Floor, now: datetime) -> Result:
    active = floor.speaker(floor.pinned or floor.active or "")
    wanted = active.language if active is not None else None
    if wanted is None or wanted == floor.language:
        return replace(floor, pending_language=None, pending_since=None), ()
    if floor.pending_language != wanted or floor.pending_since is None:
        return replace(floor, pending_language=wanted, pending_since=now), (
            FloorEvent("language_pending", language=wanted),
        )
    if now - floor.pending_since >= floor.debounce:
        return replace(floor, language=wanted, pending_language=None, pending_since=None), (
            FloorEvent("language", language=wanted),
        )
    return floor, ()


def tick(floor: Floor, now: datetime) -> Result:
    """Let time pass (no levels): a pending language whose debounce ran out takes effect."""
    return _follow_language(floor, now)


# --- wire -----------------------------------------------------------------------------------


def to_dict(floor: Floor, now: datetime | None = None) -> dict[str, Any]:
    pending_at = (
        (floor.pending_since + floor.debounce).isoformat()
        if floor.pending_since is not None
        else None
    )
    return {
        "version": floor.version,
        "language": floor.language,
        "limit": floor.limit,
        "live": [s.to_dict() for s in floor.live],
        "hands": [h.to_dict() for h in floor.hands],
        "invited": list(floor.invited),
        "active": floor.active,
        "pinned": floor.pinned,
        "shown": floor.shown(),
        "pending_language": floor.pending_language,
        "pending_at": pending_at,
    }
