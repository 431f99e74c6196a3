"""The run-of-show with an explicit clock: countdown thresholds, overrun, next-up cue."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from simultan.core import runofshow as ros
from simultan.core.timeline import Start, agenda_view, apply, initial_timeline
from tests.core.test_timeline import PLAN, at

LIMITS = ros.Thresholds(warning=timedelta(minutes=5), danger=timedelta(minutes=1))


def started_b() -> object:
    tl = initial_timeline(PLAN)
    tl, _ = apply(tl, Start(base_version=tl.version, item_id="a"), at("09:00"))
    tl, _ = apply(tl, Start(base_version=tl.version, item_id="b"), at("09:30"))
    return tl


def test_countdown_phases_follow_the_clock_and_per_item_thresholds() -> None:
    tl = started_b()
    view = ros.run_of_show(tl, at("10:00"), defaults=LIMITS)  # type: ignore[arg-type]
    assert view.current == "b" and view.ends_at == at("10:30")
    assert [view.phase(at(t)) for t in ("10:00", "10:25", "10:29", "10:30")] == [
        "normal",
        "warning",
        "danger",
        "overrun",
    ]
    own = ros.run_of_show(
        tl,  # type: ignore[arg-type]
        at("10:00"),
        defaults=LIMITS,
        per_item={"b": ros.Thresholds(warning=timedelta(minutes=10), danger=timedelta(0))},
    )
    assert own.phase(at("10:21")) == "warning" and own.phase(at("10:29")) == "warning"
    with pytest.raises(ValueError):
        ros.Thresholds(warning=timedelta(minutes=1), danger=timedelta(minutes=2))


def test_an_overrun_moves_every_later_item_with_no_command() -> None:
    tl = started_b()
    on_time = {v.id: v.expected_start for v in agenda_view(tl, at("10:20"))}  # type: ignore[arg-type]
    assert on_time["c"] == at("10:30") and on_time["d"] == at("11:00")
    assert ros.run_of_show(tl, at("10:20")).late_minutes == 0  # type: ignore[arg-type]
    # b should have ended at 10:30; at 10:37 it still runs: nobody pressed anything
    late = {v.id: v.expected_start for v in agenda_view(tl, at("10:37"))}  # type: ignore[arg-type]
    assert late["c"] == at("10:37")
    # d had 15 idle minutes before it: the gap is kept, so it moves by the overrun too
    assert late["d"] == at("11:07")
    view = ros.run_of_show(tl, at("10:37"))  # type: ignore[arg-type]
    assert view.late_minutes == 7 and view.phase(at("10:37")) == "overrun"
    # two participants in other time zones see the moved start in their own local time
    tokyo = late["c"].astimezone(ZoneInfo("Asia/Tokyo"))
    mexico = late["c"].astimezone(ZoneInfo("America/Mexico_City"))
    assert (tokyo.hour, tokyo.minute) == (19, 37)  # 10:37 UTC
    assert (mexico.hour, mexico.minute) == (4, 37)


def test_next_up_cue_comes_n_minutes_ahead() -> None:
    tl = started_b()
    view = ros.run_of_show(tl, at("10:20"), cue=timedelta(minutes=5))  # type: ignore[arg-type]
    assert view.next is not None and view.next.item_id == "c"
    assert view.next.cue_at == at("10:25")
    assert not view.cue_due(at("10:24")) and view.cue_due(at("10:25"))
    data = ros.to_dict(view, at("10:26"))
    assert data["next"]["cue"] is True and data["phase"] == "warning"
    idle = ros.run_of_show(initial_timeline(PLAN), at("08:00"))
    assert idle.current is None and idle.phase(at("08:00")) == "none"
    assert idle.next is not None and idle.next.item_id == "a"


def test_item_thresholds_fall_back_to_the_defaults() -> None:
    own = ros.thresholds(LIMITS, 10, None)
    assert own == ros.Thresholds(warning=timedelta(minutes=10), danger=timedelta(minutes=1))
    assert ros.thresholds(LIMITS, None, None) == LIMITS
    # a danger threshold above the warning one is held at it, not an error in the event file
    held = ros.thresholds(LIMITS, 2, 3)
    assert held.warning == held.danger == timedelta(minutes=2)


def test_panelists_are_the_registrations_the_speakers_are() -> None:
    people = [
        ros.Registrant("p1", "Ana Ruiz", "Guadalajara", "ana@gdl.example", panelist=True),
        ros.Registrant("p2", "Luis Local", "Guadalajara", "luis@gdl.example", panelist=False),
        ros.Registrant("p3", "Tampere", "Tampere", "city@tampere.example", panelist=True),
        ros.Registrant("p4", "Kim Lee", "Seoul", "kim@seoul.example", panelist=False),
    ]
    speakers = [
        ros.PanelistRef("Latin American city representative", "Guadalajara"),  # by city
        ros.PanelistRef("Tampere"),  # by name
        ros.PanelistRef("Seoul speaker", "Seoul", email="KIM@seoul.example"),  # by email, any role
        ros.PanelistRef("Nobody registered", "Atlantis"),
        ros.PanelistRef("Ana again", "guadalajara"),  # each once
    ]
    assert ros.panelists(speakers, people) == ("p1", "p3", "p4")
    # a participant from the speaker's city is never taken for the speaker
    assert ros.panelists(speakers[:1], people[1:2]) == ()


def test_the_cue_holds_while_the_current_item_runs_over() -> None:
    tl = started_b()
    view = ros.run_of_show(tl, at("10:40"))  # type: ignore[arg-type]
    assert view.phase(at("10:40")) == "overrun" and view.next is not None
    assert view.next.starts_at == at("10:40") and view.cue_due(at("10:40"))
