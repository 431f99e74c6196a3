"""What follows a timeline change, decided in one place (tested with explicit times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simultan.core import timeline as tl
from simultan.core.followups import FollowUp, after_timeline

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
PLAN = (
    tl.PlannedItem("opening", "Welcome", "keynote", T0, timedelta(minutes=30),
                   (tl.SpeakerRef("Director", "en", None),)),
    tl.PlannedItem("asia", "Asia", "keynote", T0 + timedelta(minutes=30), timedelta(minutes=30),
                   (tl.SpeakerRef("Prefecture", "ja", "Kitakyushu"),)),
    tl.PlannedItem("break", "Break", "break", T0 + timedelta(hours=1), timedelta(minutes=15)),
)  # fmt: skip


def run(timeline: tl.Timeline, cmd: tl.Command, now: datetime, **kw: object) -> FollowUp:
    new, changes = tl.apply(timeline, cmd, now)
    args = {"floor_language": "en", "default_language": "en", "record_with_agenda": False,
            "recording": False, **kw}  # fmt: skip
    return after_timeline(new, changes, **args)  # type: ignore[arg-type]


def test_starting_an_item_switches_the_floor_to_its_lead_speakers_language() -> None:
    t = tl.initial_timeline(PLAN)
    assert run(t, tl.Start(base_version=0, item_id="asia"), T0) == FollowUp("ja", None)
    assert run(t, tl.Start(base_version=0, item_id="opening"), T0) == FollowUp(None, None)
    # already speaking Japanese: nothing to switch
    assert run(t, tl.Start(base_version=0, item_id="asia"), T0, floor_language="ja") == FollowUp()


def test_an_item_without_speakers_returns_the_floor_to_the_working_language() -> None:
    t, _ = tl.apply(tl.initial_timeline(PLAN), tl.Start(base_version=0, item_id="asia"), T0)
    follow = run(t, tl.Start(base_version=t.version, item_id="break"), T0, floor_language="ja")
    assert follow.floor_language == "en"


def test_recording_follows_the_agenda_only_when_asked() -> None:
    t = tl.initial_timeline(PLAN)
    start = tl.Start(base_version=0, item_id="opening")
    assert run(t, start, T0, record_with_agenda=True).recording is True
    assert run(t, start, T0, record_with_agenda=True, recording=True).recording is None
    assert run(t, start, T0).recording is None
    live, _ = tl.apply(t, start, T0)
    paused = run(live, tl.Pause(base_version=live.version), T0 + timedelta(minutes=5),
                 record_with_agenda=True, recording=True)  # fmt: skip
    assert paused.recording is False
