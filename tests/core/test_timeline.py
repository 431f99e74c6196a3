"""The live timeline: pure, so every test passes explicit times and runs without an event loop."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simultan.core.timeline import (
    AgendaReordered,
    Command,
    Extend,
    Finish,
    ItemExtended,
    ItemFinished,
    ItemPaused,
    ItemResumed,
    ItemSkipped,
    ItemStarted,
    ItemStatus,
    Jump,
    Next,
    Pause,
    PlannedItem,
    Reorder,
    Resume,
    Skip,
    SpeakerRef,
    Start,
    Timeline,
    TimelineEvent,
    agenda_view,
    apply,
    command_from_dict,
    command_to_dict,
    drift,
    initial_timeline,
    replay,
    to_dict,
)
from simultan.errors import CommandError, ConfigError, ConflictError
from simultan.eventdef import load_event, plan_from_definition

CONFIG = Path(__file__).resolve().parents[2] / "config" / "iuc-city-to-city.yaml"
DAY = datetime(2026, 12, 3, tzinfo=UTC)


def at(hhmm: str, seconds: int = 0) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return DAY + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def item(item_id: str, start: str, minutes: int, kind: str = "panel") -> PlannedItem:
    return PlannedItem(item_id, item_id.title(), kind, at(start), timedelta(minutes=minutes))


# a 09:00-09:30, b 09:30-10:30, c 10:30-10:45, (15 idle minutes), d 11:00-12:00
PLAN = (
    item("a", "09:00", 30),
    item("b", "09:30", 60),
    item("c", "10:30", 15),
    item("d", "11:00", 60),
)
MIN = timedelta(minutes=1)


def do(
    timeline: Timeline, cls: type[Command], when: datetime, **fields: Any
) -> tuple[Timeline, tuple[TimelineEvent, ...]]:
    """Apply ``cls`` based on the timeline's own version, checking the input stays untouched."""
    before = copy.deepcopy(timeline)
    new, events = apply(timeline, cls(base_version=timeline.version, **fields), when)
    assert timeline == before
    assert new.version == timeline.version + 1
    return new, events


def after_setup(setup: list[tuple[type[Command], dict[str, Any]]]) -> Timeline:
    """PLAN's timeline after the commands of ``setup`` (class, fields), each at 09:00."""
    tl = initial_timeline(PLAN)
    for cls, fields in setup:
        tl, _ = do(tl, cls, at("09:00"), **fields)
    return tl


def views(timeline: Timeline, now: datetime) -> dict[str, Any]:
    return {v.id: v for v in agenda_view(timeline, now)}


def statuses(timeline: Timeline) -> dict[str, str]:
    return {r.id: r.status.value for r in timeline.items}


def order(timeline: Timeline) -> list[str]:
    return [r.id for r in timeline.items]


# --- plan -----------------------------------------------------------------------------------


def test_plan_from_the_seeded_event() -> None:
    defn = load_event(CONFIG)
    plan = plan_from_definition(defn)
    assert [p.id for p in plan][:3] == ["opening", "pairs-showcase", "morning-break"]
    assert len(plan) == len(defn.agenda) == 11
    assert [p.planned_start for p in plan] == sorted(p.planned_start for p in plan)
    # 09:00 in Brussels in December is 08:00 UTC.
    assert plan[0].planned_start == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert plan[0].planned_start.utcoffset() == timedelta(0)
    assert plan[0].duration == timedelta(minutes=30) and plan[0].kind == "keynote"
    showcase = plan[1]
    assert (
        SpeakerRef("Latin American city representative", "es", "Guadalajara") in showcase.speakers
    )
    assert plan[-1].id == "closing" and plan[-1].planned_end == datetime(
        2026, 12, 3, 16, 30, tzinfo=UTC
    )


