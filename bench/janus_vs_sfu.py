"""The embedded SFU and Janus side by side: same source, same listeners, one run.

Janus is Debian's package (``apt-get install janus``; ``deploy/dev.sh test`` installs it
with the C compiler for the shim below), its Streaming plugin with one RTP mountpoint per
mode, ``event_loops = 2`` (its best setting on 2 cores). Everything stays on 127.0.0.1:

- Janus leaves loopback interfaces out when it gathers ICE candidates. A ten-line
  ``LD_PRELOAD`` shim (compiled here into a temporary directory) clears ``IFF_LOOPBACK`` in
  what ``getifaddrs()`` returns; ``ice_enforce_list = "127.0.0.1"`` and ``-i 127.0.0.1``
  keep it to that address; its HTTP API and RTP inputs bind 127.0.0.1 only.
- The source: the bench's aiortc publisher sends Opus (+ pre-encoded VP8) to the SFU over
  WebRTC; the same encoded frames, packetized by aiortc's packers as its sender does, go
  as plain RTP to the Janus mountpoint's ports at the same moment (a tee on each track).
- The listeners: :class:`light_listener.LightListener` (SFU) and
  :class:`light_listener.JanusListener` (Janus), the same class counting packets at the
  socket, N of each, in their own load processes.

Both servers forward during the same windows. Per window: the CPU time each server process
used (utime + stime of the process, all threads, from ``/proc/PID/stat``), the packets its
listeners received, frames lost (from RTP timestamps) and video packets lost (sequence
gaps); µs of CPU per forwarded packet for each, their ratio (SFU / Janus), listeners per
core at that cost, memory per listener (VmRSS growth while joining), and the SFU's added
latency (publisher send -> probe receive). Medians of the windows are printed as JSON.

    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/janus_vs_sfu.py \\
        --mode audio --listeners 100,300'
    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/janus_vs_sfu.py \\
        --mode av --listeners 50,100'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import aiohttp
from aiortc.mediastreams import MediaStreamTrack

from fwd_scale import LoadProcesses, Publisher, ReplayVideo, _delta, start_profiler
from light_listener import LightListener, connect_all, tolerate_consent_failures
from media_common import SOURCE, ServerProcess, machine_busy_seconds, percentile
from media_latency import StampedTrack
from simultan.media import ice
from simultan.media.passthrough import Packetizer

JANUS = shutil.which("janus") or "/usr/bin/janus"
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
HTTP_PORT = 18088
# mountpoint id -> (audio port, video port or None)
MOUNTPOINTS = {"audio": (1, 15002, None), "av": (2, 15012, 15014)}
OPUS_PT, VP8_PT = 111, 96

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
/* Janus skips loopback interfaces when it gathers candidates: show them as ordinary ones. */
int getifaddrs(struct ifaddrs **ifap) {
    static int (*real)(struct ifaddrs **);
    if (!real) real = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
    int rc = real(ifap);
    if (rc == 0)
        for (struct ifaddrs *i = *ifap; i; i = i->ifa_next) i->ifa_flags &= ~IFF_LOOPBACK;
    return rc;
}
"""


