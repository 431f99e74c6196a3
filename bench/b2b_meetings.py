"""B2B day at scale: M parallel meetings of two companies, each publishing audio and video.

The server (the embedded SFU) runs in its own process; its CPU is ``time.process_time`` of
that process. The 2*M company tabs run in client processes of their own (``--per-process``
meetings each, both companies of a meeting in the same one), niced below the server and
attached to the server's control socket. The load generator stays cheap:

- each tab publishes a looped Opus tone encoded once per process (``LoopedTone``: the sender
  only packetizes) and a looped VP8 clip encoded once in the main process (640x360, 15 fps,
  ~300 kb/s, keyframe every 4 s);
- each tab receives the other company's audio and video on its member slots, and once DTLS
  is up its RTP never goes past the socket (as in :mod:`light_listener`): the UDP protocol
  counts each packet from its RTP header (SSRC, sequence number, timestamp).

The meetings are rooms in the SFU's ``b2b`` layer. After a warm-up, one window of
``--seconds`` is measured.

Figures: audio and video frames lost, counted two ways: against what the other company's
tab sent in the window (both companies of a meeting are in one process: this counts a
stream that stopped altogether), and from the RTP timestamps of what arrived (a frame is
960 ticks of audio, 6000 of video at 15 fps: a frame the SFU dropped counts as well as one
lost on the wire); video packets lost (sequence gaps); the SFU's own drops (audio late
drops, queue drops); server CPU (cores) and per forwarded packet; server RSS.

    unshare -n sh -c 'ip link set lo up && nice .venv/bin/python bench/b2b_meetings.py --meetings 30'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.media.tones

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamTrack  # noqa: E402
from tests.media.tones import LoopedTone  # noqa: E402

from fwd_scale import ReplayVideo, start_profiler  # noqa: E402
from light_listener import tolerate_consent_failures  # noqa: E402
from media_common import CONFIG, ServerProcess, machine_busy_seconds, stop_processes  # noqa: E402
from simultan.media import ice  # noqa: E402

HERE = Path(__file__).resolve().parent
FPS = 15
AUDIO_TICKS = 960  # one 20 ms Opus frame at 48 kHz
VIDEO_TICKS = 90000 // FPS
CLIENT_NICE = 10  # the client processes run this much nicer than the server
MEMBER_AUDIO, MEMBER_VIDEO = 3, 4  # m-line indexes: video, program, channel, member a/v
_SSRC = re.compile(r"^a=ssrc:(\d+) ", re.M)


def replay(frames: list[tuple[bytes, bool]], fps: int) -> ReplayVideo:
    """A track replaying encoded ``frames`` (encoded once, in the main process)."""
    track = ReplayVideo.__new__(ReplayVideo)
    MediaStreamTrack.__init__(track)
    track.fps, track.frames, track.n, track.start = fps, frames, 0, None
    return track


class Count:
    """One received stream: packets, and how far its sequence numbers and timestamps went
    (relative to its first packet, unwrapped), and the video frames (distinct timestamps)."""

    __slots__ = ("frames", "late", "packets", "seq", "seq0", "ts", "ts0")

    def __init__(self) -> None:
        self.packets = self.frames = self.late = 0
        self.seq0: int | None = None
        self.seq = self.ts = self.ts0 = 0

    def add(self, seq: int, ts: int) -> None:
        if self.seq0 is None:
            self.seq0, self.ts0 = seq, ts
            self.seq = self.ts = 0
            self.packets = self.frames = 1
            return
        self.packets += 1
        delta = (seq - self.seq0 - self.seq) & 0xFFFF
        if delta < 0x8000:
            self.seq += delta
        if delta == 0 or delta >= 0x8000:
            self.late += 1  # a duplicate or out of order
        ts_delta = (ts - self.ts0 - self.ts) & 0xFFFFFFFF
        if 0 < ts_delta < 0x80000000:
            self.ts += ts_delta
            self.frames += 1

    def snapshot(self) -> tuple[int, int, int, int]:
        """(packets, packets expected, frames, ticks spanned)."""
        return self.packets, (0 if self.seq0 is None else self.seq + 1), self.frames, self.ts


class Company:
    """One company's tab: publishes audio + video, counts the other company's on slots."""

    def __init__(self, server: ServerProcess, name: str, audio: LoopedTone, video: ReplayVideo):
        self.server, self.name = server, name
        self.pc = RTCPeerConnection(CONFIG)
        self.pc.addTransceiver(video, direction="sendrecv")  # floor video m-line: publishes
        self.pc.addTransceiver(audio, direction="sendrecv")  # program m-line: publishes
        self.pc.addTransceiver("audio", direction="recvonly")  # channel
        self.pc.addTransceiver("audio", direction="recvonly")  # member audio 0
        self.pc.addTransceiver("video", direction="recvonly")  # member video 0
        self.audio, self.video = Count(), Count()
        self.streams: dict[int, Count] = {}
        self.other = 0  # RTP on other SSRCs (RTX, the plenary slots): not counted
        self.installed = False

    async def connect(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.server.call(
            op="negotiate", session=self.name, sdp=self.pc.localDescription.sdp,
            publish=f"member:{self.name}", channel="en",
        )  # fmt: skip
        sections = reply["sdp"].replace("\r\n", "\n").split("\nm=")[1:]
        for index, count in ((MEMBER_AUDIO, self.audio), (MEMBER_VIDEO, self.video)):
            found = _SSRC.search(sections[index])  # the first: media, not RTX
            if found is not None:
                self.streams[int(found.group(1))] = count
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    def install(self) -> bool:
        """Once DTLS is up: count RTP at the socket. False while not connected yet."""
        if self.installed:
            return True
        transport: Any = self.pc.getTransceivers()[0].receiver.transport
        if transport.state != "connected" or transport._rx_srtp is None:
            return False
        pair = transport.transport._connection._nominated.get(1)
        if pair is None:
            return False
        protocol = pair.protocol
        original = protocol.datagram_received
        streams = self.streams

        def datagram_received(data: bytes, addr: tuple[str, int]) -> None:
            # RTP (not RTCP: payload types 192-223 with the marker bit) stops here.
            if len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
                count = streams.get(int.from_bytes(data[8:12], "big"))
                if count is None:
                    self.other += 1
                else:
                    count.add(int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:8], "big"))
                return
            original(data, addr)  # STUN (consent), DTLS, RTCP: aiortc's path

        protocol.datagram_received = datagram_received
        self.installed = True
        return True


def progress(text: str) -> None:
    if os.environ.get("B2B_BENCH_DEBUG"):
        print(f"{time.monotonic():.1f} {text}", file=sys.stderr, flush=True)


async def _clients(path: str, first: int, count: int, video: str) -> None:
    """A client process: meetings ``first`` .. ``first + count - 1``, both companies each.
    Prints ``ready N K`` once its tabs are negotiated (N) and have DTLS up (K), then one JSON
    line of totals per stdin line, until stdin closes."""
    ice.use_host_addresses(["127.0.0.1"])
    tolerate_consent_failures()
    server = ServerProcess("attached")
    await server.attach(path)
    frames = pickle.loads(Path(video).read_bytes())
    tabs = [
        Company(server, f"m{i}-{side}", LoopedTone(300.0 + 20 * (i % 20) + (side == "b") * 10),
                replay(frames, FPS))
        for i in range(first, first + count)
        for side in "ab"
    ]  # fmt: skip
    negotiated = 0
    for i in range(0, len(tabs), 4):
        # No timeout around a call: cancelling one mid-reply would leave its answer on the
        # socket for the next call to read (every later tab would get another's answer).
        done = await asyncio.gather(*(t.connect() for t in tabs[i : i + 4]), return_exceptions=True)
        for tab, d in zip(tabs[i : i + 4], done, strict=True):
            if isinstance(d, BaseException):
                progress(f"{tab.name}: negotiation failed: {d!r}")
            else:
                negotiated += 1
        progress(f"clients {first}: {negotiated} of {min(i + 4, len(tabs))} tabs negotiated")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all([t.install() for t in tabs]):  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    print("ready", negotiated, sum(1 for t in tabs if t.installed), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        for t in tabs:
            t.install()
        a = [t.audio.snapshot() for t in tabs]
        v = [t.video.snapshot() for t in tabs]
        print(json.dumps({
            "audio_packets": sum(x[0] for x in a),
            "audio_ticks": sum(x[3] for x in a),
            "video_packets": sum(x[0] for x in v),
            "video_expected": sum(x[1] for x in v),
            "video_frames": sum(x[2] for x in v),
            "video_ticks": sum(x[3] for x in v),
            "audio_sent": sum(t.pc.getTransceivers()[1].sender.track.sent for t in tabs),
            "video_sent": sum(t.pc.getTransceivers()[0].sender.track.n for t in tabs),
            "hearing": sum(1 for t in tabs if t.audio.packets and t.video.packets),
            "connected": sum(1 for t in tabs if t.pc.connectionState == "connected"),
            "other": sum(t.other for t in tabs),
            "audio_late": sum(t.audio.late for t in tabs),
            "video_late": sum(t.video.late for t in tabs),
            "cpu": time.process_time(),
        }), flush=True)  # fmt: skip
    await asyncio.gather(*(t.pc.close() for t in tabs), return_exceptions=True)


class Clients:
    """The client processes, started one after the other (joining is the heavy part)."""

    def __init__(self, server: ServerProcess, meetings: int, per_process: int) -> None:
        self.server, self.meetings, self.per_process = server, meetings, per_process
        self.procs: list[subprocess.Popen[str]] = []
        self.negotiated = self.connected = 0
        self.video = Path(f"/tmp/simultan-b2b-bench-{os.getpid()}.video")

    async def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=f"{ROOT / 'server'}:{HERE}")
        loop = asyncio.get_running_loop()
        proto = ReplayVideo(fps=FPS, seconds=4, bitrate=300_000)
        self.video.write_bytes(pickle.dumps(proto.frames))
        for first in range(0, self.meetings, self.per_process):
            count = min(self.per_process, self.meetings - first)
            proc = subprocess.Popen(
                ["nice", "-n", str(CLIENT_NICE), sys.executable, __file__, "clients",
                 self.server.path, str(first), str(count), str(self.video)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            )  # fmt: skip
            self.procs.append(proc)
            assert proc.stdout is not None
            line = await loop.run_in_executor(None, proc.stdout.readline)
            parts = line.split()
            if len(parts) != 3 or parts[0] != "ready":
                raise RuntimeError(f"client process did not start: {line!r}")
            self.negotiated += int(parts[1])
            self.connected += int(parts[2])
            progress(f"client process {len(self.procs)}: {line.strip()}")

    async def totals(self) -> dict[str, float]:
        loop = asyncio.get_running_loop()
        total: dict[str, float] = {}
        for proc in self.procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("snap\n")
            proc.stdin.flush()
            snap = json.loads(await loop.run_in_executor(None, proc.stdout.readline))
            for key, value in snap.items():
                total[key] = total.get(key, 0) + value
        return total

    def stop(self) -> None:
        self.video.unlink(missing_ok=True)
        stop_processes(self.procs)


def _pct(lost: float, expected: float) -> str:
    lost = max(0.0, lost)  # below 0: frames sent before the window, received in it
    return f"{round(lost)} ({100 * lost / max(expected, 1):.2f} %)"


async def run(
    meetings: int, seconds: float, warmup: float, per_process: int, profile: str | None
) -> dict[str, Any]:
    ice.use_host_addresses(["127.0.0.1"])
    server = ServerProcess("forward")
    await server.start()
    clients = Clients(server, meetings, per_process)
    tabs = 2 * meetings
    load_start = os.getloadavg()
    try:
        idle = await server.call(op="stats")
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
        before, s0, b0 = (
            await clients.totals(),
            await server.call(op="stats"),
            machine_busy_seconds(),
        )
        t0 = time.monotonic()
        spy = None
        if profile:
            assert server.proc is not None
            spy = start_profiler(server.proc.pid, seconds, profile)
        await asyncio.sleep(seconds)
        after, s1, b1 = (
            await clients.totals(),
            await server.call(op="stats"),
            machine_busy_seconds(),
        )
        wall = time.monotonic() - t0
        if spy is not None:
            spy.wait(timeout=60)
    finally:
        clients.stop()
        await server.stop()

    def d(key: str) -> float:
        return after[key] - before[key]

    audio_expected = d("audio_ticks") / AUDIO_TICKS
    video_frames_expected = d("video_ticks") / VIDEO_TICKS
    cpu = s1["cpu"] - s0["cpu"]
    forwarded = d("audio_packets") + d("video_packets")
    return {
        "meetings": meetings,
        "client processes": len(clients.procs),
        "tabs negotiated": f"{clients.negotiated}/{tabs}",
        "tabs with DTLS up": f"{clients.connected}/{tabs}",
        "all tabs joined in (s)": round(joined, 1),
        "server sessions at the end": s1["sessions"],
        "tabs hearing and seeing": f"{round(hearing)}/{tabs}",
        "tabs connected at the end": f"{round(after['connected'])}/{tabs}",
        "window (s)": round(wall, 1),
        "audio frames sent": round(d("audio_sent")),
        "audio frames received": round(d("audio_packets")),
        "audio frames lost (of those sent)": _pct(
            d("audio_sent") - d("audio_packets"), d("audio_sent")
        ),
        "audio frames lost (RTP timestamps)": _pct(
            audio_expected - d("audio_packets"), audio_expected
        ),
        "audio frames/s per tab": round(d("audio_packets") / wall / tabs, 1),
        "video frames sent": round(d("video_sent")),
        "video frames lost (of those sent)": _pct(
            d("video_sent") - d("video_frames"), d("video_sent")
        ),
        "video frames lost (RTP timestamps)": _pct(
            video_frames_expected - d("video_frames"), video_frames_expected
        ),
        "video packets lost (sequence gaps)": _pct(
            d("video_expected") - d("video_packets"), d("video_expected")
        ),
        "video packets/s per tab": round(d("video_packets") / wall / tabs, 1),
        "video frames/s per tab": round(d("video_frames") / wall / tabs, 1),
        "duplicate or out-of-order packets (audio, video)": (
            f"{round(d('audio_late'))}, {round(d('video_late'))}"
        ),
        "RTP on other SSRCs": round(d("other")),
        "server audio late drops": s1["late_drops"] - s0["late_drops"],
        "server queue drops": s1["drops"] - s0["drops"],
        "server CPU (cores)": round(cpu / wall, 2),
        "server CPU per forwarded packet (µs)": round(1e6 * cpu / max(forwarded, 1), 1),
        "client CPU (cores, all processes)": round(d("cpu") / wall, 2),
        "machine busy (cores of 2)": round((b1 - b0) / wall, 2),
        "server RSS (MB)": round(s1["rss"] / 2**20, 1),
        "server RSS idle (MB)": round(idle["rss"] / 2**20, 1),
        "load average at start, at end": f"{load_start[0]:.2f}, {os.getloadavg()[0]:.2f}",
    }


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "clients":
        asyncio.run(_clients(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--per-process", type=int, default=5, help="meetings per client process")
    parser.add_argument("--profile", help="py-spy the server during the window (raw stacks)")
    args = parser.parse_args()
    result = asyncio.run(
        run(args.meetings, args.seconds, args.warmup, args.per_process, args.profile)
    )
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
