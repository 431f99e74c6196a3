"""What the demo seeds (fast, in process): a delegate in another time zone, and synthetic
interpreters that give way to a real interpreter of their booth, the event file's
facilitators."""

from __future__ import annotations

from simultan.core.capabilities import Role
from simultan.demo import LABELS, demo_people, seat_synthetic_interpreters
from simultan.eventdef import EventDefinition
from simultan.web.session_key import SESSION
from tests.conftest import LiveServer


def test_the_delegate_lives_in_another_time_zone_and_speakers_are_speakers(
    seminar: EventDefinition,
) -> None:
    people = demo_people(seminar)
    (delegate,) = [p for p in people if p.email == "delegate@demo.example"]
    assert delegate.timezone is not None and delegate.timezone != seminar.event.timezone
    assert LABELS[Role.PANELIST] == "speaker"


def test_the_facilitators_the_event_file_names_are_seeded(seminar: EventDefinition) -> None:
    """Planning the morning groups resolves their facilitators: the demo registers them."""
    named = {g.facilitator for item in seminar.agenda for g in item.groups if g.facilitator}
    assert named and named <= {p.email for p in demo_people(seminar)}


async def test_synthetic_interpreters_give_way_to_a_real_one(server: LiveServer) -> None:
    session = server.app[SESSION]
    seat_synthetic_interpreters(session)
    zh = session.stage.booths["zh"]
    assert zh.live == "demo-zh" and dict(zh.members) == {"backup": "demo-zh"}
    li_id, li_tok = await server.person(Role.INTERPRETER, "Li Wei", booth="zh", language="zh")
    li = await server.connect(li_tok)
    await li.recv_type("welcome")
    # the real interpreter's media arrives: they are seated in their own seat (A) and the
    # synthetic one, in the backup seat, offers them the mic
    await session.interpreter_present(await session.person_by_id(li_id), True)
    zh = session.stage.booths["zh"]
    assert dict(zh.members) == {"A": li_id, "backup": "demo-zh"}
    assert zh.pending is not None and zh.pending.kind == "offer"
    assert (zh.pending.from_person, zh.pending.to_person) == ("demo-zh", li_id)
    reply = await li.request({"type": "booth", "booth": "zh", "action": "accept"})
    assert reply["type"] == "reply", reply
    assert session.stage.booths["zh"].live == li_id
    # the other booths keep their synthetic voice
    assert session.stage.booths["ja"].live == "demo-ja"