def proc_cpu_times(pid: int) -> tuple[float, float]:
    """utime and stime of a process, all its threads (``/proc/PID/stat``), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def proc_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class JanusProcess:
    """Debian's Janus with a configuration of our own in a temporary directory."""

    def __init__(self, event_loops: int = 2) -> None:
        self.event_loops = event_loops
        self.dir = Path(tempfile.mkdtemp(prefix="simultan-janus-"))
        self.url = f"http://127.0.0.1:{HTTP_PORT}/janus"
        self.proc: subprocess.Popen[bytes] | None = None

    def _configure(self) -> dict[str, str]:
        d = self.dir
        for sub in ("conf", "plugins", "transports", "none"):
            (d / sub).mkdir()
        (d / "plugins" / "libjanus_streaming.so").symlink_to(
            JANUS_LIB / "plugins" / "libjanus_streaming.so"
        )
        (d / "transports" / "libjanus_http.so").symlink_to(
            JANUS_LIB / "transports" / "libjanus_http.so"
        )
        (d / "shim.c").write_text(SHIM)
        subprocess.run(
            ["cc", "-shared", "-fPIC", "-O2", "-o", str(d / "shim.so"), str(d / "shim.c"), "-ldl"],
            check=True,
        )
        (d / "conf" / "janus.jcfg").write_text(
            f"""general: {{
    configs_folder = "{d}/conf"
    plugins_folder = "{d}/plugins"
    transports_folder = "{d}/transports"
    events_folder = "{d}/none"
    loggers_folder = "{d}/none"
    debug_level = 3
    session_timeout = 0
    event_loops = {self.event_loops}
}}
certificates: {{}}
media: {{ rtp_port_range = "30000-40000" }}
nat: {{
    nice_debug = false
    ice_enforce_list = "127.0.0.1"
}}
plugins: {{}}
transports: {{}}
loggers: {{}}
events: {{ broadcast = false }}
"""
        )
        (d / "conf" / "janus.transport.http.jcfg").write_text(
            f"""general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {HTTP_PORT}
    ip = "127.0.0.1"
    https = false
}}
admin: {{ admin_http = false
    admin_https = false }}
cors: {{}}
certificates: {{}}
"""
        )
        mounts = []
        for name, (mid, aport, vport) in MOUNTPOINTS.items():
            video = (
                f"""video = true
    videoport = {vport}
    videopt = {VP8_PT}
    videocodec = "vp8"
    videoiface = "127.0.0.1"
    videobufferkf = true"""
                if vport
                else "video = false"
            )
            mounts.append(
                f"""{name}: {{
    type = "rtp"
    id = {mid}
    description = "{name}"
    audio = true
    audioport = {aport}
    audiopt = {OPUS_PT}
    audiocodec = "opus"
    audioiface = "127.0.0.1"
    {video}
}}"""
            )
        (d / "conf" / "janus.plugin.streaming.jcfg").write_text(
            "general: {}\n" + "\n".join(mounts) + "\n"
        )
        return dict(os.environ, LD_PRELOAD=str(d / "shim.so"))

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = self._configure()
        with open(self.dir / "janus.log", "wb") as log:  # the child keeps its own descriptor
            return subprocess.Popen(
                [JANUS, "-F", str(self.dir / "conf"), "-i", "127.0.0.1", "-E", "127.0.0.1"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    async def start(self) -> None:
        self.proc = self._spawn()
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"{self.url}/info") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"janus did not start: {self.log_tail()}")
                await asyncio.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        path = self.dir / "janus.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Tee(MediaStreamTrack):
    """Passes a track's encoded packets on, and sends each also as plain RTP to ``port``."""

    def __init__(self, inner: MediaStreamTrack, port: int, payload_type: int) -> None:
        super().__init__()
        self.kind = inner.kind
        self.inner = inner
        self.port = port
        self.payload_type = payload_type
        self.packetizer = Packetizer(inner.kind)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ssrc = 0x51A11E00 + port
        self.seq = 0
        self.sent = 0

    async def recv(self) -> Any:
        packet = await self.inner.recv()
        payloads, timestamp = self.packetizer.pack(packet)
        for i, payload in enumerate(payloads):
            marker = 1 if self.kind == "video" and i == len(payloads) - 1 else 0
            header = struct.pack(
                "!BBHII",
                0x80,
                (marker << 7) | self.payload_type,
                self.seq,
                timestamp & 0xFFFFFFFF,
                self.ssrc,
            )
            self.seq = (self.seq + 1) & 0xFFFF
            self.sent += 1
            self.sock.sendto(header + payload, ("127.0.0.1", self.port))
        return packet

    def stop(self) -> None:
        super().stop()
        self.inner.stop()
        self.sock.close()


