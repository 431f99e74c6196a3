"""What follows a timeline change: the floor language and agenda recording.

One moderator command can imply three changes of live state: the timeline, the floor language
(an item's lead speaker sets it) and recording (``record_with_agenda``: on while an item is
live and not paused). They are decided together here, from the new timeline, so the session
commits them in one transaction: a crash can never leave an item started with the floor
language of the item before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simultan.core import timeline as tl


@dataclass(frozen=True, slots=True)
class FollowUp:
    """``floor_language``: switch the floor to it (None: leave it); ``recording``: start
    (True) or stop (False) recording (None: leave it)."""

    floor_language: str | None = None
    recording: bool | None = None


def item_floor_language(item: tl.PlannedItem, default: str) -> str:
    """The language the floor speaks during an agenda item: its lead (first) speaker's, or
    the event's working language when the item names no speaker."""
    return item.speakers[0].language if item.speakers else default


def after_timeline(
    timeline: tl.Timeline,
    changes: Sequence[tl.TimelineEvent],
    *,
    floor_language: str,
    default_language: str,
    record_with_agenda: bool,
    recording: bool,
) -> FollowUp:
    language: str | None = None
    started = [c.item_id for c in changes if isinstance(c, tl.ItemStarted)]
    if started:
        wanted = item_floor_language(timeline.run(started[-1]).item, default_language)
        if wanted != floor_language:
            language = wanted
    record: bool | None = None
    if record_with_agenda:
        live = timeline.current is not None and timeline.paused_since is None
        if live != recording:
            record = live
    return FollowUp(floor_language=language, recording=record)
