"""The B2B schedule (pure): requests, answers, manual scheduling, expiry, never a double booking."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simultan.core import b2b
from simultan.core.b2b import (
    Accept,
    B2BState,
    BookInterpreter,
    Cancel,
    Decline,
    Grid,
    MarkPresence,
    Move,
    Phase,
    Propose,
    RequestMeeting,
    RequestStatus,
    Rules,
    Schedule,
    SetGrid,
    Withdraw,
)
from simultan.errors import CommandError, ForbiddenError, NotFoundError, SimultanError

DAY = datetime(2027, 10, 8, 7, 0, tzinfo=UTC)  # 09:00 in Łódź
BEFORE = DAY - timedelta(days=1)
WINDOWS = ((DAY, DAY + timedelta(hours=3)), (DAY + timedelta(hours=4), DAY + timedelta(hours=7)))


def state(tables: int = 2, **rules: object) -> B2BState:
    return B2BState(grid=Grid(WINDOWS, 20, 5, tables), rules=Rules(**rules))  # type: ignore[arg-type]


def slot(n: int) -> datetime:
    return Grid(WINDOWS, 20, 5, 2).slots()[n].start


def reason(exc: pytest.ExceptionInfo[SimultanError]) -> object:
    return exc.value.details.get("reason")


def test_grid_lays_slots_in_windows_with_breaks() -> None:
    slots = Grid(WINDOWS, 20, 5, 3).slots()
    # 3 h window: 09:00, 09:25, ... 11:30 (ends 11:50; 11:55 would end 12:15): 7 a window.
    assert len(slots) == 14
    assert slots[1].start - slots[0].start == timedelta(minutes=25)
    assert slots[7].start == DAY + timedelta(hours=4)
    assert all(s.end - s.start == timedelta(minutes=20) for s in slots)


def test_request_accept_makes_a_meeting_at_the_first_free_table() -> None:
    s, ev = b2b.apply(state(), RequestMeeting("r1", "ana", "bo", slot(0), "hello"), BEFORE)
    assert ev[0].change is b2b.Change.REQUESTED and ev[0].notify == ("bo",)
    s, ev = b2b.apply(s, Accept("r1", "bo", "m1"), BEFORE + timedelta(hours=1))
    m = s.meetings["m1"]
    assert (m.start, m.table, m.participants) == (slot(0), 1, ("ana", "bo"))
    assert s.requests["r1"].status is RequestStatus.ACCEPTED
    assert set(ev[0].notify) == {"ana", "bo"}
    b2b.check_invariants(s)


def test_only_the_awaited_side_answers_and_a_proposal_turns_it_around() -> None:
    s, _ = b2b.apply(state(), RequestMeeting("r1", "ana", "bo", slot(0)), BEFORE)
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, Accept("r1", "ana", "m1"), BEFORE)
    assert reason(exc) == "not_your_turn"
    with pytest.raises(ForbiddenError):
        b2b.apply(s, Accept("r1", "cy", "m1"), BEFORE)
    s, ev = b2b.apply(s, Propose("r1", "bo", slot(2), "later?"), BEFORE)
    assert ev[0].notify == ("ana",) and s.requests["r1"].awaiting == "ana"
    s, _ = b2b.apply(s, Accept("r1", "ana", "m1"), BEFORE)
    assert s.meetings["m1"].start == slot(2)


def test_accepting_an_expired_request_is_refused_and_changes_nothing() -> None:
    s, _ = b2b.apply(
        state(request_ttl=timedelta(hours=2)), RequestMeeting("r1", "ana", "bo", slot(0)), BEFORE
    )
    late = BEFORE + timedelta(hours=2)
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, Accept("r1", "bo", "m1"), late)
    assert reason(exc) == "expired"
    assert s.requests["r1"].status is RequestStatus.PENDING and not s.meetings
    # The next command sweeps it to expired, and tells both sides.
    s2, ev = b2b.apply(s, RequestMeeting("r2", "cy", "di", slot(1)), late)
    assert s2.requests["r1"].status is RequestStatus.EXPIRED
    assert ev[0].change is b2b.Change.EXPIRED


def test_a_request_expires_when_its_slot_starts() -> None:
    s, _ = b2b.apply(state(), RequestMeeting("r1", "ana", "bo", slot(0)), BEFORE)
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, Accept("r1", "bo", "m1"), slot(0))
    assert reason(exc) == "expired"


def test_a_request_for_a_taken_slot_is_refused() -> None:
    s, _ = b2b.apply(state(), Schedule("m1", ("ana", "bo"), slot(0)), BEFORE)
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, RequestMeeting("r1", "cy", "ana", slot(0)), BEFORE)
    assert reason(exc) == "slot_taken" and exc.value.details["person"] == "ana"
    s, _ = b2b.apply(s, Schedule("m2", ("cy", "di"), slot(0)), BEFORE)
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, RequestMeeting("r1", "ed", "fa", slot(0)), BEFORE)
    assert reason(exc) == "no_table"


def test_a_meeting_outside_the_grid_is_refused() -> None:
    off = slot(0) + timedelta(minutes=7)
    for command in (
        RequestMeeting("r1", "ana", "bo", off),
        Schedule("m1", ("ana", "bo"), off),
        Schedule("m1", ("ana", "bo"), DAY + timedelta(hours=3, minutes=30)),  # the lunch break
    ):
        with pytest.raises(CommandError) as exc:
            b2b.apply(state(), command, BEFORE)
        assert reason(exc) == "outside_grid"
    with pytest.raises(CommandError) as exc:
        b2b.apply(state(tables=2), Schedule("m1", ("ana", "bo"), slot(0), table=3), BEFORE)
    assert reason(exc) == "outside_grid"


def test_bad_requests_are_typed() -> None:
    s = state(requests_per_hour=2)
    cases = [
        (RequestMeeting("r1", "ana", "ana", slot(0)), "self"),
        (RequestMeeting("r1", "ana", "bo", slot(0), "x" * 1001), "message_too_long"),
        (RequestMeeting("r1", "ana", "bo", slot(0)), "slot_past"),
    ]
    for command, why in cases:
        with pytest.raises(CommandError) as exc:
            b2b.apply(s, command, slot(0) if why == "slot_past" else BEFORE)
        assert reason(exc) == why
    s, _ = b2b.apply(s, RequestMeeting("r1", "ana", "bo", slot(0)), BEFORE)
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, RequestMeeting("r2", "bo", "ana", slot(1)), BEFORE)
    assert reason(exc) == "duplicate_request"
    s, _ = b2b.apply(s, RequestMeeting("r2", "ana", "cy", slot(1)), BEFORE)
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, RequestMeeting("r3", "ana", "di", slot(2)), BEFORE + timedelta(minutes=59))
    assert reason(exc) == "rate_limited"
    b2b.apply(s, RequestMeeting("r3", "ana", "di", slot(2)), BEFORE + timedelta(minutes=61))
    with pytest.raises(NotFoundError):
        b2b.apply(s, Decline("nope", "bo"), BEFORE)


def test_decline_withdraw_cancel() -> None:
    s, _ = b2b.apply(state(), RequestMeeting("r1", "ana", "bo", slot(0)), BEFORE)
    s, _ = b2b.apply(s, RequestMeeting("r2", "ana", "cy", slot(1)), BEFORE)
    s, _ = b2b.apply(s, Decline("r1", "bo"), BEFORE)
    with pytest.raises(ForbiddenError):
        b2b.apply(s, Withdraw("r2", "cy"), BEFORE)
    s, _ = b2b.apply(s, Withdraw("r2", "ana"), BEFORE)
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, Accept("r2", "cy", "m1"), BEFORE)
    assert reason(exc) == "not_pending"
    s, _ = b2b.apply(s, Schedule("m1", ("ana", "bo", "cy"), slot(0)), BEFORE)
    with pytest.raises(ForbiddenError):
        b2b.apply(s, Cancel("m1", "di"), BEFORE)
    s, ev = b2b.apply(s, Cancel("m1", "cy"), BEFORE)
    assert s.meetings["m1"].cancelled and set(ev[0].notify) == {"ana", "bo", "cy"}
    # The freed slot can be booked again.
    s, _ = b2b.apply(s, Schedule("m2", ("ana", "bo"), slot(0)), BEFORE)
    b2b.check_invariants(s)


def test_interpreter_is_booked_like_a_person() -> None:
    s, _ = b2b.apply(state(), Schedule("m1", ("ana", "bo"), slot(0)), BEFORE)
    s, _ = b2b.apply(s, Schedule("m2", ("cy", "di"), slot(0)), BEFORE)
    s, ev = b2b.apply(s, BookInterpreter("m1", "ivy", ("pl", "da")), BEFORE)
    assert "ivy" in ev[0].notify and s.meetings["m1"].people[-1] == "ivy"
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, BookInterpreter("m2", "ivy", ("pl", "da")), BEFORE)
    assert reason(exc) == "slot_taken"
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, BookInterpreter("m2", "eve", ("pl", "pl")), BEFORE)
    assert reason(exc) == "bad_languages"


def test_set_grid_refuses_to_orphan_a_meeting() -> None:
    s, _ = b2b.apply(state(tables=3), Schedule("m1", ("ana", "bo"), slot(1), table=3), BEFORE)
    with pytest.raises(CommandError) as exc:
        b2b.apply(s, SetGrid(30, 5, 3), BEFORE)
    assert reason(exc) == "grid_orphans"
    with pytest.raises(CommandError):
        b2b.apply(s, SetGrid(20, 5, 2), BEFORE)
    s, ev = b2b.apply(s, SetGrid(20, 5, 5), BEFORE)
    assert s.grid.tables == 5 and set(ev[0].notify) == {"ana", "bo"}


def test_move_checks_like_a_new_meeting() -> None:
    s, _ = b2b.apply(state(), Schedule("m1", ("ana", "bo"), slot(0)), BEFORE)
    s, _ = b2b.apply(s, Schedule("m2", ("ana", "cy"), slot(1)), BEFORE)
    with pytest.raises(CommandError):
        b2b.apply(s, Move("m1", slot(1)), BEFORE)
    s, _ = b2b.apply(s, Move("m1", slot(0), table=2), BEFORE)
    assert s.meetings["m1"].table == 2


def test_room_phases_admission_and_report() -> None:
    s, _ = b2b.apply(state(), Schedule("m1", ("ana", "bo"), slot(0)), BEFORE)
    m = s.meetings["m1"]
    grace = timedelta(seconds=30)
    assert b2b.phase(m, m.start - timedelta(seconds=1), grace) is Phase.UPCOMING
    assert b2b.phase(m, m.start, grace) is Phase.OPEN
    assert b2b.phase(m, m.end - timedelta(seconds=60), grace) is Phase.ENDING
    assert b2b.phase(m, m.end, grace) is Phase.GRACE
    assert b2b.phase(m, m.end + grace, grace) is Phase.CLOSED
    with pytest.raises(ForbiddenError) as exc:
        b2b.admit(s, "m1", "cy", m.start)
    assert reason(exc) == "not_member"
    with pytest.raises(CommandError) as exc:
        b2b.admit(s, "m1", "ana", m.start - timedelta(seconds=1))
    assert reason(exc) == "not_open"
    assert b2b.admit(s, "m1", "bo", m.end - timedelta(seconds=1)) is m  # late, still admitted
    with pytest.raises(CommandError) as exc:
        b2b.admit(s, "m1", "bo", m.end)
    assert reason(exc) == "meeting_over"
    s, _ = b2b.apply(s, MarkPresence("m1", "ana", True), m.start)
    s, _ = b2b.apply(s, MarkPresence("m1", "bo", True), m.start + timedelta(minutes=2))
    s, _ = b2b.apply(s, MarkPresence("m1", "bo", False), m.start + timedelta(minutes=12))
    rep = b2b.report(s, m.end + timedelta(hours=1), grace)
    assert rep["held"] == 1 and rep["held_seconds"] == 600
    assert rep["requested"] == 0 and rep["requests"]["accepted"] == 0
    assert b2b.next_meeting(s, "ana", m.start) is s.meetings["m1"]
    assert b2b.next_meeting(s, "ana", m.end) is None


def test_report_counts_requests_by_outcome_and_meetings_held() -> None:
    s = state(tables=3)
    s, _ = b2b.apply(s, RequestMeeting("r1", "ana", "bo", slot(0)), BEFORE)
    s, _ = b2b.apply(s, RequestMeeting("r2", "ana", "cy", slot(1)), BEFORE)
    s, _ = b2b.apply(s, RequestMeeting("r3", "bo", "cy", slot(2)), BEFORE)
    s, _ = b2b.apply(s, RequestMeeting("r4", "di", "eve", slot(3)), BEFORE)
    s, _ = b2b.apply(s, RequestMeeting("r5", "fay", "gus", slot(4)), BEFORE)
    s, _ = b2b.apply(s, Accept("r1", "bo", "m1"), BEFORE)
    s, _ = b2b.apply(s, Accept("r2", "cy", "m2"), BEFORE)
    s, _ = b2b.apply(s, Decline("r3", "cy"), BEFORE)
    s, _ = b2b.apply(s, Withdraw("r4", "di"), BEFORE)
    # r5 stays pending and expires (2 h after it was sent, before its slot).
    m1, m2 = s.meetings["m1"], s.meetings["m2"]
    s, _ = b2b.apply(s, MarkPresence("m1", "ana", True), m1.start)
    s, _ = b2b.apply(s, MarkPresence("m1", "bo", True), m1.start + timedelta(minutes=5))
    s, _ = b2b.apply(s, MarkPresence("m2", "ana", True), m2.start)  # cy never comes
    rep = b2b.report(s, m2.end + timedelta(hours=1), timedelta(seconds=30))
    assert rep["requested"] == 5
    assert rep["requests"] == {
        "pending": 0, "accepted": 2, "declined": 1, "withdrawn": 1, "expired": 1
    }  # fmt: skip
    assert (rep["meetings"], rep["cancelled"], rep["held"]) == (2, 0, 1)
    # m1: both in from minute 5 to the close (20-minute meetings, a 30 s grace), nobody left.
    assert rep["held_seconds"] == 15 * 60 + 30
    rows = {row["id"]: row for row in rep["rows"]}
    assert rows["m1"]["held"] and not rows["m2"]["held"]
    assert rows["m2"]["together_seconds"] == 0


def test_phase_changes_are_news_once_and_not_for_a_meeting_first_seen_closed() -> None:
    s, _ = b2b.apply(state(), Schedule("m1", ("ana", "bo"), slot(0)), BEFORE)
    s, _ = b2b.apply(s, Schedule("m0", ("cy", "di"), slot(1)), BEFORE)
    grace = timedelta(seconds=30)
    known: dict[str, Phase] = {}

    def changes(at: datetime) -> list[tuple[str, Phase, bool]]:
        out = [(m.id, p, news) for m, p, news in b2b.phase_changes(s, known, at, grace)]
        known.update({mid: p for mid, p, _ in out})
        return sorted(out)

    assert changes(BEFORE) == [("m0", Phase.UPCOMING, False), ("m1", Phase.UPCOMING, False)]
    assert changes(BEFORE) == []
    assert changes(slot(0)) == [("m1", Phase.OPEN, True)]
    assert changes(slot(0) + timedelta(minutes=19)) == [("m1", Phase.ENDING, True)]
    assert changes(slot(0) + timedelta(minutes=20)) == [("m1", Phase.GRACE, True)]
    assert changes(slot(0) + timedelta(minutes=20) + grace) == [("m1", Phase.CLOSED, True)]
    known.clear()  # a restart long after: m1 is closed (only noted), m0 is open (news)
    assert changes(slot(1) + timedelta(minutes=1)) == [
        ("m0", Phase.OPEN, True), ("m1", Phase.CLOSED, False)
    ]  # fmt: skip


def test_commands_round_trip_through_dicts() -> None:
    commands: list[b2b.Command] = [
        RequestMeeting("r1", "ana", "bo", slot(0), "hi"),
        Propose("r1", "bo", slot(2), ""),
        Accept("r1", "ana", "m1"),
        Schedule("m2", ("cy", "di"), slot(0), 2),
        BookInterpreter("m2", "ivy", ("pl", "da")),
        Move("m2", slot(3)),
        Cancel("m2", "cy"),
        SetGrid(20, 5, 3),
        b2b.Expire(),
    ]
    s = state()
    records = []
    for c in commands:
        assert b2b.command_from_dict(b2b.command_to_dict(c)) == c
        s, _ = b2b.apply(s, c, BEFORE)
        records.append((b2b.command_to_dict(c), BEFORE))
    assert b2b.replay(state(), records) == s
    with pytest.raises(CommandError):
        b2b.command_from_dict({"command": "explode"})


# --- properties ----------------------------------------------------------------------------------

PEOPLE = ("ana", "bo", "cy", "di", "ivy")
Step = tuple[int, int, int, int, int, int, int]


def concrete(s: B2BState, step: Step, serial: int) -> b2b.Command:
    """A command from abstract numbers, aimed at what exists now (so most are not refused)."""
    _, kind, a, b, n, pick, table_n = step
    who, other = PEOPLE[a % len(PEOPLE)], PEOPLE[b % len(PEOPLE)]
    slots = s.grid.slots()
    start = slots[n % len(slots)].start
    pending = [r for r in s.requests.values() if r.status is RequestStatus.PENDING]
    requests = pending or list(s.requests.values()) or [None]
    r = requests[pick % len(requests)]
    rid = r.id if r is not None else "none"
    answerer = r.awaiting if r is not None and a % 3 else who
    meetings = s.live_meetings() or list(s.meetings.values()) or [None]
    m = meetings[pick % len(meetings)]
    mid = m.id if m is not None else "none"
    table = None if table_n == 0 else table_n
    match kind:
        case 0 | 1 | 2:
            return RequestMeeting(f"r{serial}", who, other, start)
        case 3 | 4:
            return Accept(rid, answerer, f"m{serial}")
        case 5:
            return Decline(rid, answerer)
        case 6:
            return Propose(rid, answerer, start)
        case 7:
            return Withdraw(rid, r.requester if r is not None and a % 2 else who)
        case 8:
            third = (PEOPLE[pick % len(PEOPLE)],) if pick % 2 else ()
            return Schedule(f"m{serial}", (who, other, *third), start, table)
        case 9:
            return Move(mid, start, table)
        case 10:
            return Cancel(mid, who, as_organizer=bool(b % 2))
        case 11:
            return BookInterpreter(mid, who, ("pl", "da"))
        case _:
            return SetGrid((20, 20, 25, 40)[n % 4], 5, 1 + table_n % 3)


steps = st.tuples(
    st.integers(0, 40),  # minutes to advance the clock
    st.integers(0, 12),
    st.integers(0, 9),
    st.integers(0, 9),
    st.integers(0, 30),
    st.integers(0, 9),
    st.integers(0, 3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(steps, max_size=50))
def test_random_commands_never_double_book_and_expired_requests_never_meet(
    plan: list[Step],
) -> None:
    s = state(tables=2, request_ttl=timedelta(hours=2))
    now = DAY - timedelta(hours=4)
    for serial, step in enumerate(plan):
        now += timedelta(minutes=step[0])
        command = concrete(s, step, serial)
        snapshot = copy.deepcopy(s)
        try:
            s, _ = b2b.apply(s, command, now)
        except SimultanError as exc:
            # refused: typed, and the state is the same by value (nothing changed in place)
            assert exc.details.get("reason"), exc
            assert s == snapshot
            assert s.version == snapshot.version
            continue
        b2b.check_invariants(s)
        for r in s.requests.values():
            if r.expires_at <= now:
                assert r.status is not RequestStatus.PENDING
            if r.meeting_id is not None:
                assert r.answered_at is not None and r.answered_at < r.expires_at
