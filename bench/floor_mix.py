"""Floor mix benchmark: server CPU of the mix for 1 to 6 live speakers, and the latency it adds.

In one process, with the SFU's own parts (switchboard, feeds, down tracks, the FloorMixer):
each live speaker is a server-side source encoded once to Opus under ``speaker:<n>``, exactly
what a remote publisher's feed yields; the mixer decodes, mixes and encodes ``floor`` (and a
mix-minus per speaker); ``--listeners`` down tracks take ``floor`` like listeners' senders.

- **CPU of the mix**: process CPU per second with the mixer on, minus the same run with the
  mixer off (the sources' own encoding, which a remote publisher does on their machine).
- **Added latency**: speaker 1 sends 1 kHz bursts; we note when each burst's first frame
  leaves its source, and when a probe first decodes it from ``floor`` (mixed) and from
  ``speaker:1`` (forwarded, the path a single speaker took before the mix). Added latency is
  the difference, p50/p99 over the bursts.
- **Fan-out**: packets per second each listener receives (one floor track whatever the
  number of speakers), and the CPU each listener costs: the run with the mix and
  ``--listeners`` down tracks minus the same run with the mix and none, per listener. It
  must not grow with the number of live speakers.

Each row is three runs (no mix; mix without listeners; mix with listeners) of ``--seconds``
each; a burst every 0.3 s, so ``--seconds 12`` gives 40 bursts per row (p99 over 40).

    python bench/floor_mix.py --seconds 12 --listeners 50
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

from simultan.media.decode import OpusPacketDecoder
from simultan.media.encode import EncodedTrack
from simultan.media.fanout import DownTrack, Feed, Switchboard
from simultan.media.mixer import FloorMixer

RATE = 48000
FRAME = 960
BURST_HZ = 1000.0
BURST_EVERY = 15  # frames (0.3 s)
BURST_LEN = 8  # frames


class Voice(MediaStreamTrack):
    """A paced tone; speaker 1 speaks in 1 kHz bursts and notes when each starts."""

    kind = "audio"

    def __init__(self, hz: float, bursts: bool) -> None:
        super().__init__()
        self.hz = hz
        self.bursts = bursts
        self.n = 0
        self.start: float | None = None
        self.onsets: list[float] = []

    async def recv(self) -> av.AudioFrame:
        now = time.monotonic()
        if self.start is None:
            self.start = now
        due = self.start + self.n * FRAME / RATE
        if due > now:
            await asyncio.sleep(due - now)
        t = (np.arange(FRAME) + self.n * FRAME) / RATE
        if self.bursts:
            on = self.n % BURST_EVERY < BURST_LEN
            x = 0.3 * np.sin(2 * np.pi * BURST_HZ * t) if on else np.zeros(FRAME)
            if self.n % BURST_EVERY == 0:
                self.onsets.append(time.monotonic())
        else:
            x = 0.1 * np.sin(2 * np.pi * self.hz * t)
        pcm = (x * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.n * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        self.n += 1
        return frame


def burst_level(samples: np.ndarray) -> float:
    t = np.arange(samples.size) / RATE
    return float(abs(np.dot(samples, np.exp(-2j * np.pi * BURST_HZ * t))) / max(1, samples.size))


class Probe:
    """Decodes a down track and notes when each 1 kHz burst first arrives."""

    def __init__(self, board: Switchboard, key: str) -> None:
        self.track = DownTrack("audio", board, queue_size=64, name=f"probe/{key}")
        board.attach(self.track, key)
        self.decoder = OpusPacketDecoder()
        self.arrivals: list[float] = []
        self._on = False
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while True:
                packet = await self.track.recv()
                level = burst_level(self.decoder.decode(packet))
                if level > 0.05 and not self._on:
                    self.arrivals.append(time.monotonic())
                self._on = level > 0.05
        except Exception:
            pass


def match(onsets: list[float], arrivals: list[float]) -> list[float]:
    """Each onset's first arrival after it (within 0.4 s)."""
    out = []
    for t0 in onsets:
        later = [a - t0 for a in arrivals if 0 <= a - t0 < 0.4]
        if later:
            out.append(min(later))
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


