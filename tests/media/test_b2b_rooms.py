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
    ana = Tab(sfu, "ana-tab", publish=member_key("ana"), channel="pl", audio=LoopedTone(ANA_HZ),
              member_slots=1, decode_audio=False)  # fmt: skip
    bo = Tab(sfu, "bo-tab", publish=member_key("bo"), channel="en", audio=LoopedTone(BO_HZ),
             member_slots=1, decode_audio=False)  # fmt: skip
    ivy = Tab(sfu, "ivy-tab", publish="interpreter:ivy", audio=LoopedTone(IVY_HZ),
              member_slots=2, decode_audio=False)  # fmt: skip
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