def test_a_day_of_the_seeded_event() -> None:
    """Drive the real agenda: late opening, long showcase, a skipped report, then replay."""
    plan = plan_from_definition(load_event(CONFIG))
    local = ZoneInfo("Europe/Brussels")

    def bxl(hhmm: str) -> datetime:
        h, m = map(int, hhmm.split(":"))
        return datetime(2026, 12, 3, h, m, tzinfo=local)  # local times work: converted to UTC

    records: list[tuple[dict[str, Any], datetime]] = []
    tl = initial_timeline(plan)

    def step(cmd: Command, when: datetime) -> None:
        nonlocal tl
        tl, _ = apply(tl, cmd, when)
        records.append((json.loads(json.dumps(command_to_dict(cmd))), when))

    step(Start(base_version=0), bxl("09:04"))
    step(Next(base_version=1), bxl("09:36"))  # opening ran 32 minutes
    step(Extend(base_version=2, minutes=10), bxl("10:20"))
    v = views(tl, bxl("10:21"))
    assert v["pairs-showcase"].expected_end == bxl("10:46")
    assert v["morning-break"].expected_start == bxl("10:46")
    assert drift(tl, bxl("10:21")) == 16 * MIN
    step(Skip(base_version=3, item_id="morning-report"), bxl("10:22"))
    assert drift(tl, bxl("10:22")) == -14 * MIN
    step(Next(base_version=4), bxl("10:46"))  # coffee
    step(Pause(base_version=5), bxl("10:50"))
    step(Resume(base_version=6), bxl("10:55"))
    v = views(tl, bxl("10:56"))
    assert v["morning-break"].expected_end == bxl("11:06")
    assert v["lunch"].expected_start == bxl("12:21")  # groups 11:06-12:21, report skipped
    assert to_dict(tl, bxl("10:56"))["drift_seconds"] == -9 * 60
    assert replay(plan, records) == tl


# --- start / next / finish --------------------------------------------------------------------


def test_initial_timeline() -> None:
    tl = initial_timeline(reversed(PLAN))
    assert order(tl) == ["a", "b", "c", "d"] and tl.version == 0 and tl.current is None
    assert set(statuses(tl).values()) == {"scheduled"}
    with pytest.raises(CommandError, match="unknown agenda item 'zz'"):
        tl.run("zz")
    for v in agenda_view(tl, at("08:00")):
        assert (v.expected_start, v.expected_end) == (v.planned_start, v.planned_end)
    assert drift(tl, at("08:00")) == timedelta(0)


def test_initial_timeline_rejects_bad_plans() -> None:
    with pytest.raises(ConfigError, match="repeated: a"):
        initial_timeline([*PLAN, item("a", "13:00", 5)])
    with pytest.raises(ConfigError):
        initial_timeline([])
    naive = PlannedItem("x", "X", "panel", datetime(2026, 12, 3, 9), timedelta(minutes=5))
    with pytest.raises(ConfigError, match="aware"):
        initial_timeline([naive])


def test_start_next_finish_sequence() -> None:
    tl = initial_timeline(PLAN)
    tl, events = do(tl, Start, at("09:00"))
    assert events == (ItemStarted("a", at("09:00")),)
    assert tl.current == "a" and tl.run("a").status is ItemStatus.LIVE
    assert tl.run("a").actual_start == at("09:00")

    tl, events = do(tl, Next, at("09:30"))
    assert events == (ItemFinished("a", at("09:30")), ItemStarted("b", at("09:30")))
    assert statuses(tl) == {"a": "done", "b": "live", "c": "scheduled", "d": "scheduled"}
    assert tl.run("a").actual_end == at("09:30")

    tl, events = do(tl, Finish, at("10:30"))
    assert events == (ItemFinished("b", at("10:30")),) and tl.current is None

    tl, events = do(tl, Start, at("10:31"))  # nothing live: starts the next scheduled
    assert events == (ItemStarted("c", at("10:31")),)
    tl, _ = do(tl, Start, at("10:45"))  # finishes c, starts d
    assert statuses(tl) == {"a": "done", "b": "done", "c": "done", "d": "live"}

    with pytest.raises(CommandError, match="no scheduled item"):
        apply(tl, Start(base_version=tl.version), at("11:00"))
    tl, events = do(tl, Next, at("12:00"))  # none left: Next just finishes
    assert events == (ItemFinished("d", at("12:00")),) and tl.current is None
    with pytest.raises(CommandError, match="nothing is running"):
        apply(tl, Next(base_version=tl.version), at("12:01"))
    with pytest.raises(CommandError, match="nothing is running to finish"):
        apply(tl, Finish(base_version=tl.version), at("12:01"))
    assert tl.version == 6


