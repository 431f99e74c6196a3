"""A listener's tab in another network namespace (run as a subprocess by test_turn.py and
test_weak_link.py; the test does the signaling over /ws).

Reads JSON lines on stdin: {"ice_servers": [...]} then {"answer": sdp}. Writes JSON lines:
{"offer": sdp, "candidates": [types]}, then about every second {"hz": dominant frequency of
the channel audio, "frames": audio frames received, "lost": audio frames missing (gaps in
their timestamps), "rtp_lost": the channel's RTP packets that never arrived (sequence gaps,
aiortc's inbound-rtp packetsLost: what the link lost, apart from what this process dropped
itself), "video": video frames received} (aiortc decodes here: no pass-through in this
process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time

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
    counts = {"frames": 0, "lost": 0, "video": 0}

    async def count_video() -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await video.receiver.track.recv()
                counts["video"] += 1

    video_task = asyncio.ensure_future(count_video())
    track = channel.receiver.track
    buffer: list[np.ndarray] = []
    last_pts: int | None = None
    try:
        while True:
            frame = await track.recv()
            counts["frames"] += 1
            if last_pts is not None and frame.pts is not None and frame.pts > last_pts:
                counts["lost"] += max(0, round((frame.pts - last_pts) / frame.samples) - 1)
            last_pts = frame.pts
            samples = frame.to_ndarray().astype(np.float32).reshape(-1, len(frame.layout.channels))
            buffer.append(samples[:, 0])
            if sum(b.size for b in buffer) >= 48000:
                stats = await channel.receiver.getStats()
                rtp_lost = sum(
                    getattr(s, "packetsLost", 0) for s in stats.values() if s.type == "inbound-rtp"
                )
                say(
                    hz=dominant(np.concatenate(buffer)[-24000:]),
                    t=time.monotonic(),
                    rtp_lost=rtp_lost,
                    **counts,
                )
                buffer.clear()
    except MediaStreamError:
        pass
    finally:
        video_task.cancel()
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
