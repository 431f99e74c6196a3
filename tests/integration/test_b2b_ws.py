"""B2B meetings over the real path: /ws ``b2b_join`` / ``b2b_leave``, ``rtc_offer`` with
``publish: "member"``, the app's 1 s B2B clock (open, one-minute warning, close) driven by an
explicit clock, real aiortc peers judged by their tones.

Two companies in their meeting hear each other; the interpreter booked into it is heard on
its languages' channel there only (a plenary listener on that channel hears the floor); a
third party, a tab joining too early or after the end, and a company publishing before it
joined get typed errors and change nothing; a late company still joins until the end; at the
end plus the grace the room closes by itself and every page is told, with its next meeting.
A company chooses the original over the interpretation (``b2b_hear``) and hears no channel.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiortc.mediastreams import MediaStreamTrack

from simultan.core import b2b
from simultan.core.capabilities import Role
from simultan.eventdef import ItemKind, load_event
from simultan.session.b2b import B2BSchedule
from simultan.web.b2b import SCHEDULE
from simultan.web.session_key import SESSION
from tests.conftest import FORUM, FakeClock, start_server
from tests.integration.test_stage_media import OfferRefused, Peer, Stage, WsTab, until
from tests.media.test_rooms import hearing, tone_since
from tests.media.tones import FLOOR_HZ, LoopedTone, Tab

pytestmark = pytest.mark.media

ANA_HZ, BO_HZ, IVY_HZ = 523.0, 659.0, 1047.0
GRACE = 30


class MemberTab(WsTab):
    """A /ws tab with member slots (a meeting's other companies, or the interpreter's)."""

    def __init__(
        self, peer: Peer, *, publish: str | None, channel: str | None,
        audio: MediaStreamTrack | None, slots: int,
    ) -> None:  # fmt: skip
        Tab.__init__(self, None, peer.name, publish=publish, channel=channel, audio=audio,  # type: ignore[arg-type]
                     member_slots=slots, decode_audio=False)  # fmt: skip
        self.peer = peer
        self.answer = None


async def offer(peer: Peer, *, channel: str, tone: float | None, slots: int) -> MemberTab:
    tab = MemberTab(peer, publish="member" if tone else None, channel=channel,
                    audio=LoopedTone(tone) if tone else None, slots=slots)  # fmt: skip
    peer.tab = tab
    await tab.connect()
    return tab


def b2b_events(peer: Peer, since: int = 0) -> list[dict[str, Any]]:
    return [
        msg["data"]
        for _, msg in peer.inbox[since:]
        if msg["type"] == "event" and msg["name"] == "b2b_room"
    ]


def schedule_changes(peer: Peer) -> list[tuple[str, str]]:
    """The ``b2b_schedule`` events this tab got: (change, subject)."""
    return [
        (msg["data"]["change"], msg["data"]["subject"])
        for _, msg in peer.inbox
        if msg["type"] == "event" and msg["name"] == "b2b_schedule"
    ]


async def told(peer: Peer, phase: str, since: int = 0) -> dict[str, Any]:
    await until(lambda: any(d["phase"] == phase for d in b2b_events(peer, since)), 5.0)
    return next(d for d in b2b_events(peer, since) if d["phase"] == phase)


@pytest.fixture
async def forum(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[Stage, datetime]]:
    defn = load_event(FORUM)
    start = defn.planned_start(next(i for i in defn.agenda if i.kind is ItemKind.B2B))
    clock.now = start - timedelta(hours=1)
    runner, server = await start_server(tmp_path, clock, defn, media_enabled=True,
                                        b2b_grace_seconds=GRACE)  # fmt: skip
    st = Stage(server)
    try:
        yield st, start
    finally:
        await st.close()
        await runner.cleanup()


async def test_a_meeting_over_the_websocket_opens_warns_and_closes_on_time(
    forum: tuple[Stage, datetime],
) -> None:
    stage, start = forum
    server = stage.server
    schedule: B2BSchedule = server.app[SCHEDULE]
    ana = await stage.join(Role.PARTICIPANT, "Ana Nowak", language="pl")
    bo = await stage.join(Role.PARTICIPANT, "Bo Jensen")
    cy = await stage.join(Role.PARTICIPANT, "Cy Larsen", language="pl")
    ivy = await stage.join(Role.INTERPRETER, "Ivy Tolk")
    await schedule.run(b2b.Schedule("m1", (ana.id, bo.id), start), "org")
    await schedule.run(b2b.BookInterpreter("m1", ivy.id, ("pl", "en")), "org")
    later = start + timedelta(minutes=30)
    await schedule.run(b2b.Schedule("m2", (ana.id, cy.id), later), "org")
    stage.local_floor()
    # Each change reaches the pages of the people it concerns at once (b2b_schedule).
    await until(lambda: len(schedule_changes(ana)) == 3 and len(schedule_changes(cy)) == 1, 5.0)
    assert schedule_changes(ana) == [
        ("scheduled", "m1"),
        ("interpreter", "m1"),
        ("scheduled", "m2"),
    ]
    assert schedule_changes(bo) == [("scheduled", "m1"), ("interpreter", "m1")]
    assert schedule_changes(ivy) == [("interpreter", "m1")]
    assert schedule_changes(cy) == [("scheduled", "m2")]

    # Every tab offers as a listener first; joining the meeting then re-points its slots.
    a_tab = await offer(ana, channel="pl", tone=None, slots=1)
    b_tab = await offer(bo, channel="en", tone=None, slots=1)
    plenary = await offer(cy, channel="pl", tone=None, slots=1)
    i_tab = await offer(ivy, channel="en", tone=None, slots=2)

    # Too early; a third party; publishing before joining; an unknown meeting: typed errors.
    version = schedule.state.version
    reply = await ana.request({"type": "b2b_join", "meeting": "m1"})
    assert (reply["type"], reply["details"]["reason"]) == ("error", "not_open"), reply
    server.clock.now = start + timedelta(minutes=3)
    reply = await cy.request({"type": "b2b_join", "meeting": "m1"})
    assert (reply["code"], reply["details"]["reason"]) == ("forbidden", "not_member"), reply
    reply = await ana.request({"type": "b2b_join", "meeting": "nope"})
    assert reply["type"] == "error" and reply["code"] == "not_found", reply
    probe = MemberTab(ana, publish="member", channel="pl", audio=LoopedTone(ANA_HZ), slots=1)
    try:
        with pytest.raises(OfferRefused) as refused:
            await probe.connect()  # not in the meeting yet (nor in a group)
        assert refused.value.reply["code"] == "forbidden"
    finally:
        await probe.pc.close()
    rooms = server.app[SESSION].b2b_rooms
    assert rooms is not None and rooms.seats == {} and schedule.state.version == version

    # The app's clock tells both companies and the interpreter that the room is open.
    for peer in (ana, bo, ivy):
        opened = await told(peer, "open")
        assert opened["meeting"] == "m1"
    assert b2b_events(cy) == []

    for peer, tab, tone in ((ana, a_tab, ANA_HZ), (bo, b_tab, BO_HZ), (ivy, i_tab, IVY_HZ)):
        joined = await peer.ok({"type": "b2b_join", "meeting": "m1"})
        assert joined["data"]["participants"] == [ana.id, bo.id]
        tab.program_t.sender.replaceTrack(LoopedTone(tone))
        tab.program_t.direction = "sendrecv"
        tab.publish = "member"
        await tab.connect()
    judged = time.monotonic() + 0.5
    await hearing([a_tab.members[0], b_tab.members[0], a_tab.channel_audio, *i_tab.members,
                   plenary.channel_audio], judged)  # fmt: skip
    assert tone_since(a_tab.members[0], judged) == BO_HZ
    assert tone_since(b_tab.members[0], judged) == ANA_HZ
    assert tone_since(a_tab.channel_audio, judged) == IVY_HZ  # Ana listens in Polish
    assert tone_since(b_tab.channel_audio, judged) == IVY_HZ  # Bo in English
    assert tone_since(plenary.channel_audio, judged) == FLOOR_HZ  # the interpreter: there only
    assert {tone_since(h, judged) for h in i_tab.members} == {ANA_HZ, BO_HZ}
    assert tone_since(a_tab.program, judged) is None  # no floor inside the meeting

    # Ana chooses the original (``b2b_hear``): her channel falls silent, Bo keeps the
    # interpretation. A bad choice, a tab in no meeting, the interpreter: typed errors.
    reply = await ana.request({"type": "b2b_hear", "hear": "loud"})
    assert (reply["type"], reply["code"]) == ("error", "bad_message"), reply
    reply = await cy.request({"type": "b2b_hear", "hear": "original"})
    assert (reply["code"], reply["details"]["reason"]) == ("forbidden", "no_seat"), reply
    reply = await ivy.request({"type": "b2b_hear", "hear": "original"})
    assert (reply["type"], reply["details"]["reason"]) == ("error", "interpreter"), reply
    chose = await ana.ok({"type": "b2b_hear", "hear": "original"})
    assert chose["data"] == {"meeting": "m1", "hear": "original", "channel": None}
    judged = time.monotonic() + 0.5
    await hearing([a_tab.members[0], b_tab.channel_audio], judged)
    assert tone_since(a_tab.channel_audio, judged) is None
    assert tone_since(a_tab.members[0], judged) == BO_HZ
    assert tone_since(b_tab.channel_audio, judged) == IVY_HZ
    await ana.ok({"type": "b2b_hear", "hear": "auto"})

    mark = len(ana.inbox)
    server.clock.now = start + timedelta(minutes=24, seconds=5)  # the last minute
    ending = await told(ana, "ending", mark)
    assert ending["end"] == (start + timedelta(minutes=25)).isoformat()
    # Bo leaves and comes back: late, but before the end, still admitted.
    assert (await bo.ok({"type": "b2b_leave"}))["data"] == {"meeting": None}
    await bo.ok({"type": "b2b_join", "meeting": "m1"})

    server.clock.now = start + timedelta(minutes=25, seconds=GRACE - 2)
    grace = await told(ana, "grace", mark)
    assert grace["next"] == {"meeting": "m2", "start": later.isoformat()}
    reply = await cy.request({"type": "b2b_join", "meeting": "m1"})
    assert reply["type"] == "error"
    reply = await bo.request({"type": "b2b_leave"})  # leave + join after the end: over
    reply = await bo.request({"type": "b2b_join", "meeting": "m1"})
    assert (reply["type"], reply["details"]["reason"]) == ("error", "meeting_over"), reply
    assert rooms.seats and {s.person_id for s in rooms.seats.values()} == {ana.id, ivy.id}

    server.clock.now = start + timedelta(minutes=25, seconds=GRACE)
    closed = await told(ana, "closed", mark)
    assert closed["next"] == {"meeting": "m2", "start": later.isoformat()}
    assert (await told(bo, "closed", mark))["next"] is None
    await until(lambda: rooms.seats == {}, 5.0)
    judged = time.monotonic() + 0.5
    await hearing([a_tab.program], judged)
    assert tone_since(a_tab.program, judged) == FLOOR_HZ  # back in the plenary
    report = b2b.report(schedule.state, server.clock(), schedule.grace)
    assert report["held"] == 1

    # A request reaches the invitee's page at once too, and no one else's.
    await schedule.run(b2b.RequestMeeting("r1", bo.id, cy.id, start + timedelta(hours=1)), bo.id)
    await until(lambda: ("requested", "r1") in schedule_changes(cy), 5.0)
    assert ("requested", "r1") not in schedule_changes(ana)