async def run(speakers: int, seconds: float, listeners: int, mix: bool) -> dict[str, Any]:
    board = Switchboard()
    voices = [Voice(300.0 + 70 * n, bursts=n == 0) for n in range(speakers)]
    feeds = []
    for n, voice in enumerate(voices):
        encoded = EncodedTrack(voice)
        feed = Feed(f"speaker:{n + 1}", "audio", encoded, board)
        board.set_feed(feed)
        feed.start()
        feeds.append((feed, encoded))
    mixer = FloorMixer(board)
    if mix:
        mixer.set([f"speaker:{n + 1}" for n in range(speakers)], (), None)
    direct = Probe(board, "speaker:1")
    mixed = Probe(board, "floor") if mix else None
    downs = [DownTrack("audio", board, queue_size=16) for _ in range(listeners)]
    for d in downs:
        board.attach(d, "floor" if mix else "speaker:1")
    received = [0] * listeners

    async def drain(i: int, d: DownTrack) -> None:
        try:
            while True:
                await d.recv()
                received[i] += 1
        except Exception:
            pass

    drains = [asyncio.ensure_future(drain(i, d)) for i, d in enumerate(downs)]
    await asyncio.sleep(1.0)  # warm up
    for i in range(listeners):
        received[i] = 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    onsets_from = len(voices[0].onsets)
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - wall0
    onsets = voices[0].onsets[onsets_from:]
    result: dict[str, Any] = {
        "speakers": speakers,
        "cpu_per_s": cpu / wall,
        "listener_packets_per_s": (sum(received) / max(1, listeners)) / wall,
        "direct": match(onsets, direct.arrivals),
        "mixed": match(onsets, mixed.arrivals) if mixed else [],
        "underruns": mixer.stats().underruns,
    }
    for d in downs:
        d.stop()
    for task in drains:
        task.cancel()
    direct.track.stop()
    if mixed:
        mixed.track.stop()
    await mixer.close()
    for feed, encoded in feeds:
        encoded.stop()
        await feed.stop()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--listeners", type=int, default=50)
    parser.add_argument("--max-speakers", type=int, default=6)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for n in range(1, args.max_speakers + 1):
        base = await run(n, args.seconds, args.listeners, mix=False)
        alone = await run(n, args.seconds, 0, mix=True)
        with_mix = await run(n, args.seconds, args.listeners, mix=True)
        added = [m - d for m, d in zip(with_mix["mixed"], with_mix["direct"], strict=False)]
        listeners = max(1, args.listeners)
        row = {
            "speakers": n,
            # the same listeners on the forwarded ``speaker:1`` in ``base``: they cancel out
            "mix_cpu_ms_per_s": (with_mix["cpu_per_s"] - base["cpu_per_s"]) * 1000,
            "listener_cpu_us_per_s": (with_mix["cpu_per_s"] - alone["cpu_per_s"]) / listeners * 1e6,
            "listener_packets_per_s": with_mix["listener_packets_per_s"],
            "added_latency_p50_ms": pct(added, 50),
            "added_latency_p99_ms": pct(added, 99),
            "mixed_latency_p50_ms": pct(with_mix["mixed"], 50),
            "forwarded_latency_p50_ms": pct(with_mix["direct"], 50),
            "bursts": len(added),
            "underruns": with_mix["underruns"],
        }
        rows.append(row)
        print(
            f"speakers={n} mix_cpu={row['mix_cpu_ms_per_s']:.0f} ms/s "
            f"({row['mix_cpu_ms_per_s'] / 10:.1f}% of a core) "
            f"listener_pkts/s={row['listener_packets_per_s']:.1f} "
            f"cpu/listener={row['listener_cpu_us_per_s']:.0f} us/s "
            f"added_latency p50={row['added_latency_p50_ms']:.1f} "
            f"p99={row['added_latency_p99_ms']:.1f} ms "
            f"(mixed p50 {row['mixed_latency_p50_ms']:.1f}, forwarded p50 "
            f"{row['forwarded_latency_p50_ms']:.1f}; {row['bursts']} bursts, "
            f"{row['underruns']} underruns)",
            flush=True,
        )
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    asyncio.run(main())
