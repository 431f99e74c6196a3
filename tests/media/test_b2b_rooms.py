"""B2B meetings in the embedded SFU, real aiortc peers on 127.0.0.1, judged by ear (tones).

Two companies in their meeting hear each other (and not themselves); the interpreter booked
into it is heard on its channel there only (not by a plenary listener on the same channel);
a third party is refused; at the slot's end plus the grace, with an explicit clock, the room
closes and both go back to the plenary.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest

from simultan.core import b2b
from simultan.core.b2b import Grid, Rules
from simultan.errors import CommandError, ForbiddenError
from simultan.media.rooms import member_key
from simultan.media.sfu import EmbeddedSfu
from simultan.session.b2b import B2BSchedule
from simultan.session.b2b_rooms import B2BRooms
from simultan.store.b2b import B2BStore
from simultan.store.database import open_database
from tests.conftest import FakeClock
from tests.core.test_b2b import DAY, WINDOWS
from tests.media.test_rooms import hearing, tone_since
from tests.media.tones import FLOOR_HZ, LoopedTone, Tab

ANA_HZ, BO_HZ, IVY_HZ = 523.0, 659.0, 1047.0
GRACE = timedelta(seconds=30)


@pytest.fixture
async def schedule(tmp_path: Path) -> B2BSchedule:
    engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'b2b.sqlite3'}")
    clock = FakeClock(DAY - timedelta(hours=1))
    s = B2BSchedule(Grid(WINDOWS, 20, 5, 2), Rules(), B2BStore(engine, "forum"),
                    clock=clock, grace=GRACE)  # fmt: skip
    await s.open()
    yield s
    await engine.dispose()


def meeting_tabs(sfu: EmbeddedSfu) -> tuple[Tab, Tab, Tab]:
    """The meeting's tabs, not yet connected: Ana (Polish) and Bo (English), each publishing
    a tone on its member key with one member slot, and Ivy, their interpreter, with two."""
    ana = Tab(sfu, "ana-tab", publish=member_key("ana"), channel="pl", audio=LoopedTone(ANA_HZ),
              member_slots=1, decode_audio=False)  # fmt: skip
    bo = Tab(sfu, "bo-tab", publish=member_key("bo"), channel="en", audio=LoopedTone(BO_HZ),
             member_slots=1, decode_audio=False)  # fmt: skip
    ivy = Tab(sfu, "ivy-tab", publish="interpreter:ivy", audio=LoopedTone(IVY_HZ),
              member_slots=2, decode_audio=False)  # fmt: skip
    return ana, bo, ivy


async def test_two_companies_hear_each_other_and_the_room_closes_on_time(
    sfu: EmbeddedSfu, schedule: B2BSchedule
) -> None:
    clock = schedule.clock
    assert isinstance(clock, FakeClock)
    await schedule.run(b2b.Schedule("m1", ("ana", "bo"), DAY), "org")
    await schedule.run(b2b.BookInterpreter("m1", "ivy", ("pl", "en")), "org")
    rooms = B2BRooms(schedule, lambda: sfu)
    sfu.set_routes({"en": "floor", "pl": "floor"})
    floor = Tab(sfu, "floor", publish="floor", audio=LoopedTone(FLOOR_HZ))
    ana, bo, ivy = meeting_tabs(sfu)
    plenary = Tab(sfu, "plenary-pl", channel="pl", decode_audio=False)
    tabs = [floor, ana, bo, ivy, plenary]
    try:
        await asyncio.gather(*(t.connect() for t in tabs))
        # Too early, and a third party: typed errors, nobody placed.
        with pytest.raises(CommandError) as early:
            await rooms.join("ana-tab", "ana", "m1")
        assert early.value.details["reason"] == "not_open"
        clock.now = DAY + timedelta(minutes=3)  # late joiners are still admitted
        with pytest.raises(ForbiddenError) as third:
            await rooms.join("plenary-pl", "cy", "m1")
        assert third.value.details["reason"] == "not_member" and rooms.seats == {}
        for sid, person in (("ana-tab", "ana"), ("bo-tab", "bo"), ("ivy-tab", "ivy")):
            await rooms.join(sid, person, "m1")
        judged = time.monotonic() + 0.5
        await hearing([ana.members[0], bo.members[0], ana.channel_audio, *ivy.members,
                       plenary.channel_audio], judged)  # fmt: skip
        assert tone_since(ana.members[0], judged) == BO_HZ
        assert tone_since(bo.members[0], judged) == ANA_HZ
        assert tone_since(ana.program, judged) is None  # no floor inside the meeting
        # Ana listens in Polish: the interpreter; the plenary's Polish channel: the floor.
        assert tone_since(ana.channel_audio, judged) == IVY_HZ
        assert tone_since(plenary.channel_audio, judged) == FLOOR_HZ
        assert {tone_since(h, judged) for h in ivy.members} == {ANA_HZ, BO_HZ}

        clock.now = DAY + timedelta(minutes=20) + GRACE - timedelta(seconds=1)
        assert await rooms.tick() == []  # still in the grace
        clock.now = DAY + timedelta(minutes=20) + GRACE
        closed = await rooms.tick()
        assert sorted(sid for sid, _ in closed) == ["ana-tab", "bo-tab", "ivy-tab"]
        judged = time.monotonic() + 0.5
        await hearing([ana.program, bo.program], judged)
        assert tone_since(ana.program, judged) == FLOOR_HZ
        assert tone_since(bo.program, judged) == FLOOR_HZ
        assert tone_since(ana.members[0], judged) is None
        report = b2b.report(schedule.state, clock.now, GRACE)
        assert report["held"] == 1 and report["held_seconds"] == 17 * 60 + 30
        with pytest.raises(CommandError):
            await rooms.join("ana-tab", "ana", "m1")  # over
    finally:
        await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)


async def test_each_side_chooses_the_interpretation_or_the_original(
    sfu: EmbeddedSfu, schedule: B2BSchedule
) -> None:
    """Both sides speak one of the pair (pl, en): by default both hear the interpreter on
    their channel; Ana chooses the original (her channel falls silent, Bo's voice stays on her
    member slot) while Bo keeps the interpretation; then they swap. Refusals change nothing."""
    clock = schedule.clock
    assert isinstance(clock, FakeClock)
    await schedule.run(b2b.Schedule("m1", ("ana", "bo"), DAY), "org")
    await schedule.run(b2b.BookInterpreter("m1", "ivy", ("pl", "en")), "org")
    rooms = B2BRooms(schedule, lambda: sfu)
    ana, bo, ivy = meeting_tabs(sfu)
    tabs = [ana, bo, ivy]

    async def heard() -> tuple[float | None, ...]:
        judged = time.monotonic() + 0.5
        await hearing([ana.members[0], bo.members[0]], judged)
        await asyncio.sleep(0.3)  # a silent channel slot is judged after the others' frames
        return (
            tone_since(ana.channel_audio, judged),
            tone_since(ana.members[0], judged),
            tone_since(bo.channel_audio, judged),
            tone_since(bo.members[0], judged),
        )

    try:
        await asyncio.gather(*(t.connect() for t in tabs))
        clock.now = DAY + timedelta(minutes=1)
        with pytest.raises(ForbiddenError) as unseated:  # not in the meeting yet
            rooms.hear("ana-tab", "ana", "original")
        assert unseated.value.details["reason"] == "no_seat"
        await rooms.join("ana-tab", "ana", "m1", "pl")
        await rooms.join("bo-tab", "bo", "m1", "en")
        await rooms.join("ivy-tab", "ivy", "m1", "pl")
        assert await heard() == (IVY_HZ, BO_HZ, IVY_HZ, ANA_HZ)  # the automatic choice

        assert rooms.hear("ana-tab", "ana", "original") == {
            "meeting": "m1", "hear": "original", "channel": None}  # fmt: skip
        assert await heard() == (None, BO_HZ, IVY_HZ, ANA_HZ)

        assert rooms.hear("ana-tab", "ana", "interpretation")["channel"] == "pl"
        rooms.hear("bo-tab", "bo", "original")
        assert await heard() == (IVY_HZ, BO_HZ, None, ANA_HZ)

        # Refusals: the interpreter, an unknown choice, someone else's tab; nothing changes.
        with pytest.raises(CommandError) as interpreter:
            rooms.hear("ivy-tab", "ivy", "original")
        assert interpreter.value.details["reason"] == "interpreter"
        with pytest.raises(CommandError) as bad:
            rooms.hear("bo-tab", "bo", "loud")
        assert bad.value.details["reason"] == "bad_choice"
        with pytest.raises(ForbiddenError):
            rooms.hear("bo-tab", "ana", "interpretation")
        assert rooms.seats["bo-tab"].hear == "original"
        assert rooms.seats["ana-tab"].hear == "interpretation"
        # The organizer removes the interpreter: the room re-points at once (no channel),
        # and there is nothing to choose; booked again, Ana's choice holds.
        await schedule.run(b2b.BookInterpreter("m1", None), "org")
        assert await heard() == (None, BO_HZ, None, ANA_HZ)
        with pytest.raises(CommandError) as none:
            rooms.hear("ana-tab", "ana", "original")
        assert none.value.details["reason"] == "no_interpretation"
        await schedule.run(b2b.BookInterpreter("m1", "ivy", ("pl", "en")), "org")
        assert await heard() == (IVY_HZ, BO_HZ, None, ANA_HZ)
    finally:
        await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)
