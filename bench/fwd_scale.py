"""Forwarding at scale: N light listeners, server CPU per forwarded packet, loss, latency.

The server (the embedded SFU) runs in its own process; its CPU is ``time.process_time`` of
that process (not wall clock: the machine is shared). The publisher and a latency probe run
here; N :class:`light_listener.LightListener`\\ s run in load processes (ICE, DTLS, SRTP
only). After a warm-up, ``--windows`` windows of ``--window`` seconds are measured and the
median of each figure is printed.

- audio: one interpreter publishes Opus (50 packets/s) on channel zh; N listeners on zh.
- av: the floor publishes Opus + VP8 (pre-encoded 640x360, 30 fps, ~700 kb/s); N listeners
  get floor audio and video.

Figures: µs of server CPU per forwarded packet, listeners per core (at 50 audio packets/s
per listener, from that cost), server RSS per listener, audio frames lost (from each
listener's RTP timestamps: a frame is 960 ticks), video packets lost (sequence gaps), SRTP
checks failed, and the latency the server adds (publisher send -> probe receive) p50/p99.

    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/fwd_scale.py \
        --mode audio --listeners 100,300,1000'
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from light_listener import LightListener, connect_all
from media_common import (
    CONFIG,
    ROOT,
    SOURCE,
    ServerProcess,
    machine_busy_seconds,
    percentile,
    stop_processes,
)
from media_latency import StampedTrack
from simultan.media import ice

HERE = Path(__file__).resolve().parent
PER_LOAD_PROCESS = 500


class ReplayVideo(MediaStreamTrack):
    """Pre-encoded VP8 (a few seconds, looped), paced at ``fps``: no encoder while measuring."""

    kind = "video"

    def __init__(self, *, fps: int = 30, seconds: int = 4, bitrate: int = 700_000) -> None:
        super().__init__()
        self.fps = fps
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt = 640, 360, "yuv420p"
        codec.bit_rate = bitrate
        codec.time_base = fractions.Fraction(1, fps)
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        rng = np.random.default_rng(3)
        base = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
        self.frames: list[tuple[bytes, bool]] = []
        for i in range(fps * seconds):
            img = np.roll(base, i * 4, axis=1)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            frame.pict_type = (
                av.video.frame.PictureType.I if i == 0 else av.video.frame.PictureType.NONE
            )
            for p in codec.encode(frame):
                self.frames.append((bytes(p), bool(p.is_keyframe)))
        self.n = 0
        self.start: float | None = None

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self.start is None:
            self.start = now
        due = self.start + self.n / self.fps
        if due > now:
            await asyncio.sleep(due - now)
        data, key = self.frames[self.n % len(self.frames)]
        packet = av.Packet(data)
        packet.pts = self.n * (90000 // self.fps)
        packet.time_base = fractions.Fraction(1, 90000)
        packet.is_keyframe = key
        self.n += 1
        return packet


class Publisher:
    def __init__(self, server: ServerProcess, key: str, audio: Any, video: Any | None) -> None:
        self.server = server
        self.key = key
        self.pc = RTCPeerConnection(CONFIG)
        if video is not None:
            self.pc.addTransceiver(video, direction="sendonly")
        self.pc.addTransceiver(audio, direction="sendonly")

    async def connect(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.server.call(
            op="negotiate", session="publisher", sdp=self.pc.localDescription.sdp, publish=self.key
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    async def close(self) -> None:
        await self.pc.close()


class LoadProcesses:
    """N light listeners in processes of at most PER_LOAD_PROCESS each."""

    def __init__(self, server: ServerProcess, count: int, video: bool) -> None:
        self.server = server
        sizes = [PER_LOAD_PROCESS] * (count // PER_LOAD_PROCESS)
        if count % PER_LOAD_PROCESS:
            sizes.append(count % PER_LOAD_PROCESS)
        self.sizes = sizes
        self.count = count
        self.video = video
        self.procs: list[subprocess.Popen[str]] = []

    async def hearing(self) -> int:
        """How many listeners have heard something (waits up to 10 s for all)."""
        deadline = time.monotonic() + 10
        while True:
            totals = await self.totals()
            if totals["hearing"] >= self.count or time.monotonic() > deadline:
                return totals["hearing"]
            await asyncio.sleep(0.5)

    async def start(self, wait_for_media: bool = True) -> int:
        env = dict(os.environ, PYTHONPATH=f"{ROOT / 'server'}:{HERE}")
        loop = asyncio.get_running_loop()
        hearing = 0
        for size in self.sizes:  # one at a time: joining is the heavy part
            proc = subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "light_listener.py"),
                    "load",
                    self.server.path,
                    str(size),
                    "1" if self.video else "0",
                    "1" if wait_for_media else "0",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            self.procs.append(proc)
            assert proc.stdout is not None
            line = await loop.run_in_executor(None, proc.stdout.readline)
            parts = line.split()
            if not parts or parts[0] != "ready":
                raise RuntimeError(f"load process did not start: {line!r}")
            hearing += int(parts[1])
            if os.environ.get("FWD_DEBUG"):
                print(f"{time.monotonic():.1f} load process ready {line!r}", file=sys.stderr)
        return hearing

    async def totals(self) -> dict[str, int]:
        loop = asyncio.get_running_loop()
        total: dict[str, int] = {}
        for proc in self.procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("snap\n")
            proc.stdin.flush()
            line = await loop.run_in_executor(None, proc.stdout.readline)
            for k, v in json.loads(line).items():
                total[k] = total.get(k, 0) + v
        return total

    def stop(self) -> None:
        stop_processes(self.procs)


def start_profiler(pid: int, seconds: float, path: str) -> subprocess.Popen[bytes]:
    """py-spy (raw stacks) on a process for ``seconds``, without pausing it."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args = ["record", "-p", str(pid), "-d", str(int(seconds)), "-r", "1000",
            "-f", "raw", "-o", path]  # fmt: skip
    return subprocess.Popen(
        [spy, *args, "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _delta(after: dict[str, Any], before: dict[str, Any], key: str) -> float:
    return float(after.get(key, 0)) - float(before.get(key, 0))


async def run(
    mode: str,
    n: int,
    windows: int,
    window: float,
    warmup: float,
    profile: str | None = None,
    cpu_profile: str | None = None,
) -> dict[str, Any]:
    video = mode == "av"
    server = ServerProcess("forward")
    await server.start()
    stamped = StampedTrack()
    key = "floor" if video else SOURCE
    publisher = Publisher(server, key, stamped, ReplayVideo() if video else None)
    load = LoadProcesses(server, n, video)
    probe = LightListener(server, "probe", video=video, channel=None if video else "zh")
    latencies: list[float] = []
    measuring = False

    def on_packet(payload: bytes, now: float) -> None:
        sent = stamped.sent.pop(payload, None)
        if measuring and sent is not None:
            latencies.append(1000 * (now - sent))

    probe.on_packet = on_packet
    try:
        base = await server.call(op="stats")
        # Listeners join first: aiortc's ICE consent check (one STUN request, no
        # retransmission) in this bench's publisher fails while the server is busy with
        # hundreds of DTLS handshakes, and the publisher would drop.
        joined = await load.start(wait_for_media=False)
        await publisher.connect()
        if os.environ.get("FWD_DEBUG"):
            t_start = time.monotonic()

            @publisher.pc.on("connectionstatechange")
            def _state() -> None:
                print(
                    f"{time.monotonic() - t_start:.1f}s publisher {publisher.pc.connectionState}",
                    file=sys.stderr,
                )

        await asyncio.sleep(1.0)
        hearing = await load.hearing()
        await connect_all([probe])
        if not hearing:
            raise RuntimeError("no listener hears the source")
        await asyncio.sleep(warmup)
        if os.environ.get("FWD_DEBUG"):
            print(
                "publisher",
                publisher.pc.connectionState,
                await server.call(op="stats"),
                file=sys.stderr,
            )
        joining = await server.call(op="stats")  # the collector's pauses while they joined
        before_rss = joining["rss"]
        rows = []
        profiler = None
        if profile:
            assert server.proc is not None
            profiler = start_profiler(server.proc.pid, window, profile)
        if cpu_profile:
            await server.call(op="cpuprof", action="start")
        for _ in range(windows):
            s0, l0, b0, t0 = (
                await server.call(op="stats"),
                await load.totals(),
                machine_busy_seconds(),
                time.monotonic(),
            )
            measuring = True
            await asyncio.sleep(window)
            measuring = False
            s1, l1, b1, t1 = (
                await server.call(op="stats"),
                await load.totals(),
                machine_busy_seconds(),
                time.monotonic(),
            )
            elapsed = t1 - t0
            if os.environ.get("FWD_DEBUG"):
                print(s0, s1, l0, l1, file=sys.stderr)
            cpu = _delta(s1, s0, "cpu")
            audio_rx = _delta(l1, l0, "audio_packets")
            video_rx = _delta(l1, l0, "video_packets")
            audio_expected = _delta(l1, l0, "audio_ts") / 960
            video_expected = _delta(l1, l0, "video_highest")
            packets = audio_rx + video_rx
            us = 1e6 * cpu / max(packets, 1)
            rows.append(
                {
                    "server_cpu_core": cpu / elapsed,
                    "us_per_packet": us,
                    "packets_per_s": packets / elapsed,
                    "audio_lost_pct": 100
                    * max(0.0, audio_expected - audio_rx)
                    / max(audio_expected, 1),
                    "video_lost_pct": 100
                    * max(0.0, video_expected - video_rx)
                    / max(video_expected, 1),
                    "check_failed": _delta(l1, l0, "check_failed"),
                    "checked": _delta(l1, l0, "checked"),
                    "load_cpu_core": _delta(l1, l0, "cpu") / elapsed,
                    "machine_busy_cores": (b1 - b0) / elapsed,
                }
            )
        if profiler is not None:
            profiler.wait(timeout=60)
        if cpu_profile:
            await server.call(op="cpuprof", action="stop", path=cpu_profile)
        full = await server.call(op="gc_full")
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        # Listeners per core at this cost, with each listener's packet rate of this run.
        per_listener_pps = med["packets_per_s"] / n
        return {
            "engine": "sfu",
            "mode": mode,
            "listeners": n,
            "joined": joined,
            "hearing": hearing,
            "windows": f"{windows}x{window:.0f}s",
            "us_per_packet": round(med["us_per_packet"], 2),
            "us_per_packet_windows": [round(r["us_per_packet"], 2) for r in rows],
            "server_cpu_core": round(med["server_cpu_core"], 3),
            "listeners_per_core": round(1e6 / (med["us_per_packet"] * per_listener_pps)),
            "packets_per_s": round(med["packets_per_s"]),
            "rss_per_listener_kb": round((before_rss - base["rss"]) / n / 1024, 1),
            "audio_lost_pct": round(med["audio_lost_pct"], 4),
            "video_lost_pct": round(med["video_lost_pct"], 4),
            "srtp_checked": int(sum(r["checked"] for r in rows)),
            "srtp_check_failed": int(sum(r["check_failed"] for r in rows)),
            "latency_p50_ms": round(percentile(latencies, 50), 2),
            "latency_p99_ms": round(percentile(latencies, 99), 2),
            "latency_samples": len(latencies),
            "load_cpu_core": round(med["load_cpu_core"], 3),
            "machine_busy_cores": round(med["machine_busy_cores"], 2),
            # the cyclic collector: its pauses while the listeners joined, and one full
            # collection with everyone connected (what a loop stall would cost then)
            "gc_while_joining": joining.get("gc"),
            "gc_full_collection": full,
        }
    finally:
        await probe.close()
        load.stop()
        await publisher.close()
        await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["audio", "av"], default="audio")
    parser.add_argument("--listeners", default="100,300,1000")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--profile", help="py-spy the server during the first window (raw stacks to this file)"
    )
    parser.add_argument(
        "--cpu-profile",
        help="sample the server's stacks on its own CPU time during all windows (raw stacks "
        "to this file; media_common.CpuProfiler)",
    )
    args = parser.parse_args()
    ice.use_host_addresses(["127.0.0.1"])
    for n in (int(x) for x in args.listeners.split(",")):
        profile = f"{args.profile}.{args.mode}.{n}.txt" if args.profile else None
        cpu = f"{args.cpu_profile}.{args.mode}.{n}.txt" if args.cpu_profile else None
        result = await run(args.mode, n, args.windows, args.window, args.warmup, profile, cpu)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
