"""Shared helpers for media tests and benchmarks: tone tracks, FFT, a loopback "browser tab".

Reuse them from other test packages::

    from tests.media.tones import ToneTrack, Tab, dominant_frequency

Everything runs in one process over 127.0.0.1 (run pytest inside ``unshare -n`` with
``ip link set lo up``). The pass-through hook the SFU installs is process-wide, so a
:class:`Tab`'s remote tracks yield encoded packets too; it decodes audio itself with
:class:`simultan.media.decode.OpusPacketDecoder` and VP8 with PyAV.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from simultan.media.decode import OpusPacketDecoder
from simultan.media.sfu import EmbeddedSfu

RATE = 48000
FRAME = 960
FLOOR_HZ = 440.0
TONES = {"en": FLOOR_HZ, "zh": 523.0, "ja": 659.0, "es": 784.0}


class ToneTrack(MediaStreamTrack):
    """A sine tone as raw 20 ms ``av.AudioFrame``s (numpy), paced in real time."""

    kind = "audio"

    def __init__(self, frequency: float, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self.sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.sent * FRAME / RATE
        if due > now:
            await asyncio.sleep(due - now)
        t = (np.arange(FRAME) + self.sent * FRAME) / RATE
        pcm = (self.amplitude * np.sin(2 * np.pi * self.frequency * t) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.sent * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        self.sent += 1
        return frame


class LoopedTone(MediaStreamTrack):
    """A tone as Opus packets, encoded once (one second, looped) and paced in real time.

    For tests with many publishers on a loaded machine: the sender only packetizes (the SFU's
    pass-through hook takes ``av.Packet``s). Integer frequencies loop without a seam.
    """

    kind = "audio"
    _encoded: dict[float, list[bytes]] = {}

    def __init__(self, frequency: float) -> None:
        super().__init__()
        self.frequency = frequency
        self.sent = 0
        self._start: float | None = None
        self._loop = self._packets(frequency)

    @classmethod
    def _packets(cls, frequency: float) -> list[bytes]:
        if frequency not in cls._encoded:
            codec = av.CodecContext.create("libopus", "w")
            codec.sample_rate = RATE
            codec.layout = "mono"
            codec.format = "s16"
            codec.bit_rate = 64_000
            codec.time_base = fractions.Fraction(1, RATE)
            codec.options = {"application": "audio", "frame_duration": "20"}
            out: list[bytes] = []
            for i in range(60):  # 10 frames of warm-up, then one second
                t = (np.arange(FRAME) + i * FRAME) / RATE
                pcm = (0.3 * np.sin(2 * np.pi * frequency * t) * 32767).astype(np.int16)
                frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
                frame.sample_rate = RATE
                frame.pts = i * FRAME
                frame.time_base = fractions.Fraction(1, RATE)
                out.extend(bytes(p) for p in codec.encode(frame))
            cls._encoded[frequency] = out[-50:]
        return cls._encoded[frequency]

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.sent * FRAME / RATE
        if due > now:
            await asyncio.sleep(due - now)
        packet = av.Packet(self._loop[self.sent % len(self._loop)])
        packet.pts = self.sent * FRAME
        packet.dts = packet.pts
        packet.time_base = fractions.Fraction(1, RATE)
        self.sent += 1
        return packet


def dominant_frequency(samples: np.ndarray, rate: int = RATE) -> float:
    """The strongest frequency in ``samples`` (Hann window, parabolic peak interpolation)."""
    if samples.size < 64:
        return 0.0
    x = samples.astype(np.float64) * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(x))
    spectrum[0] = 0
    k = int(np.argmax(spectrum))
    if 0 < k < spectrum.size - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        k = k + 0.5 * (a - c) / (a - 2 * b + c)  # type: ignore[assignment]
    return float(k * rate / samples.size)


def closest_tone(
    samples: np.ndarray, candidates: Iterable[float], rate: int = RATE
) -> float | None:
    """Which candidate frequency carries the most energy (Goertzel-like), None if silent."""
    if samples.size == 0 or float(np.max(np.abs(samples))) < 0.01:
        return None
    t = np.arange(samples.size) / rate
    best, best_power = None, 0.0
    for f in candidates:
        power = abs(np.dot(samples, np.exp(-2j * np.pi * f * t)))
        if power > best_power:
            best, best_power = f, power
    return best


@dataclass
class Heard:
    """Decoded audio of one received track, as (arrival time, samples) per frame: when the
    frame's packet reached the peer (:func:`stamp_arrivals`), else when it was read."""

    frames: deque[tuple[float, np.ndarray]] = field(default_factory=lambda: deque(maxlen=1500))
    # (arrival, pts) per frame, as in ``frames``: pts is the packet's RTP timestamp.
    timestamps: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=1500))
    packets: int = 0
    # Undecoded packets (arrival, packet), kept instead of ``frames`` by a Tab made with
    # ``decode_audio=False``: decoded only when judged (cheap on a loaded machine).
    raw: deque[tuple[float, av.Packet[Any]]] = field(default_factory=lambda: deque(maxlen=500))
    # When each RTP timestamp's packet reached this peer (see ``stamp_arrivals``), and how
    # many packets never did (gaps in the sequence numbers).
    arrivals: dict[int, float] = field(default_factory=dict)
    lost: int = 0
    _last_sequence: int | None = None

    def arrived(self, sequence_number: int, timestamp: int) -> None:
        now = time.monotonic()
        if self._last_sequence is not None:
            gap = (sequence_number - self._last_sequence) & 0xFFFF
            if 1 < gap < 0x8000:
                self.lost += gap - 1
        self._last_sequence = sequence_number
        self.arrivals.setdefault(timestamp, now)
        if len(self.arrivals) > 3000:
            for stale in list(self.arrivals)[:1500]:
                del self.arrivals[stale]

    def arrival_of(self, timestamp: int) -> float:
        """When the packet of the frame at ``timestamp`` arrived (now if unknown)."""
        return self.arrivals.pop(timestamp, None) or time.monotonic()

    def decoded_since(self, since: float, limit: int = 25) -> np.ndarray:
        """The last ``limit`` raw packets that arrived after ``since``, decoded."""
        packets = [p for t, p in list(self.raw) if t > since][-limit:]
        decoder = OpusPacketDecoder()
        chunks = [decoder.decode(p) for p in packets]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def count_since(self, since: float) -> int:
        return sum(1 for t, _ in list(self.raw) if t > since) + sum(
            1 for t, _ in list(self.frames) if t > since
        )

    def recent(self, seconds: float) -> np.ndarray:
        need = int(seconds * RATE)
        chunks: list[np.ndarray] = []
        total = 0
        for _, samples in reversed(self.frames):
            chunks.append(samples)
            total += samples.size
            if total >= need:
                break
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(list(reversed(chunks)))[-need:]

    def frequency(self, seconds: float = 0.5) -> float:
        return dominant_frequency(self.recent(seconds))

    def first_heard(
        self,
        tone: float,
        *,
        after: float,
        run: int = 5,
        among: Iterable[float] | None = None,
    ) -> float | None:
        """Arrival time of the first of ``run`` consecutive frames whose closest tone, among
        ``among`` (default: the standard tones), is ``tone``."""
        streak, first = 0, None
        candidates = sorted(set(among if among is not None else TONES.values()) | {tone})
        for arrival, samples in list(self.frames):
            if arrival < after:
                continue
            if closest_tone(samples, candidates) == tone:
                if streak == 0:
                    first = arrival
                streak += 1
                if streak >= run:
                    return first
            else:
                streak = 0
        return None


