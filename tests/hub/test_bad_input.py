"""Bad input on /ws: a typed error and nothing lost; the connection stays open where it can."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
import websockets

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import LiveServer


async def _ready(server: LiveServer, role: Role = Role.MODERATOR, name: str = "Mo Derator"):
    _, token = await server.person(role, name)
    client = await server.connect(token)
    assert (await client.recv())["type"] == "welcome"
    return client


async def _still_open(client) -> None:
    reply = await client.request({"type": "ping"})
    assert reply["type"] == "pong"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:1"])
async def test_foreign_origin_refused_before_upgrade(server: LiveServer, origin: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(server.ws_url, origin=origin)
    assert info.value.response.status_code == 403


async def test_missing_origin_refused(server: LiveServer) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(server.ws_url)
    assert info.value.response.status_code == 403


async def _refused(server: LiveServer, token: str, expect: str) -> None:
    ws = await websockets.connect(server.ws_url, origin=server.origin)
    await ws.send(json.dumps({"type": "hello", "token": token}))
    err = json.loads(await ws.recv())
    assert err["type"] == "error" and err["code"] == "unauthorized"
    assert expect in err["message"].lower()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4001


async def test_tampered_token(server: LiveServer) -> None:
    _, token = await server.person(Role.PARTICIPANT, "Pat One")
    body, sig = token.rsplit(".", 1)
    tampered = body + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    await _refused(server, tampered, "")


async def test_expired_token(server: LiveServer) -> None:
    _, token = await server.person(Role.PARTICIPANT, "Pat One")
    server.clock.advance(days=400)
    await _refused(server, token, "expired")


async def test_revoked_token(server: LiveServer) -> None:
    from simultan.web.auth import registrations

    reg_id, token = await server.person(Role.PARTICIPANT, "Pat One")
    await registrations(server.app).revoke(reg_id, now=server.clock())
    await _refused(server, token, "revoked")


async def test_foreign_event_token(server: LiveServer) -> None:
    from simultan.tokens import Claims, JoinTokens

    other = JoinTokens(server.settings.secret_key.get_secret_value(), "another-event")
    token = other.issue(
        Claims(
            event_id="another-event",
            person_id="x",
            role=Role.ORGANIZER,
            booth=None,
            generation=0,
            expires_at=server.clock() + timedelta(days=1),
        )
    )
    await _refused(server, token, "another event")


async def test_revocation_closes_live_connection(server: LiveServer) -> None:
    from simultan.web.auth import registrations
    from simultan.web.keys import ON_REVOKE

    reg_id, token = await server.person(Role.PARTICIPANT, "Pat One")
    client = await server.connect(token)
    await client.recv()
    await registrations(server.app).revoke(reg_id, now=server.clock())
    for hook in server.app[ON_REVOKE]:
        await hook(reg_id)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await client.recv()
    assert closed.value.rcvd.code == 4003


async def test_first_message_must_be_hello(server: LiveServer) -> None:
    ws = await websockets.connect(server.ws_url, origin=server.origin)
    await ws.send(json.dumps({"type": "ping"}))
    err = json.loads(await ws.recv())
    assert err["code"] == "bad_message" and "hello" in err["message"]
    await ws.close()


async def test_malformed_unknown_oversized_keep_connection(server: LiveServer) -> None:
    client = await _ready(server)
    await client.ws.send("{not json")
    err = await client.recv()
    assert (err["type"], err["code"]) == ("error", "bad_message")
    await client.ws.send(json.dumps([1, 2]))
    assert (await client.recv())["code"] == "bad_message"
    err = await client.request({"type": "teleport"})
    assert err["code"] == "bad_message" and "unknown message type" in err["message"]
    err = await client.request({"type": "timeline", "action": "start", "base_version": 0, "x": 1})
    assert err["code"] == "bad_message" and "x" in err["message"]
    err = await client.request({"type": "timeline", "action": "extend", "base_version": 0})
    assert err["type"] == "error"
    big = "y" * (server.settings.max_message_bytes + 10)
    err = await client.request({"type": "notice", "text": big})
    assert err["code"] == "bad_message" and "too large" in err["message"]
    await client.ws.send(b"\x00\x01")
    assert (await client.recv())["code"] == "bad_message"
    await _still_open(client)
    # nothing was lost: the timeline is untouched and a good command still works
    reply = await client.request({"type": "timeline", "action": "start", "base_version": 0})
    assert reply["type"] == "reply" and reply["data"]["version"] == 1


async def test_stale_version_is_a_conflict(server: LiveServer) -> None:
    first = await _ready(server, Role.MODERATOR, "First Mod")
    second = await _ready(server, Role.MODERATOR, "Second Mod")
    ok = await first.request({"type": "timeline", "action": "start", "base_version": 0})
    assert ok["type"] == "reply"
    stale = await second.request(
        {"type": "timeline", "action": "extend", "minutes": 5, "base_version": 0}
    )
    assert stale["type"] == "error" and stale["code"] == "conflict"
    assert stale["details"]["current_version"] == 1
    await _still_open(second)


async def test_participant_cannot_drive_timeline(server: LiveServer) -> None:
    client = await _ready(server, Role.PARTICIPANT, "Pat One")
    err = await client.request({"type": "timeline", "action": "start", "base_version": 0})
    assert err["code"] == "forbidden"
    err = await client.request({"type": "notice", "text": "hello all"})
    assert err["code"] == "forbidden"
    await _still_open(client)


async def test_invalid_command_in_state(server: LiveServer) -> None:
    client = await _ready(server)
    err = await client.request({"type": "timeline", "action": "pause", "base_version": 0})
    assert err["code"] == "invalid_command"
    err = await client.request(
        {"type": "timeline", "action": "jump", "item_id": "nope", "base_version": 0}
    )
    assert err["code"] == "invalid_command"


# --- Origin with public_url (issue 7.4) ------------------------------------------------------


async def test_with_public_url_only_its_origin_passes(tmp_path, clock, seminar) -> None:
    """An Origin equal to the Host header is what a DNS-rebound name sends: refused."""
    from tests.conftest import start_server

    runner, server = await start_server(
        tmp_path, clock, seminar, media_enabled=False, public_url="https://seminar.example"
    )
    try:
        host = f"127.0.0.1:{server.settings.port}"
        url = f"ws://{host}/ws"
        with pytest.raises(websockets.InvalidStatus) as info:
            await websockets.connect(url, origin=f"http://{host}")  # equal to Host
        assert info.value.response.status_code == 403
        ws = await websockets.connect(url, origin="https://seminar.example")
        await ws.close()
    finally:
        await runner.cleanup()


# --- input that crashed handlers (issue 7.6) -------------------------------------------------

NESTED = "[" * 30_000 + "]" * 30_000  # within the frame limit, past the recursion limit
SURROGATE = '{"type": "notice", "text": "\\ud800"}'


@pytest.mark.parametrize("frame", [NESTED, '{"type": "hello", "token": ' + "[" * 3000 + "}"])
async def test_deep_nesting_before_hello_is_a_typed_error(server: LiveServer, frame: str) -> None:
    ws = await websockets.connect(server.ws_url, origin=server.origin)
    await ws.send(frame)
    err = json.loads(await ws.recv())
    assert (err["type"], err["code"]) == ("error", "bad_message")
    _, token = await server.person(Role.PARTICIPANT, "Pat One")
    await ws.send(json.dumps({"type": "hello", "token": token}))  # still listening
    assert json.loads(await ws.recv())["type"] == "welcome"
    await ws.close()


async def test_lone_surrogate_in_hello_is_refused_and_typed(server: LiveServer) -> None:
    ws = await websockets.connect(server.ws_url, origin=server.origin)
    await ws.send('{"type": "hello", "token": "abc\\ud800"}')
    err = json.loads(await ws.recv())
    assert err["type"] == "error" and err["code"] in ("bad_message", "unauthorized")
    await ws.close()


async def test_deep_nesting_and_surrogates_after_hello(server: LiveServer) -> None:
    client = await _ready(server)
    await client.ws.send(NESTED)
    err = await client.recv()
    assert (err["type"], err["code"]) == ("error", "bad_message")
    await client.ws.send('{"type": "ping", "request_id": ' + "{" * 50 + "}")
    assert (await client.recv())["code"] == "bad_message"
    await client.ws.send(SURROGATE.replace("}", ', "request_id": "s1"}'))
    err = await client.recv()
    assert (err["type"], err["code"], err["request_id"]) == ("error", "bad_message", None)
    assert "surrogate" in err["message"]
    await _still_open(client)
    before = server.app[SESSION].hub.seq
    ok = await client.request({"type": "notice", "text": "caf\u00e9 \U0001f600"})
    assert ok["type"] == "reply"  # real non-ASCII text, pairs included, still goes through
    assert server.app[SESSION].hub.seq == before + 1


# --- capability before lookup (issue 7.7) ----------------------------------------------------


async def test_floor_by_a_participant_is_refused_before_any_lookup(server: LiveServer) -> None:
    """The same refusal for a pending registrant's id, an approved one's and a made-up one:
    nothing about who is registered leaks to a caller without give_floor."""
    from simultan.core.registration import RegistrationForm
    from simultan.store.registrations import Status
    from simultan.web.auth import registrations

    client = await _ready(server, Role.PARTICIPANT, "Pat One")
    form = RegistrationForm.validate(
        {"name": "Pending Person", "email": "pending@test.example", "language": "en",
         "timezone": "UTC", "city": "Lagos", "country": "NG"},
        languages=server.app[SESSION].defn.languages,
    )  # fmt: skip
    pending = await registrations(server.app).create(
        form, now=server.clock(), status=Status.PENDING
    )
    pending_id = pending.id
    approved_id, _ = await server.person(Role.PANELIST, "Pia Panelist")
    answers = []
    for person_id in (pending_id, approved_id, "no-such-person", None):
        err = await client.request({"type": "floor", "person_id": person_id})
        answers.append((err["type"], err["code"], err["message"]))
    assert len(set(answers)) == 1 and answers[0][:2] == ("error", "forbidden"), answers
    for booth in ("zh", "no-such-booth"):
        err = await client.request({"type": "booth", "booth": booth, "action": "take"})
        assert err["code"] == "forbidden", err
    await _still_open(client)


async def test_token_over_4kb_closes_4001(server: LiveServer) -> None:
    ws = await websockets.connect(server.ws_url, origin=server.origin)
    await ws.send(json.dumps({"type": "hello", "token": "A" * 4097}))
    err = json.loads(await ws.recv())
    assert err["type"] == "error" and err["code"] == "unauthorized"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4001


async def test_hello_deadline_is_absolute(server: LiveServer, monkeypatch) -> None:
    """Bad frames do not restart the deadline: a socket without a token cannot stay open."""
    from simultan.web import ws as ws_module

    monkeypatch.setattr(ws_module, "HELLO_TIMEOUT", 1.0)
    ws = await websockets.connect(server.ws_url, origin=server.origin)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while loop.time() - started < 8:
            await ws.send(json.dumps({"type": "ping"}))  # not a hello: an error each time
            await ws.recv()
            await asyncio.sleep(0.2)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    assert loop.time() - started < 5  # 1 s deadline, generous for a loaded machine


def test_every_command_names_its_capability() -> None:
    """A handler without a CAPABILITY entry would be refused for everyone: add the line."""
    from simultan.session.dispatch import CAPABILITY, CONNECTION_HANDLERS, HANDLERS

    assert set(HANDLERS) | set(CONNECTION_HANDLERS) == set(CAPABILITY)
