"""Run `simultan serve` as its own process, as an operator would: for the restart test and
the hub benchmark. Settings travel in SIMULTAN_* variables; join links come from the
`simultan issue-link` command against the same database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
SEMINAR = REPO / "config" / "iuc-city-to-city.yaml"


def server_env(folder: Path, port: int, **extra: str) -> dict[str, str]:
    """Environment for a server keeping its database and outbox in ``folder``."""
    return {
        **os.environ,
        "SIMULTAN_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'simultan.sqlite3'}",
        "SIMULTAN_OUTBOX_DIR": str(folder / "outbox"),
        "SIMULTAN_EVENT_FILE": str(SEMINAR),
        "SIMULTAN_PORT": str(port),
        "SIMULTAN_MEDIA_ENABLED": "false",
        "SIMULTAN_SECRET_KEY": "serverproc-secret-0123456789abcdefghijkl",
        **extra,
    }


def issue_token(env: dict[str, str], role: str, name: str) -> str:
    """Seed a person with the CLI and return the token of their join link."""
    out = subprocess.run(
        [sys.executable, "-m", "simultan", "issue-link", "--role", role, "--name", name,
         "--email", f"{name.lower()}@proc.example"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return out.stdout.strip().rsplit("/", 1)[1]


async def start_serve(
    env: dict[str, str], port: int, timeout: float = 20.0
) -> subprocess.Popen[bytes]:
    """Start `simultan serve` and return once /healthz answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simultan", "serve"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as http:
        while loop.time() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    proc.kill()
    raise RuntimeError("the server did not start")
