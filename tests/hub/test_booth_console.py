"""Booth commands, chat and slow-down through the real /ws (control plane, no media)."""

from __future__ import annotations

import asyncio

import pytest

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import LiveServer


async def _booth_pair(server: LiveServer):
    a_id, a_tok = await server.person(Role.INTERPRETER, "Li Wei", booth="zh", language="zh")
    b_id, b_tok = await server.person(Role.INTERPRETER, "Zhang Min", booth="zh", language="zh")
    a = await server.connect(a_tok)
    await a.recv_type("welcome")
    b = await server.connect(b_tok)
    await b.recv_type("welcome")
    return (a_id, a), (b_id, b)


async def next_booth(client, booth: str = "zh") -> dict:
    while True:
        msg = await client.recv()
        if (
            msg["type"] == "event"
            and msg["name"] == "booth"
            and msg["data"]["booth"]["id"] == booth
        ):
            return msg["data"]


async def test_handover_request_accept_seen_by_both(server: LiveServer) -> None:
    (a_id, a), (b_id, b) = await _booth_pair(server)
    # both present: seated by name (Li Wei is A, Zhang Min is B in the event definition)
    snap = server.app[SESSION].stage.booths["zh"]
    assert dict(snap.members) == {"A": a_id, "B": b_id}
    assert (await a.request({"type": "booth", "booth": "zh", "action": "take"}))["type"] == "reply"
    data = await next_booth(b)
    while data["booth"]["live"] != a_id:
        data = await next_booth(b)
    assert data["routing"]["channels"]["zh"] == {
        "kind": "interpreter",
        "person": a_id,
        "booth": "zh",
    }
    assert (await b.request({"type": "booth", "booth": "zh", "action": "request"}))[
        "type"
    ] == "reply"
    for c in (a, b):
        data = await next_booth(c)
        while data["booth"]["pending"] is None:
            data = await next_booth(c)
        assert data["booth"]["pending"] == {
            **data["booth"]["pending"],
            "kind": "request",
            "from_person": a_id,
            "to_person": b_id,
        }
    assert (await a.request({"type": "booth", "booth": "zh", "action": "accept"}))[
        "type"
    ] == "reply"
    for c in (a, b):
        data = await next_booth(c)
        while data["booth"]["live"] != b_id:
            data = await next_booth(c)
        assert data["booth"]["pending"] is None
        assert data["routing"]["channels"]["zh"]["person"] == b_id


async def test_live_interpreter_leaving_offers_partner_and_floor_carries(
    server: LiveServer,
) -> None:
    (a_id, a), (b_id, b) = await _booth_pair(server)
    await a.request({"type": "booth", "booth": "zh", "action": "take"})
    await a.close()
    data = await next_booth(b)
    while data["booth"]["live"] is not None or data["booth"]["pending"] is None:
        data = await next_booth(b)
    assert data["booth"]["pending"]["to_person"] == b_id
    assert data["routing"]["channels"]["zh"] == {"kind": "floor", "person": None, "booth": None}


async def test_booth_chat_reaches_partner_and_organizer_not_participant(server: LiveServer) -> None:
    (_, a), (_, b) = await _booth_pair(server)
    _, p_tok = await server.person(Role.PARTICIPANT, "Pat One")
    _, o_tok = await server.person(Role.ORGANIZER, "Org Anizer")
    _, ja_tok = await server.person(Role.INTERPRETER, "Sato Yuki", booth="ja", language="ja")
    participant = await server.connect(p_tok)
    organizer = await server.connect(o_tok)
    ja = await server.connect(ja_tok)
    for c in (participant, organizer, ja):
        await c.recv_type("welcome")
    reply = await a.request(
        {"type": "booth_chat", "booth": "zh", "text": "<b>next speaker is fast</b>"}
    )
    assert reply["type"] == "reply"
    for c in (b, organizer):
        msg = await c.recv_type("event")
        while msg["name"] != "booth_chat":
            msg = await c.recv_type("event")
        assert msg["data"]["text"] == "<b>next speaker is fast</b>" and msg["data"]["booth"] == "zh"
    for c in (participant, ja):
        with pytest.raises(asyncio.TimeoutError):
            while True:
                msg = await c.recv(timeout=0.5)
                assert msg.get("name") != "booth_chat", msg
    # a participant cannot write into a booth's chat, nor can another booth
    assert (await participant.request({"type": "booth_chat", "booth": "zh", "text": "hi"}))[
        "code"
    ] == "forbidden"
    assert (await ja.request({"type": "booth_chat", "booth": "zh", "text": "hi"}))[
        "code"
    ] == "forbidden"