@dataclass
class SeenVideo:
    packets: int = 0
    keyframes: int = 0
    decoded: int = 0
    first_decoded_at: float | None = None
    size: tuple[int, int] | None = None


class Tab:
    """A loopback stand-in for a browser tab: one aiortc peer connection to the SFU.

    M-lines in the order media.js uses: video (floor video), audio (program, carries the
    published audio), audio (channel), then ``member_slots`` receive-only member audio
    m-lines (plus as many member video m-lines with ``member_video``) for groups.
    """

    def __init__(
        self,
        sfu: EmbeddedSfu,
        session_id: str,
        *,
        publish: str | None = None,
        channel: str | None = None,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        decode_video: bool = False,
        member_slots: int = 0,
        member_video: bool = False,
        decode_audio: bool = True,
    ) -> None:
        self.sfu = sfu
        self.session_id = session_id
        self.publish = publish
        self.channel = channel
        # max-bundle, like a browser: aiortc's balanced policy breaks a second audio m-line.
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.program = Heard()
        self.channel_audio = Heard()
        self.video = SeenVideo()
        self._decode_video = decode_video
        self._decode_audio = decode_audio
        self._tasks: list[asyncio.Task[None]] = []
        self.video_t = self.pc.addTransceiver(
            video or "video", direction="sendrecv" if video else "recvonly"
        )
        self.program_t = self.pc.addTransceiver(
            audio or "audio", direction="sendrecv" if audio else "recvonly"
        )
        self.channel_t = self.pc.addTransceiver("audio", direction="recvonly")
        self.member_t = [
            self.pc.addTransceiver("audio", direction="recvonly") for _ in range(member_slots)
        ]
        self.member_video_t = [
            self.pc.addTransceiver("video", direction="recvonly")
            for _ in range(member_slots if member_video else 0)
        ]
        self.members = [Heard() for _ in range(member_slots)]
        self.member_videos = [SeenVideo() for _ in self.member_video_t]
        self._started: set[int] = set()

    async def connect(self, *, listen_to_floor_video: bool = True) -> str:
        """Offer, get the SFU's answer, apply it; returns the answer SDP."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.sfu.negotiate(
            self.session_id,
            self.pc.localDescription.sdp,
            publish=self.publish,
            channel=self.channel,
            listen_to_floor_video=listen_to_floor_video,
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        self._start_readers()
        return answer

    async def publish_now(
        self, key: str, audio: MediaStreamTrack, video: MediaStreamTrack | None = None
    ) -> str:
        """Renegotiate to start publishing (a panelist given the floor)."""
        self.publish = key
        self.program_t.sender.replaceTrack(audio)
        self.program_t.direction = "sendrecv"
        if video is not None:
            self.video_t.sender.replaceTrack(video)
            self.video_t.direction = "sendrecv"
        return await self.connect()

    def _start_readers(self) -> None:
        for transceiver, sink in (
            (self.program_t, self.program),
            (self.channel_t, self.channel_audio),
            *zip(self.member_t, self.members, strict=True),
        ):
            track = transceiver.receiver.track
            if track is not None and id(track) not in self._started:
                self._started.add(id(track))
                stamp_arrivals(transceiver.receiver, sink)
                self._tasks.append(asyncio.ensure_future(self._read_audio(track, sink)))
        for transceiver, seen in (
            (self.video_t, self.video),
            *zip(self.member_video_t, self.member_videos, strict=True),
        ):
            track = transceiver.receiver.track
            if track is not None and id(track) not in self._started:
                self._started.add(id(track))
                self._tasks.append(asyncio.ensure_future(self._read_video(track, seen)))

    async def _read_audio(self, track: MediaStreamTrack, sink: Heard) -> None:
        decoder = OpusPacketDecoder()
        try:
            while True:
                packet = await track.recv()
                now = sink.arrival_of(int(packet.pts or 0))
                sink.packets += 1
                sink.timestamps.append((now, int(packet.pts or 0)))
                if not self._decode_audio:
                    sink.raw.append((now, packet))
                    continue
                samples = decoder.decode(packet)
                sink.frames.append((now, samples))
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def _read_video(self, track: MediaStreamTrack, seen: SeenVideo) -> None:
        codec = av.CodecContext.create("libvpx", "r")
        try:
            while True:
                packet = await track.recv()
                seen.packets += 1
                if packet.is_keyframe:
                    seen.keyframes += 1
                if self._decode_video:
                    try:
                        frames = codec.decode(packet)
                    except av.FFmpegError:
                        continue
                    for frame in frames:
                        seen.decoded += 1
                        seen.size = (frame.width, frame.height)
                        if seen.first_decoded_at is None:
                            seen.first_decoded_at = time.monotonic()
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


def stamp_arrivals(receiver: Any, sink: Heard) -> None:
    """Stamp each frame ``sink`` hears with the time its packet reached this peer, not the
    time the reader took it: aiortc's audio jitter buffer holds four frames, and after one
    lost packet it waits for sixteen (320 ms) before it gives up on it, and from then on
    stays that far behind. A browser's jitter buffer adapts; what a test judges is what the
    server sent and when."""
    handle = receiver._handle_rtp_packet

    async def stamped(packet: Any, arrival_time_ms: int) -> None:
        sink.arrived(packet.sequence_number, packet.timestamp)
        await handle(packet, arrival_time_ms=arrival_time_ms)

    receiver._handle_rtp_packet = stamped


async def wait_until(
    predicate: Callable[[], object],
    timeout: float,
    interval: float = 0.05,
) -> float:
    """Poll ``predicate`` until true; returns the seconds it took. AssertionError on timeout."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
