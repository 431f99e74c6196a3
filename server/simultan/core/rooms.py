"""Rooms: the units of a live session (pure; no I/O, explicit time).

The plenary is one room; each group of a discussion item is another; B2B meetings later are
rooms too. A room has members, a facilitator and a rapporteur, optionally a booth (the
interpreter source that serves it), and is private (only its members and visitors with the
``visit_rooms`` capability may enter) or open (anyone admitted may enter).

Every admitted person is in exactly one room at any time: ``where`` maps each person to a
room id, and the plenary takes everyone not in a group. Groups go through phases:

    PLENARY ──plan──▶ PREVIEW ──open──▶ OPEN ──call_back──▶ CLOSING ──(60 s)──▶ PLENARY
                         │ (moves edit the plan)     ▲ auto at item end - 60 s
                         └──cancel──▶ PLENARY

``apply(state, command, now) -> (state, events)``; an illegal command raises
:class:`RoomsError` and changes nothing (states are frozen).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from simultan.errors import CommandError, NotFoundError

PLENARY = "plenary"
MIN_GROUP = 2
MAX_GROUP = 12
CALL_BACK = timedelta(seconds=60)


class RoomsError(CommandError):
    """A rooms command that cannot apply now (typed error to the client, nothing changed)."""


class UnknownRoom(NotFoundError):
    """A command named a room that does not exist."""


class Phase(StrEnum):
    PLENARY = "plenary"
    PREVIEW = "preview"
    OPEN = "open"
    CLOSING = "closing"


class Method(StrEnum):
    TOPIC = "topic"
    LANGUAGE = "language"
    RANDOM = "random"
    HAND = "hand"


@dataclass(frozen=True)
class Profile:
    """What a city chose at registration, used to assign it to a group."""

    topic: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class GroupDef:
    """A group given in advance (the event file) or made by ``plan``."""

    id: str
    title: str
    topic: str | None = None
    language: str | None = None
    facilitator: str | None = None  # person id
    booth: str | None = None  # media source key of the interpreter serving the group
    members: tuple[str, ...] = ()  # person ids the event file puts in this group


@dataclass(frozen=True)
class Room:
    id: str
    title: str
    kind: str = "group"  # "plenary", "group", "b2b"
    private: bool = True
    topic: str | None = None
    language: str | None = None
    facilitator: str | None = None
    rapporteur: str | None = None
    booth: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "private": self.private,
            "topic": self.topic,
            "language": self.language,
            "facilitator": self.facilitator,
            "rapporteur": self.rapporteur,
            "booth": self.booth,
        }


_PLENARY_ROOM = Room(id=PLENARY, title="Plenary", kind="plenary", private=False)


@dataclass(frozen=True)
class Visit:
    room: str
    speak: bool


@dataclass(frozen=True)
class RoomsState:
    rooms: tuple[Room, ...] = (_PLENARY_ROOM,)
    phase: Phase = Phase.PLENARY
    item: str | None = None
    # Admitted people (cities) and what they chose at registration.
    people: Mapping[str, Profile] = field(default_factory=dict)
    # Where each admitted person is now (absent: the plenary).
    where: Mapping[str, str] = field(default_factory=dict)
    # The plan: where each person goes when the groups open (absent: stays in the plenary).
    plan: Mapping[str, str] = field(default_factory=dict)
    # Visitors (the moderator): not members, do not count towards sizes.
    visits: Mapping[str, Visit] = field(default_factory=dict)
    ends_at: datetime | None = None  # the item's planned end: the countdown in every room
    closes_at: datetime | None = None  # set by call_back: when everyone is back
    # The last closed groups' rapporteurs, in group order (for the reports item).
    reporters: tuple[str, ...] = ()
    version: int = 0

    def room(self, room_id: str) -> Room:
        for r in self.rooms:
            if r.id == room_id:
                return r
        raise UnknownRoom(f"no room {room_id!r}")

    def has_room(self, room_id: str) -> bool:
        return any(r.id == room_id for r in self.rooms)

    @property
    def groups(self) -> tuple[Room, ...]:
        return tuple(r for r in self.rooms if r.id != PLENARY)

    @property
    def booths_serving(self) -> dict[str, str]:
        """Booth -> the group it serves now. Only while the groups are open (or closing): a
        booth assigned during the preview goes on interpreting the plenary until they open."""
        if self.phase not in (Phase.OPEN, Phase.CLOSING):
            return {}
        return {r.booth: r.id for r in self.groups if r.booth}

    def room_of(self, person: str) -> str:
        """The room a person is in now (a visitor: the room visited)."""
        visit = self.visits.get(person)
        if visit is not None:
            return visit.room
        return self.where.get(person, PLENARY)

    def members(self, room_id: str) -> tuple[str, ...]:
        """Members now, sorted (the plenary: every admitted person not in a group)."""
        return tuple(sorted(p for p in self.people if self.where.get(p, PLENARY) == room_id))

    def planned(self, room_id: str) -> tuple[str, ...]:
        return tuple(sorted(p for p in self.people if self.plan.get(p, PLENARY) == room_id))

    def to_dict(self) -> dict[str, Any]:
        placement = self.plan if self.phase is Phase.PREVIEW else self.where
        return {
            "phase": self.phase.value,
            "item": self.item,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "closes_at": self.closes_at.isoformat() if self.closes_at else None,
            "rooms": [
                {
                    **r.to_dict(),
                    "members": [
                        p for p in sorted(self.people) if placement.get(p, PLENARY) == r.id
                    ],
                    "visitors": sorted(p for p, v in self.visits.items() if v.room == r.id),
                    # Visitors who speak: heard after the members (member slots, in this order).
                    "speakers": sorted(
                        p for p, v in self.visits.items() if v.room == r.id and v.speak
                    ),
                }
                for r in self.rooms
            ],
            "reporters": list(self.reporters),
            "version": self.version,
        }


# --- records (the state as the event log keeps it, to survive a restart) ----------------------


def to_record(state: RoomsState) -> dict[str, Any]:
    """Everything needed to rebuild ``state`` (JSON-safe)."""

    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "rooms": [r.to_dict() for r in state.rooms],
        "phase": state.phase.value,
        "item": state.item,
        "people": {p: {"topic": v.topic, "language": v.language} for p, v in state.people.items()},
        "where": dict(state.where),
        "plan": dict(state.plan),
        "visits": {p: {"room": v.room, "speak": v.speak} for p, v in state.visits.items()},
        "ends_at": at(state.ends_at),
        "closes_at": at(state.closes_at),
        "reporters": list(state.reporters),
        "version": state.version,
    }


def from_record(record: Mapping[str, Any]) -> RoomsState:
    """The state :func:`to_record` wrote."""

    def at(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return RoomsState(
        rooms=tuple(Room(**r) for r in record["rooms"]),
        phase=Phase(record["phase"]),
        item=record["item"],
        people={p: Profile(**v) for p, v in record["people"].items()},
        where=dict(record["where"]),
        plan=dict(record["plan"]),
        visits={p: Visit(**v) for p, v in record["visits"].items()},
        ends_at=at(record["ends_at"]),
        closes_at=at(record["closes_at"]),
        reporters=tuple(record["reporters"]),
        version=record["version"],
    )


# --- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Admit:
    """A city joins the session (its tab connected); a person already known keeps its room."""

    person: str
    profile: Profile = Profile()


@dataclass(frozen=True)
class Plan:
    """Make groups for a discussion item: a preview, nothing moves until ``Open``."""

    item: str
    method: Method
    count: int | None = None  # number of groups, or
    size: int | None = None  # the group size
    seed: int = 0
    predefined: tuple[GroupDef, ...] = ()


@dataclass(frozen=True)
class Move:
    """Move a person to a room (the plan in preview, the person itself once open)."""

    person: str
    room: str


@dataclass(frozen=True)
class SetRoles:
    room: str
    facilitator: str | None = None
    rapporteur: str | None = None


@dataclass(frozen=True)
class AssignBooth:
    room: str
    booth: str | None


@dataclass(frozen=True)
class Open:
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Cancel:
    """Drop the preview; nobody moved."""


@dataclass(frozen=True)
class CallBack:
    """Give every room a 60-second countdown; then everyone is back in the plenary."""


@dataclass(frozen=True)
class VisitRoom:
    person: str
    room: str | None  # None: back to where the person belongs
    speak: bool = False


@dataclass(frozen=True)
class Tick:
    """Time passes: the call back closes at ``closes_at``; the item's end calls back."""