def test_start_out_of_turn_moves_the_item_up() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    tl, events = do(tl, Start, at("09:20"), item_id="c")
    assert events == (ItemFinished("a", at("09:20")), ItemStarted("c", at("09:20")))
    assert order(tl) == ["a", "c", "b", "d"]
    v = views(tl, at("09:21"))
    assert v["c"].expected_end == at("09:35")
    # b keeps its own planned gap (none) and follows c; d's 15 idle minutes stay before d.
    assert (v["b"].expected_start, v["d"].expected_start) == (at("09:35"), at("10:50"))
    assert drift(tl, at("09:21")) == -10 * MIN


@pytest.mark.parametrize(
    ("setup", "target", "message"),
    [
        ([(Start, {})], "a", "already running"),
        ([(Start, {}), (Pause, {})], "a", "already running"),
        ([(Start, {}), (Next, {})], "a", "already finished"),
        ([(Skip, {"item_id": "c"})], "c", "jump to it"),
        ([], "zz", "unknown agenda item"),
    ],
)
def test_start_rejects(
    setup: list[tuple[type[Command], dict[str, Any]]], target: str, message: str
) -> None:
    tl = after_setup(setup)
    with pytest.raises(CommandError, match=message):
        apply(tl, Start(base_version=tl.version, item_id=target), at("09:05"))


# --- pause / resume / extend ------------------------------------------------------------------


def test_pause_and_resume_account_for_the_break() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    tl, events = do(tl, Pause, at("09:10"))
    assert events == (ItemPaused("a", at("09:10")),)
    assert tl.run("a").status is ItemStatus.PAUSED and tl.paused_since == at("09:10")
    # While paused the expected end keeps moving with now, and so does everything after it.
    assert views(tl, at("09:15"))["a"].expected_end == at("09:35")
    assert views(tl, at("09:25"))["a"].expected_end == at("09:45")
    assert views(tl, at("09:25"))["b"].expected_start == at("09:45")
    with pytest.raises(CommandError, match="already paused"):
        apply(tl, Pause(base_version=tl.version), at("09:11"))

    tl, events = do(tl, Resume, at("09:25"))
    assert events == (ItemResumed("a", at("09:25"), 15 * 60),)
    assert tl.run("a").paused == 15 * MIN and tl.paused_since is None
    assert views(tl, at("09:40"))["a"].expected_end == at("09:45")  # no longer moving
    with pytest.raises(CommandError, match="nothing is paused"):
        apply(tl, Resume(base_version=tl.version), at("09:26"))

    tl, _ = do(tl, Pause, at("09:30"))
    tl, _ = do(tl, Next, at("09:33"))  # ending a paused item counts its pause too
    assert tl.run("a").paused == 18 * MIN and tl.paused_since is None
    assert tl.run("a").status is ItemStatus.DONE


def test_pause_needs_a_running_item() -> None:
    tl = initial_timeline(PLAN)
    with pytest.raises(CommandError, match="nothing is running to pause"):
        apply(tl, Pause(base_version=0), at("09:00"))
    with pytest.raises(CommandError, match="nothing is paused"):
        apply(tl, Resume(base_version=0), at("09:00"))


def test_extend() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    tl, events = do(tl, Extend, at("09:20"), minutes=5)
    assert events == (ItemExtended("a", 5, 5),)
    tl, events = do(tl, Extend, at("09:21"), minutes=240)
    assert events == (ItemExtended("a", 240, 245),)
    assert views(tl, at("09:22"))["a"].expected_end == at("09:00") + (30 + 245) * MIN
    assert views(tl, at("09:22"))["a"].extension_minutes == 245
    tl, _ = do(tl, Pause, at("09:30"))
    tl, _ = do(tl, Extend, at("09:31"), minutes=1)  # a paused item can be extended
    assert tl.run("a").extension_minutes == 246


@pytest.mark.parametrize("minutes", [0, -5, 241, True])
def test_extend_rejects_bad_minutes(minutes: int) -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    with pytest.raises(CommandError, match="1 to 240"):
        apply(tl, Extend(base_version=tl.version, minutes=minutes), at("09:01"))


def test_extend_needs_a_running_item() -> None:
    with pytest.raises(CommandError, match="nothing is running to extend"):
        apply(initial_timeline(PLAN), Extend(base_version=0, minutes=5), at("09:00"))


# --- skip / reorder / jump -------------------------------------------------------------------


