"""B2B day at scale: M parallel meetings of two companies, each publishing audio and video.

The server (the embedded SFU) runs in its own process; its CPU is ``time.process_time`` of
that process. The 2*M company tabs run in client processes of their own (``--per-process``
meetings each, both companies of a meeting in the same one), attached to the server's
control socket: each tab publishes Opus (a tone, encoded there) and VP8 (pre-encoded
640x360 at 15 fps, ~300 kb/s, no encoder while measuring) and receives the other company's
audio and video on its member slots; the meetings are rooms in the SFU's ``b2b`` layer.
After a warm-up, one window of ``--seconds`` is measured.

Figures: audio frames and video packets lost (sequence gaps at each receiver), server CPU
(cores) and per forwarded packet, server RSS.

    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/b2b_meetings.py --meetings 30'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from fwd_scale import ReplayVideo
from light_listener import tolerate_consent_failures
from media_common import (
    CONFIG,
    RtpCounter,
    ServerProcess,
    install_counting_receivers,
    stop_processes,
)
from media_latency import NoisyTone
from simultan.media import ice
from simultan.media.encode import EncodedTrack


def replay(frames: list[tuple[bytes, bool]], fps: int) -> ReplayVideo:
    """A track replaying encoded ``frames`` (encoded once, in the main process)."""
    track = ReplayVideo.__new__(ReplayVideo)
    MediaStreamTrack.__init__(track)
    track.fps, track.frames, track.n, track.start = fps, frames, 0, None
    return track


class Company:
    """One company's tab: publishes audio + video, receives the other company's on slots."""

    def __init__(self, server: ServerProcess, name: str, video: ReplayVideo) -> None:
        self.server, self.name = server, name
        self.pc = RTCPeerConnection(CONFIG)
        self.pc.addTransceiver(video, direction="sendrecv")  # floor video m-line: publishes
        self.pc.addTransceiver(EncodedTrack(NoisyTone()), direction="sendrecv")  # program
        self.pc.addTransceiver("audio", direction="recvonly")  # channel
        member_audio = self.pc.addTransceiver("audio", direction="recvonly")
        member_video = self.pc.addTransceiver("video", direction="recvonly")
        self.audio, self.video = RtpCounter(), RtpCounter()
        member_audio.receiver._bench_counter = self.audio  # type: ignore[attr-defined]
        member_video.receiver._bench_counter = self.video  # type: ignore[attr-defined]

    async def connect(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.server.call(
            op="negotiate", session=self.name, sdp=self.pc.localDescription.sdp,
            publish=f"member:{self.name}", channel="en",
        )  # fmt: skip
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    def snapshot(self) -> tuple[int, int, int, int]:
        return (self.audio.packets, self.audio.expected, self.video.packets, self.video.expected)


HERE = Path(__file__).resolve().parent
FPS = 15


def progress(text: str) -> None:
    if os.environ.get("B2B_BENCH_DEBUG"):
        print(f"{time.monotonic():.1f} {text}", file=sys.stderr, flush=True)


async def _clients(path: str, first: int, count: int, video: str) -> None:
    """A client process: meetings ``first`` .. ``first + count - 1``, both companies each,
    replaying the VP8 frames pickled in ``video``. Prints ``ready N`` once every tab is
    negotiated or given up (N negotiated), then one JSON snapshot per stdin line."""
    ice.use_host_addresses(["127.0.0.1"])
    install_counting_receivers()
    tolerate_consent_failures()
    server = ServerProcess("attached")
    await server.attach(path)
    frames = pickle.loads(Path(video).read_bytes())
    tabs = [
        Company(server, f"m{i}-{side}", replay(frames, FPS))
        for i in range(first, first + count)
        for side in "ab"
    ]
    negotiated = 0
    for i in range(0, len(tabs), 4):
        done = await asyncio.gather(
            *(asyncio.wait_for(t.connect(), 60) for t in tabs[i : i + 4]), return_exceptions=True
        )
        negotiated += sum(1 for d in done if not isinstance(d, BaseException))
        progress(f"clients {first}: {negotiated} of {min(i + 4, len(tabs))} tabs negotiated")
    print("ready", negotiated, flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        snap = [t.snapshot() for t in tabs]
        print(json.dumps({
            "audio": [sum(x[0] for x in snap), sum(x[1] for x in snap)],
            "video": [sum(x[2] for x in snap), sum(x[3] for x in snap)],
            "hearing": sum(1 for t in tabs if t.audio.packets and t.video.packets),
            "connected": sum(1 for t in tabs if t.pc.connectionState == "connected"),
            "cpu": time.process_time(),
        }), flush=True)  # fmt: skip
    await asyncio.gather(*(t.pc.close() for t in tabs), return_exceptions=True)


class Clients:
    """The client processes, started one after the other (joining is the heavy part)."""

    def __init__(self, server: ServerProcess, meetings: int, per_process: int) -> None:
        self.server, self.meetings, self.per_process = server, meetings, per_process
        self.procs: list[subprocess.Popen[str]] = []
        self.negotiated = 0
        self.video = Path(f"/tmp/simultan-b2b-bench-{os.getpid()}.video")

    async def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=f"{HERE.parent / 'server'}:{HERE}")
        loop = asyncio.get_running_loop()
        proto = ReplayVideo(fps=FPS, seconds=4, bitrate=300_000)
        self.video.write_bytes(pickle.dumps(proto.frames))
        for first in range(0, self.meetings, self.per_process):
            count = min(self.per_process, self.meetings - first)
            proc = subprocess.Popen(
                [sys.executable, __file__, "clients", self.server.path, str(first), str(count),
                 str(self.video)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            )  # fmt: skip
            self.procs.append(proc)
            assert proc.stdout is not None
            line = await loop.run_in_executor(None, proc.stdout.readline)
            parts = line.split()
            if not parts or parts[0] != "ready":
                raise RuntimeError(f"client process did not start: {line!r}")
            self.negotiated += int(parts[1])

    async def totals(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        total: dict[str, Any] = {"audio": [0, 0], "video": [0, 0], "hearing": 0,
                                 "connected": 0, "cpu": 0.0}  # fmt: skip
        for proc in self.procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("snap\n")
            proc.stdin.flush()
            snap = json.loads(await loop.run_in_executor(None, proc.stdout.readline))
            for key in ("audio", "video"):
                total[key] = [a + b for a, b in zip(total[key], snap[key], strict=True)]
            for key in ("hearing", "connected", "cpu"):
                total[key] += snap[key]
        return total

    def stop(self) -> None:
        self.video.unlink(missing_ok=True)
        stop_processes(self.procs)


async def run(meetings: int, seconds: float, warmup: float, per_process: int) -> dict[str, Any]:
    ice.use_host_addresses(["127.0.0.1"])
    server = ServerProcess("forward")
    await server.start()
    clients = Clients(server, meetings, per_process)
    tabs = 2 * meetings
    try:
        t_join = time.monotonic()
        await clients.start()
        joined = time.monotonic() - t_join
        rooms = {f"b2b:m{i}": [f"member:m{i}-a", f"member:m{i}-b"] for i in range(meetings)}
        place = {f"m{i}-{side}": f"b2b:m{i}" for i in range(meetings) for side in "ab"}
        await server.call(op="rooms", rooms=rooms, place=place, layer="b2b")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (await clients.totals())["hearing"] < tabs:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        hearing = (await clients.totals())["hearing"]
        await asyncio.sleep(warmup)
        before = await clients.totals()
        s0 = await server.call(op="stats")
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        s1 = await server.call(op="stats")
        wall = time.monotonic() - t0
        after = await clients.totals()
    finally:
        clients.stop()
        await server.stop()
    got_a = after["audio"][0] - before["audio"][0]
    exp_a = after["audio"][1] - before["audio"][1]
    got_v = after["video"][0] - before["video"][0]
    exp_v = after["video"][1] - before["video"][1]
    cpu = s1["cpu"] - s0["cpu"]
    forwarded = got_a + got_v
    return {
        "meetings": meetings,
        "client processes": len(clients.procs),
        "tabs negotiated": f"{clients.negotiated}/{tabs}",
        "all tabs joined in (s)": round(joined, 1),
        "server sessions at the end": s1["sessions"],
        "tabs hearing and seeing": f"{hearing}/{tabs}",
        "tabs connected at the end": f"{after['connected']}/{tabs}",
        "audio frames received": got_a,
        "audio frames lost": f"{exp_a - got_a} ({100 * (exp_a - got_a) / max(exp_a, 1):.2f} %)",
        "audio frames/s per tab": round(got_a / wall / tabs, 1),
        "video packets lost": f"{exp_v - got_v} ({100 * (exp_v - got_v) / max(exp_v, 1):.2f} %)",
        "video packets/s per tab": round(got_v / wall / tabs, 1),
        "server CPU (cores)": round(cpu / wall, 2),
        "server CPU per forwarded packet (µs)": round(1e6 * cpu / max(forwarded, 1), 1),
        "client CPU (cores, all processes)": round((after["cpu"] - before["cpu"]) / wall, 2),
        "server RSS (MB)": round(s1["rss"] / 2**20, 1),
    }


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "clients":
        asyncio.run(_clients(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meetings", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--per-process", type=int, default=5, help="meetings per client process")
    args = parser.parse_args()
    result = asyncio.run(run(args.meetings, args.seconds, args.warmup, args.per_process))
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
