"""A listener's tab in another network namespace (run as a subprocess by test_turn.py and
test_weak_link.py; the test does the signaling over /ws).

Reads JSON lines on stdin: {"ice_servers": [...]} then {"answer": sdp}. Writes JSON lines:
{"offer": sdp, "candidates": [types]}, then about every second {"hz": dominant frequency of
the last 0.5 s of the channel audio decoded, "t": when (CLOCK_MONOTONIC, as the test's),
"frames": audio frames received, "lost": audio frames missing (gaps in
their timestamps), "rtp_lost": the channel's RTP packets that never arrived (sequence gaps,
aiortc's inbound-rtp packetsLost: what the link lost, apart from what this process dropped
itself), "video": video frames received} (aiortc decodes here: no pass-through in this
process), and what reached this process's socket before any jitter buffer or decode (SRTP
checked; each packet counted as aiortc's DTLS transport hands it on): "arrived": channel
audio packets, "arrived_lost": audio frames missing between them (timestamp gaps, 960 ticks
a frame), "video_arrived": video frames (distinct RTP timestamps), "keyframes": VP8
keyframes among them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import sys
import time
from typing import Any

import numpy as np
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError


def say(**message: object) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def read_line() -> dict[str, object]:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return dict(json.loads(line))


_SSRC = re.compile(r"^a=ssrc:(\d+) ", re.M)


def ssrcs_by_mline(sdp: str) -> list[int | None]:
    """The first (media, not RTX) SSRC the answer announces in each m-section."""
    out: list[int | None] = []
    for section in sdp.replace("\r\n", "\n").split("\nm=")[1:]:
        found = _SSRC.search(section)
        out.append(int(found.group(1)) if found else None)
    return out


def vp8_keyframe_start(payload: bytes) -> bool:
    """True if an RTP VP8 payload (RFC 7741) is the first packet of a keyframe."""
    if len(payload) < 2:
        return False
    b0 = payload[0]
    if not b0 & 0x10 or b0 & 0x07:  # S bit, partition 0
        return False
    i = 1
    if b0 & 0x80:  # X: extension byte
        x = payload[1]
        i = 2
        if x & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= i:
                return False
            i += 2 if payload[i] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            i += 1
        if x & 0x30:  # T or K: TID/KEYIDX
            i += 1
    return len(payload) > i and not payload[i] & 0x01


class Arrivals:
    """Counts RTP as it reaches this process, before aiortc's jitter buffers and decoders:
    the channel audio's packets and the frames missing between their timestamps, and the
    video's frames and keyframes."""

    def __init__(self, audio_ssrc: int | None, video_ssrc: int | None) -> None:
        self.audio_ssrc, self.video_ssrc = audio_ssrc, video_ssrc
        self.audio = 0
        self.audio_lost = 0
        self.video = 0
        self.keyframes = 0
        self._audio_ts: int | None = None
        self._video_ts: int | None = None

    def add(self, data: bytes) -> None:
        if len(data) < 12:
            return
        ssrc = int.from_bytes(data[8:12], "big")
        ts = int.from_bytes(data[4:8], "big")
        if ssrc == self.audio_ssrc:
            self.audio += 1
            if self._audio_ts is not None:
                step = (ts - self._audio_ts) & 0xFFFFFFFF
                if 0 < step < 0x80000000:  # a later frame (an earlier one is late, not lost)
                    self.audio_lost += max(0, round(step / 960) - 1)
                    self._audio_ts = ts
            else:
                self._audio_ts = ts
        elif ssrc == self.video_ssrc:
            if ts != self._video_ts:
                self.video += 1
                self._video_ts = ts
            header = 12 + 4 * (data[0] & 0x0F)
            if data[0] & 0x10 and len(data) >= header + 4:
                header += 4 + 4 * int.from_bytes(data[header + 2 : header + 4], "big")
            if vp8_keyframe_start(data[header:]):
                self.keyframes += 1

    def watch(self, transport: Any) -> None:
        """Count every RTP packet the DTLS transport unprotects, then hand it on."""
        handle = transport._handle_rtp_data

        async def counted(data: bytes, arrival_time_ms: int) -> None:
            self.add(data)
            await handle(data, arrival_time_ms)

        transport._handle_rtp_data = counted


def dominant(samples: np.ndarray, rate: int = 48000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


async def main() -> None:
    config = await read_line()
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in config["ice_servers"]  # type: ignore[union-attr]
    ]
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )
    video = pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    channel = pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    kinds = sorted(
        {line.split(" typ ")[1].split()[0] for line in sdp.splitlines() if " typ " in line}
    )
    say(offer=sdp, candidates=kinds)
    answer = await read_line()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=str(answer["answer"]), type="answer"))
    ssrcs = ssrcs_by_mline(str(answer["answer"]))
    arrivals = Arrivals(ssrcs[2] if len(ssrcs) > 2 else None, ssrcs[0] if ssrcs else None)
    arrivals.watch(channel.receiver.transport)
    counts = {"frames": 0, "lost": 0, "video": 0}

    async def count_video() -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await video.receiver.track.recv()
                counts["video"] += 1

    video_task = asyncio.ensure_future(count_video())
    track = channel.receiver.track
    recent: collections.deque[np.ndarray] = collections.deque(maxlen=25)  # 0.5 s of audio

    async def report() -> None:
        """Every second by the clock (not by what was decoded: a stalled decoder still
        reports what arrived)."""
        while True:
            await asyncio.sleep(1.0)
            stats = await channel.receiver.getStats()
            rtp_lost = sum(
                getattr(s, "packetsLost", 0) for s in stats.values() if s.type == "inbound-rtp"
            )
            say(
                hz=dominant(np.concatenate(list(recent))) if recent else 0.0,
                t=time.monotonic(),
                rtp_lost=rtp_lost,
                arrived=arrivals.audio,
                arrived_lost=arrivals.audio_lost,
                video_arrived=arrivals.video,
                keyframes=arrivals.keyframes,
                **counts,
            )

    report_task: asyncio.Future[None] | None = None
    last_pts: int | None = None
    try:
        while True:
            frame = await track.recv()
            if report_task is None:  # reports begin once the sound does
                report_task = asyncio.ensure_future(report())
            counts["frames"] += 1
            if last_pts is not None and frame.pts is not None and frame.pts > last_pts:
                counts["lost"] += max(0, round((frame.pts - last_pts) / frame.samples) - 1)
            last_pts = frame.pts
            samples = frame.to_ndarray().astype(np.float32).reshape(-1, len(frame.layout.channels))
            recent.append(samples[:, 0])
    except MediaStreamError:
        pass
    finally:
        if report_task is not None:
            report_task.cancel()
        video_task.cancel()
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
