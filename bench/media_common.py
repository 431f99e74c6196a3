"""Shared pieces of the media benchmarks: a media server in its own process, bench clients.

The server runs in a separate process (``python bench/media_common.py serve SOCKET MODE``)
so its CPU time (``time.process_time``) and memory (VmRSS) are its own. The bench drives it
over a Unix socket with JSON lines; media flows over 127.0.0.1 only (run everything inside
``unshare -n`` with ``ip link set lo up``).

Modes:
- ``forward``: the EmbeddedSfu (pass-through, no decoding, no encoding);
- ``forward-default-jb``: the same with aiortc's own audio jitter buffer (4 frames held);
- ``reencode``: aiortc's stock relay (``MediaRelay``): the source is decoded once and every
  listener's sender encodes, for comparison.

Bench clients do not decode: a listener's receivers are replaced by a counter that keeps the
RTP sequence numbers and arrival times of what reaches it (the load generator must stay
cheap so that it measures the server, on a 2-core machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from aiortc import (  # noqa: E402
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError  # noqa: E402
from aiortc.rtcrtpreceiver import RTCRtpReceiver  # noqa: E402

from simultan.media import ice  # noqa: E402

CONFIG = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
SOURCE = "interpreter:bench"
CHANNEL = "zh"


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# -- the server process --------------------------------------------------------------------


class _Relay:
    """aiortc's stock way: decode the source once, every listener's sender encodes."""

    def __init__(self) -> None:
        from aiortc.contrib.media import MediaRelay

        self.relay = MediaRelay()
        self.source: Any = None
        self.pcs: dict[str, RTCPeerConnection] = {}

    async def negotiate(self, session: str, sdp: str, publish: str | None) -> str:
        pc = RTCPeerConnection(CONFIG)
        self.pcs[session] = pc

        @pc.on("track")
        def on_track(track: Any) -> None:
            if publish is not None:
                self.source = track

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        audio = [t for t in pc.getTransceivers() if t.kind == "audio"]
        for i, t in enumerate(audio):
            if publish is not None:
                t.direction = "recvonly"
            elif i == len(audio) - 1 and self.source is not None:
                t.direction = "sendonly"
                t.sender.replaceTrack(self.relay.subscribe(self.source))
            else:
                t.direction = "inactive"
        await pc.setLocalDescription(await pc.createAnswer())
        if publish is not None:
            # MediaRelay reads the source only while someone subscribes; keep it drained.
            self._drain = asyncio.ensure_future(self._drain_source())
        return str(pc.localDescription.sdp)

    async def _drain_source(self) -> None:
        while self.source is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        track = self.relay.subscribe(self.source)
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    def stats(self) -> dict[str, Any]:
        return {"sessions": len(self.pcs), "drops": 0, "frames_in": 0, "frames_out": 0}

    async def close(self) -> None:
        for pc in self.pcs.values():
            await pc.close()


async def _serve(path: str, mode: str) -> None:
    from simultan.media.sfu import EmbeddedSfu
    from simultan.settings import Settings

    ice.use_host_addresses(["127.0.0.1"])
    if os.environ.get("SIMULTAN_BENCH_LOG"):  # e.g. INFO: why the server closes sessions
        logging.basicConfig(
            level=os.environ["SIMULTAN_BENCH_LOG"],
            format="%(relativeCreated)8.0f ms %(name)s %(levelname)s %(message)s",
        )
    engine: Any
    if mode == "reencode":
        engine = _Relay()
    else:
        engine = EmbeddedSfu(
            Settings(ice_host_addresses=("127.0.0.1",)),
            low_latency_audio=(mode != "forward-default-jb"),
        )
        engine.set_routes({CHANNEL: SOURCE, "en": "floor"})
        if os.environ.get("SIMULTAN_BENCH_AIORTC_RTCP"):  # A/B: aiortc's task per sender
            from aiortc.rtcrtpsender import RTCRtpSender

            from simultan.media import passthrough

            RTCRtpSender._run_rtcp = passthrough._ORIGINAL_RUN_RTCP  # type: ignore[method-assign]
        if os.environ.get("SIMULTAN_BENCH_AIOICE_STUN"):  # A/B: aioice's own consent path
            from simultan.media import stunpath

            stunpath.uninstall()
        if os.environ.get("SIMULTAN_BENCH_BATCH_RX"):  # A/B: N datagrams a wakeup (1: asyncio's)
            install_batched_reads(int(os.environ["SIMULTAN_BENCH_BATCH_RX"]))
        if os.environ.get("SIMULTAN_BENCH_NO_LEAN"):  # A/B: aiortc's handler for every packet
            from simultan.media import passthrough

            tap_receiver = passthrough.tap_receiver
            passthrough.tap_receiver = lambda r, tap, wanted=None: tap_receiver(r, tap)  # type: ignore[assignment]
        if os.environ.get("SIMULTAN_BENCH_NO_PUMP"):  # A/B: every video packet to all at once
            from simultan.media import fanout

            fanout.VideoPump.CHUNK = 1 << 30
        if os.environ.get("SIMULTAN_BENCH_ALWAYS_FRAMES"):  # A/B: assemble frames nobody reads
            from simultan.media import fanout

            on_rtp = fanout.Feed.on_rtp

            def always_frames(self: Any, packet: Any, arrival_ms: int) -> bool:
                on_rtp(self, packet, arrival_ms)
                return True

            fanout.Feed.on_rtp = always_frames  # type: ignore[method-assign]
        if os.environ.get("SIMULTAN_BENCH_QUEUED_RX"):  # A/B: aiortc's receive queue and task
            from aiortc.rtcdtlstransport import RTCDtlsTransport

            from simultan.media import passthrough

            RTCDtlsTransport.start = passthrough._ORIGINAL_DTLS_START  # type: ignore[method-assign]
        if os.environ.get("SIMULTAN_BENCH_RTCP_AUDIO_INTERVAL"):  # A/B: e.g. 1 (as before)
            from simultan.media import passthrough

            interval = float(os.environ["SIMULTAN_BENCH_RTCP_AUDIO_INTERVAL"])
            passthrough.RtcpClock.AUDIO_INTERVAL = interval
    if os.environ.get("SIMULTAN_BENCH_COUNT_LOOP"):  # what wakes the loop, per callback
        loop_wakeups.install()
    if os.environ.get("SIMULTAN_BENCH_GC_FREEZE"):  # A/B: what is there at start-up, frozen
        import gc

        gc.collect()
        gc.freeze()
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            line = await reader.readline()
            if not line:
                break
            req = json.loads(line)
            try:
                reply = await answer(req)
            except Exception as exc:  # answer every request: a silent end hangs the caller
                logging.getLogger(__name__).warning("bench server: %s failed: %r", req["op"], exc)
                reply = {"error": repr(exc)}
            if reply.get("quit"):
                writer.write(b"{}\n")
                await writer.drain()
                done.set()
                break
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        writer.close()

    async def answer(req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]
        reply: dict[str, Any]
        if op == "negotiate":
            started = time.perf_counter()
            if mode == "reencode":
                sdp = await engine.negotiate(req["session"], req["sdp"], req.get("publish"))
            else:
                sdp = await engine.negotiate(
                    req["session"],
                    req["sdp"],
                    publish=req.get("publish"),
                    channel=req.get("channel"),
                    listen_to_floor_video=bool(req.get("video", False)),
                )
            reply = {"sdp": sdp, "seconds": time.perf_counter() - started}
        elif op == "stats":
            if mode == "reencode":
                summary = engine.stats()
            else:
                st = engine.stats()
                summary = {
                    "gc": gc_pauses.read(),
                    "loop": loop_wakeups.read(),
                    "receive_batches": dict(batch_counts),
                    "sessions": st.sessions,
                    "drops": st.drops,
                    "frames_in": st.frames_in,
                    "frames_out": st.frames_out,
                    "late_drops": sum(x.late_drops for x in st.sources.values()),
                }
            from simultan.media import stunpath

            summary["stun"] = dict(stunpath.STATS)
            reply = {"cpu": time.process_time(), "rss": rss_bytes(), **summary}
        elif op == "rooms":  # {"rooms": {id: [member keys]}, "place": {session: id}}
            from simultan.media.plane import RoomMedia

            layer = req.get("layer", "groups")
            rooms = {k: RoomMedia(members=tuple(v)) for k, v in req["rooms"].items()}
            engine.set_rooms(rooms, layer)
            for session_id, room in req["place"].items():
                engine.place(session_id, room, layer)
            reply = {"rooms": len(rooms)}
        elif op == "cpuprof":  # {"action": "start"} / {"action": "stop", "path": ...}
            if req["action"] == "start":
                cpu_profiler.start()
                reply = {"started": True}
            else:
                reply = {"samples": cpu_profiler.stop(req["path"])}
        elif op == "gc_full":  # one full collection now: how long the loop would stall
            import gc

            started = time.perf_counter()
            gc.collect()
            ms = 1000 * (time.perf_counter() - started)
            reply = {"full_ms": round(ms, 1), "tracked": len(gc.get_objects()),
                     "frozen": gc.get_freeze_count()}  # fmt: skip
        elif op == "quit":
            reply = {"quit": True}
        else:
            reply = {"error": f"unknown op {op}"}
        return reply

    server = await asyncio.start_unix_server(handle, path=path, limit=1 << 22)
    print("ready", flush=True)
    await done.wait()
    server.close()
    await engine.close()


class CpuProfiler:
    """cProfile of the server during the measured windows (deterministic: every Python call
    timed, so it inflates Python against C; use it for where, not how much). Sampling
    profilers mislead here: py-spy samples wall time (it also counts the loopback delivery
    the kernel charges to softirq, not to the process), and ``ITIMER_PROF`` is checked on
    timer ticks, which a process busy a few % of the time rarely holds. Written as pstats."""

    def __init__(self) -> None:
        self.profile: Any = None

    def start(self) -> None:
        import cProfile

        self.profile = cProfile.Profile()
        self.profile.enable()

    def stop(self, path: str) -> int:
        if self.profile is None:
            return 0
        self.profile.disable()
        self.profile.dump_stats(path)
        self.profile = None
        return 1


cpu_profiler = CpuProfiler()


class GcPauses:
    """The cyclic garbage collector's pauses in this process (``gc.callbacks``): count and
    longest pause per generation, reset at each read."""

    def __init__(self) -> None:
        import gc

        self._started = 0.0
        self.reset()
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.count = [0, 0, 0]
        self.longest_ms = [0.0, 0.0, 0.0]
        self.total_ms = [0.0, 0.0, 0.0]

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        ms = 1000 * (time.perf_counter() - self._started)
        self.count[generation] += 1
        self.total_ms[generation] += ms
        self.longest_ms[generation] = max(self.longest_ms[generation], ms)

    def read(self) -> dict[str, list[float]]:
        out = {
            "count": list(self.count),
            "longest_ms": [round(x, 1) for x in self.longest_ms],
            "total_ms": [round(x, 1) for x in self.total_ms],
        }
        self.reset()
        return out


gc_pauses = GcPauses()


class LoopWakeups:
    """Turns of the event loop and the callbacks they ran, by name (``SIMULTAN_BENCH_COUNT_LOOP``;
    reset at each read)."""

    def __init__(self) -> None:
        import collections

        self.turns = 0
        self.callbacks: collections.Counter[str] = collections.Counter()

    def install(self) -> None:
        import asyncio.base_events
        import asyncio.events

        run_once = asyncio.base_events.BaseEventLoop._run_once
        handle_run = asyncio.events.Handle._run
        counts = self

        def counting_run_once(loop: Any) -> None:
            counts.turns += 1
            run_once(loop)

        def counting_run(handle: Any) -> None:
            cb = handle._callback
            name = getattr(cb, "__qualname__", None) or type(cb).__name__
            counts.callbacks[name] += 1
            handle_run(handle)

        asyncio.base_events.BaseEventLoop._run_once = counting_run_once  # type: ignore[method-assign]
        asyncio.events.Handle._run = counting_run  # type: ignore[method-assign]

    def read(self) -> dict[str, Any]:
        out = {"turns": self.turns, "top": self.callbacks.most_common(12)}
        self.turns = 0
        self.callbacks.clear()
        return out


loop_wakeups = LoopWakeups()

# Datagrams per readiness wakeup with SIMULTAN_BENCH_BATCH_RX (the batching experiment).
batch_counts = {"wakeups": 0, "datagrams": 0}


def install_batched_reads(most: int) -> None:
    """Receive batching as the server has it (media/batchread.py), with ``most`` datagrams
    per wakeup at most (1: asyncio's own reads), counting wakeups and datagrams. Applies to
    transports made afterwards."""
    from simultan.media import batchread

    batchread.MOST = most
    cls: Any = batchread._Transport
    read = batchread._read_ready

    def read_ready(self: Any) -> None:
        batch_counts["wakeups"] += 1
        protocol = self._protocol
        if not getattr(protocol, "_counted", False):
            inner = protocol.datagram_received

            def counted(data: bytes, addr: Any) -> None:
                batch_counts["datagrams"] += 1
                inner(data, addr)

            protocol.datagram_received = counted
            protocol._counted = True
        read(self)

    cls._read_ready = read_ready


class ServerProcess:
    """Starts the media server in its own process and talks to it."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.path = f"/tmp/simultan-media-bench-{os.getpid()}.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        Path(self.path).unlink(missing_ok=True)
        env = dict(os.environ, PYTHONPATH=str(ROOT / "server"))
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", self.path, self.mode],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        line = await loop.run_in_executor(None, self.proc.stdout.readline)
        if line.strip() != b"ready":
            raise RuntimeError(f"media server did not start: {line!r}")
        self._reader, self._writer = await asyncio.open_unix_connection(self.path, limit=1 << 22)

    async def attach(self, path: str) -> None:
        """Talk to a server another process started."""
        self.path = path
        self._reader, self._writer = await asyncio.open_unix_connection(path, limit=1 << 22)

    async def call(self, **req: Any) -> dict[str, Any]:
        """One request, one reply. A caller cancelled meanwhile (a timeout) does not cut the
        exchange short: its reply left unread would be the next caller's (every later tab
        would get another tab's answer). A request the server could not answer raises."""
        reply = await asyncio.shield(self._exchange(req))
        if "error" in reply:
            raise RuntimeError(f"bench server: {req.get('op')}: {reply['error']}")
        return reply

    async def _exchange(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self._reader is not None and self._writer is not None
        async with self._lock:
            self._writer.write(json.dumps(req).encode() + b"\n")
            await self._writer.drain()
            line = await self._reader.readline()
        if not line:
            raise RuntimeError("bench server closed the control socket")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.call(op="quit"), 10)
        except Exception:  # best effort: the process is killed below anyway
            pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        Path(self.path).unlink(missing_ok=True)


# -- bench clients --------------------------------------------------------------------------


@dataclass
class RtpCounter:
    """What one listener's receiver got: sequence numbers and arrival times."""

    packets: int = 0
    first_seq: int | None = None
    highest: int = 0  # unwrapped sequence number
    ts_highest: int = 0  # unwrapped RTP timestamp
    first_at: float | None = None
    on_packet: Callable[[Any, float], None] | None = None
    arrivals: list[float] = field(default_factory=list)

    def add(self, packet: Any, now: float) -> None:
        seq = packet.sequence_number
        if self.first_seq is None:
            self.first_seq = seq
            self.highest = seq
            self.ts_highest = packet.timestamp
            self.first_at = now
        else:
            # unwrap around the highest seen
            delta = (seq - self.highest) & 0xFFFF
            if delta < 0x8000:
                self.highest += delta
            ts_delta = (packet.timestamp - self.ts_highest) & 0xFFFFFFFF
            if ts_delta < 0x80000000:
                self.ts_highest += ts_delta
        self.packets += 1
        if self.on_packet is not None:
            self.on_packet(packet, now)

    @property
    def expected(self) -> int:
        return 0 if self.first_seq is None else self.highest - self.first_seq + 1


_original_handle = RTCRtpReceiver._handle_rtp_packet


async def _counting_handle(self: RTCRtpReceiver, packet: Any, arrival_time_ms: int) -> None:
    counter = getattr(self, "_bench_counter", None)
    if counter is None:
        await _original_handle(self, packet, arrival_time_ms)
    else:
        counter.add(packet, time.perf_counter())


def install_counting_receivers() -> None:
    """Bench listeners count RTP packets instead of decoding them (cheap load generator)."""
    RTCRtpReceiver._handle_rtp_packet = _counting_handle  # type: ignore[method-assign]


class BenchListener:
    """A listener tab: two audio m-lines (program, channel); counts the channel's packets."""

    def __init__(self, server: ServerProcess, session: str) -> None:
        self.server = server
        self.session = session
        self.pc = RTCPeerConnection(CONFIG)
        self.pc.addTransceiver("audio", direction="recvonly")
        self.channel_t = self.pc.addTransceiver("audio", direction="recvonly")
        self.counter = RtpCounter()
        self.channel_t.receiver._bench_counter = self.counter  # type: ignore[attr-defined]
        self.started_at = 0.0
        self.negotiate_seconds = 0.0

    async def connect(self) -> None:
        self.started_at = time.perf_counter()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.server.call(
            op="negotiate", session=self.session, sdp=self.pc.localDescription.sdp, channel=CHANNEL
        )
        self.negotiate_seconds = reply["seconds"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    @property
    def join_seconds(self) -> float | None:
        if self.counter.first_at is None:
            return None
        return self.counter.first_at - self.started_at

    async def close(self) -> None:
        await self.pc.close()


class BenchPublisher:
    """The interpreter: one audio m-line sending pre-encoded Opus (no encoder in the client)."""

    def __init__(self, server: ServerProcess, track: Any) -> None:
        self.server = server
        self.pc = RTCPeerConnection(CONFIG)
        self.pc.addTransceiver(track, direction="sendonly")

    async def connect(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.server.call(
            op="negotiate", session="publisher", sdp=self.pc.localDescription.sdp, publish=SOURCE
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    async def close(self) -> None:
        await self.pc.close()


def stop_processes(procs: list[subprocess.Popen[Any]], timeout: float = 60) -> None:
    """End client processes that read their orders on stdin: close it, wait, kill late ones."""
    for proc in procs:
        if proc.stdin is not None:
            proc.stdin.close()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def _load(path: str, count: int) -> None:
    """Background listeners in their own process, so they do not skew the measuring one."""
    ice.use_host_addresses(["127.0.0.1"])
    install_counting_receivers()
    server = ServerProcess("attached")
    await server.attach(path)
    tabs = [BenchListener(server, f"bg-{os.getpid()}-{i}") for i in range(count)]
    for i in range(0, count, 10):
        await asyncio.gather(*(t.connect() for t in tabs[i : i + 10]))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(t.counter.packets for t in tabs):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    print("ready", sum(1 for t in tabs if t.counter.packets), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)


class LoadProcess:
    """N background listeners in a separate process."""

    def __init__(self, server: ServerProcess, count: int) -> None:
        self.server = server
        self.count = count
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> int:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "server"))
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "load", self.server.path, str(self.count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        line = await loop.run_in_executor(None, self.proc.stdout.readline)
        parts = line.split()
        if not parts or parts[0] != b"ready":
            raise RuntimeError(f"load process did not start: {line!r}")
        return int(parts[1])

    def stop(self) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "serve":
    asyncio.run(_serve(sys.argv[2], sys.argv[3]))
elif __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "load":
    asyncio.run(_load(sys.argv[2], int(sys.argv[3])))
