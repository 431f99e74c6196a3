"""Benchmark: 40 cities in 8 groups of 5, audio and video, through the embedded SFU.

The SFU runs in a process of its own (``rooms_groups.py serve SOCKET``), so its CPU time
and memory are its own; the cities run in ``--procs`` client processes (``rooms_groups.py
cities SOCKET FIRST COUNT SIZE``), each signaling through the server's Unix socket. Every
city publishes a looped, pre-encoded Opus tone and a looped, pre-encoded VP8 clip (nothing
is encoded or decoded while it runs: the load generator stays cheap) and receives the four
other members of its group on four member audio + four member video slots. Prints, over the
measured window: packets each member slot received against what its source sent (frames
lost), the server process's CPU seconds per second and resident memory, and the machine's
load (run it when ``uptime`` shows a load under 2).

    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/rooms_groups.py --seconds 20'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from aiortc import RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402
from tests.media.tones import LoopedTone  # noqa: E402

from simultan.media import ice  # noqa: E402
from simultan.media.encode import EncodedTrack  # noqa: E402
from simultan.media.plane import RoomMedia  # noqa: E402
from simultan.media.rooms import member_key  # noqa: E402
from simultan.media.sfu import EmbeddedSfu  # noqa: E402
from simultan.media.synthetic import TestPatternTrack  # noqa: E402
from simultan.settings import Settings  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from light_listener import (  # noqa: E402
    LightListener,
    StreamCount,
    _ssrcs_by_mline,
    connect_all,
    sum_totals,
    tolerate_consent_failures,
)
from media_common import ServerProcess, machine_busy_seconds  # noqa: E402

VIDEO_FPS = 15
CLIENT_NICE = 5  # the client processes' niceness above the server's


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


# -- the server process -----------------------------------------------------------------------


async def serve(path: str) -> None:
    """The SFU behind a Unix socket: JSON lines ``negotiate``, ``rooms``, ``stats``, ``quit``."""
    sfu = EmbeddedSfu(Settings(ice_host_addresses=("127.0.0.1",)))
    done = asyncio.Event()

    async def answer(req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]
        if op == "negotiate":
            sdp = await sfu.negotiate(
                req["id"],
                req["sdp"],
                publish=req["publish"],
                channel=None,
                listen_to_floor_video=req["floor_video"],
            )
            return {"sdp": sdp}
        if op == "rooms":
            groups = req["groups"]
            sfu.set_rooms(
                {
                    g: RoomMedia(members=tuple(member_key(c) for c in ids))
                    for g, ids in groups.items()
                }
            )
            for g, ids in groups.items():
                for c in ids:
                    sfu.place(c, g)
            return {}
        if op == "stats":
            stats = sfu.stats()
            return {
                "cpu": time.process_time(),
                "rss_mb": rss_mb(),
                "frames_in": sum(x.frames_in for x in stats.sources.values()),
                "frames_out": sum(x.frames_out for x in stats.sources.values()),
                "late_drops": sum(x.late_drops for x in stats.sources.values()),
                "keyframe_requests": sum(x.keyframe_requests for x in stats.sources.values()),
                "drops": stats.drops,
                # by kind: audio queue/wire drops, video drops (the keyframe gate included)
                **{
                    f"drops_{kind}": sum(
                        d.counters.drops
                        for session in sfu._sessions.values()
                        for d in session.down.values()
                        if d.kind == kind
                    )
                    for kind in ("audio", "video")
                },
                "rtp_in": sum(f.counters.rtp_in for f in sfu._board.feeds()),
            }
        done.set()
        return {}

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # (a client still connected at quit is cancelled by asyncio.run: nothing to report)
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            while line := await reader.readline():
                writer.write(json.dumps(await answer(json.loads(line))).encode() + b"\n")
                await writer.drain()

    server = await asyncio.start_unix_server(client, path, limit=1 << 22)
    print("ready", flush=True)
    await done.wait()
    server.close()
    await sfu.close()


class RoomsServer(ServerProcess):
    """The SFU of this bench in its own process (``ServerProcess`` runs media_common's)."""

    def __init__(self) -> None:
        super().__init__("forward")
        self.path = f"/tmp/simultan-rooms-bench-{os.getpid()}.sock"

    async def start(self) -> None:
        Path(self.path).unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", self.path], stdout=subprocess.PIPE
        )
        assert self.proc.stdout is not None
        line = await asyncio.get_running_loop().run_in_executor(None, self.proc.stdout.readline)
        if line.strip() != b"ready":
            raise RuntimeError(f"rooms server did not start: {line!r}")
        await self.attach(self.path)


# -- a process of cities ------------------------------------------------------------------------


