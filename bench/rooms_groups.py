"""Benchmark: 40 cities in 8 groups of 5, audio and video, through the embedded SFU.

Every city publishes a looped, pre-encoded Opus tone and a looped, pre-encoded VP8 clip
(so the load generator stays cheap: nothing is encoded or decoded while it runs) and
receives the four other members of its group on four member audio + four member video
slots. Prints, over the measured window: packets each member slot received against what its
source sent (frames lost), CPU seconds per second of this process (the SFU *and* the 40
clients: one process, one event loop) and resident memory.

    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/rooms_groups.py --seconds 20'
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402
from tests.media.tones import LoopedTone, Tab  # noqa: E402

from simultan.media.encode import EncodedTrack  # noqa: E402
from simultan.media.plane import RoomMedia  # noqa: E402
from simultan.media.rooms import member_key  # noqa: E402
from simultan.media.sfu import EmbeddedSfu  # noqa: E402
from simultan.media.synthetic import TestPatternTrack  # noqa: E402
from simultan.settings import Settings  # noqa: E402

VIDEO_FPS = 15


class LoopedVideo(MediaStreamTrack):
    """A two-second VP8 clip (keyframe first) encoded once, replayed in real time."""

    kind = "video"
    _clip: list[tuple[bytes, bool]] = []

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self._start: float | None = None

    @classmethod
    async def prepare(cls) -> None:
        if cls._clip:
            return
        enc = EncodedTrack(TestPatternTrack("CITY", width=320, height=180, fps=VIDEO_FPS))
        while len(cls._clip) < 2 * VIDEO_FPS:
            p = await enc.recv()
            cls._clip.append((bytes(p), bool(p.is_keyframe)))
        enc.stop()

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.sent / VIDEO_FPS
        if due > now:
            await asyncio.sleep(due - now)
        data, key = self._clip[self.sent % len(self._clip)]
        packet = av.Packet(data)
        packet.pts = self.sent * (90000 // VIDEO_FPS)
        packet.dts = packet.pts
        packet.time_base = fractions.Fraction(1, 90000)
        packet.is_keyframe = key
        self.sent += 1
        return packet


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(cities: int, size: int, seconds: float) -> None:
    await LoopedVideo.prepare()
    sfu = EmbeddedSfu(Settings(ice_host_addresses=("127.0.0.1",)))
    tones = [LoopedTone(300.0 + 10 * i) for i in range(cities)]
    clips = [LoopedVideo() for _ in range(cities)]
    tabs = [
        Tab(
            sfu,
            f"c{i:02d}",
            publish=member_key(f"c{i:02d}"),
            audio=tones[i],
            video=clips[i],
            member_slots=size - 1,
            member_video=True,
            decode_audio=False,
        )
        for i in range(cities)
    ]
    rss_before = rss_mb()
    for i in range(0, cities, 8):  # connect in batches, a loaded machine copes better
        await asyncio.gather(*(t.connect() for t in tabs[i : i + 8]))
    groups = {
        f"g{g}": RoomMedia(
            members=tuple(member_key(t.session_id) for t in tabs[g * size : (g + 1) * size])
        )
        for g in range(cities // size)
    }
    sfu.set_rooms(groups)
    for i, t in enumerate(tabs):
        sfu.place(t.session_id, f"g{i // size}")
    await asyncio.sleep(3.0)  # warm-up: ICE, DTLS, first keyframes

    def totals() -> tuple[int, int, int, int]:
        audio = sum(h.packets for t in tabs for h in t.members)
        video = sum(v.packets for t in tabs for v in t.member_videos)
        sent_a = sum(t.sent for t in tones)
        sent_v = sum(c.sent for c in clips)
        return audio, video, sent_a, sent_v

    a0, v0, sa0, sv0 = totals()
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    a1, v1, sa1, sv1 = totals()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    fanout = size - 1
    expected_a, expected_v = (sa1 - sa0) * fanout, (sv1 - sv0) * fanout
    got_a, got_v = a1 - a0, v1 - v0
    stats = sfu.stats()
    states: dict[str, int] = {}
    for t in tabs:
        states[t.pc.connectionState] = states.get(t.pc.connectionState, 0) + 1
    fin = sum(s.frames_in for s in stats.sources.values())
    fout = sum(s.frames_out for s in stats.sources.values())
    print(f"peer states {states}; sfu frames in {fin}, forwarded {fout}")
    drops = sfu.stats().drops
    late = sum(s.late_drops for s in sfu.stats().sources.values())
    print(f"cities={cities} groups={len(groups)} size={size} window={wall:.1f}s")
    print(
        f"audio: sent {sa1 - sa0} frames, expected at members {expected_a}, received {got_a}, "
        f"lost {100 * (1 - got_a / max(1, expected_a)):.2f}%"
    )
    print(
        f"video: sent {sv1 - sv0} frames, expected at members {expected_v}, received {got_v}, "
        f"lost {100 * (1 - got_v / max(1, expected_v)):.2f}%"
    )
    print(f"sfu drops (queue) {drops}, audio late drops {late}")
    print(
        f"cpu (sfu + 40 clients, one process): {cpu / wall:.2f} s/s; "
        f"rss {rss_mb():.0f} MB (before connecting {rss_before:.0f} MB)"
    )
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)
    await sfu.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=40)
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(run(args.cities, args.size, args.seconds))


if __name__ == "__main__":
    main()
