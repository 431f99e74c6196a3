"""The live timeline of an event's agenda: a pure state machine the moderator drives.

``apply(timeline, command, now) -> (timeline, events)`` is the whole contract. Nothing here
reads a clock or does I/O: the caller passes ``now`` (an aware datetime), stores every
accepted ``(command_to_dict(command), now)`` pair and rebuilds the state after a restart
with ``replay``. Every command names the ``base_version`` it was issued against, so two
moderators acting on the same screen cannot trample each other: the second one gets a
ConflictError and should re-read the timeline.

Running order: the order the items will run in. It starts as the planned order and changes
only by ``Reorder`` (scheduled items trade places; the others keep theirs) and by starting
an item out of turn (``Start(item_id)``, ``Jump``), which moves that item to just before the
first scheduled one. So started items always come before scheduled ones, "next" always
means "the first scheduled item", and the agenda a browser shows reads top to bottom.

Time never runs backwards inside a timeline: a ``now`` earlier than the last accepted
command (a clock step on the server) is treated as that command's time, so durations stay
non-negative. A naive ``now`` is a programming error and raises ValueError.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, TypeAlias, assert_never, get_type_hints

from simultan.errors import CommandError, ConfigError, ConflictError

MAX_EXTENSION_MINUTES = 240
_ZERO = timedelta(0)

# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeakerRef:
    name: str
    language: str
    city: str | None


@dataclass(frozen=True, slots=True)
class PlannedItem:
    id: str
    title: str
    kind: str
    planned_start: datetime
    duration: timedelta
    speakers: tuple[SpeakerRef, ...] = ()

    @property
    def planned_end(self) -> datetime:
        return self.planned_start + self.duration


# --- state -------------------------------------------------------------------------------------


class ItemStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    PAUSED = "paused"
    DONE = "done"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class ItemRun:
    """One agenda item as it actually runs.

    ``paused`` sums the finished pauses only; a pause under way is ``Timeline.paused_since``.
    """

    item: PlannedItem
    status: ItemStatus = ItemStatus.SCHEDULED
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    extension_minutes: int = 0
    paused: timedelta = _ZERO

    @property
    def id(self) -> str:
        return self.item.id


@dataclass(frozen=True, slots=True)
class Timeline:
    """Items in running order; ``current`` is the live or paused item, if any."""

    items: tuple[ItemRun, ...]
    current: str | None = None
    paused_since: datetime | None = None
    version: int = 0
    updated_at: datetime | None = None  # the time of the last accepted command

    def run(self, item_id: str) -> ItemRun:
        for run in self.items:
            if run.id == item_id:
                return run
        raise CommandError(f"unknown agenda item {item_id!r}", details={"item_id": item_id})


def initial_timeline(items: Iterable[PlannedItem]) -> Timeline:
    """Every item scheduled, in planned order, at version 0."""
    planned = sorted(items, key=lambda p: p.planned_start)
    if not planned:
        raise ConfigError("an agenda needs at least one item")
    ids = [p.id for p in planned]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"agenda item ids must be unique, repeated: {', '.join(dupes)}")
    naive = [p.id for p in planned if p.planned_start.utcoffset() is None]
    if naive:
        raise ConfigError(f"planned starts must be aware datetimes: {', '.join(naive)}")
    return Timeline(items=tuple(ItemRun(p) for p in planned))


# --- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """Start ``item_id`` (or the next scheduled item); the current item ends as done."""

    name: ClassVar[str] = "start"
    base_version: int
    item_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Next:
    """End the current item and start the next scheduled one; if none is left, just end."""

    name: ClassVar[str] = "next"
    base_version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause:
    name: ClassVar[str] = "pause"
    base_version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    name: ClassVar[str] = "resume"
    base_version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Extend:
    name: ClassVar[str] = "extend"
    base_version: int
    minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Skip:
    name: ClassVar[str] = "skip"
    base_version: int
    item_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reorder:
    """A new order for exactly the scheduled items; the others keep their places."""

    name: ClassVar[str] = "reorder"
    base_version: int
    order: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Jump:
    """End the current item and start ``item_id``, which may be scheduled or skipped."""

    name: ClassVar[str] = "jump"
    base_version: int
    item_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    name: ClassVar[str] = "finish"
    base_version: int


Command: TypeAlias = Start | Next | Pause | Resume | Extend | Skip | Reorder | Jump | Finish
_COMMANDS: dict[str, type[Command]] = {
    c.name: c for c in (Start, Next, Pause, Resume, Extend, Skip, Reorder, Jump, Finish)
}

# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = _iso(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class ItemStarted(_Event):
    kind: ClassVar[str] = "item_started"
    item_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ItemFinished(_Event):
    kind: ClassVar[str] = "item_finished"
    item_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ItemPaused(_Event):
    kind: ClassVar[str] = "item_paused"
    item_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ItemResumed(_Event):
    kind: ClassVar[str] = "item_resumed"
    item_id: str
    at: datetime
    paused_seconds: int  # the length of the pause that just ended


@dataclass(frozen=True, slots=True)
class ItemExtended(_Event):
    kind: ClassVar[str] = "item_extended"
    item_id: str
    minutes: int
    total_minutes: int


@dataclass(frozen=True, slots=True)
class ItemSkipped(_Event):
    kind: ClassVar[str] = "item_skipped"
    item_id: str


@dataclass(frozen=True, slots=True)
class AgendaReordered(_Event):
    kind: ClassVar[str] = "agenda_reordered"
    order: tuple[str, ...]  # the whole running order afterwards


TimelineEvent: TypeAlias = (
    ItemStarted
    | ItemFinished
    | ItemPaused
    | ItemResumed
    | ItemExtended
    | ItemSkipped
    | AgendaReordered
)

# --- apply -------------------------------------------------------------------------------------


class _Draft:
    """A working copy for one command: the input timeline is never touched."""

    def __init__(self, timeline: Timeline, now: datetime) -> None:
        self.runs = list(timeline.items)
        self.current = timeline.current
        self.paused_since = timeline.paused_since
        self.now = now
        self.events: list[TimelineEvent] = []

    def get(self, item_id: str) -> ItemRun:
        for run in self.runs:
            if run.id == item_id:
                return run
        raise CommandError(f"unknown agenda item {item_id!r}", details={"item_id": item_id})

    def put(self, new: ItemRun) -> None:
        self.runs = [new if run.id == new.id else run for run in self.runs]

    def running(self, action: str) -> ItemRun:
        if self.current is None:
            raise CommandError(f"nothing is running to {action}")
        return self.get(self.current)

    def next_scheduled(self) -> str | None:
        return next((r.id for r in self.runs if r.status is ItemStatus.SCHEDULED), None)

    def finish_current(self) -> None:
        if self.current is None:
            return
        run = self.get(self.current)
        paused = run.paused + (self.now - self.paused_since if self.paused_since else _ZERO)
        self.put(replace(run, status=ItemStatus.DONE, actual_end=self.now, paused=paused))
        self.events.append(ItemFinished(run.id, self.now))
        self.current = self.paused_since = None

    def start(self, item_id: str) -> None:
        self.finish_current()
        run = self.get(item_id)
        rest = [r for r in self.runs if r.id != item_id]
        # Just before the first scheduled item, or after the last started one if none is left.
        first = next((i for i, r in enumerate(rest) if r.status is ItemStatus.SCHEDULED), None)
        if first is None:
            started = [i for i, r in enumerate(rest) if r.actual_start is not None]
            first = started[-1] + 1 if started else 0
        rest.insert(first, replace(run, status=ItemStatus.LIVE, actual_start=self.now))
        self.runs = rest
        self.current = item_id
        self.events.append(ItemStarted(item_id, self.now))


def _startable(run: ItemRun, allow_skipped: bool) -> None:
    why = {
        ItemStatus.LIVE: "is already running",
        ItemStatus.PAUSED: "is already running (paused)",
        ItemStatus.DONE: "has already finished",
        ItemStatus.SKIPPED: None if allow_skipped else "was skipped; jump to it to bring it back",
    }.get(run.status)
    if why:
        raise CommandError(f"cannot start {run.id!r}: it {why}", details={"item_id": run.id})


def apply(
    timeline: Timeline, command: Command, now: datetime
) -> tuple[Timeline, tuple[TimelineEvent, ...]]:
    """Apply one moderator command; raise ConflictError or CommandError and change nothing."""
    if command.base_version != timeline.version:
        raise ConflictError(
            f"the timeline is at version {timeline.version}, "
            f"not {command.base_version}: reload and try again",
            details={"current_version": timeline.version},
        )
    d = _Draft(timeline, _clock(timeline, now))
    match command:
        case Start(item_id=item_id):
            if item_id is not None:
                _startable(d.get(item_id), allow_skipped=False)
            elif (item_id := d.next_scheduled()) is None:
                raise CommandError("no scheduled item is left to start")
            d.start(item_id)
        case Next():
            target = d.next_scheduled()
            if target is not None:
                d.start(target)
            elif d.current is not None:
                d.finish_current()
            else:
                raise CommandError("nothing is running and no scheduled item is left")
        case Pause():
            run = d.running("pause")
            if d.paused_since is not None:
                raise CommandError(f"{run.id!r} is already paused")
            d.put(replace(run, status=ItemStatus.PAUSED))
            d.paused_since = d.now
            d.events.append(ItemPaused(run.id, d.now))
        case Resume():
            if d.paused_since is None:
                raise CommandError("nothing is paused")
            run = d.running("resume")
            pause = d.now - d.paused_since
            d.put(replace(run, status=ItemStatus.LIVE, paused=run.paused + pause))
            d.paused_since = None
            d.events.append(ItemResumed(run.id, d.now, round(pause.total_seconds())))
        case Extend(minutes=minutes):
            if isinstance(minutes, bool) or not 1 <= minutes <= MAX_EXTENSION_MINUTES:
                raise CommandError(
                    f"extend by 1 to {MAX_EXTENSION_MINUTES} minutes, not {minutes!r}",
                    details={"minutes": minutes},
                )
            run = d.running("extend")
            total = run.extension_minutes + minutes
            d.put(replace(run, extension_minutes=total))
            d.events.append(ItemExtended(run.id, minutes, total))
        case Skip(item_id=item_id):
            run = d.get(item_id)
            if run.status is not ItemStatus.SCHEDULED:
                raise CommandError(
                    f"only a scheduled item can be skipped; {item_id!r} is {run.status}",
                    details={"item_id": item_id},
                )
            d.put(replace(run, status=ItemStatus.SKIPPED))
            d.events.append(ItemSkipped(item_id))
        case Reorder(order=order):
            _check_permutation(d, order)
            queue = iter(order)
            d.runs = [d.get(next(queue)) if r.status is ItemStatus.SCHEDULED else r for r in d.runs]
            d.events.append(AgendaReordered(tuple(r.id for r in d.runs)))
        case Jump(item_id=item_id):
            _startable(d.get(item_id), allow_skipped=True)
            d.start(item_id)
        case Finish():
            d.running("finish")
            d.finish_current()
        case _:
            assert_never(command)
    new = Timeline(
        items=tuple(d.runs),
        current=d.current,
        paused_since=d.paused_since,
        version=timeline.version + 1,
        updated_at=d.now,
    )
    return new, tuple(d.events)


def _check_permutation(d: _Draft, order: tuple[str, ...]) -> None:
    scheduled = [r.id for r in d.runs if r.status is ItemStatus.SCHEDULED]
    if sorted(order) == sorted(scheduled):
        return
    problems = []
    if missing := [i for i in scheduled if i not in order]:
        problems.append(f"missing {', '.join(missing)}")
    if foreign := sorted({i for i in order if i not in scheduled}):
        problems.append(f"not scheduled {', '.join(foreign)}")
    if repeated := sorted({i for i in order if order.count(i) > 1}):
        problems.append(f"repeated {', '.join(repeated)}")
    raise CommandError(
        f"a reorder must list each scheduled item once: {'; '.join(problems)}",
        details={"scheduled": scheduled},
    )


def _clock(timeline: Timeline, now: datetime) -> datetime:
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC)
    if timeline.updated_at is not None and now < timeline.updated_at:
        return timeline.updated_at
    return now


# --- views -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemView:
    id: str
    title: str
    kind: str
    speakers: tuple[SpeakerRef, ...]
    status: ItemStatus
    planned_start: datetime
    planned_end: datetime
    expected_start: datetime | None  # None for a skipped item
    expected_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    extension_minutes: int


def _gaps_before(items: Iterable[PlannedItem]) -> dict[str, timedelta]:
    """The idle time the plan leaves before each item (never negative).

    Measured in planned order against the latest planned end so far, and attached to the item
    after it: a reordered item takes its gap along, so a pure reorder leaves the day's end
    unchanged, and a skipped item's gap stays (an unlisted lunch hour does not vanish).
    """
    gaps: dict[str, timedelta] = {}
    latest: datetime | None = None
    for item in sorted(items, key=lambda p: p.planned_start):
        gaps[item.id] = max(_ZERO, item.planned_start - latest) if latest else _ZERO
        latest = max(latest, item.planned_end) if latest else item.planned_end
    return gaps


def agenda_view(timeline: Timeline, now: datetime) -> tuple[ItemView, ...]:
    """Every item with its planned, expected and actual times, in running order.

    Expected times are walked down the running order from the plan's first start:
    - done: the actual start and end;
    - live or paused: the actual start; the end is actual start + duration + extension + all
      pause time (a pause under way counts up to ``now``, so the end moves while paused), and
      never earlier than ``now``: an item running over is expected to end any moment;
    - scheduled: the previous expected end plus the planned gap before it, and never earlier
      than ``now``: what has not started cannot start in the past. So before anything started
      the plan holds until ``now`` passes the first planned start, then every item shifts by
      ``now - planned start``; running late or early moves every following item;
    - skipped: no expected times, no time taken (its planned gap is kept).
    """
    now = _clock(timeline, now)
    gaps = _gaps_before(run.item for run in timeline.items)
    cursor = min(run.item.planned_start for run in timeline.items)
    gap = _ZERO
    views = []
    for run in timeline.items:
        item = run.item
        gap += gaps[item.id]
        extension = timedelta(minutes=run.extension_minutes)
        start: datetime | None
        end: datetime | None
        if run.status is ItemStatus.SKIPPED:
            start = end = None
        elif run.status is ItemStatus.DONE:
            start, end = run.actual_start, run.actual_end
        elif run.actual_start is not None:  # live or paused
            pausing = now - timeline.paused_since if timeline.paused_since else _ZERO
            start = run.actual_start
            end = max(now, start + item.duration + extension + run.paused + pausing)
        else:
            start = max(now, cursor + gap)
            end = start + item.duration + extension
        if end is not None:
            cursor, gap = end, _ZERO
        views.append(
            ItemView(
                id=item.id,
                title=item.title,
                kind=item.kind,
                speakers=item.speakers,
                status=run.status,
                planned_start=item.planned_start,
                planned_end=item.planned_end,
                expected_start=start,
                expected_end=end,
                actual_start=run.actual_start,
                actual_end=run.actual_end,
                extension_minutes=run.extension_minutes,
            )
        )
    return tuple(views)


def drift(timeline: Timeline, now: datetime) -> timedelta:
    """How late the programme will end: positive = running late, negative = early.

    The expected end of the last non-skipped item in running order minus the latest planned
    end among the non-skipped items; zero if every item is skipped. While the running order
    is the planned order this is that last item's expected end minus its own planned end;
    after a reorder it still compares the end of the day with the plan's end of the day.
    """
    return _drift(agenda_view(timeline, now))


def _drift(views: tuple[ItemView, ...]) -> timedelta:
    held = [v for v in views if v.expected_end is not None]
    if not held or held[-1].expected_end is None:
        return _ZERO
    return held[-1].expected_end - max(v.planned_end for v in held)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def to_dict(timeline: Timeline, now: datetime) -> dict[str, Any]:
    """The timeline as browsers get it: JSON-ready, times in ISO 8601 UTC ("Z")."""
    views = agenda_view(timeline, now)
    items = []
    for v in views:
        entry = {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}
        entry.update({k: _iso(val) for k, val in entry.items() if isinstance(val, datetime)})
        entry["status"] = v.status.value
        entry["speakers"] = [dataclasses.asdict(s) for s in v.speakers]
        items.append(entry)
    return {
        "version": timeline.version,
        "current": timeline.current,
        "paused": timeline.paused_since is not None,
        "paused_since": _iso(timeline.paused_since),
        "as_of": _iso(_clock(timeline, now)),
        "drift_seconds": round(_drift(views).total_seconds()),
        "items": items,
    }


# --- persistence -------------------------------------------------------------------------------


def command_to_dict(command: Command) -> dict[str, Any]:
    out: dict[str, Any] = {"command": command.name}
    for f in dataclasses.fields(command):
        value = getattr(command, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def command_from_dict(data: Mapping[str, Any]) -> Command:
    """Rebuild a command from ``command_to_dict`` output (or a browser); CommandError if bad."""
    if not isinstance(data, Mapping):
        raise CommandError("a command must be an object")
    name = data.get("command")
    cls = _COMMANDS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CommandError(f"unknown command {name!r}; expected one of {', '.join(_COMMANDS)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if extra := sorted(set(data) - set(fields) - {"command"}):
        raise CommandError(f"{name}: unexpected fields {', '.join(map(str, extra))}")
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for field_name, f in fields.items():
        if field_name in data:
            kwargs[field_name] = _check_type(
                cls.name, field_name, hints[field_name], data[field_name]
            )
        elif f.default is dataclasses.MISSING:
            raise CommandError(f"{name}: missing {field_name}")
    return cls(**kwargs)


def _check_type(command: str, field: str, hint: object, value: object) -> object:
    if hint is int:
        ok, expected = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif hint is str:
        ok, expected = isinstance(value, str), "a string"
    elif hint == (str | None):
        ok, expected = value is None or isinstance(value, str), "a string or null"
    elif hint == tuple[str, ...]:
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        expected = "a list of strings"
        value = tuple(value) if ok else value  # type: ignore[arg-type]
    else:  # pragma: no cover - a new command field type needs a branch here
        raise TypeError(f"no check for {hint!r}")
    if not ok:
        raise CommandError(f"{command}: {field} must be {expected}", details={"field": field})
    return value


def replay(
    items: Iterable[PlannedItem], records: Iterable[tuple[dict[str, Any], datetime]]
) -> Timeline:
    """Rebuild a timeline from stored ``(command dict, now)`` records of accepted commands.

    A record that no longer applies raises (ConflictError or CommandError): the log is
    corrupt or belongs to another agenda, and guessing would show a wrong agenda.
    """
    timeline = initial_timeline(items)
    for data, now in records:
        timeline, _ = apply(timeline, command_from_dict(data), now)
    return timeline