async def test_slow_down_reaches_speaker_and_moderator_without_naming_sender(
    server: LiveServer,
) -> None:
    (_, a), _ = await _booth_pair(server)
    spk_id, spk_tok = await server.person(Role.PANELIST, "Speaker Sam")
    _, mod_tok = await server.person(Role.MODERATOR, "Mo Derator")
    _, p_tok = await server.person(Role.PARTICIPANT, "Pat One")
    speaker, moderator, participant = (
        await server.connect(spk_tok),
        await server.connect(mod_tok),
        await server.connect(p_tok),
    )
    for c in (speaker, moderator, participant):
        await c.recv_type("welcome")
    assert (await moderator.request({"type": "floor", "person_id": spk_id}))["type"] == "reply"
    assert (await a.request({"type": "slow_down"}))["type"] == "reply"
    for c in (speaker, moderator):
        msg = await c.recv_type("event")
        while msg["name"] != "slow_down":
            msg = await c.recv_type("event")
        assert "by" not in msg["data"] and "Li Wei" not in str(msg)
    with pytest.raises(asyncio.TimeoutError):
        while True:
            msg = await participant.recv(timeout=0.5)
            assert msg.get("name") != "slow_down"
    assert (await participant.request({"type": "slow_down"}))["code"] == "forbidden"


async def test_booth_commands_check_membership_and_force(server: LiveServer) -> None:
    (a_id, a), (b_id, b) = await _booth_pair(server)
    _, ja_tok = await server.person(Role.INTERPRETER, "Sato Yuki", booth="ja", language="ja")
    _, mod_tok = await server.person(Role.MODERATOR, "Mo Derator")
    ja, moderator = await server.connect(ja_tok), await server.connect(mod_tok)
    await ja.recv_type("welcome")
    await moderator.recv_type("welcome")
    assert (await ja.request({"type": "booth", "booth": "zh", "action": "take"}))[
        "code"
    ] == "forbidden"
    assert (await a.request({"type": "booth", "booth": "zh", "action": "force", "to": a_id}))[
        "code"
    ] == "forbidden"
    await a.request({"type": "booth", "booth": "zh", "action": "take"})
    # two live mics cannot happen: B's take is refused while A is live
    assert (await b.request({"type": "booth", "booth": "zh", "action": "take"}))[
        "code"
    ] == "invalid_command"
    reply = await moderator.request({"type": "booth", "booth": "zh", "action": "force", "to": b_id})
    assert reply["type"] == "reply"
    data = await next_booth(a)
    while data["booth"]["live"] != b_id:
        data = await next_booth(a)
    # floor language: Chinese on the floor makes zh the pivot; the others take relay from it
    reply = await moderator.request({"type": "floor_language", "language": "zh"})
    assert reply["type"] == "reply"
    msg = await moderator.recv_type("event")
    while msg["name"] != "floor":
        msg = await moderator.recv_type("event")
    routing = msg["data"]["routing"]
    assert routing["pivot"] == "zh"
    assert routing["channels"]["zh"]["kind"] == "floor"
    assert routing["booth_hears"]["ja"] == {"kind": "interpreter", "person": b_id, "booth": "zh"}
    assert (await moderator.request({"type": "floor_language", "language": "fr"}))[
        "code"
    ] == "invalid_command"


async def test_tech_view_reaches_organizers_with_alarms(server: LiveServer) -> None:
    (a_id, a), (b_id, b) = await _booth_pair(server)
    _, o_tok = await server.person(Role.ORGANIZER, "Org Anizer")
    _, p_tok = await server.person(Role.PARTICIPANT, "Pat One")
    organizer, participant = await server.connect(o_tok), await server.connect(p_tok)
    await organizer.recv_type("welcome")
    await participant.recv_type("welcome")
    tech = (await organizer.recv_type("tech", timeout=3))["view"]
    zh = next(bth for bth in tech["booths"] if bth["id"] == "zh")
    assert {m["person"] for m in zh["members"]} == {a_id, b_id}
    assert any(al["kind"] == "booth_unstaffed" and al["booth"] == "zh" for al in tech["alarms"])
    await b.close()
    for _ in range(5):
        tech = (await organizer.recv_type("tech", timeout=3))["view"]
        if any(
            al["kind"] == "interpreter_disconnected" and al["person"] == b_id
            for al in tech["alarms"]
        ):
            break
    else:
        raise AssertionError("no alarm for the disconnected interpreter")
    with pytest.raises(asyncio.TimeoutError):
        while True:
            msg = await participant.recv(timeout=1.5)
            assert msg["type"] != "tech"