def test_skipped_items_take_no_time() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    tl, events = do(tl, Skip, at("09:05"), item_id="b")
    assert events == (ItemSkipped("b"),) and tl.run("b").status is ItemStatus.SKIPPED
    v = views(tl, at("09:06"))
    assert (v["b"].expected_start, v["b"].expected_end) == (None, None)
    assert v["c"].expected_start == at("09:30") and v["d"].expected_start == at("10:00")
    assert drift(tl, at("09:06")) == -60 * MIN
    tl, events = do(tl, Next, at("09:30"))  # next skips over the skipped item
    assert events[-1] == ItemStarted("c", at("09:30"))


def test_a_skipped_items_idle_time_stays() -> None:
    """Skipping d keeps the 15 idle minutes planned before it, like an unlisted lunch hour."""
    plan = (*PLAN, item("e", "12:00", 30))
    tl, _ = do(initial_timeline(plan), Skip, at("08:00"), item_id="d")
    assert views(tl, at("08:00"))["e"].expected_start == at("11:00")


@pytest.mark.parametrize(
    ("setup", "target", "message"),
    [
        ([(Start, {})], "a", "is live"),
        ([(Start, {}), (Next, {})], "a", "is done"),
        ([(Skip, {"item_id": "b"})], "b", "is skipped"),
        ([], "zz", "unknown agenda item"),
    ],
)
def test_skip_rejects(
    setup: list[tuple[type[Command], dict[str, Any]]], target: str, message: str
) -> None:
    tl = after_setup(setup)
    with pytest.raises(CommandError, match=message):
        apply(tl, Skip(base_version=tl.version, item_id=target), at("09:05"))


def test_reorder_moves_only_scheduled_items() -> None:
    tl = initial_timeline((*PLAN, item("e", "12:00", 30)))
    tl, _ = do(tl, Start, at("09:00"))
    tl, _ = do(tl, Skip, at("09:01"), item_id="c")
    tl, events = do(tl, Reorder, at("09:02"), order=("e", "d", "b"))
    assert events == (AgendaReordered(("a", "e", "c", "d", "b")),)
    assert order(tl) == ["a", "e", "c", "d", "b"]  # a (live) and c (skipped) kept their places
    v = views(tl, at("09:03"))
    assert v["e"].expected_start == at("09:30")
    assert v["d"].expected_start == at("10:15")  # after e, plus d's own 15 idle minutes
    assert v["b"].expected_start == at("11:15")
    tl, events = do(tl, Next, at("09:30"))
    assert events[-1] == ItemStarted("e", at("09:30"))


def test_a_pure_reorder_does_not_change_the_end_of_the_day() -> None:
    tl, _ = do(initial_timeline(PLAN), Reorder, at("08:00"), order=("d", "c", "b", "a"))
    assert drift(tl, at("08:00")) == timedelta(0)
    v = views(tl, at("08:00"))
    # d takes the 15 idle minutes planned before it along; the day still ends at 12:00.
    assert v["d"].expected_start == at("09:15") and v["a"].expected_end == at("12:00")


@pytest.mark.parametrize(
    ("new_order", "message"),
    [
        (("c", "b"), "missing d"),
        (("b", "c", "d", "zz"), "not scheduled zz"),
        (("b", "c", "d", "a"), "not scheduled a"),  # a is live
        (("b", "c", "c", "d"), "repeated c"),
        ((), "missing b, c, d"),
    ],
)
def test_reorder_must_be_a_permutation_of_the_scheduled_items(
    new_order: tuple[str, ...], message: str
) -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    with pytest.raises(CommandError, match=message) as info:
        apply(tl, Reorder(base_version=tl.version, order=new_order), at("09:01"))
    assert info.value.details == {"scheduled": ["b", "c", "d"]}


def test_jump_to_a_scheduled_or_skipped_item() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    tl, _ = do(tl, Skip, at("09:01"), item_id="b")
    tl, events = do(tl, Jump, at("09:10"), item_id="d")
    assert events == (ItemFinished("a", at("09:10")), ItemStarted("d", at("09:10")))
    assert order(tl) == ["a", "b", "d", "c"]
    tl, events = do(tl, Jump, at("10:10"), item_id="b")  # bring the skipped item back
    assert events == (ItemFinished("d", at("10:10")), ItemStarted("b", at("10:10")))
    assert order(tl) == ["a", "d", "b", "c"]
    assert statuses(tl) == {"a": "done", "b": "live", "c": "scheduled", "d": "done"}
    for target, message in [("a", "already finished"), ("b", "already running"), ("zz", "unknown")]:
        with pytest.raises(CommandError, match=message):
            apply(tl, Jump(base_version=tl.version, item_id=target), at("10:11"))


