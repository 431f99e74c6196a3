"""The floor's rules, pure: grants, limit, mute, take back, hands, active speaker, language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from simultan.core import floor as fl
from simultan.errors import CommandError, ConflictError

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
PEOPLE = [f"p{i}" for i in range(9)]
LANGS = ["en", "ja", "es", "zh"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(floor: fl.Floor, *steps: tuple[float, fl.FloorCommand]) -> fl.Floor:
    for t, cmd in steps:
        floor, _ = fl.apply(floor, cmd, at(t))
    return floor


def test_hands_queue_by_time_and_grant_takes_the_hand_down() -> None:
    f = run(
        fl.initial_floor("en"),
        (0, fl.RaiseHand("b", "ja")),
        (1, fl.RaiseHand("a", "en")),
        (2, fl.RaiseHand("c", "es")),
    )
    assert [h.person_id for h in f.hands] == ["b", "a", "c"]
    assert f.place_in_queue("a") == 2
    f, events = fl.apply(f, fl.Grant("b", ""), at(3))
    assert [h.person_id for h in f.hands] == ["a", "c"]
    speaker = f.speaker("b")
    assert speaker is not None and speaker.language == "ja"  # the language the hand named
    assert [e.kind for e in events][:2] == ["live", "active"]
    assert f.may_publish("b") and not f.may_publish("a")


def test_raising_twice_and_other_no_ops_are_errors_that_change_nothing() -> None:
    f = run(fl.initial_floor("en"), (0, fl.RaiseHand("a", "en")), (1, fl.Grant("b", "en")))
    for cmd in (
        fl.RaiseHand("a", "en"),
        fl.RaiseHand("b", "en"),  # live already
        fl.LowerHand("z"),
        fl.Grant("b", "en"),
        fl.TakeBack("z"),
        fl.Mute("z", True),
        fl.Mute("b", False),
        fl.Pin("z"),
        fl.Pin(None),
        fl.SpeakerLanguage("b", "en"),
    ):
        with pytest.raises(CommandError):
            fl.apply(f, cmd, at(2))
    assert fl.apply(f, fl.LowerAllHands(), at(2))[0].hands == ()
    with pytest.raises(CommandError):
        fl.apply(fl.initial_floor("en"), fl.LowerAllHands(), at(2))


def test_limit_mute_and_take_back() -> None:
    f = fl.initial_floor("en", limit=2)
    f = run(f, (0, fl.Grant("a", "en")), (0, fl.Grant("b", "en")))
    with pytest.raises(CommandError, match="full"):
        fl.apply(f, fl.Grant("c", "en"), at(1))
    f = run(f, (1, fl.Mute("a", True)))
    assert f.mix_keys() == ("b",)
    f = run(f, (2, fl.TakeBack("b")))
    assert f.mix_keys() == () and not f.may_publish("b")
    assert f.active == "a"  # the one left is shown
    f = run(f, (3, fl.EndPanel()))
    assert f.live == () and f.active is None


def test_stale_version_is_a_conflict() -> None:
    f = run(fl.initial_floor("en"), (0, fl.Grant("a", "en")))
    fl.check_version(f, f.version)
    fl.check_version(f, None)
    with pytest.raises(ConflictError):
        fl.check_version(f, f.version - 1)


def test_invited_panelists_come_first() -> None:
    f = run(
        fl.initial_floor("en"),
        (0, fl.RaiseHand("a", "en")),
        (1, fl.RaiseHand("p", "en")),
        (2, fl.Invite(("p", "q"))),
    )
    assert f.candidates() == ("p", "q", "a")
    f = run(f, (3, fl.Grant("q", "en")))
    assert f.invited == ("p",)


def test_active_speaker_follows_levels_with_a_hold_time() -> None:
    f = run(fl.initial_floor("en"), (0, fl.Grant("a", "en")), (0, fl.Grant("b", "en")))
    assert f.active == "a"
    # b speaks alone for a moment shorter than the hold: a stays shown
    f = run(f, (1, fl.Levels({"a": -80, "b": -20})), (2, fl.Levels({"a": -80, "b": -20})))
    assert f.active == "a"
    f, events = fl.apply(f, fl.Levels({"a": -80, "b": -20}), at(2.6))
    assert f.active == "b" and [e.kind for e in events] == ["active"]
    # while b is audible, a cannot take over
    f = run(f, (3, fl.Levels({"a": -10, "b": -30})), (9, fl.Levels({"a": -10, "b": -30})))
    assert f.active == "b"
    # a muted speaker never becomes active; a pinned one is shown whatever the levels
    f = run(f, (10, fl.Mute("a", True)))
    f = run(f, (11, fl.Levels({"a": -5, "b": -90})), (20, fl.Levels({"a": -5, "b": -90})))
    assert f.active == "b"
    f = run(f, (21, fl.Pin("a")))
    assert f.shown() == "a"


def test_floor_language_follows_the_active_speaker_debounced() -> None:
    f = run(fl.initial_floor("en"), (0, fl.Grant("en1", "en")), (0, fl.Grant("ja1", "ja")))
    quiet = {"en1": -90.0, "ja1": -20.0}
    f = run(f, *((t / 10, fl.Levels(quiet)) for t in range(0, 17)))
    assert f.active == "ja1" and f.pending_language == "ja" and f.language == "en"
    f = run(f, (3.0, fl.Levels(quiet)), (4.0, fl.Levels(quiet)))
    assert f.language == "en"  # 2.4 s of Japanese so far: still debouncing
    f, events = fl.tick(f, at(4.6))
    assert f.language == "ja" and [e.kind for e in events] == ["language"]
    # a short English interjection (hold passes, debounce does not) leaves ja in place
    loud_en = {"en1": -20.0, "ja1": -90.0}
    f = run(f, *((5 + t / 10, fl.Levels(loud_en)) for t in range(0, 20)))
    assert f.active == "en1" and f.language == "ja" and f.pending_language == "en"
    f = run(f, *((7 + t / 10, fl.Levels(quiet)) for t in range(0, 20)))
    assert f.active == "ja1" and f.language == "ja" and f.pending_language is None


def test_moderator_sets_the_language_for_the_shown_speaker() -> None:
    f = run(fl.initial_floor("en"), (0, fl.Grant("a", "ja")))
    f = run(f, (1, fl.SetLanguage("es")))
    assert f.language == "es"
    speaker = f.speaker("a")
    assert speaker is not None and speaker.language == "es"
    f, _ = fl.tick(f, at(60))
    assert f.language == "es"


def test_states_the_invariants_forbid() -> None:
    with pytest.raises(ValueError):
        fl.Floor("en", limit=1, live=(fl.Speaker("a", "en", T0), fl.Speaker("b", "en", T0)))
    with pytest.raises(ValueError):
        fl.Floor("en", active="x")
    with pytest.raises(ValueError):
        fl.initial_floor("en", limit=0)


# --- properties -----------------------------------------------------------------------------

person = st.sampled_from(PEOPLE)
commands = st.one_of(
    st.builds(fl.RaiseHand, person, st.sampled_from(LANGS)),
    st.builds(fl.LowerHand, person),
    st.just(fl.LowerAllHands()),
    st.builds(fl.Grant, person, st.sampled_from(LANGS)),
    st.builds(fl.TakeBack, person),
    st.just(fl.EndPanel()),
    st.builds(fl.Mute, person, st.booleans()),
    st.builds(fl.SpeakerLanguage, person, st.sampled_from(LANGS)),
    st.builds(fl.Pin, st.one_of(st.none(), person)),
    st.builds(fl.Invite, st.lists(person, max_size=3).map(tuple)),
    st.builds(fl.SetLanguage, st.sampled_from(LANGS)),
    st.builds(fl.Levels, st.dictionaries(person, st.floats(-100, 0, allow_nan=False), max_size=4)),
)


class FloorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.floor = fl.initial_floor("en", limit=3)
        self.t = 0.0
        self.taken_back: set[str] = set()

    @rule(cmd=commands, dt=st.floats(0, 5))
    def step(self, cmd: fl.FloorCommand, dt: float) -> None:
        self.t += dt
        before = self.floor
        try:
            self.floor, _ = fl.apply(before, cmd, at(self.t))
        except CommandError:
            assert self.floor is before  # a refused command changes nothing
            return
        if isinstance(cmd, fl.TakeBack):
            self.taken_back.add(cmd.person_id)
        elif isinstance(cmd, fl.EndPanel):
            self.taken_back |= {s.person_id for s in before.live}
        elif isinstance(cmd, fl.Grant):
            self.taken_back.discard(cmd.person_id)
        if not isinstance(cmd, fl.Levels):
            assert self.floor.version == before.version + 1

    @invariant()
    def never_over_the_limit(self) -> None:
        assert len(self.floor.live) <= self.floor.limit

    @invariant()
    def muted_never_in_the_mix(self) -> None:
        muted = {s.person_id for s in self.floor.live if s.muted}
        assert not muted & set(self.floor.mix_keys())

    @invariant()
    def taken_back_never_publishes(self) -> None:
        for p in self.taken_back:
            assert not self.floor.may_publish(p)

    @invariant()
    def hands_in_time_order(self) -> None:
        times = [h.raised_at for h in self.floor.hands]
        assert times == sorted(times)

    @invariant()
    def someone_shown_while_anyone_is_live(self) -> None:
        assert (self.floor.shown() is not None) == bool(self.floor.live)


FloorMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestFloorRules = FloorMachine.TestCase
