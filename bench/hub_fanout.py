"""Benchmark: one moderator command fanned out to N websocket clients.

Starts `simultan serve` in its own process (SQLite in a temp dir, media off), connects N
participant clients and one moderator from this process, sends timeline commands one at a
time and measures, for every client, the time from the moderator's send to that client's
receipt of the event. Prints p50/p99 per N and the largest N whose p99 stays under 100 ms.

    python bench/hub_fanout.py --clients 100 250 500 750 1000 --commands 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.serverproc import issue_token, server_env, start_serve  # noqa: E402

TARGET_P99_MS = 100.0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def connect(port: int, token: str) -> websockets.ClientConnection:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}", max_size=2**22
    )
    await ws.send(json.dumps({"type": "hello", "token": token}))
    while json.loads(await ws.recv())["type"] != "welcome":
        pass
    return ws


async def run(n: int, commands: int, port: int, mod_token: str, part_token: str) -> dict:
    clients = []
    for i in range(0, n, 50):
        clients += await asyncio.gather(*(connect(port, part_token) for _ in range(min(50, n - i))))
    moderator = await connect(port, mod_token)
    latencies: list[float] = []
    version = None
    # learn the current version from a fresh welcome
    probe = await websockets.connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}")
    await probe.send(json.dumps({"type": "hello", "token": part_token}))
    version = json.loads(await probe.recv())["snapshot"]["timeline"]["version"]
    await probe.close()

    async def receive(ws: websockets.ClientConnection, sent_at: float) -> float:
        # no JSON parsing here: the measuring process must not be the bottleneck
        while True:
            raw = await ws.recv()
            if '"name":"timeline"' in raw:
                return time.perf_counter() - sent_at

    for _ in range(commands):
        action = {"action": "extend", "minutes": 1} if version else {"action": "start"}
        sent = time.perf_counter()
        waits = [asyncio.create_task(receive(ws, sent)) for ws in clients]
        await moderator.send(json.dumps({"type": "timeline", "base_version": version, **action}))
        latencies += await asyncio.gather(*waits)
        version += 1
        while json.loads(await moderator.recv())["type"] != "reply":
            pass
        await asyncio.sleep(0.05)
    await asyncio.gather(*(ws.close() for ws in clients), moderator.close())
    ms = [x * 1000 for x in latencies]
    return {
        "clients": n,
        "deliveries": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": pct(ms, 99),
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, nargs="+", default=[100, 250, 500, 750, 1000])
    ap.add_argument("--commands", type=int, default=20)
    args = ap.parse_args()
    port = 18000 + os.getpid() % 1000
    with tempfile.TemporaryDirectory() as tmp:
        # every participant client shares one join link: lift the 3-sockets-per-token limit
        env = server_env(Path(tmp), port, SIMULTAN_MAX_SOCKETS_PER_TOKEN="100000")
        mod = issue_token(env, "moderator", "bench-mod")
        part = issue_token(env, "participant", "bench-city")
        server = await start_serve(env, port)
        try:
            print(
                f"# hub fan-out, {platform.node()}, {os.cpu_count()} cores, python {platform.python_version()}"
            )
            best = 0
            for n in args.clients:
                r = await run(n, args.commands, port, mod, part)
                ok = r["p99_ms"] < TARGET_P99_MS
                best = n if ok else best
                print(
                    f"clients={n:5d} deliveries={r['deliveries']:6d} p50={r['p50_ms']:7.1f} ms "
                    f"p99={r['p99_ms']:7.1f} ms {'OK' if ok else 'over target'}",
                    flush=True,
                )
            print(f"largest client count with p99 < {TARGET_P99_MS:.0f} ms: {best}")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
