"""The demo command: starts the seeded seminar with synthetic sources and prints a link for
each role; the links work and every booth channel has a live (synthetic) interpreter."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import websockets

from tests.conftest import SEMINAR, free_port

pytestmark = pytest.mark.slow


async def test_demo_prints_links_and_serves_the_seminar(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simultan",
            "demo",
            "--event",
            str(SEMINAR),
            "--port",
            str(port),
            "--seconds",
            "30",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        loop = asyncio.get_running_loop()
        while not any("Open the moderator link" in line for line in lines):
            line = await loop.run_in_executor(None, proc.stdout.readline)  # type: ignore[union-attr]
            assert line, "demo exited early:\n" + "".join(lines)
            lines.append(line)
        text = "".join(lines)
        links = dict(re.findall(r"^\s+(\w+)(?: \(\w+ booth\))?\s.*?(http://\S+)$", text, re.M))
        assert {"organizer", "moderator", "speaker", "participant", "interpreter"}
        assert "panelist" not in text  # one word, the README's <= set(links)
        async with aiohttp.ClientSession() as http:
            async with http.get(links["participant"], allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/stage#token=")
                token = r.headers["Location"].split("=", 1)[1]
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}"
        )
        await ws.send(json.dumps({"type": "hello", "token": token}))
        welcome = json.loads(await ws.recv())
        snap = welcome["snapshot"]
        # the agenda was moved to start now, and every booth channel is fed at once
        first = datetime.fromisoformat(snap["timeline"]["items"][0]["planned_start"])
        assert abs((first - datetime.now(UTC)).total_seconds()) < 300
        for lang in ("zh", "ja", "es"):
            assert snap["routing"]["channels"][lang]["kind"] == "interpreter"
            assert snap["booths"][lang]["live"] == f"demo-{lang}"
        assert snap["routing"]["channels"]["en"]["kind"] == "floor"
        await ws.close()
        assert (tmp_path / "var" / "demo" / "demo.sqlite3").exists()
        # the demo made its own secret and keeps it outside var/demo (which each run resets)
        assert len((tmp_path / "var" / "demo-secret").read_text().strip()) >= 32
    finally:
        proc.terminate()
        proc.wait(timeout=15)
