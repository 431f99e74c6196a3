"""Fan-out benchmark: N audio listeners on one channel, forwarding vs re-encoding.

Measures, for the media server process alone: CPU (time.process_time) per second and per
listener, memory per listener (VmRSS), frames lost (server queue drops plus gaps in each
listener's RTP sequence numbers), and join time (offer -> first packet).

Run inside a loopback-only namespace::

    unshare -n sh -c 'ip link set lo up && python bench/media_fanout.py \
        --mode forward --listeners 10,50,100,150 --duration 60'
    unshare -n sh -c 'ip link set lo up && python bench/media_fanout.py \
        --mode reencode --listeners 1,5,10,20 --duration 20'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from media_common import (
    BenchListener,
    BenchPublisher,
    ServerProcess,
    install_counting_receivers,
    machine_busy_seconds,
    percentile,
)
from simultan.media import ice
from simultan.media.encode import EncodedTrack
from simultan.media.synthetic import ToneTrack

WARMUP_S = 3.0


def _snapshot(tab: BenchListener) -> tuple[int, int, int]:
    c = tab.counter
    return c.packets, c.highest, c.ts_highest


async def run(mode: str, listeners: int, duration: float) -> dict[str, Any]:
    server = ServerProcess(mode)
    await server.start()
    source = EncodedTrack(ToneTrack(523.0))
    publisher = BenchPublisher(server, source)
    tabs: list[BenchListener] = []
    try:
        await publisher.connect()
        await asyncio.sleep(1.0)
        base = await server.call(op="stats")
        tabs = [BenchListener(server, f"listener-{i}") for i in range(listeners)]
        for i in range(0, listeners, 10):  # join in waves of ten
            await asyncio.gather(*(t.connect() for t in tabs[i : i + 10]))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(t.counter.packets for t in tabs):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.sleep(WARMUP_S)

        before = await server.call(op="stats")
        busy_before = machine_busy_seconds()
        published_before = source.encoded_frames
        client_cpu_before = time.process_time()
        counts_before = [_snapshot(t) for t in tabs]
        started = time.monotonic()
        await asyncio.sleep(duration)
        after = await server.call(op="stats")
        elapsed = time.monotonic() - started
        client_cpu = time.process_time() - client_cpu_before
        busy = (machine_busy_seconds() - busy_before) / elapsed
        published = source.encoded_frames - published_before
        counts_after = [_snapshot(t) for t in tabs]

        pairs = list(zip(counts_after, counts_before, strict=True))
        received = sum(a[0] - b[0] for a, b in pairs)
        sent_by_sfu = sum(a[1] - b[1] for a, b in pairs)  # by sequence numbers
        # Each listener's RTP timestamps advance 960 per source frame (20 ms): the frames it
        # should have had in the window, whatever was lost before or inside the SFU.
        expected = sum((a[2] - b[2]) // 960 for a, b in pairs)
        network_lost = max(0, sent_by_sfu - received)
        lost = max(0, expected - received)
        source_frames = after["frames_in"] - before["frames_in"]
        cpu = after["cpu"] - before["cpu"]
        joins = [t.join_seconds for t in tabs if t.join_seconds is not None]
        negotiations = [t.negotiate_seconds for t in tabs]
        return {
            "mode": mode,
            "listeners": listeners,
            "seconds": round(elapsed, 1),
            "server_cpu_core": round(cpu / elapsed, 3),
            "server_cpu_ms_per_listener_s": round(1000 * cpu / elapsed / listeners, 3),
            "server_cpu_us_per_forwarded_frame": round(1e6 * cpu / max(received, 1), 1),
            "source_frames_per_s": round(source_frames / elapsed, 1),
            "published_frames_per_s": round(published / elapsed, 1),
            "client_cpu_core": round(client_cpu / elapsed, 3),
            # All CPU on the machine (2 cores): more than server + client means other
            # processes competed during the run, and the figures are pessimistic.
            "machine_busy_cores": round(busy, 2),
            "frames_expected": expected,
            "frames_received": received,
            "frames_lost_pct": round(100 * lost / max(expected, 1), 4),
            # Below 50 means the server fell behind (frames late, not lost: queues grow).
            "delivered_fps_per_listener": round(received / elapsed / listeners, 1),
            "sfu_queue_drops": after["drops"] - before["drops"],
            "network_gaps": network_lost,
            "rss_per_listener_mb": round((before["rss"] - base["rss"]) / listeners / 2**20, 3),
            "join_p50_ms": round(1000 * percentile(joins, 50), 1),
            "join_p99_ms": round(1000 * percentile(joins, 99), 1),
            "negotiate_p50_ms": round(1000 * percentile(negotiations, 50), 1),
            "listeners_without_audio": sum(1 for t in tabs if not t.counter.packets),
        }
    finally:
        await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)
        await publisher.close()
        await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["forward", "reencode"], default="forward")
    parser.add_argument("--listeners", default="10,50,100,150")
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    ice.use_host_addresses(["127.0.0.1"])
    install_counting_receivers()
    for n in (int(x) for x in args.listeners.split(",")):
        result = await run(args.mode, n, args.duration)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
