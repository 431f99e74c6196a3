"""Kill the server with SIGKILL mid-event, start it again: same timeline, clients resume."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import SEMINAR, Client, free_port

pytestmark = pytest.mark.slow


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "SIMULTAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
        "SIMULTAN_OUTBOX_DIR": str(tmp_path / "outbox"),
        "SIMULTAN_EVENT_FILE": str(SEMINAR),
        "SIMULTAN_PORT": str(port),
        "SIMULTAN_MEDIA_ENABLED": "false",
        "SIMULTAN_SECRET_KEY": "restart-test-secret",
    }


def _link(env: dict[str, str], role: str, name: str) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "simultan",
            "issue-link",
            "--role",
            role,
            "--name",
            name,
            "--email",
            f"{name.lower()}@restart.example",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip().rsplit("/", 1)[1]


async def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simultan", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not start")


async def _connect(port: int, token: str, resume: dict | None = None) -> Client:
    import json

    import websockets

    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}")
    client = Client(ws)
    await ws.send(json.dumps({"type": "hello", "token": token, "resume": resume}))
    return client


async def test_sigkill_and_restart_keeps_timeline_and_sequence(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, port)
    mod_token = _link(env, "moderator", "Moderator")
    part_token = _link(env, "participant", "Delegate")
    proc = await _start(env, port)
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

    proc = await _start(env, port)
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