def test_jump_to_a_skipped_item_when_nothing_is_scheduled() -> None:
    tl, _ = do(initial_timeline(PLAN[:2]), Skip, at("08:00"), item_id="a")
    tl, _ = do(tl, Start, at("09:00"))
    tl, _ = do(tl, Jump, at("10:00"), item_id="a")
    assert order(tl) == ["b", "a"] and statuses(tl) == {"a": "live", "b": "done"}


# --- versions --------------------------------------------------------------------------------


def test_two_moderators_on_the_same_version() -> None:
    tl = initial_timeline(PLAN)
    for when in ("09:00", "09:30", "09:40"):
        tl, _ = do(tl, Next, at(when))
    assert tl.version == 3
    first, _ = apply(tl, Extend(base_version=3, minutes=5), at("09:41"))
    assert first.version == 4
    with pytest.raises(ConflictError, match="version 4") as info:
        apply(first, Skip(base_version=3, item_id="d"), at("09:41", 2))
    assert info.value.details == {"current_version": 4}
    with pytest.raises(ConflictError):  # the version is checked before anything else
        apply(first, Skip(base_version=99, item_id="zz"), at("09:42"))


# --- expected times and drift ----------------------------------------------------------------


def test_running_late_adds_up_down_the_agenda() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:07"))  # 7 minutes late
    tl, _ = do(tl, Extend, at("09:20"), minutes=5)
    v = views(tl, at("09:21"))
    assert v["a"].expected_end == at("09:42")
    assert v["b"].expected_start == at("09:42")
    assert v["c"].expected_start == at("10:42") == v["c"].planned_start + 12 * MIN
    # d has 15 idle minutes before it in the plan: it is 12 minutes late too, not absorbed.
    assert v["d"].expected_start == at("11:12")
    assert drift(tl, at("09:21")) == 12 * MIN


def test_running_early_pulls_everything_forward() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    tl, _ = do(tl, Next, at("09:20"))  # a ended 10 minutes early
    v = views(tl, at("09:21"))
    assert v["a"].expected_end == at("09:20") == v["a"].actual_end
    assert v["b"].expected_end == at("10:20")
    assert v["c"].expected_start == at("10:20")
    assert drift(tl, at("09:21")) == -10 * MIN


def test_an_overrunning_item_is_expected_to_end_now() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    v = views(tl, at("09:50"))
    assert v["a"].expected_end == at("09:50") and v["b"].expected_start == at("09:50")
    assert drift(tl, at("09:50")) == 20 * MIN


def test_between_items_the_next_one_cannot_start_in_the_past() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    tl, _ = do(tl, Finish, at("09:30"))
    assert views(tl, at("09:31"))["b"].expected_start == at("09:31")
    assert drift(tl, at("09:40")) == 10 * MIN


def test_before_the_start_the_plan_holds_then_shifts_with_now() -> None:
    tl = initial_timeline(PLAN)
    assert views(tl, at("08:59"))["a"].expected_start == at("09:00")
    late = views(tl, at("09:08"))
    assert late["a"].expected_start == at("09:08") and late["d"].expected_start == at("11:08")
    assert drift(tl, at("09:08")) == 8 * MIN


def test_skipping_the_first_item_before_the_start() -> None:
    """Skipped items take no time, even at the start: b moves up to the event's start."""
    tl, _ = do(initial_timeline(PLAN), Skip, at("08:00"), item_id="a")
    assert views(tl, at("08:00"))["b"].expected_start == at("09:00")


def test_every_item_skipped() -> None:
    tl = initial_timeline(PLAN[:1])
    tl, _ = do(tl, Skip, at("08:00"), item_id="a")
    assert drift(tl, at("08:00")) == timedelta(0)
    assert to_dict(tl, at("08:00"))["items"][0]["expected_start"] is None


def test_time_never_runs_backwards() -> None:
    tl, _ = do(initial_timeline(PLAN), Start, at("09:00"))
    tl, events = do(tl, Next, at("08:55"))  # a server clock stepped back
    assert events[0] == ItemFinished("a", at("09:00")) and tl.updated_at == at("09:00")
    with pytest.raises(ValueError, match="aware"):
        apply(tl, Pause(base_version=tl.version), datetime(2026, 12, 3, 9, 1))


# --- the wire --------------------------------------------------------------------------------


