"""Kill the server with SIGKILL mid-event, start it again: same timeline, clients resume."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import Client, free_port
from tests.serverproc import issue_token, server_env, start_serve

pytestmark = pytest.mark.slow


async def _connect(port: int, token: str, resume: dict | None = None) -> Client:
    import json

    import websockets

    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}")
    client = Client(ws)
    await ws.send(json.dumps({"type": "hello", "token": token, "resume": resume}))
    return client


async def test_sigkill_and_restart_keeps_timeline_and_sequence(tmp_path: Path) -> None:
    port = free_port()
    env = server_env(tmp_path, port, SIMULTAN_SECRET_KEY="restart-test-secret-0123456789abcdefghij")
    mod_token = issue_token(env, "moderator", "Moderator")
    part_token = issue_token(env, "participant", "Delegate")
    proc = await start_serve(env, port)
    try:
        moderator = await _connect(port, mod_token)
        listener = await _connect(port, part_token)
        await moderator.recv_type("welcome")
        await listener.recv_type("welcome")
        for v, cmd in enumerate(
            [
                {"action": "start"},
                {"action": "extend", "minutes": 10},
                {"action": "next"},
                {"action": "skip", "item_id": "morning-break"},
            ]
        ):
            reply = await moderator.request({"type": "timeline", "base_version": v, **cmd})
            assert reply["type"] == "reply", reply
        for _ in range(4):
            await listener.recv()
        before = listener.resume
        # what the timeline looked like just before the crash, as a fresh client sees it
        probe = await _connect(port, part_token)
        snap_before = (await probe.recv_type("welcome"))["snapshot"]["timeline"]
        await probe.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    proc = await start_serve(env, port)
    try:
        back = await _connect(port, part_token, resume=before)
        resumed = await back.recv()
        assert resumed["type"] == "resumed", resumed
        assert resumed["epoch"] == before["epoch"]
        assert resumed["from_seq"] == resumed["to_seq"] == before["seq"]
        probe = await _connect(port, part_token)
        snap_after = (await probe.recv_type("welcome"))["snapshot"]["timeline"]
        keep = ("version", "current", "paused")
        assert {k: snap_after[k] for k in keep} == {k: snap_before[k] for k in keep}
        strip = ("expected_start", "expected_end")  # these follow the wall clock
        assert [{k: v for k, v in i.items() if k not in strip} for i in snap_after["items"]] == [
            {k: v for k, v in i.items() if k not in strip} for i in snap_before["items"]
        ]
        # the sequence continues where it stopped
        moderator = await _connect(port, mod_token)
        await moderator.recv_type("welcome")
        reply = await moderator.request({"type": "timeline", "action": "pause", "base_version": 4})
        assert reply["type"] == "reply", reply
        event = await back.recv()
        assert event["seq"] == before["seq"] + 1 and event["epoch"] == before["epoch"]
        for c in (back, probe, moderator):
            await c.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


def _rooms_of(snapshot: dict) -> dict[str, list[str]]:
    return {r["id"]: r["members"] for r in snapshot["rooms"]["rooms"]}


@pytest.mark.timeout(240)  # six CLI runs and two server starts: slow on a loaded machine
async def test_sigkill_keeps_open_groups_with_their_members(tmp_path: Path) -> None:
    """Groups open with their members survive SIGKILL as the hub's events do; a city whose tab
    was closed meanwhile comes back into its group."""
    port = free_port()
    env = server_env(tmp_path, port, SIMULTAN_SECRET_KEY="restart-test-secret-0123456789abcdefghij")
    mod_token = issue_token(env, "moderator", "Moderator")
    city_tokens = [issue_token(env, "participant", f"City{i}") for i in range(4)]
    proc = await start_serve(env, port)
    try:
        moderator = await _connect(port, mod_token)
        await moderator.recv_type("welcome")
        cities = [await _connect(port, t) for t in city_tokens]
        ids = [(await c.recv_type("welcome"))["you"]["id"] for c in cities]
        for msg in (
            {
                "type": "timeline",
                "action": "start",
                "item_id": "afternoon-groups",
                "base_version": 0,
            },
            {"type": "rooms", "action": "plan", "method": "random", "count": 2},
            {"type": "rooms", "action": "open"},
        ):
            reply = await moderator.request(msg)
            assert reply["type"] == "reply", reply
        group = next(r for r in reply["data"]["rooms"]["rooms"][1:] if ids[0] in r["members"])
        reply = await moderator.request(
            {"type": "rooms", "action": "roles", "room": group["id"], "rapporteur": ids[0]}
        )
        assert reply["type"] == "reply", reply
        before = reply["data"]["rooms"]
        for c in cities:
            await c.close()  # city 0's tab is closed during the group
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    proc = await start_serve(env, port)
    try:
        probe = await _connect(port, mod_token)
        after = (await probe.recv_type("welcome"))["snapshot"]["rooms"]
        assert after["phase"] == "open"
        assert _rooms_of({"rooms": after}) == _rooms_of({"rooms": before})
        assert {k: after[k] for k in ("item", "ends_at", "version")} == {
            k: before[k] for k in ("item", "ends_at", "version")
        }
        assert [r["rapporteur"] for r in after["rooms"]] == [
            r["rapporteur"] for r in before["rooms"]
        ]
        assert after["names"][ids[0]] == "City0 ()"
        # City 0 reopens its tab: it is in its group, not in the plenary.
        again = await _connect(port, city_tokens[0])
        welcome = await again.recv_type("welcome")
        rooms = _rooms_of(welcome["snapshot"])
        assert ids[0] in rooms[group["id"]] and ids[0] not in rooms["plenary"]
        # And the groups still close: the moderator calls everyone back.
        reply = await probe.request({"type": "rooms", "action": "call_back"})
        assert reply["type"] == "reply", reply
        assert reply["data"]["rooms"]["phase"] == "closing"
        for c in (probe, again):
            await c.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
