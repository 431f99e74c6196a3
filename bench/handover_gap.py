"""Handover benchmark: overlap, gap and switch latency of booth handovers, heard by listeners.

Starts the real app in-process with media on (``tests.conftest.start_server``, a FakeClock),
a server-side 440 Hz floor source, two zh interpreters A (523 Hz) and B (587 Hz) publishing
over aiortc peer connections negotiated through /ws, and zh listeners (3 by default). Then
performs N handovers through the protocol, alternating A->B and B->A; the way the mic moves
alternates every second handover, so every direction goes both ways:

    A->B request/accept, B->A request/accept, A->B offer/accept, B->A offer/accept, ...

(request: the incoming interpreter asks, the live one accepts; offer: the live one offers,
the incoming one accepts.)

Each listener's decoded channel audio is cut into its own 20 ms frames (each forwarded
packet comes from one source) and every frame gets a joint least-squares sine fit
(``tone_levels`` from the integration tests) of all the tones in play; a tone is "on" in a
frame when its amplitude is over 30 % of the outgoing tone's median level before the switch.
Per handover and listener:

- overlap: total length of frames in which both tones are on (target: none at all);
- gap: the longest run of media time around the switch in which neither tone is on (silent
  frames, frames of any other tone, and media time that never arrived, seen as a jump in the
  RTP timestamps) (target: never over 200 ms);
- switch: from the accept command being sent to the arrival of the first frame carrying the
  new tone;
- stall (information only): the longest wall-clock wait between two frames arriving.

Run inside a loopback-only namespace (see /work/shared/TESTING.md)::

    unshare -n sh -c 'ip link set lo up && python bench/handover_gap.py --handovers 20'

Exit status 0 when the targets hold, 1 when they do not, 2 when the run itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "server"))

import aiortc  # noqa: E402
import numpy as np  # noqa: E402
from tests.conftest import SEMINAR, FakeClock, start_server  # noqa: E402
from tests.integration.test_stage_media import (  # noqa: E402
    ALL_TONES,
    ZH_A_HZ,
    ZH_B_HZ,
    Peer,
    Stage,
    settled,
    tone_levels,
    until,
)
from tests.media.tones import RATE, Heard  # noqa: E402

from simultan.eventdef import load_event  # noqa: E402

WARM_UP_S = 10.0  # ICE + DTLS + first packets (normally well under 2 s)
PRE_S = 0.4  # old tone alone before each switch, for its reference level
POST_S = 0.5  # watched after every listener has heard the new tone
SWITCH_TIMEOUT_S = 3.0
AMPLITUDE = 0.3  # of every ToneTrack
ON_FRACTION = 0.3  # a tone is on in a frame above this share of the old tone's level
GAP_TARGET_MS = 200.0


@dataclass
class Measure:
    handover: int
    listener: int
    overlap_ms: float
    gap_ms: float
    switch_ms: float  # inf: the new tone never came
    stall_ms: float
    flips: int  # changes between old-only and new-only frames (1: one clean switch)


def analyse(
    heard: Heard, old: float, new: float, t0: float, since: float, until_t: float, *, h: int, i: int
) -> Measure:
    """Measure one switch from ``old`` to ``new`` (accept sent at ``t0``) in the frames that
    arrived between ``since`` and ``until_t``."""
    rows = [
        (arrival, pts, samples)
        for (arrival, pts), (_, samples) in zip(
            list(heard.timestamps), list(heard.frames), strict=True
        )
        if since <= arrival <= until_t and samples.size
    ]
    if not rows:
        return Measure(h, i, 0.0, float("inf"), float("inf"), float("inf"), 0)
    freqs = (old, new, *(f for f in ALL_TONES if f not in (old, new)))
    levels = [tone_levels(s, freqs) for _, _, s in rows]
    before = [lv[0] for (a, _, _), lv in zip(rows, levels, strict=True) if a < t0]
    nominal = float(np.median(before)) if before else 0.0
    if nominal < 0.05:
        raise RuntimeError(f"handover {h}, listener {i}: old tone not playing ({nominal:.3f})")
    threshold = ON_FRACTION * nominal
    old_on = [bool(lv[0] > threshold) for lv in levels]
    new_on = [bool(lv[1] > threshold) for lv in levels]
    frame_ms = [s.size / RATE * 1000 for _, _, s in rows]

    overlap = sum(ms for o, n, ms in zip(old_on, new_on, frame_ms, strict=True) if o and n)

    longest = run = 0.0
    for k, (_, pts, _) in enumerate(rows):
        if k:
            missing = (pts - rows[k - 1][1]) / RATE * 1000 - frame_ms[k - 1]
            run += max(0.0, missing)
        if old_on[k] or new_on[k]:
            longest, run = max(longest, run), 0.0
        else:
            run += frame_ms[k]
    gap = max(longest, run)

    first_new = next(
        (a for (a, _, _), on in zip(rows, new_on, strict=True) if on and a >= t0), None
    )
    switch = (first_new - t0) * 1000 if first_new is not None else float("inf")
    stall = max((b - a for (a, _, _), (b, _, _) in itertools.pairwise(rows)), default=0.0) * 1000
    sides = [o for o, n in zip(old_on, new_on, strict=True) if o != n]
    flips = sum(1 for x, y in itertools.pairwise(sides) if x != y)
    return Measure(h, i, overlap, gap, switch, stall, flips)


def heard_new(heard: Heard, old: float, new: float, t0: float) -> bool:
    """Whether a frame that arrived after ``t0`` carries ``new`` (at nominal level)."""
    freqs = (old, new, *(f for f in ALL_TONES if f not in (old, new)))
    for arrival, samples in reversed(list(heard.frames)):
        if arrival < t0:
            return False
        if samples.size and tone_levels(samples, freqs)[1] > ON_FRACTION * AMPLITUDE:
            return True
    return False


async def handover(old_peer: Peer, new_peer: Peer, how: str) -> float:
    """Move the zh mic from ``old_peer`` to ``new_peer``; returns when accept was sent."""
    if how == "request":
        await new_peer.ok({"type": "booth", "booth": "zh", "action": "request"})
        acceptor = old_peer
    else:
        await old_peer.ok({"type": "booth", "booth": "zh", "action": "offer", "to": new_peer.id})
        acceptor = new_peer
    t0 = time.monotonic()
    await acceptor.ok({"type": "booth", "booth": "zh", "action": "accept"})
    return t0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


async def run(args: argparse.Namespace) -> int:
    seminar = load_event(SEMINAR)
    clock = FakeClock(seminar.planned_start(seminar.agenda[0]) - timedelta(minutes=10))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="handover-gap-") as tmp:
        runner, server = await start_server(Path(tmp), clock, seminar, media_enabled=True)
        if server.settings.ice_host_addresses != ("127.0.0.1",):
            raise RuntimeError(f"ICE hosts {server.settings.ice_host_addresses}: not loopback")
        stage = Stage(server)
        try:
            stage.local_floor()
            a = await stage.interpreter("zh", "A", ZH_A_HZ, take=True)
            b = await stage.interpreter("zh", "B", ZH_B_HZ)
            peers = [await stage.listener("zh", f"Listener{i} Zh") for i in range(args.listeners)]
            heard = [p.tab.channel_audio for p in peers if p.tab is not None]
            await until(lambda: all(h.packets > 30 for h in heard), WARM_UP_S)
            for h in heard:
                await settled(h, ZH_A_HZ)
            setup_s = time.monotonic() - started

            tones = {a.id: ZH_A_HZ, b.id: ZH_B_HZ}
            measures: list[Measure] = []
            live, other = a, b
            since = time.monotonic()
            kinds: list[str] = []
            for n in range(args.handovers):
                how = "request" if (n // 2) % 2 == 0 else "offer"
                old, new = tones[live.id], tones[other.id]
                # The old tone alone for a while: its reference level, and a clean start.
                await asyncio.sleep(max(0.0, since + PRE_S - time.monotonic()))
                t0 = await handover(live, other, how)
                # Until every listener hears the new tone (a listener that never does is
                # measured as such: no switch, a gap to the end of the window).
                with contextlib.suppress(AssertionError):
                    await until(
                        lambda t0=t0, old=old, new=new: all(
                            heard_new(h, old, new, t0) for h in heard
                        ),
                        SWITCH_TIMEOUT_S,
                    )
                await asyncio.sleep(POST_S)
                end = time.monotonic()
                for i, h in enumerate(heard):
                    measures.append(analyse(h, old, new, t0, since, end, h=n, i=i))
                kinds.append(f"{'A' if live is a else 'B'}->{'B' if live is a else 'A'} {how}")
                live, other = other, live
                since = end
            run_s = time.monotonic() - started
        finally:
            await stage.close()
            await runner.cleanup()

    report(args, measures, kinds, setup_s, run_s)
    return 0 if targets_hold(measures) else 1


def targets_hold(measures: list[Measure]) -> bool:
    return (
        all(m.overlap_ms == 0 for m in measures)
        and all(m.gap_ms <= GAP_TARGET_MS for m in measures)
        and all(np.isfinite(m.switch_ms) for m in measures)
    )


def report(
    args: argparse.Namespace,
    measures: list[Measure],
    kinds: list[str],
    setup_s: float,
    run_s: float,
) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    print(
        f"# handover_gap {now} host={socket.gethostname()} cores={os.cpu_count()} "
        f"python={sys.version.split()[0]} aiortc={aiortc.__version__} "
        f"handovers={args.handovers} listeners={args.listeners}"
    )
    counts = {k: kinds.count(k) for k in sorted(set(kinds))}
    print("# handovers: " + ", ".join(f"{k} x{v}" for k, v in counts.items()))
    print(
        f"# samples: {len(measures)} (handovers x listeners); 20 ms frames, joint sine fit; "
        f"setup {setup_s:.1f} s, total {run_s:.1f} s"
    )
    print(f"{'metric':<14}{'p50':>9}{'p99':>9}{'max':>9}")
    for name, label in (
        ("overlap_ms", "overlap ms"),
        ("gap_ms", "gap ms"),
        ("switch_ms", "switch ms"),
        ("stall_ms", "stall ms *"),
    ):
        values = [getattr(m, name) for m in measures]
        print(f"{label:<14}{pct(values, 50):>9.1f}{pct(values, 99):>9.1f}{max(values):>9.1f}")
    print("* stall: longest wall-clock wait between two arriving frames (information only)")
    clean = sum(1 for m in measures if m.flips == 1)
    print(f"clean single switch (one flip): {clean}/{len(measures)}")
    overlapping = [m for m in measures if m.overlap_ms > 0]
    gaps = [m for m in measures if m.gap_ms > GAP_TARGET_MS]
    missing = [m for m in measures if not np.isfinite(m.switch_ms)]
    print(
        f"target no overlap: {'HOLDS' if not overlapping else 'FAILS'} "
        f"({len(overlapping)} of {len(measures)} with overlap)"
    )
    print(
        f"target no gap over {GAP_TARGET_MS:.0f} ms: {'HOLDS' if not gaps else 'FAILS'} "
        f"({len(gaps)} of {len(measures)} over)"
    )
    if missing:
        print(f"new tone never heard: {len(missing)} of {len(measures)}")
    for m in [*overlapping, *gaps, *missing][:10]:
        print(
            f"  handover {m.handover} ({kinds[m.handover]}) listener {m.listener}: "
            f"overlap {m.overlap_ms:.1f} ms, gap {m.gap_ms:.1f} ms, switch {m.switch_ms:.1f} ms"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--handovers", type=int, default=20)
    parser.add_argument("--listeners", type=int, default=3)
    parser.add_argument(
        "--budget", type=float, default=150.0, help="give up after this many seconds"
    )
    args = parser.parse_args()
    if args.handovers < 1 or args.listeners < 1:
        parser.error("--handovers and --listeners must be at least 1")
    logging.basicConfig(level=logging.WARNING)

    async def bounded() -> int:
        async with asyncio.timeout(args.budget):
            return await run(args)

    try:
        return asyncio.run(bounded())
    except TimeoutError:
        print(f"handover_gap: gave up after {args.budget:.0f} s", file=sys.stderr)
        return 2
    except (AssertionError, RuntimeError) as exc:  # warm-up failed, or a tone went missing
        print(f"handover_gap: run failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