async def test_agenda_speaker_sets_the_floor_language(server: LiveServer) -> None:
    _, mod_tok = await server.person(Role.MODERATOR, "Mo Derator")
    moderator = await server.connect(mod_tok)
    await moderator.recv_type("welcome")
    # the Asia keynote's speaker speaks Japanese: the floor follows, ja becomes the pivot
    reply = await moderator.request(
        {"type": "timeline", "action": "jump", "item_id": "asia-keynote", "base_version": 0}
    )
    assert reply["type"] == "reply", reply
    msg = await moderator.recv_type("event")
    while msg["name"] != "floor":
        msg = await moderator.recv_type("event")
    assert msg["data"]["floor"]["language"] == "ja"
    assert msg["data"]["routing"]["pivot"] == "ja"
    assert msg["data"]["routing"]["channels"]["ja"]["kind"] == "floor"
    # an item without named speakers returns the floor to the working language
    await moderator.request({"type": "timeline", "action": "next", "base_version": 1})
    msg = await moderator.recv_type("event")
    while msg["name"] != "floor":
        msg = await moderator.recv_type("event")
    assert msg["data"]["floor"]["language"] == "en"
    assert server.app[SESSION].floor.language == "en"


# --- console fixes: partner by seat, names, base version, chat history -------------------


async def test_offer_goes_to_the_partner_by_seat_never_the_backup(server: LiveServer) -> None:
    (a_id, a), (b_id, b) = await _booth_pair(server)
    bk_id, bk_tok = await server.person(Role.INTERPRETER, "Aaron Backup", booth="zh", language="zh")
    bk = await server.connect(bk_tok)
    await bk.recv_type("welcome")
    stage = server.app[SESSION].stage
    members = dict(stage.booths["zh"].members)
    assert members["A"] == a_id and members["B"] == b_id and members["backup"] == bk_id
    await a.request({"type": "booth", "booth": "zh", "action": "take"})
    reply = await a.request({"type": "booth", "booth": "zh", "action": "offer"})
    assert reply["type"] == "reply", reply
    assert stage.booths["zh"].pending.to_person == b_id
    data = await next_booth(b)
    while data["booth"]["pending"] is None:
        data = await next_booth(b)
    # texts can name people: the booth carries its members' names
    names = {m["person"]: m["name"] for m in data["booth"]["members"]}
    assert names[a_id] == "Li Wei" and names[b_id] == "Zhang Min"
    await a.request({"type": "booth", "booth": "zh", "action": "cancel"})
    # the backup only when chosen
    reply = await a.request({"type": "booth", "booth": "zh", "action": "offer", "to": bk_id})
    assert reply["type"] == "reply" and stage.booths["zh"].pending.to_person == bk_id


async def test_a_stale_accept_is_a_conflict(server: LiveServer) -> None:
    (a_id, a), (b_id, b) = await _booth_pair(server)
    stage = server.app[SESSION].stage
    await a.request({"type": "booth", "booth": "zh", "action": "take"})
    await b.request({"type": "booth", "booth": "zh", "action": "request"})
    seen = stage.booths["zh"].version
    # the requester changes their mind and asks again: what A saw is no longer current
    await b.request({"type": "booth", "booth": "zh", "action": "cancel"})
    await b.request({"type": "booth", "booth": "zh", "action": "request"})
    stale = await a.request(
        {"type": "booth", "booth": "zh", "action": "accept", "base_version": seen}
    )
    assert stale["type"] == "error" and stale["code"] == "conflict", stale
    assert stage.booths["zh"].live == a_id
    fresh = await a.request(
        {"type": "booth", "booth": "zh", "action": "accept",
         "base_version": stage.booths["zh"].version}
    )  # fmt: skip
    assert fresh["type"] == "reply" and stage.booths["zh"].live == b_id


async def test_booth_chat_history_reaches_a_reconnecting_console(server: LiveServer) -> None:
    (a_id, a), (b_id, b) = await _booth_pair(server)
    stage = server.app[SESSION].stage
    old = {"booth": "zh", "by": {"id": a_id, "name": "Li Wei", "city": "", "role": "interpreter"}}
    for i in range(202):  # earlier messages (the per-connection rate limit keeps the test short)
        stage.remember_chat("zh", {**old, "text": f"old {i}"})
    for i in range(3):
        reply = await a.request({"type": "booth_chat", "booth": "zh", "text": f"note {i}"})
        assert reply["type"] == "reply", reply
    _, b_tok = await server.person(Role.INTERPRETER, "Zhang Min", booth="zh", language="zh")
    again = await server.connect(b_tok)
    welcome = await again.recv_type("welcome")
    history = welcome["snapshot"]["booth_chat"]
    assert list(history) == ["zh"]
    texts = [m["text"] for m in history["zh"]]
    assert len(texts) == 200 and texts[0] == "old 5"
    assert texts[-3:] == ["note 0", "note 1", "note 2"]
    assert history["zh"][0]["by"]["name"] == "Li Wei"
    # a participant gets nobody's booth chat
    _, p_tok = await server.person(Role.PARTICIPANT, "Delegate")
    p = await server.connect(p_tok)
    assert (await p.recv_type("welcome"))["snapshot"]["booth_chat"] == {}
