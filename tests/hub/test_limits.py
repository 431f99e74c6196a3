"""Limits against abuse on /ws (issue 7.5): a typed ``rate_limited`` error with
``retry_after``, never a stored event; idempotent commands store nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import LiveServer


async def _ready(server: LiveServer, role: Role, name: str):
    _, token = await server.person(role, name)
    client = await server.connect(token)
    assert (await client.recv())["type"] == "welcome"
    return client


async def test_a_flood_of_commands_is_rate_limited_not_stored(tmp_path, clock, seminar) -> None:
    """Today 3000 raise_hand became 3000 stored events and flushed everyone's replay buffer.
    A slow bucket (burst 10, 2/s) keeps the outcome the same on a loaded machine."""
    from tests.conftest import start_server

    runner, server = await start_server(
        tmp_path, clock, seminar, media_enabled=False,
        ws_commands_per_second=2.0, ws_command_burst=10,
    )  # fmt: skip
    try:
        client = await _ready(server, Role.PARTICIPANT, "Pat Flood")
        hub = server.app[SESSION].hub
        before = hub.seq
        loop = asyncio.get_running_loop()
        started = loop.time()
        n = 100  # under the client queue (256), so no answer is dropped for a resync
        for i in range(n):  # toggling, so each one that gets through is a real change
            await client.send({"type": "raise_hand", "raised": i % 2 == 0, "request_id": f"h{i}"})
        answers: dict[str, dict] = {}
        while len(answers) < n:
            msg = await client.recv(timeout=20)
            if msg["type"] in ("reply", "error"):
                answers[msg["request_id"]] = msg
        elapsed = loop.time() - started
        limited = [a for a in answers.values() if a["type"] == "error"]
        assert all(a["code"] == "rate_limited" for a in limited)
        assert all(0 < a["details"]["retry_after"] <= 0.6 for a in limited)
        passed = n - len(limited)
        assert 9 <= passed <= 10 + 2.0 * elapsed, (passed, elapsed)  # the hello took one
        assert hub.seq - before == passed  # a refused command stored nothing
        # the bucket refills: after a pause, commands pass again
        await asyncio.sleep(0.6)
        ok = await client.request({"type": "ping"})
        assert ok["type"] == "pong"
        for c in server.clients:
            await c.close()
    finally:
        await runner.cleanup()


async def test_idempotent_commands_create_no_event(server: LiveServer) -> None:
    hub = server.app[SESSION].hub
    pat = await _ready(server, Role.PARTICIPANT, "Pat Hand")
    mod = await _ready(server, Role.MODERATOR, "Mo Derator")
    panelist_id, panelist_token = await server.person(Role.PANELIST, "Pia Panelist")
    panelist = await server.connect(panelist_token)  # the floor goes to someone present
    assert (await panelist.recv())["type"] == "welcome"
    before = hub.seq
    assert (await pat.request({"type": "raise_hand", "raised": True}))["type"] == "reply"
    for _ in range(4):  # raising again: a typed error, nothing stored
        again = await pat.request({"type": "raise_hand", "raised": True})
        assert again["type"] == "error" and again["code"] == "unchanged", again
    assert hub.seq == before + 1  # one hand event, not five
    for _ in range(3):
        reply = await mod.request({"type": "floor_language", "language": "en"})
        assert reply["type"] == "reply"
    assert hub.seq == before + 1  # the floor already speaks English
    for _ in range(3):
        reply = await mod.request({"type": "floor", "person_id": panelist_id})
        assert reply["type"] == "reply", reply
    assert hub.seq == before + 2  # given once, then already so
    assert (await pat.request({"type": "raise_hand", "raised": False}))["type"] == "reply"
    assert hub.seq == before + 3


async def test_at_most_three_sockets_per_token(server: LiveServer) -> None:
    _, token = await server.person(Role.PARTICIPANT, "Pat Tabs")
    tabs = [await server.connect(token) for _ in range(3)]
    for tab in tabs:
        assert (await tab.recv())["type"] == "welcome"
    fourth = await server.connect(token)
    err = await fourth.recv()
    assert (err["type"], err["code"]) == ("error", "rate_limited")
    assert err["details"]["retry_after"] > 0
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await fourth.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4029
    await tabs[0].close()
    hub = server.app[SESSION].hub
    for _ in range(50):
        if len(hub.connections) == 2:
            break
        await asyncio.sleep(0.05)
    again = await server.connect(token)
    assert (await again.recv())["type"] == "welcome"
    _, other = await server.person(Role.PARTICIPANT, "Other Person")
    assert (await (await server.connect(other)).recv())["type"] == "welcome"


async def test_offers_per_minute_are_capped_per_token(server: LiveServer) -> None:
    """Counted before anything else looks at the offer (here the media plane is off)."""
    _, token = await server.person(Role.PARTICIPANT, "Pat Offers")
    one, two = await server.connect(token), await server.connect(token)
    for tab in (one, two):
        assert (await tab.recv())["type"] == "welcome"
    codes = []
    for i in range(server.settings.offer_burst + 2):
        tab = one if i % 2 else two  # two tabs of one token share the cap
        reply = await tab.request({"type": "rtc_offer", "sdp": "v=0"})
        codes.append(reply["code"])
    burst = server.settings.offer_burst
    assert codes == ["invalid_command"] * burst + ["rate_limited"] * 2
    raw = json.dumps({"type": "rtc_offer", "sdp": "v=0"})
    await one.ws.send(raw)
    assert (await one.recv())["code"] == "rate_limited"


async def test_frames_before_hello_are_rate_limited_too(tmp_path, clock, seminar) -> None:
    from tests.conftest import start_server

    runner, server = await start_server(
        tmp_path, clock, seminar, media_enabled=False,
        ws_commands_per_second=1.0, ws_command_burst=5,
    )  # fmt: skip
    try:
        ws = await websockets.connect(server.ws_url, origin=server.origin)
        for _ in range(12):
            await ws.send(json.dumps({"type": "ping"}))
        codes = [json.loads(await asyncio.wait_for(ws.recv(), 5))["code"] for _ in range(12)]
        assert codes[:5] == ["bad_message"] * 5  # "the first message must be hello"
        assert set(codes[5:]) == {"rate_limited"}
        await ws.close()
    finally:
        await runner.cleanup()