def _figures(
    cpu: float, l1: dict[str, Any], l0: dict[str, Any], elapsed: float, kernel: float = 0.0
) -> dict[str, float]:
    """``cpu``: the server's CPU seconds in the window; ``kernel``: the part of it in the
    kernel (stime: on loopback, a ``sendto`` also runs the listener's side of the stack)."""
    audio_rx = _delta(l1, l0, "audio_packets")
    video_rx = _delta(l1, l0, "video_packets")
    audio_expected = _delta(l1, l0, "audio_ts") / 960
    video_expected = _delta(l1, l0, "video_highest")
    packets = audio_rx + video_rx
    return {
        "cpu_core": cpu / elapsed,
        "us_per_packet": 1e6 * cpu / max(packets, 1),
        "kernel_us_per_packet": 1e6 * kernel / max(packets, 1),
        "packets_per_s": packets / elapsed,
        "audio_lost_pct": 100 * max(0.0, audio_expected - audio_rx) / max(audio_expected, 1),
        "video_lost_pct": 100 * max(0.0, video_expected - video_rx) / max(video_expected, 1),
        "srtp_check_failed": _delta(l1, l0, "check_failed"),
        "live": float(l1.get("live", 0)),
    }


async def run(
    mode: str, n: int, windows: int, window: float, warmup: float, profile: str | None = None
) -> dict[str, Any]:
    video = mode == "av"
    mountpoint, audio_port, video_port = MOUNTPOINTS[mode]
    server = ServerProcess("forward")
    janus = JanusProcess()
    await server.start()
    await janus.start()
    assert server.proc is not None and janus.proc is not None
    sfu_pid, janus_pid = server.proc.pid, janus.proc.pid
    stamped = StampedTrack()
    audio = Tee(stamped, audio_port, OPUS_PT)
    replay = Tee(ReplayVideo(), video_port, VP8_PT) if video and video_port else None
    publisher = Publisher(server, "floor" if video else SOURCE, audio, replay)
    sfu_load = LoadProcesses(server, n, video)
    janus_target: Any = types.SimpleNamespace(path=f"{janus.url}#{mountpoint}")
    janus_load = LoadProcesses(janus_target, n, video)
    probe = LightListener(server, "probe", video=video, channel=None if video else "zh")
    latencies: list[float] = []
    measuring = False

    def on_packet(payload: bytes, now: float) -> None:
        sent = stamped.sent.pop(payload, None)
        if measuring and sent is not None:
            latencies.append(1000 * (now - sent))

    probe.on_packet = on_packet
    try:
        rss0 = {"sfu": proc_rss_bytes(sfu_pid), "janus": proc_rss_bytes(janus_pid)}
        joined = {
            "sfu": await sfu_load.start(wait_for_media=False),
            "janus": await janus_load.start(wait_for_media=False),
        }
        await publisher.connect()
        await asyncio.sleep(1.0)
        hearing = {"sfu": await sfu_load.hearing(), "janus": await janus_load.hearing()}
        await connect_all([probe])
        if not hearing["sfu"] or not hearing["janus"]:
            raise RuntimeError(f"listeners hearing: {hearing}\n{janus.log_tail()}")
        await asyncio.sleep(warmup)
        rss1 = {"sfu": proc_rss_bytes(sfu_pid), "janus": proc_rss_bytes(janus_pid)}
        rows: list[dict[str, float]] = []
        await server.call(op="stats")  # the GC pauses are counted from here
        profiler = start_profiler(sfu_pid, window, profile) if profile else None
        for _ in range(windows):
            c0 = (proc_cpu_times(sfu_pid), proc_cpu_times(janus_pid))
            s0, j0 = await sfu_load.totals(), await janus_load.totals()
            b0, t0 = machine_busy_seconds(), time.monotonic()
            src0 = audio.sent + (replay.sent if replay is not None else 0)
            measuring = True
            await asyncio.sleep(window)
            measuring = False
            c1 = (proc_cpu_times(sfu_pid), proc_cpu_times(janus_pid))
            s1, j1 = await sfu_load.totals(), await janus_load.totals()
            b1, t1 = machine_busy_seconds(), time.monotonic()
            elapsed = t1 - t0
            row: dict[str, float] = {}
            for name, f in (
                ("sfu", _figures(sum(c1[0]) - sum(c0[0]), s1, s0, elapsed, c1[0][1] - c0[0][1])),
                ("janus", _figures(sum(c1[1]) - sum(c0[1]), j1, j0, elapsed, c1[1][1] - c0[1][1])),
            ):
                row.update({f"{name}_{k}": v for k, v in f.items()})
            row["ratio"] = row["sfu_us_per_packet"] / max(row["janus_us_per_packet"], 1e-9)
            row["load_cpu_core"] = (_delta(s1, s0, "cpu") + _delta(j1, j0, "cpu")) / elapsed
            row["machine_busy_cores"] = (b1 - b0) / elapsed
            src1 = audio.sent + (replay.sent if replay is not None else 0)
            row["source_pps"] = (src1 - src0) / elapsed
            rows.append(row)
        if profiler is not None:
            profiler.wait(timeout=60)
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        result: dict[str, Any] = {
            "mode": mode,
            "listeners": n,
            "joined": joined,
            "hearing": hearing,
            "windows": f"{windows}x{window:.0f}s",
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "sfu_rtcp": "aiortc" if os.environ.get("SIMULTAN_BENCH_AIORTC_RTCP") else "clock",
            "ratio_sfu_to_janus": round(med["ratio"], 3),
            "ratio_windows": [round(r["ratio"], 3) for r in rows],
        }
        # Listeners per core at this cost, each listener getting every source packet.
        pps = med["source_pps"]
        for name in ("sfu", "janus"):
            result[name] = {
                "us_per_packet": round(med[f"{name}_us_per_packet"], 2),
                "us_per_packet_windows": [round(r[f"{name}_us_per_packet"], 2) for r in rows],
                "kernel_us_per_packet": round(med[f"{name}_kernel_us_per_packet"], 2),
                "cpu_core": round(med[f"{name}_cpu_core"], 3),
                "listeners_per_core": round(1e6 / max(med[f"{name}_us_per_packet"] * pps, 1e-9)),
                "packets_per_s": round(med[f"{name}_packets_per_s"]),
                "rss_per_listener_kb": round((rss1[name] - rss0[name]) / n / 1024, 1),
                "audio_lost_pct": round(med[f"{name}_audio_lost_pct"], 4),
                "video_lost_pct": round(med[f"{name}_video_lost_pct"], 4),
                "srtp_check_failed": int(sum(r[f"{name}_srtp_check_failed"] for r in rows)),
                "live_listeners_windows": [int(r[f"{name}_live"]) for r in rows],
            }
        result["sfu"]["latency_p50_ms"] = round(percentile(latencies, 50), 2)
        result["sfu"]["latency_p99_ms"] = round(percentile(latencies, 99), 2)
        result["sfu"]["latency_samples"] = len(latencies)
        result["load_cpu_core"] = round(med["load_cpu_core"], 3)
        result["source_pps"] = [round(r["source_pps"], 1) for r in rows]
        result["machine_busy_cores"] = round(med["machine_busy_cores"], 2)
        after = await server.call(op="stats")
        # The SFU's garbage-collector pauses since the windows began (count, longest, total
        # per generation): a long one holds every packet behind it.
        result["sfu_gc"] = after["gc"]
        if os.environ.get("SIMULTAN_BENCH_BATCH_RX"):
            result["sfu_receive_batches"] = after["receive_batches"]
        return result
    finally:
        await probe.close()
        sfu_load.stop()
        janus_load.stop()
        await publisher.close()
        await server.stop()
        janus.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["audio", "av"], default="audio")
    parser.add_argument("--listeners", default="100,300")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--aiortc-rtcp",
        action="store_true",
        help="the SFU with aiortc's own RTCP task per sender (before the one RTCP clock)",
    )
    parser.add_argument(
        "--profile", help="py-spy the SFU during the first window (raw stacks to this file)"
    )
    args = parser.parse_args()
    if args.aiortc_rtcp:
        os.environ["SIMULTAN_BENCH_AIORTC_RTCP"] = "1"
    if not Path(JANUS).exists():
        raise SystemExit(
            "janus is not installed: apt-get install janus (deploy/dev.sh test installs it)"
        )
    ice.use_host_addresses(["127.0.0.1"])
    tolerate_consent_failures()
    for n in (int(x) for x in args.listeners.split(",")):
        profile = f"{args.profile}.{args.mode}.{n}.txt" if args.profile else None
        result = await run(args.mode, n, args.windows, args.window, args.warmup, profile)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