def test_to_dict_is_json_ready() -> None:
    plan = (
        PlannedItem(
            "a", "A", "keynote", at("09:00"), 30 * MIN, (SpeakerRef("Ana", "es", "Guadalajara"),)
        ),
        *PLAN[1:],
    )
    tl, _ = do(initial_timeline(plan), Start, at("09:07"))
    tl, _ = do(tl, Pause, at("09:10"))
    data = json.loads(json.dumps(to_dict(tl, at("09:12"))))
    assert {k: data[k] for k in ("version", "current", "paused", "paused_since", "as_of")} == {
        "version": 2,
        "current": "a",
        "paused": True,
        "paused_since": "2026-12-03T09:10:00Z",
        "as_of": "2026-12-03T09:12:00Z",
    }
    assert data["drift_seconds"] == 9 * 60
    first = data["items"][0]
    assert first == {
        "id": "a",
        "title": "A",
        "kind": "keynote",
        "speakers": [{"name": "Ana", "language": "es", "city": "Guadalajara"}],
        "status": "paused",
        "planned_start": "2026-12-03T09:00:00Z",
        "planned_end": "2026-12-03T09:30:00Z",
        "expected_start": "2026-12-03T09:07:00Z",
        "expected_end": "2026-12-03T09:39:00Z",
        "actual_start": "2026-12-03T09:07:00Z",
        "actual_end": None,
        "extension_minutes": 0,
    }
    assert [i["status"] for i in data["items"][1:]] == ["scheduled"] * 3


def test_event_to_dict() -> None:
    assert ItemStarted("a", at("09:00")).to_dict() == {
        "kind": "item_started",
        "item_id": "a",
        "at": "2026-12-03T09:00:00Z",
    }
    assert ItemResumed("a", at("09:05"), 300).to_dict()["paused_seconds"] == 300
    assert ItemExtended("a", 5, 10).to_dict() == {
        "kind": "item_extended",
        "item_id": "a",
        "minutes": 5,
        "total_minutes": 10,
    }
    assert AgendaReordered(("b", "a")).to_dict() == {
        "kind": "agenda_reordered",
        "order": ["b", "a"],
    }
    assert ItemSkipped("a").to_dict() == {"kind": "item_skipped", "item_id": "a"}
    assert json.dumps(ItemFinished("a", at("09:00")).to_dict())


ALL_COMMANDS: list[Command] = [
    Start(base_version=0),
    Start(base_version=1, item_id="b"),
    Next(base_version=2),
    Pause(base_version=3),
    Resume(base_version=4),
    Extend(base_version=5, minutes=15),
    Skip(base_version=6, item_id="c"),
    Reorder(base_version=7, order=("d", "b")),
    Jump(base_version=8, item_id="c"),
    Finish(base_version=9),
]


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: type(c).__name__)
def test_command_round_trip(command: Command) -> None:
    data = command_to_dict(command)
    assert data["command"] == type(command).__name__.lower()
    assert command_from_dict(json.loads(json.dumps(data))) == command


