"""Is a media source still sending? Decided from frames-in counters sampled over time.

A source (an interpreter's mic, a speaker on the floor) whose packets stop without any close
(a city hall's network drops silently) would otherwise keep its booth's mic for about 30 s,
until ICE consent fails. The watcher samples every source's frames-in counter many times a
second, with the time its last packet arrived where the media plane knows it; a source
whose last packet is ``lost_after`` seconds old makes the source *lost*, and one whose
counter moves again makes it *back*. Timing from the packet's own arrival (not from the
sample that saw the counter move) keeps the sampling period out of the delay: noticed at
most ``lost_after`` + one period after the last packet. Pure: counters and times come in,
transitions go out.

The driver's own stalls must not look like a lost source: when the time since the previous
sample is longer than ``lost_after`` (the process was starved, so nobody's frames were
counted), that sample only re-baselines every source.

A lost interpreter who was live gets the mic back when their packets return, unless someone
else took it meanwhile (:func:`restore_command`). A lost live speaker stays on the floor but
is out of the mix, and the floor video shows another live speaker meanwhile
(:func:`floor_muted`, :func:`floor_shown`); both undo themselves when the packets return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from simultan.core import booths as bc
from simultan.core import floor as fl

DEFAULT_LOST_AFTER = 0.8  # seconds without a packet: lost
SAMPLE_PERIOD = 0.05  # the driver samples at 20 Hz: noticed within 0.85 s (+ its own lag)
RESTORE_WINDOW = 120.0  # a lost live interpreter back within this many seconds is restored


@dataclass(frozen=True)
class Source:
    frames: int
    since: float  # when its last packet arrived (or ``frames`` changed, or first seen)
    lost: bool = False


@dataclass(frozen=True)
class Change:
    key: str
    kind: Literal["lost", "back", "new"]


@dataclass(frozen=True)
class Watch:
    sources: Mapping[str, Source] = field(default_factory=dict)
    last_sample: float | None = None


def observe(
    watch: Watch,
    counters: Mapping[str, int],
    now: float,
    *,
    lost_after: float = DEFAULT_LOST_AFTER,
    arrivals: Mapping[str, float] | None = None,
) -> tuple[Watch, tuple[Change, ...]]:
    """Take one sample of every source's frames-in counter at ``now`` (seconds, monotonic).

    ``arrivals``: when each source's last packet arrived (same clock); a counter that
    moved is dated by it (never later than ``now``), else by ``now``.

    A key missing from ``counters`` has gone (its publisher closed): it is forgotten
    without a change (the media plane reports gone sources itself).
    """
    stalled = watch.last_sample is not None and now - watch.last_sample > lost_after
    sources: dict[str, Source] = {}
    changes: list[Change] = []
    for key, frames in counters.items():
        old = watch.sources.get(key)
        if old is None:
            sources[key] = Source(frames=frames, since=now)
            changes.append(Change(key, "new"))
            continue
        if frames != old.frames:
            arrived = arrivals.get(key, now) if arrivals is not None else now
            sources[key] = Source(frames=frames, since=min(arrived, now))
            if old.lost:
                changes.append(Change(key, "back"))
            continue
        if stalled:  # we were not running: nobody's silence is measured
            sources[key] = replace(old, since=now)
            continue
        if not old.lost and now - old.since >= lost_after:
            sources[key] = replace(old, lost=True)
            changes.append(Change(key, "lost"))
            continue
        sources[key] = old
    return Watch(sources=sources, last_sample=now), tuple(changes)


def lost_keys(watch: Watch) -> frozenset[str]:
    return frozenset(k for k, s in watch.sources.items() if s.lost)


@dataclass(frozen=True)
class WasLive:
    """An interpreter who held ``booth``'s mic when their source was lost at ``at``."""

    booth: str
    at: float


def restore_command(
    booth: bc.Booth, person: str, was: WasLive | None, now: float
) -> bc.BoothCommand | None:
    """The command that gives a returning interpreter their mic back, if that is right now:
    they were live when lost (recently), are connected again, and nobody holds the mic."""
    if was is None or was.booth != booth.id or now - was.at > RESTORE_WINDOW:
        return None
    if booth.live is not None or person not in booth.connected:
        return None
    return bc.TakeMic(by=person)


def floor_shown(floor: fl.Floor, lost: frozenset[str]) -> str | None:
    """Whose video the floor shows while ``lost`` speakers' packets have stopped: the
    floor's own choice (pinned, else active) unless it is lost, then the first live speaker
    who is not lost and not muted (else not lost); with nobody else, the floor's choice."""
    shown = floor.shown()
    if shown is None or shown not in lost:
        return shown
    others = [s for s in floor.live if s.person_id not in lost]
    best = next((s for s in others if not s.muted), others[0] if others else None)
    return best.person_id if best is not None else shown


def floor_muted(floor: fl.Floor, lost: frozenset[str]) -> frozenset[str]:
    """Live speakers kept out of the mix: the muted ones and the lost ones (a lost speaker's
    stale burst when their packets return must not reach the floor before they are back)."""
    return frozenset(s.person_id for s in floor.live if s.muted or s.person_id in lost)
