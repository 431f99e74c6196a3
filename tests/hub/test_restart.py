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