def test_start_without_item_id_in_the_dict() -> None:
    assert command_from_dict({"command": "start", "base_version": 2}) == Start(base_version=2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"command": "launch", "base_version": 1}, "unknown command 'launch'"),
        ({"base_version": 1}, "unknown command None"),
        ({"command": 3, "base_version": 1}, "unknown command 3"),
        ({"command": "next"}, "missing base_version"),
        ({"command": "next", "base_version": 1, "extra": 1}, "unexpected fields extra"),
        ({"command": "next", "base_version": "1"}, "base_version must be an integer"),
        ({"command": "next", "base_version": True}, "base_version must be an integer"),
        ({"command": "extend", "base_version": 1, "minutes": 1.5}, "minutes must be an integer"),
        ({"command": "skip", "base_version": 1}, "missing item_id"),
        ({"command": "skip", "base_version": 1, "item_id": None}, "item_id must be a string"),
        ({"command": "start", "base_version": 1, "item_id": 7}, "string or null"),
        ({"command": "reorder", "base_version": 1, "order": "ab"}, "list of strings"),
        ({"command": "reorder", "base_version": 1, "order": ["a", 2]}, "list of strings"),
        (["next"], "must be an object"),
    ],
)
def test_command_from_bad_dicts(data: Any, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        command_from_dict(data)


ids = st.text(alphabet="abcdefz-", min_size=1, max_size=8)
commands = st.one_of(
    st.builds(Start, base_version=st.integers(0, 10**6), item_id=st.none() | ids),
    *(st.builds(c, base_version=st.integers(0, 10**6)) for c in (Next, Pause, Resume, Finish)),
    st.builds(Extend, base_version=st.integers(0, 10**6), minutes=st.integers(-300, 300)),
    st.builds(Skip, base_version=st.integers(0, 10**6), item_id=ids),
    st.builds(Jump, base_version=st.integers(0, 10**6), item_id=ids),
    st.builds(Reorder, base_version=st.integers(0, 10**6), order=st.lists(ids).map(tuple)),
)


@given(commands)
def test_any_command_round_trips_through_json(command: Command) -> None:
    assert command_from_dict(json.loads(json.dumps(command_to_dict(command)))) == command


# --- random sessions -------------------------------------------------------------------------

KINDS: list[type[Command]] = [Start, Next, Pause, Resume, Extend, Skip, Reorder, Jump, Finish]


def _check_invariants(tl: Timeline, now: datetime) -> None:
    live = [r.id for r in tl.items if r.status in (ItemStatus.LIVE, ItemStatus.PAUSED)]
    assert live == ([tl.current] if tl.current else [])
    assert (tl.paused_since is not None) == any(r.status is ItemStatus.PAUSED for r in tl.items)
    ranks = [
        r.status is ItemStatus.SCHEDULED for r in tl.items if r.status is not ItemStatus.SKIPPED
    ]
    assert ranks == sorted(ranks), "a started item after a scheduled one"
    cursor = None
    for v in agenda_view(tl, now):
        if v.status is ItemStatus.SKIPPED:
            assert v.expected_start is None and v.expected_end is None
            continue
        assert v.expected_start is not None and v.expected_end is not None
        assert v.expected_start <= v.expected_end
        if cursor is not None:
            assert v.expected_start >= cursor
        cursor = v.expected_end
        if v.status is ItemStatus.SCHEDULED:
            assert v.expected_start >= now
        else:
            assert v.expected_start == v.actual_start
        if v.status is ItemStatus.DONE:
            assert v.actual_start is not None and v.actual_end is not None
            assert v.actual_start <= v.actual_end == v.expected_end


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_sessions_keep_invariants_and_replay(data: st.DataObject) -> None:
    tl = initial_timeline(PLAN)
    now = at("08:50")
    records: list[tuple[dict[str, Any], datetime]] = []
    for _ in range(data.draw(st.integers(1, 25), label="steps")):
        now += timedelta(minutes=data.draw(st.integers(0, 40), label="wait"))
        cls = data.draw(st.sampled_from(KINDS), label="command")
        target = data.draw(st.sampled_from(["a", "b", "c", "d", "zz"]), label="item")
        fields: dict[str, Any] = {}
        if cls in (Skip, Jump):
            fields["item_id"] = target
        elif cls is Start:
            fields["item_id"] = data.draw(st.sampled_from([None, target]), label="start")
        elif cls is Extend:
            fields["minutes"] = data.draw(st.integers(-5, 245), label="minutes")
        elif cls is Reorder:
            scheduled = [r.id for r in tl.items if r.status is ItemStatus.SCHEDULED]
            fields["order"] = tuple(data.draw(st.permutations(scheduled), label="order"))
        command = cls(base_version=tl.version, **fields)
        snapshot = copy.deepcopy(tl)
        try:
            new, events = apply(tl, command, now)
        except CommandError:
            assert tl == snapshot
            continue
        assert tl == snapshot and new.version == tl.version + 1 and events
        assert all(json.dumps(e.to_dict()) for e in events)
        records.append((json.loads(json.dumps(command_to_dict(command))), now))
        tl = new
        _check_invariants(tl, now)
        _check_invariants(tl, now + timedelta(minutes=data.draw(st.integers(0, 90), label="look")))
    assert tl.version == len(records)
    assert replay(PLAN, records) == tl
    assert replay(PLAN, records) == replay(PLAN, list(records))


def test_replay_rejects_a_corrupt_log() -> None:
    records = [({"command": "start", "base_version": 0}, at("09:00"))]
    assert replay(PLAN, records).current == "a"
    with pytest.raises(ConflictError):
        replay(PLAN, records * 2)
    with pytest.raises(CommandError):
        replay(PLAN, [({"command": "pause", "base_version": 0}, at("09:00"))])
