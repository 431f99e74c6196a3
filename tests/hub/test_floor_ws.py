"""The floor over /ws: the hand queue in the snapshot, grants to any admitted city, and bad
floor commands answered with typed errors that change nothing."""

from __future__ import annotations

from typing import Any

from simultan.core.capabilities import Role
from simultan.core.registration import RegistrationForm
from simultan.store.registrations import Registrations, Status
from simultan.web.keys import DB
from simultan.web.session_key import SESSION
from tests.conftest import Client, LiveServer


async def ready(server: LiveServer, role: Role, name: str, **kw: Any) -> tuple[str, Client]:
    pid, token = await server.person(role, name, **kw)
    client = await server.connect(token)
    assert (await client.recv_type("welcome"))["type"] == "welcome"
    return pid, client


async def test_hands_queue_then_grant_from_it_and_bad_commands(server: LiveServer) -> None:
    session = server.app[SESSION]
    _, mod = await ready(server, Role.MODERATOR, "Mo Derator")
    a_id, a = await ready(server, Role.PARTICIPANT, "Aiko Osaka", language="ja", city="Osaka")
    b_id, b = await ready(server, Role.PARTICIPANT, "Bea Lyon", city="Lyon")
    assert (await a.request({"type": "raise_hand"}))["type"] == "reply"
    server.clock.advance(seconds=30)
    assert (await b.request({"type": "raise_hand", "language": "es"}))["type"] == "reply"
    # the queue, ordered by time, with language and who they are, in a fresh snapshot
    await ready(server, Role.PARTICIPANT, "Cy Late")
    late = next(c.person for c in session.hub.connections if c.person.name == "Cy Late")
    snap = session.snapshot(late)
    hands = snap["floor"]["hands"]
    assert [h["person_id"] for h in hands] == [a_id, b_id]
    assert [h["language"] for h in hands] == ["ja", "es"]
    assert snap["floor"]["people"][a_id]["city"] == "Osaka"

    # the moderator gives the floor from the queue: a city, no role change
    reply = await mod.request({"type": "floor", "action": "give", "person_id": a_id})
    assert reply["type"] == "reply", reply
    assert session.floor.may_publish(a_id) and session.floor.speaker(a_id).language == "ja"
    assert [h.person_id for h in session.floor.hands] == [b_id]
    version = session.floor.version
    seq = session.hub.seq

    async def refused(msg: dict[str, Any], code: str, by: Client = mod) -> None:
        reply = await by.request(msg)
        assert (reply["type"], reply["code"]) == ("error", code), reply
        assert session.floor.version == version and session.hub.seq == seq

    # muting someone not live; a stale command; a participant acting as moderator
    await refused({"type": "floor", "action": "mute", "person_id": b_id}, "invalid_command")
    await refused(
        {"type": "floor", "action": "take", "person_id": a_id, "base_version": version - 1},
        "conflict",
    )
    await refused({"type": "floor", "action": "give", "person_id": b_id}, "forbidden", by=b)
    # giving the floor to someone unknown, absent (not connected), not admitted, revoked
    await refused({"type": "floor", "action": "give", "person_id": "nobody"}, "not_found")
    absent_id, _ = await server.person(Role.PARTICIPANT, "Dan Absent")
    await refused({"type": "floor", "action": "give", "person_id": absent_id}, "invalid_command")
    regs = Registrations(server.app[DB], session.event_id)
    revoked_id, _ = await ready(server, Role.PARTICIPANT, "Eve Revoked")
    await regs.revoke(revoked_id, now=server.clock())
    seq = session.hub.seq
    await refused({"type": "floor", "action": "give", "person_id": revoked_id}, "invalid_command")
    # a registration waiting for the organizers' approval, even with a page open
    pending = await regs.create(
        RegistrationForm(
            name="Pia Pending",
            email="pia.pending@test.example",
            city="Porto",
            country="PT",
            organization="Porto",
            requested_role=Role.PARTICIPANT,
            language="en",
            timezone="Europe/Lisbon",
        ),
        now=server.clock(),
        status=Status.PENDING,
    )
    await refused({"type": "floor", "action": "give", "person_id": pending.id}, "invalid_command")
    await refused({"type": "floor", "action": "set", "person_id": pending.id}, "invalid_command")
    # a bad action is a typed protocol error, the socket stays open
    await refused({"type": "floor", "action": "explode"}, "bad_message")
    assert (await mod.request({"type": "ping"}))["type"] == "pong"

    # idempotent moves are answered and store nothing
    for msg in (
        {"type": "floor", "action": "give", "person_id": a_id},
        {"type": "floor", "action": "unmute", "person_id": a_id},
    ):
        assert (await mod.request(msg))["type"] == "reply"
    assert session.hub.seq == seq and session.floor.version == version

    # mute is the server's: a muted speaker is out of the mix; taken back, they cannot publish
    assert (await mod.request({"type": "floor", "action": "mute", "person_id": a_id}))[
        "type"
    ] == "reply"
    assert a_id not in session.floor.mix_keys()
    await mod.request({"type": "floor", "action": "take", "person_id": a_id})
    assert not session.floor.may_publish(a_id)


