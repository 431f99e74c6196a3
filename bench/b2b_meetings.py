"""B2B day at scale: M parallel meetings of two companies, each publishing audio and video.

The server (the embedded SFU) runs in its own process; its CPU is ``time.process_time`` of
that process. Here, 2*M company tabs each publish Opus (a tone, encoded here) and VP8
(pre-encoded 640x360 at 15 fps, ~300 kb/s, no encoder while measuring) and receive the other
company's audio and video on their member slots; the meetings are rooms in the SFU's ``b2b``
layer. After a warm-up, one window of ``--seconds`` is measured.

Figures: audio frames and video packets lost (sequence gaps at each receiver), server CPU
(cores) and per forwarded packet, server RSS.

    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/b2b_meetings.py --meetings 30'
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from fwd_scale import ReplayVideo
from media_common import CONFIG, RtpCounter, ServerProcess, install_counting_receivers
from media_latency import NoisyTone
from simultan.media import ice
from simultan.media.encode import EncodedTrack


def shared_video(proto: ReplayVideo) -> ReplayVideo:
    """Another track replaying ``proto``'s encoded frames (encoding them once is enough)."""
    track = ReplayVideo.__new__(ReplayVideo)
    MediaStreamTrack.__init__(track)
    track.fps, track.frames, track.n, track.start = proto.fps, proto.frames, 0, None
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


async def run(meetings: int, seconds: float, warmup: float) -> dict[str, Any]:
    ice.use_host_addresses(["127.0.0.1"])
    install_counting_receivers()
    server = ServerProcess("forward")
    await server.start()
    proto = ReplayVideo(fps=15, seconds=4, bitrate=300_000)
    tabs = [
        Company(server, f"m{i}-{side}", proto if i == 0 and side == "a" else shared_video(proto))
        for i in range(meetings)
        for side in "ab"
    ]
    try:
        for i in range(0, len(tabs), 10):
            await asyncio.gather(*(t.connect() for t in tabs[i : i + 10]))
        rooms = {f"b2b:m{i}": [f"member:m{i}-a", f"member:m{i}-b"] for i in range(meetings)}
        place = {t.name: f"b2b:{t.name.split('-')[0]}" for t in tabs}
        await server.call(op="rooms", rooms=rooms, place=place, layer="b2b")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(  # noqa: ASYNC110
            t.audio.packets and t.video.packets for t in tabs
        ):
            await asyncio.sleep(0.2)
        hearing = sum(1 for t in tabs if t.audio.packets and t.video.packets)
        await asyncio.sleep(warmup)
        before = [t.snapshot() for t in tabs]
        s0 = await server.call(op="stats")
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        s1 = await server.call(op="stats")
        wall = time.monotonic() - t0
        after = [t.snapshot() for t in tabs]
        states = [t.pc.connectionState for t in tabs]
    finally:
        await asyncio.gather(*(t.pc.close() for t in tabs), return_exceptions=True)
        await server.stop()
    got_a = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    exp_a = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    got_v = sum(a[2] - b[2] for a, b in zip(after, before, strict=True))
    exp_v = sum(a[3] - b[3] for a, b in zip(after, before, strict=True))
    cpu = s1["cpu"] - s0["cpu"]
    forwarded = got_a + got_v
    return {
        "meetings": meetings,
        "tabs hearing and seeing": f"{hearing}/{len(tabs)}",
        "tabs connected at the end": f"{states.count('connected')}/{len(tabs)}",
        "audio frames received": got_a,
        "audio frames lost": f"{exp_a - got_a} ({100 * (exp_a - got_a) / max(exp_a, 1):.2f} %)",
        "audio frames/s per tab": round(got_a / wall / len(tabs), 1),
        "video packets lost": f"{exp_v - got_v} ({100 * (exp_v - got_v) / max(exp_v, 1):.2f} %)",
        "video packets/s per tab": round(got_v / wall / len(tabs), 1),
        "server CPU (cores)": round(cpu / wall, 2),
        "server CPU per forwarded packet (µs)": round(1e6 * cpu / max(forwarded, 1), 1),
        "server RSS (MB)": round(s1["rss"] / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meetings", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    args = parser.parse_args()
    for key, value in asyncio.run(run(args.meetings, args.seconds, args.warmup)).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
