"""The run-of-show: what the clock says about the agenda, with no moderator action.

From the timeline and ``now`` (pure, explicit time): the current item's end and its warning
and danger instants (defaults from settings, per item in the event file), how late the day
runs in whole minutes, and the next item with the instant its cue is due (N minutes before
it starts). Pages count down locally from these instants; the session republishes the
timeline whenever ``late_minutes`` moves, so every later item's expected time (and each
participant's local-time agenda) follows an overrun live.

It does not advance the agenda: issue 8 asks for the countdown, the overrun and the cue
to move by themselves, and leaves starting the next item to the moderator (a panel may
run over on purpose). ``panelists`` says who an item's named speakers are among the
registrations, so their pages can be invited ("you are on next") when the item comes up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from simultan.core import timeline as tl


@dataclass(frozen=True)
class Thresholds:
    """Remaining time at which an item turns to warning, then danger."""

    warning: timedelta = timedelta(minutes=5)
    danger: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        if self.danger > self.warning:
            raise ValueError("the danger threshold must not come before the warning one")


def thresholds(
    defaults: Thresholds, warning_minutes: int | None, danger_minutes: int | None
) -> Thresholds:
    """An item's own thresholds (the event file), each falling back to the defaults; a
    danger threshold given above the warning one is held at it."""
    warning = defaults.warning if warning_minutes is None else timedelta(minutes=warning_minutes)
    danger = defaults.danger if danger_minutes is None else timedelta(minutes=danger_minutes)
    return Thresholds(warning=warning, danger=min(danger, warning))


@dataclass(frozen=True)
class NextUp:
    item_id: str
    title: str
    starts_at: datetime
    cue_at: datetime
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class RunOfShow:
    current: str | None
    ends_at: datetime | None
    warning_at: datetime | None
    danger_at: datetime | None
    late_minutes: int  # whole minutes the day runs late (0 when on time or early)
    next: NextUp | None

    def phase(self, now: datetime) -> str:
        """none | normal | warning | danger | overrun, at ``now``."""
        if self.ends_at is None or self.warning_at is None or self.danger_at is None:
            return "none"
        if now >= self.ends_at:
            return "overrun"
        if now >= self.danger_at:
            return "danger"
        if now >= self.warning_at:
            return "warning"
        return "normal"

    def cue_due(self, now: datetime) -> bool:
        """The next item is due within the cue time, or overdue (the current one runs over,
        or nobody started it yet): the cue holds until the item starts."""
        return self.next is not None and self.next.cue_at <= now


def run_of_show(
    timeline: tl.Timeline,
    now: datetime,
    *,
    defaults: Thresholds = Thresholds(),
    per_item: Mapping[str, Thresholds] | None = None,
    cue: timedelta = timedelta(minutes=5),
) -> RunOfShow:
    views = tl.agenda_view(timeline, now)
    current = next((v for v in views if v.id == timeline.current), None)
    ends_at = warning_at = danger_at = None
    if current is not None and current.expected_end is not None:
        limits = (per_item or {}).get(current.id, defaults)
        # the end the plan gives the item (duration, extensions, pauses), not "any moment now"
        ends_at = _planned_end(timeline, current.id, now) or current.expected_end
        warning_at = ends_at - limits.warning
        danger_at = ends_at - limits.danger
    upcoming = [
        v for v in views if v.status is tl.ItemStatus.SCHEDULED and v.expected_start is not None
    ]
    nxt = None
    if upcoming:
        v = upcoming[0]
        assert v.expected_start is not None
        nxt = NextUp(
            item_id=v.id,
            title=v.title,
            starts_at=v.expected_start,
            cue_at=v.expected_start - cue,
            speakers=tuple(s.name for s in v.speakers),
        )
    late = tl.drift(timeline, now)
    return RunOfShow(
        current=current.id if current else None,
        ends_at=ends_at,
        warning_at=warning_at,
        danger_at=danger_at,
        late_minutes=max(0, int(late.total_seconds() // 60)),
        next=nxt,
    )


def signature(view: RunOfShow, now: datetime) -> tuple[Any, ...]:
    """What the pages must be told about when the clock alone changes it: the phase, the
    minutes late, the next item and whether its cue is due (the countdown itself runs on
    each page from the instants)."""
    nxt = view.next
    return (
        view.current,
        view.ends_at,
        view.phase(now),
        view.late_minutes,
        nxt.item_id if nxt else None,
        view.cue_due(now),
    )


@dataclass(frozen=True)
class PanelistRef:
    """A speaker an agenda item names (the event file): a name, maybe a city and an email."""

    name: str
    city: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Registrant:
    """An approved registration, as far as matching speakers goes."""

    id: str
    name: str
    city: str
    email: str
    panelist: bool  # registered in the panelist role


def panelists(speakers: Iterable[PanelistRef], people: Iterable[Registrant]) -> tuple[str, ...]:
    """The registrations an item's speakers are, in the item's order, each once.

    A speaker with an email is the registration with that email (any role); otherwise a
    registered panelist with the speaker's city, or else with the speaker's name. A
    participant who merely comes from the same city is never taken for the speaker."""
    known = list(people)
    fold = str.casefold
    out: list[str] = []
    for s in speakers:
        if s.email:
            found = [p for p in known if fold(p.email) == fold(s.email)]
        else:
            pool = [p for p in known if p.panelist]
            found = [p for p in pool if s.city and fold(p.city) == fold(s.city)]
            found = found or [p for p in pool if fold(p.name) == fold(s.name)]
        out += [p.id for p in found if p.id not in out]
    return tuple(out)


def _planned_end(timeline: tl.Timeline, item_id: str, now: datetime) -> datetime | None:
    run = timeline.run(item_id)
    if run.actual_start is None:
        return None
    pausing = now - timeline.paused_since if timeline.paused_since else timedelta(0)
    extension = timedelta(minutes=run.extension_minutes)
    return run.actual_start + run.item.duration + extension + run.paused + pausing


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def to_dict(view: RunOfShow, now: datetime) -> dict[str, Any]:
    nxt = view.next
    return {
        "at": now.isoformat(),  # the server's clock: pages count down on it
        "current": view.current,
        "ends_at": _iso(view.ends_at),
        "warning_at": _iso(view.warning_at),
        "danger_at": _iso(view.danger_at),
        "phase": view.phase(now),
        "late_minutes": view.late_minutes,
        "next": None
        if nxt is None
        else {
            "id": nxt.item_id,
            "title": nxt.title,
            "starts_at": nxt.starts_at.isoformat(),
            "cue_at": nxt.cue_at.isoformat(),
            "speakers": list(nxt.speakers),
            "cue": view.cue_due(now),
        },
    }
