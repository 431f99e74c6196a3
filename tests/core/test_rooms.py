"""Rooms and group assignment: pure, explicit times, property tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simultan.core import rooms as r
from simultan.errors import NotFoundError

T0 = datetime(2026, 12, 3, 9, 45, tzinfo=UTC)
TOPICS = ("covid", "green-deal", "mobility")
LANGS = ("en", "es", "zh", "ja")


def admitted(n: int, topics: tuple[str, ...] = TOPICS) -> r.RoomsState:
    state = r.RoomsState()
    for i in range(n):
        profile = r.Profile(topic=topics[i % len(topics)], language=LANGS[i % len(LANGS)])
        state, _ = r.apply(state, r.Admit(f"city-{i:03d}", profile), T0)
    return state


def opened(n: int, method: r.Method = r.Method.RANDOM, **kw: int) -> r.RoomsState:
    state, _ = r.apply(admitted(n), r.Plan("morning-groups", method, **kw), T0)
    state, _ = r.apply(state, r.Open(ends_at=T0 + timedelta(minutes=75)), T0)
    return state


def assert_one_room_each(state: r.RoomsState) -> None:
    seen = [p for room in state.rooms for p in state.members(room.id)]
    assert sorted(seen) == sorted(state.people)
    for p in state.people:
        assert state.room_of(p) in {room.id for room in state.rooms}


def test_plan_is_a_preview_until_open() -> None:
    state, events = r.apply(admitted(10), r.Plan("g", r.Method.RANDOM, count=3), T0)
    assert state.phase is r.Phase.PREVIEW
    assert [e.name for e in events] == ["groups_planned"]
    assert len(state.groups) == 3
    assert state.members(r.PLENARY) == tuple(sorted(state.people))  # nobody moved yet
    assert sorted(len(state.planned(g.id)) for g in state.groups) == [3, 3, 4]
    state, _ = r.apply(state, r.Open(), T0)
    assert state.phase is r.Phase.OPEN
    assert state.members(r.PLENARY) == ()
    assert_one_room_each(state)


def test_by_topic_keeps_topics_together() -> None:
    state, _ = r.apply(admitted(12), r.Plan("g", r.Method.TOPIC, count=3), T0)
    for g in state.groups:
        topics = {state.people[p].topic for p in state.planned(g.id)}
        assert topics == {g.topic}
        assert g.title.endswith(str(g.topic))


def test_by_language_matches_predefined_groups() -> None:
    pre = (
        r.GroupDef(id="zh-group", title="Chinese", language="zh", booth="interpreter:li"),
        r.GroupDef(id="es-group", title="Spanish", language="es"),
    )
    state = admitted(8)
    state, _ = r.apply(state, r.Plan("g", r.Method.LANGUAGE, predefined=pre), T0)
    assert [g.id for g in state.groups] == ["zh-group", "es-group"]
    zh_members = state.planned("zh-group")
    assert sum(state.people[p].language == "zh" for p in zh_members) == 2
    assert state.room("zh-group").booth == "interpreter:li"


def test_size_gives_the_count() -> None:
    state, _ = r.apply(admitted(40), r.Plan("g", r.Method.RANDOM, size=5), T0)
    assert len(state.groups) == 8
    assert {len(state.planned(g.id)) for g in state.groups} == {5}


def test_random_is_deterministic_for_a_seed() -> None:
    a, _ = r.apply(admitted(20), r.Plan("g", r.Method.RANDOM, count=4, seed=7), T0)
    b, _ = r.apply(admitted(20), r.Plan("g", r.Method.RANDOM, count=4, seed=7), T0)
    c, _ = r.apply(admitted(20), r.Plan("g", r.Method.RANDOM, count=4, seed=8), T0)
    assert a.plan == b.plan
    assert a.plan != c.plan


def test_bad_sizes_refused() -> None:
    state = admitted(5)
    for plan in (
        r.Plan("g", r.Method.RANDOM, count=3),  # 5 cities, 3 groups of >= 2: no
        r.Plan("g", r.Method.RANDOM, size=13),
        r.Plan("g", r.Method.RANDOM, size=1),
        r.Plan("g", r.Method.RANDOM),  # neither count nor size
        r.Plan("g", r.Method.RANDOM, count=2, size=2),
    ):
        with pytest.raises(r.RoomsError):
            r.apply(state, plan, T0)


def test_by_hand_opens_only_within_bounds() -> None:
    state, _ = r.apply(admitted(5), r.Plan("g", r.Method.HAND, count=2), T0)
    assert state.plan == {}
    with pytest.raises(r.RoomsError, match="has 0 members"):
        r.apply(state, r.Open(), T0)
    for p, g in zip(
        sorted(state.people)[:4], ["group-1", "group-1", "group-2", "group-2"], strict=True
    ):
        state, _ = r.apply(state, r.Move(p, g), T0)
    state, _ = r.apply(state, r.Open(), T0)
    assert len(state.members(r.PLENARY)) == 1
    assert_one_room_each(state)


def test_move_after_open_and_its_bounds() -> None:
    state = opened(6, count=2)
    g1, g2 = (g.id for g in state.groups)
    a, b, c = state.members(g1)
    with pytest.raises(r.RoomsError, match="fewer than"):
        s2, _ = r.apply(state, r.Move(a, g2), T0)
        r.apply(s2, r.Move(b, g2), T0)
    state, events = r.apply(state, r.Move(a, g2), T0)
    assert events[0].data == {"person": a, "from": g1, "to": g2}
    assert state.room_of(a) == g2


def test_unknown_room_and_person_change_nothing() -> None:
    state = opened(6, count=2)
    with pytest.raises(r.UnknownRoom):
        r.apply(state, r.Move("city-000", "no-such-room"), T0)
    with pytest.raises(NotFoundError):
        r.apply(state, r.Move("nobody", r.PLENARY), T0)
    with pytest.raises(r.RoomsError):
        r.apply(r.RoomsState(), r.Move("x", r.PLENARY), T0)


def test_facilitator_and_rapporteur_must_be_members() -> None:
    state = opened(6, count=2)
    g1, g2 = (g.id for g in state.groups)
    a = state.members(g1)[0]
    other = state.members(g2)[0]
    state, _ = r.apply(state, r.SetRoles(g1, facilitator=a, rapporteur=a), T0)
    assert state.room(g1).rapporteur == a
    with pytest.raises(r.RoomsError, match="not a member"):
        r.apply(state, r.SetRoles(g1, rapporteur=other), T0)


def test_call_back_counts_down_sixty_seconds_then_returns_everyone() -> None:
    state = opened(10, count=2)
    g1, g2 = (g.id for g in state.groups)
    state, _ = r.apply(state, r.SetRoles(g1, rapporteur=state.members(g1)[0]), T0)
    state, _ = r.apply(state, r.SetRoles(g2, rapporteur=state.members(g2)[1]), T0)
    reporters = (state.members(g1)[0], state.members(g2)[1])
    now = T0 + timedelta(minutes=10)
    state, events = r.apply(state, r.CallBack(), now)
    assert state.phase is r.Phase.CLOSING
    assert state.closes_at == now + timedelta(seconds=60)
    state, events = r.apply(state, r.Tick(), now + timedelta(seconds=59))
    assert events == [] and state.phase is r.Phase.CLOSING
    state, events = r.apply(state, r.Tick(), now + timedelta(seconds=60))
    assert state.phase is r.Phase.PLENARY
    assert events[0].name == "groups_closed"
    assert state.members(r.PLENARY) == tuple(sorted(state.people))
    assert state.reporters == reporters
    assert state.groups == ()


def test_item_end_calls_back_automatically() -> None:
    state = opened(6, count=2)
    end = T0 + timedelta(minutes=75)
    state, events = r.apply(state, r.Tick(), end - timedelta(seconds=61))
    assert events == []
    state, events = r.apply(state, r.Tick(), end - timedelta(seconds=60))
    assert state.phase is r.Phase.CLOSING and state.closes_at == end
    state, _ = r.apply(state, r.Tick(), end)
    assert state.phase is r.Phase.PLENARY


def test_late_city_joins_the_smallest_group() -> None:
    state = opened(5, count=2)
    small = min(state.groups, key=lambda g: len(state.members(g.id)))
    state, events = r.apply(state, r.Admit("late", r.Profile()), T0)
    assert state.room_of("late") == small.id
    # Known again (its tab reopened): it keeps its room.
    state, _ = r.apply(state, r.Admit("late", r.Profile()), T0)
    assert state.room_of("late") == small.id


def test_visit_and_may_enter() -> None:
    state = opened(6, count=2)
    g1, g2 = (g.id for g in state.groups)
    member = state.members(g1)[0]
    assert r.may_enter(state, member, g1, visitor=False)
    assert not r.may_enter(state, member, g2, visitor=False)
    assert r.may_enter(state, "moderator", g2, visitor=True)
    state, _ = r.apply(state, r.VisitRoom("moderator", g2, speak=True), T0)
    assert state.room_of("moderator") == g2 and state.visits["moderator"].speak
    assert "moderator" not in state.members(g2)
    state, _ = r.apply(state, r.VisitRoom("moderator", None), T0)
    assert state.room_of("moderator") == r.PLENARY


def test_booth_serves_one_room() -> None:
    state = opened(6, count=2)
    g1, g2 = (g.id for g in state.groups)
    state, _ = r.apply(state, r.AssignBooth(g1, "interpreter:li"), T0)
    with pytest.raises(r.RoomsError, match="already serves"):
        r.apply(state, r.AssignBooth(g2, "interpreter:li"), T0)


def test_a_booth_assigned_in_the_preview_serves_the_plenary_until_the_groups_open() -> None:
    state, _ = r.apply(admitted(6), r.Plan("g", r.Method.RANDOM, count=2), T0)
    g1 = state.groups[0].id
    state, _ = r.apply(state, r.AssignBooth(g1, "es"), T0)
    assert state.room(g1).booth == "es"  # kept with the plan ...
    assert state.booths_serving == {}  # ... but the plenary still hears the es booth
    state, _ = r.apply(state, r.Open(ends_at=T0 + timedelta(minutes=75)), T0)
    assert state.booths_serving == {"es": g1}
    state, _ = r.apply(state, r.CallBack(), T0)
    assert state.booths_serving == {"es": g1}  # closing: the group still has its booth
    state, _ = r.apply(state, r.Tick(), T0 + timedelta(seconds=61))
    assert state.phase is r.Phase.PLENARY and state.booths_serving == {}


# --- properties ----------------------------------------------------------------------------------

methods = st.sampled_from([r.Method.TOPIC, r.Method.LANGUAGE, r.Method.RANDOM])


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=120),
    size=st.integers(min_value=r.MIN_GROUP, max_value=r.MAX_GROUP),
    method=methods,
    seed=st.integers(min_value=0, max_value=1000),
    moves=st.lists(st.tuples(st.integers(0, 119), st.integers(0, 20)), max_size=15),
)
def test_every_city_in_one_room_sizes_in_bounds_close_returns_all(
    n: int, size: int, method: r.Method, seed: int, moves: list[tuple[int, int]]
) -> None:
    state = admitted(n)
    state, _ = r.apply(state, r.Plan("g", method, size=size, seed=seed), T0)
    state, _ = r.apply(state, r.Open(), T0)
    rooms = [room.id for room in state.rooms]
    people = sorted(state.people)
    for who, where in moves:
        try:
            state, _ = r.apply(state, r.Move(people[who % n], rooms[where % len(rooms)]), T0)
        except r.RoomsError:
            pass
    assert_one_room_each(state)
    for g in state.groups:
        assert r.MIN_GROUP <= len(state.members(g.id)) <= r.MAX_GROUP
    state, _ = r.apply(state, r.CallBack(), T0)
    state, _ = r.apply(state, r.Tick(), T0 + r.CALL_BACK)
    assert state.phase is r.Phase.PLENARY
    assert state.members(r.PLENARY) == tuple(people)
    assert_one_room_each(state)


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=200),
    count=st.integers(min_value=1, max_value=30),
    method=methods,
)
def test_assignment_sizes_within_bounds(n: int, count: int, method: r.Method) -> None:
    state = admitted(n)
    try:
        state, _ = r.apply(state, r.Plan("g", method, count=count), T0)
    except r.RoomsError:
        assert n < r.MIN_GROUP * count
        return
    sizes = [len(state.planned(g.id)) for g in state.groups]
    assert all(r.MIN_GROUP <= s <= r.MAX_GROUP for s in sizes)
    assert max(sizes) - min(sizes) <= 1
    assert sum(sizes) == n


def test_the_event_files_members_and_facilitators_go_to_their_group() -> None:
    pre = (
        r.GroupDef(id="a", title="A", members=("city-001", "city-002"), facilitator="city-003"),
        r.GroupDef(id="b", title="B", members=("city-000", "not-here")),
    )
    for seed in range(5):
        state, _ = r.apply(admitted(8), r.Plan("g", r.Method.RANDOM, seed=seed, predefined=pre), T0)
        assert {"city-001", "city-002", "city-003"} <= set(state.planned("a")), seed
        assert "city-000" in state.planned("b") and "not-here" not in state.people
        assert state.room("a").facilitator == "city-003"
        assert sorted(state.planned("a") + state.planned("b")) == sorted(state.people)


@given(
    n=st.integers(4, 40),
    seed=st.integers(0, 1000),
    phase=st.sampled_from(["plan", "open", "closing"]),
)
@settings(max_examples=40, deadline=None)
def test_a_record_rebuilds_the_same_state(n: int, seed: int, phase: str) -> None:
    state, _ = r.apply(admitted(n), r.Plan("g", r.Method.RANDOM, size=2, seed=seed), T0)
    if phase != "plan":
        state, _ = r.apply(state, r.Open(ends_at=T0 + timedelta(minutes=75)), T0)
        group = state.groups[0].id
        member = state.members(group)[0]
        state, _ = r.apply(state, r.SetRoles(group, rapporteur=member), T0)
        state, _ = r.apply(state, r.VisitRoom("mod", group, speak=True), T0)
    if phase == "closing":
        state, _ = r.apply(state, r.CallBack(), T0)
    again = r.from_record(json.loads(json.dumps(r.to_record(state))))
    assert again == state
    assert again.to_dict() == state.to_dict()