async def test_the_invited_panel_goes_live_all_together_or_not_at_all(server: LiveServer) -> None:
    session = server.app[SESSION]
    _, mod = await ready(server, Role.MODERATOR, "Mo Derator")
    ids = [
        (await ready(server, Role.PANELIST, f"Panelist {n}", city=f"City {n}", language=lang))[0]
        for n, lang in ((1, "en"), (2, "ja"))
    ]
    assert (await mod.request({"type": "floor", "action": "invite", "person_ids": ids}))[
        "type"
    ] == "reply"
    # someone absent in the set: nothing is granted, a typed error
    absent_id, _ = await server.person(Role.PANELIST, "Away Panelist")
    version, seq = session.floor.version, session.hub.seq
    reply = await mod.request({"type": "floor", "action": "give", "person_ids": [*ids, absent_id]})
    assert (reply["type"], reply["code"]) == ("error", "invalid_command"), reply
    assert not session.floor.live and session.floor.version == version
    assert session.hub.seq == seq
    # all together: one floor event, each in their own language, no longer invited
    reply = await mod.request({"type": "floor", "action": "give", "person_ids": ids})
    assert reply["type"] == "reply", reply
    assert [s.person_id for s in session.floor.live] == ids
    assert [s.language for s in session.floor.live] == ["en", "ja"]
    assert session.hub.seq == seq + 1 and not session.floor.invited
    # again: already so, nothing stored
    seq = session.hub.seq
    assert (await mod.request({"type": "floor", "action": "give", "person_ids": ids}))[
        "type"
    ] == "reply"
    assert session.hub.seq == seq


async def test_a_live_speaker_sets_the_language_they_speak_and_the_floor_follows(
    server: LiveServer,
) -> None:
    """The ``floor`` action ``language`` over /ws: a live city sets its own spoken language,
    the moderator corrects anyone's; the floor language follows the shown speaker's after
    the debounce; nobody else may set it, and a language the event lacks is refused."""
    session = server.app[SESSION]
    _, mod = await ready(server, Role.MODERATOR, "Mo Derator")
    a_id, a = await ready(server, Role.PARTICIPANT, "Aiko Osaka", language="en", city="Osaka")
    b_id, b = await ready(server, Role.PARTICIPANT, "Bea Lyon", city="Lyon")
    assert (await mod.request({"type": "floor", "action": "give", "person_id": a_id}))[
        "type"
    ] == "reply"
    assert session.floor.language == "en"

    # the city speaks Japanese after all: its own move, then the floor follows (debounced)
    reply = await a.request({"type": "floor", "action": "language", "language": "ja"})
    assert reply["type"] == "reply", reply
    assert session.floor.speaker(a_id).language == "ja"
    assert session.floor.pending_language == "ja" and session.floor.language == "en"
    server.clock.advance(seconds=4)
    await session.floor_driver._observe({a_id: -20.0})  # the mixer's next levels tick
    assert session.floor.language == "ja"
    assert session.stage.routing("ja").to_dict()["booth_hears"]["es"] != "floor"

    version, seq = session.floor.version, session.hub.seq

    async def refused(by: Client, msg: dict[str, Any], code: str) -> None:
        reply = await by.request(msg)
        assert (reply["type"], reply["code"]) == ("error", code), reply
        assert session.floor.version == version and session.hub.seq == seq

    # someone not live may not set their spoken language; nor anyone else's
    await refused(b, {"type": "floor", "action": "language", "language": "es"}, "forbidden")
    await refused(
        b,
        {"type": "floor", "action": "language", "person_id": a_id, "language": "es"},
        "forbidden",
    )
    # a language the event does not have; the same language again
    await refused(a, {"type": "floor", "action": "language", "language": "fr"}, "invalid_command")
    await refused(
        mod,
        {"type": "floor", "action": "language", "person_id": b_id, "language": "es"},
        "invalid_command",
    )
    # the moderator corrects the live speaker's language
    reply = await mod.request(
        {"type": "floor", "action": "language", "person_id": a_id, "language": "en"}
    )
    assert reply["type"] == "reply", reply
    assert session.floor.speaker(a_id).language == "en"
