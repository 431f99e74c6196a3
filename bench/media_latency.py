"""Latency benchmark: audio latency the SFU adds, publisher send -> listener receive.

The publisher sends pre-encoded Opus packets and notes when each leaves (keyed by the
packet's bytes, which the SFU forwards unchanged); a probe listener notes when each arrives
as RTP (before any jitter buffer of its own). Publisher and probe share one process and one
clock; the server runs in its own process. Optional background listeners (in a third
process) add load. Also measured: join time (offer -> first packet) of listeners joining one
at a time.

Run inside a loopback-only namespace::

    unshare -n sh -c 'ip link set lo up && python bench/media_latency.py --duration 30'
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import time
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from media_common import (
    BenchListener,
    BenchPublisher,
    LoadProcess,
    ServerProcess,
    install_counting_receivers,
    machine_busy_seconds,
    percentile,
)
from simultan.media import ice
from simultan.media.encode import EncodedTrack


class NoisyTone(MediaStreamTrack):
    """A tone with a little noise, so that every Opus packet's bytes are unique."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.n = 0
        self.start: float | None = None
        self.rng = np.random.default_rng(7)

    async def recv(self) -> av.AudioFrame:
        now = time.monotonic()
        if self.start is None:
            self.start = now
        due = self.start + self.n * 0.02
        if due > now:
            await asyncio.sleep(due - now)
        t = (np.arange(960) + self.n * 960) / 48000
        x = 0.3 * np.sin(2 * np.pi * 523 * t) + 0.01 * self.rng.standard_normal(960)
        frame = av.AudioFrame.from_ndarray(
            (x * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 48000
        frame.pts = self.n * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self.n += 1
        return frame


class StampedTrack(MediaStreamTrack):
    """Yields encoded packets and remembers when each was handed to the sender."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.inner = EncodedTrack(NoisyTone())
        self.sent: dict[bytes, float] = {}

    async def recv(self) -> Any:
        packet = await self.inner.recv()
        self.sent[bytes(packet)] = time.perf_counter()  # the sender packs and sends it now
        return packet


async def run(mode: str, background: int, duration: float, joins: int) -> dict[str, Any]:
    server = ServerProcess(mode)
    await server.start()
    track = StampedTrack()
    publisher = BenchPublisher(server, track)
    load = LoadProcess(server, background)
    probe = BenchListener(server, "probe")
    latencies: list[float] = []
    measuring = False

    def on_packet(packet: Any, now: float) -> None:
        sent = track.sent.pop(packet.payload, None)
        if measuring and sent is not None:
            latencies.append(now - sent)

    probe.counter.on_packet = on_packet
    joiners: list[BenchListener] = []
    try:
        await publisher.connect()
        if background:
            served = await load.start()
            if served != background:
                raise RuntimeError(f"only {served} of {background} background listeners hear audio")
        await probe.connect()
        await asyncio.sleep(3.0)
        busy_before, server_before = machine_busy_seconds(), await server.call(op="stats")
        started = time.monotonic()
        measuring = True
        await asyncio.sleep(duration)
        measuring = False
        elapsed = time.monotonic() - started
        server_after = await server.call(op="stats")
        busy = (machine_busy_seconds() - busy_before) / elapsed
        server_cpu = (server_after["cpu"] - server_before["cpu"]) / elapsed

        # Joins, one at a time, under the same load.
        for i in range(joins):
            tab = BenchListener(server, f"join-{i}")
            joiners.append(tab)
            await tab.connect()
            deadline = time.monotonic() + 10
            while tab.counter.first_at is None and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        join_times = [t.join_seconds for t in joiners if t.join_seconds is not None]
        stats = await server.call(op="stats")
        ms = [1000 * x for x in latencies]
        return {
            "mode": mode,
            "background_listeners": background,
            "samples": len(ms),
            "latency_p50_ms": round(percentile(ms, 50), 2),
            "latency_p90_ms": round(percentile(ms, 90), 2),
            "latency_p99_ms": round(percentile(ms, 99), 2),
            "latency_max_ms": round(max(ms), 2) if ms else None,
            "join_p50_ms": round(1000 * percentile(join_times, 50), 1),
            "join_max_ms": round(1000 * max(join_times), 1) if join_times else None,
            "negotiate_p50_ms": round(
                1000 * percentile([t.negotiate_seconds for t in joiners], 50), 1
            ),
            "server_sessions": stats["sessions"],
            "server_cpu_core": round(server_cpu, 3),
            "machine_busy_cores": round(busy, 2),
        }
    finally:
        await asyncio.gather(*(t.close() for t in [*joiners, probe]), return_exceptions=True)
        load.stop()
        await publisher.close()
        await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="forward,forward-default-jb")
    parser.add_argument("--background", default="0,100")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--joins", type=int, default=10)
    args = parser.parse_args()
    ice.use_host_addresses(["127.0.0.1"])
    install_counting_receivers()
    for mode in args.modes.split(","):
        for n in (int(x) for x in args.background.split(",")):
            result = await run(mode, n, args.duration, args.joins)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