class LightCity(LightListener):
    """A city tab as cheap as the plenary bench's listeners, publishing as well.

    M-lines in the order media.js (and ``tests.media.tones.Tab``) uses: video and program
    audio, both sendrecv (the looped clip and tone), channel audio, then ``slots`` member
    audio and ``slots`` member video m-lines, receive-only. Sending is aiortc's sender
    packing pre-encoded frames; once DTLS is up, received RTP never goes past the socket
    (:meth:`LightListener.install`): each packet is counted from its header per m-line
    (packets, sequence and timestamp span, frames as distinct timestamps), nothing is
    decrypted but a sample, nothing decoded.
    """

    def __init__(
        self,
        server: ServerProcess,
        session: str,
        *,
        audio: MediaStreamTrack,
        video: MediaStreamTrack,
        slots: int,
    ) -> None:
        super().__init__(server, session, video=True, channel=None)
        self.pc.addTransceiver(video, direction="sendrecv")
        self.pc.addTransceiver(audio, direction="sendrecv")
        self.pc.addTransceiver("audio", direction="recvonly")
        for kind in ("audio", "video"):
            for _ in range(slots):
                self.pc.addTransceiver(kind, direction="recvonly")
        # stream labels by m-line: totals() sums them as member_audio_packets etc.
        self.kinds = ["floor_video", "program", "channel"]
        self.kinds += ["member_audio"] * slots + ["member_video"] * slots

    def _transceivers(self, kinds: list[str]) -> list[str]:
        return []  # added in __init__, with the published tracks

    async def connect(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.server.call(
            op="negotiate", id=self.session, sdp=self.pc.localDescription.sdp,
            publish=member_key(self.session), floor_video=True,
        )  # fmt: skip
        answer = reply["sdp"]
        for label, ssrc in zip(self.kinds, _ssrcs_by_mline(answer), strict=False):
            if ssrc is not None:
                self.streams[ssrc] = StreamCount(label)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


TICKS_PER_FRAME = {"member_audio": 960, "member_video": 90000 // VIDEO_FPS}


def gaps(tabs: list[LightCity]) -> dict[str, int]:
    """Per member stream kind: streams heard, packets missing from the sequence numbers (lost
    on the wire: the SFU numbers each subscriber's packets itself) and frames expected from
    the RTP timestamps (lost anywhere between the source and the member, the SFU's drops
    included); summed over the streams, each counted from its own first packet."""
    out: dict[str, int] = {}
    for t in tabs:
        for s in t.streams.values():
            ticks = TICKS_PER_FRAME.get(s.kind)
            if ticks is None or s.first_seq is None:
                continue
            out[f"{s.kind}_streams"] = out.get(f"{s.kind}_streams", 0) + 1
            seq_lost = s.highest - s.first_seq + 1 - s.packets
            out[f"{s.kind}_seq_lost"] = out.get(f"{s.kind}_seq_lost", 0) + seq_lost
            expected = (s.ts_highest - s.ts_first) // ticks + 1
            out[f"{s.kind}_ts_frames"] = out.get(f"{s.kind}_ts_frames", 0) + expected
    return out


async def cities(path: str, first: int, count: int, size: int) -> None:
    """``count`` cities from number ``first``; on each stdin line, print their totals."""
    ice.use_host_addresses(["127.0.0.1"])  # loopback only, as the server gathers
    tolerate_consent_failures()  # a starved client process must not drop its peers
    await LoopedVideo.prepare()
    server = ServerProcess("forward")
    await server.attach(path)
    tones = [LoopedTone(300.0 + 10 * (first + i)) for i in range(count)]
    clips = [LoopedVideo() for _ in range(count)]
    tabs = [
        LightCity(server, city_id(first + i), audio=tones[i], video=clips[i], slots=size - 1)
        for i in range(count)
    ]
    installed = await connect_all(tabs, wave=5, timeout=60, media=False)
    print(json.dumps({"connected": installed}), flush=True)
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() != "quit":
        for t in tabs:  # a tab whose DTLS came up late is counted from now on
            if t._srtp is None:
                t.install()
        states: dict[str, int] = {}
        for t in tabs:
            states[t.pc.connectionState] = states.get(t.pc.connectionState, 0) + 1
        totals = {
            **sum_totals(tabs),
            **gaps(tabs),
            "sent_audio": sum(t.sent for t in tones),
            "sent_video": sum(c.sent for c in clips),
            "cpu": time.process_time(),
            "states": states,
        }
        print(json.dumps(totals), flush=True)
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)


def city_id(n: int) -> str:
    return f"c{n:02d}"


class Cities:
    """One client process of the bench."""

    def __init__(self, path: str, first: int, count: int, size: int) -> None:
        # Niced below the server: on a shared machine the load generator yields to what
        # it measures (the server still competes with everything else running).
        self.proc = subprocess.Popen(
            ["nice", "-n", str(CLIENT_NICE), sys.executable, __file__, "cities", path,
             str(first), str(count), str(size)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    async def line(self, send: str | None = None) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if send is not None:
            self.proc.stdin.write(send + "\n")
            self.proc.stdin.flush()
        out = await asyncio.get_running_loop().run_in_executor(None, self.proc.stdout.readline)
        if not out:
            raise RuntimeError("a cities process ended early")
        reply: dict[str, Any] = json.loads(out)
        return reply

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- the bench ----------------------------------------------------------------------------------


async def run(n_cities: int, size: int, seconds: float, procs: int) -> None:
    server = RoomsServer()
    await server.start()
    clients: list[Cities] = []
    try:
        before = await server.call(op="stats")
        per = -(-n_cities // procs)
        clients = [
            Cities(server.path, first, min(per, n_cities - first), size)
            for first in range(0, n_cities, per)
        ]
        for c in clients:
            await c.line()  # connected
        groups = {
            f"g{g}": [city_id(n) for n in range(g * size, (g + 1) * size)]
            for g in range(n_cities // size)
        }
        await server.call(op="rooms", groups=groups)
        await asyncio.sleep(3.0)  # warm-up: ICE, DTLS, first keyframes

        async def totals() -> dict[str, float]:
            out: dict[str, float] = {}
            for c in clients:
                for k, v in (await c.line("report")).items():
                    if k != "states":
                        out[k] = out.get(k, 0) + v
            return out

        t0, s0, busy0 = await totals(), await server.call(op="stats"), machine_busy_seconds()
        wall0 = time.monotonic()
        load0 = os.getloadavg()[0]
        await asyncio.sleep(seconds)
        t1, s1, busy1 = await totals(), await server.call(op="stats"), machine_busy_seconds()
        wall = time.monotonic() - wall0
        states: dict[str, int] = {}
        for c in clients:
            for k, v in (await c.line("report"))["states"].items():
                states[k] = states.get(k, 0) + v
        fanout = size - 1

        def d(key: str) -> int:
            return t1.get(key, 0) - t0.get(key, 0)

        def ds(key: str) -> int:
            return int(s1[key] - s0[key])

        sent_a, sent_v = d("sent_audio"), d("sent_video")
        got_a, got_v = d("member_audio_packets"), d("member_video_frames")
        exp_a, exp_v = sent_a * fanout, sent_v * fanout
        ts_a, ts_v = d("member_audio_ts_frames"), d("member_video_ts_frames")

        def pct(lost: int, of: int) -> str:
            return f"{100 * lost / max(1, of):.2f}%"

        print(f"cities={n_cities} groups={len(groups)} size={size} client processes={len(clients)}")
        print(f"window {wall:.1f} s; load average {load0:.2f} -> {os.getloadavg()[0]:.2f}")
        print(
            f"peer states {states}; member streams heard: audio "
            f"{t1.get('member_audio_streams', 0)}, video {t1.get('member_video_streams', 0)} "
            f"of {n_cities * fanout} each"
        )
        print(
            f"audio: sent {sent_a} frames, expected at members {exp_a}, received {got_a}, "
            f"lost {pct(exp_a - got_a, exp_a)}; from RTP timestamps {pct(ts_a - got_a, ts_a)}, "
            f"sequence gaps {d('member_audio_seq_lost')}"
        )
        print(
            f"video: sent {sent_v} frames, expected at members {exp_v}, received {got_v}, "
            f"lost {pct(exp_v - got_v, exp_v)}; from RTP timestamps {pct(ts_v - got_v, ts_v)}, "
            f"sequence gaps {d('member_video_seq_lost')} ({d('member_video_packets')} packets)"
        )
        print(
            f"server: RTP in {ds('rtp_in')}, forwarded {ds('frames_out')} packets, "
            f"drops audio {ds('drops_audio')} video {ds('drops_video')} (keyframe gate "
            f"included), audio late drops {ds('late_drops')}, keyframe requests "
            f"{ds('keyframe_requests')}"
        )
        print(
            f"server CPU {(s1['cpu'] - s0['cpu']) / wall:.2f} s/s; server RSS {s1['rss_mb']:.0f} MB "
            f"(idle {before['rss_mb']:.0f} MB); clients CPU {d('cpu') / wall:.2f} s/s; "
            f"whole machine busy {(busy1 - busy0) / wall:.2f} s/s of 2; SRTP samples checked "
            f"{d('checked')}, failed {d('check_failed')}"
        )
    finally:
        for c in clients:
            c.stop()
        await server.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        asyncio.run(serve(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "cities":
        path, first, count, size = sys.argv[2], *map(int, sys.argv[3:6])
        asyncio.run(cities(path, first, count, size))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=40)
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    args = parser.parse_args()
    asyncio.run(run(args.cities, args.size, args.seconds, args.procs))


if __name__ == "__main__":
    main()