Command = Admit | Plan | Move | SetRoles | AssignBooth | Open | Cancel | CallBack | VisitRoom | Tick


@dataclass(frozen=True)
class RoomEvent:
    name: str
    data: Mapping[str, Any]


# --- assignment (pure, deterministic for a seed) ------------------------------------------------


def group_count(n_people: int, *, count: int | None, size: int | None) -> int:
    """How many groups for ``n_people``, from a count or a size; bounds checked."""
    if (count is None) == (size is None):
        raise RoomsError("give either the number of groups or the group size")
    if size is not None:
        if not MIN_GROUP <= size <= MAX_GROUP:
            raise RoomsError(f"group size must be {MIN_GROUP} to {MAX_GROUP}, not {size}")
        count = max(1, n_people // size)  # groups of at least ``size``
    assert count is not None
    if count < 1:
        raise RoomsError("at least one group")
    if n_people < MIN_GROUP * count:
        raise RoomsError(f"{n_people} cities cannot make {count} groups of at least {MIN_GROUP}")
    if n_people > MAX_GROUP * count:
        count = math.ceil(n_people / MAX_GROUP)
    return count


def _chunks(people: list[str], count: int) -> list[list[str]]:
    """Split in order into ``count`` contiguous parts whose sizes differ by at most one."""
    base, extra = divmod(len(people), count)
    out, start = [], 0
    for i in range(count):
        n = base + (1 if i < extra else 0)
        out.append(people[start : start + n])
        start += n
    return out


def assign(
    people: Mapping[str, Profile],
    method: Method,
    count: int,
    *,
    seed: int = 0,
    groups: tuple[GroupDef, ...] = (),
) -> tuple[tuple[GroupDef, ...], dict[str, str]]:
    """Groups and person -> group id; every group gets MIN..MAX people (HAND: nobody)."""
    ids = sorted(people)
    defs = list(groups[:count])
    for i in range(len(defs), count):
        defs.append(GroupDef(id=f"group-{i + 1}", title=f"Group {i + 1}"))
    if method is Method.HAND:
        return tuple(defs), {}
    if method is Method.RANDOM:
        random.Random(seed).shuffle(ids)
        parts = _chunks(ids, count)
    else:
        attr = "topic" if method is Method.TOPIC else "language"

        def key(p: str) -> tuple[str, str]:
            return (getattr(people[p], attr) or "\uffff", p)

        ordered = sorted(ids, key=key)
        parts = _chunks(ordered, count)
        # Predefined groups with a topic/language get the part where it dominates.
        parts = _match_parts(parts, defs, people, attr)
        for i, part in enumerate(parts):
            if defs[i].topic is None and defs[i].language is None and part:
                label = _dominant(part, people, attr)
                if label is not None:
                    labelled: dict[str, Any] = {attr: label}
                    defs[i] = replace(defs[i], title=f"{defs[i].title}: {label}", **labelled)
    return tuple(defs), {p: defs[i].id for i, part in enumerate(parts) for p in part}


def _dominant(part: Iterable[str], people: Mapping[str, Profile], attr: str) -> str | None:
    counts: dict[str, int] = {}
    for p in part:
        value = getattr(people[p], attr)
        if value is not None:
            counts[value] = counts.get(value, 0) + 1
    if not counts:
        return None
    return min(counts, key=lambda v: (-counts[v], v))


def _match_parts(
    parts: list[list[str]], defs: list[GroupDef], people: Mapping[str, Profile], attr: str
) -> list[list[str]]:
    """Reorder parts so a predefined group's topic (or language) gets the part it dominates."""
    remaining = list(range(len(parts)))
    out: list[list[str] | None] = [None] * len(defs)
    for i, d in enumerate(defs):
        want = getattr(d, attr)
        if want is None:
            continue
        best = max(
            remaining,
            key=lambda j: sum(1 for p in parts[j] if getattr(people[p], attr) == want),
            default=None,
        )
        if best is not None:
            out[i] = parts[best]
            remaining.remove(best)
    for i in range(len(defs)):
        if out[i] is None:
            out[i] = parts[remaining.pop(0)]
    return [p if p is not None else [] for p in out]


# --- apply -------------------------------------------------------------------------------------


def _sizes(placement: Mapping[str, str], people: Iterable[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for p in people:
        room = placement.get(p, PLENARY)
        sizes[room] = sizes.get(room, 0) + 1
    return sizes


def _check_bounds(state: RoomsState, placement: Mapping[str, str]) -> None:
    sizes = _sizes(placement, state.people)
    for g in state.groups:
        n = sizes.get(g.id, 0)
        if not MIN_GROUP <= n <= MAX_GROUP:
            raise RoomsError(f"group {g.id!r} has {n} members: {MIN_GROUP} to {MAX_GROUP} needed")


def _bump(state: RoomsState, **changes: Any) -> RoomsState:
    return replace(state, version=state.version + 1, **changes)


def _back_to_plenary(state: RoomsState, now: datetime) -> tuple[RoomsState, list[RoomEvent]]:
    reporters = tuple(g.rapporteur for g in state.groups if g.rapporteur is not None)
    moved = sorted(p for p in state.people if state.where.get(p, PLENARY) != PLENARY)
    new = _bump(
        state,
        rooms=(_PLENARY_ROOM,),
        phase=Phase.PLENARY,
        where={},
        plan={},
        visits={},
        closes_at=None,
        ends_at=None,
        reporters=reporters,
        item=state.item,
    )
    return new, [
        RoomEvent(
            "groups_closed",
            {
                "item": state.item,
                "moved": moved,
                "reporters": list(reporters),
                "at": now.isoformat(),
            },
        )
    ]


def apply(state: RoomsState, command: Command, now: datetime) -> tuple[RoomsState, list[RoomEvent]]:
    match command:
        case Admit(person=person, profile=profile):
            people = {**state.people, person: profile}
            where = dict(state.where)
            if person not in state.people and state.phase in (Phase.OPEN,) and state.groups:
                # A late city joins the smallest group that has room.
                sizes = _sizes(state.where, state.people)
                candidates = [g for g in state.groups if sizes.get(g.id, 0) < MAX_GROUP]
                if candidates:
                    target = min(candidates, key=lambda g: (sizes.get(g.id, 0), g.id))
                    where[person] = target.id
            new = _bump(state, people=people, where=where)
            return new, [RoomEvent("admitted", {"person": person, "room": new.room_of(person)})]

        case Plan(item=item, method=method, count=count, size=size, seed=seed, predefined=pre):
            if state.phase not in (Phase.PLENARY, Phase.PREVIEW):
                raise RoomsError(f"groups are {state.phase.value}: close them first")
            if pre and count is None and size is None:
                count = len(pre)
            n = group_count(len(state.people), count=count, size=size)
            defs, plan = assign(state.people, method, n, seed=seed, groups=pre)
            # The event file's members (and a city facilitating) go to their own group.
            for d in defs:
                for p in (*d.members, d.facilitator):
                    if p is not None and p in state.people:
                        plan[p] = d.id
            rooms = (
                _PLENARY_ROOM,
                *(
                    Room(
                        id=d.id,
                        title=d.title,
                        topic=d.topic,
                        language=d.language,
                        facilitator=d.facilitator if d.facilitator in state.people else None,
                        booth=d.booth,
                    )
                    for d in defs
                ),
            )
            new = _bump(state, rooms=rooms, phase=Phase.PREVIEW, item=item, plan=plan)
            return new, [RoomEvent("groups_planned", {"item": item, "groups": len(defs)})]

        case Move(person=person, room=room_id):
            if state.phase is Phase.PLENARY:
                raise RoomsError("no groups to move people between")
            if person not in state.people:
                raise NotFoundError(f"no admitted person {person!r}")
            state.room(room_id)  # raises UnknownRoom
            field_name = "plan" if state.phase is Phase.PREVIEW else "where"
            placement: dict[str, str] = dict(getattr(state, field_name))
            source = placement.get(person, PLENARY)
            if source == room_id:
                return state, []
            sizes = _sizes(placement, state.people)
            if room_id != PLENARY and sizes.get(room_id, 0) >= MAX_GROUP:
                raise RoomsError(f"group {room_id!r} is full ({MAX_GROUP})")
            if (
                state.phase is not Phase.PREVIEW
                and source != PLENARY
                and sizes.get(source, 0) <= MIN_GROUP
            ):
                raise RoomsError(f"group {source!r} would have fewer than {MIN_GROUP} members")
            if room_id == PLENARY:
                placement.pop(person, None)
            else:
                placement[person] = room_id
            changes: dict[str, Any] = {field_name: placement}
            if state.phase is not Phase.PREVIEW:
                changes["plan"] = placement
            # A facilitator or rapporteur who leaves a group gives up the role.
            changes["rooms"] = tuple(
                replace(
                    r,
                    facilitator=None
                    if r.facilitator == person and r.id == source
                    else r.facilitator,
                    rapporteur=None if r.rapporteur == person and r.id == source else r.rapporteur,
                )
                for r in state.rooms
            )
            new = _bump(state, **changes)
            return new, [RoomEvent("moved", {"person": person, "from": source, "to": room_id})]

        case SetRoles(room=room_id, facilitator=fac, rapporteur=rap):
            room = state.room(room_id)
            if room.id == PLENARY:
                raise RoomsError("the plenary has no facilitator or rapporteur")
            current = state.plan if state.phase is Phase.PREVIEW else state.where
            for who in (fac, rap):
                if who is not None and current.get(who) != room.id:
                    raise RoomsError(f"{who!r} is not a member of {room.id!r}")
            updated = replace(room, facilitator=fac, rapporteur=rap)
            new = _bump(state, rooms=tuple(updated if r.id == room.id else r for r in state.rooms))
            return new, [
                RoomEvent("roles_set", {"room": room.id, "facilitator": fac, "rapporteur": rap})
            ]

        case AssignBooth(room=room_id, booth=booth):
            room = state.room(room_id)
            if booth is not None:
                for r in state.rooms:
                    if r.booth == booth and r.id != room.id:
                        raise RoomsError(f"{booth!r} already serves {r.id!r}")
            updated = replace(room, booth=booth)
            new = _bump(state, rooms=tuple(updated if r.id == room.id else r for r in state.rooms))
            return new, [RoomEvent("booth_assigned", {"room": room.id, "booth": booth})]

        case Open(ends_at=ends_at):
            if state.phase is not Phase.PREVIEW:
                raise RoomsError("nothing to open: plan the groups first")
            _check_bounds(state, state.plan)
            new = _bump(state, phase=Phase.OPEN, where=dict(state.plan), ends_at=ends_at)
            return new, [
                RoomEvent(
                    "groups_opened",
                    {"item": state.item, "ends_at": ends_at.isoformat() if ends_at else None},
                )
            ]

        case Cancel():
            if state.phase is not Phase.PREVIEW:
                raise RoomsError("no preview to cancel")
            new = _bump(state, rooms=(_PLENARY_ROOM,), phase=Phase.PLENARY, plan={}, item=None)
            return new, [RoomEvent("groups_cancelled", {})]

        case CallBack():
            if state.phase is not Phase.OPEN:
                raise RoomsError("no open groups to call back")
            closes = now + CALL_BACK
            if state.ends_at is not None and state.ends_at > now:
                closes = min(closes, state.ends_at)
            new = _bump(state, phase=Phase.CLOSING, closes_at=closes)
            return new, [RoomEvent("call_back", {"closes_at": closes.isoformat()})]

        case VisitRoom(person=person, room=room_id, speak=speak):
            visits = dict(state.visits)
            if room_id is None or room_id == state.where.get(person, PLENARY):
                if person not in visits:
                    return state, []
                del visits[person]
            else:
                state.room(room_id)
                visits[person] = Visit(room=room_id, speak=speak)
            new = _bump(state, visits=visits)
            return new, [
                RoomEvent("visit", {"person": person, "room": new.room_of(person), "speak": speak})
            ]

        case Tick():
            if state.phase is Phase.OPEN and state.ends_at is not None:
                if now >= state.ends_at - CALL_BACK:
                    return apply(state, CallBack(), now)
            if state.phase is Phase.CLOSING and state.closes_at is not None:
                if now >= state.closes_at:
                    return _back_to_plenary(state, now)
            return state, []

    raise RoomsError(f"unknown rooms command {command!r}")


def may_enter(state: RoomsState, person: str, room_id: str, *, visitor: bool) -> bool:
    """A participant enters only its own room (or an open one); a visitor any room."""
    room = state.room(room_id)
    if visitor or not room.private:
        return True
    return state.where.get(person, PLENARY) == room_id
