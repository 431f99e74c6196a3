"""The opt-in decode path: raw audio from forwarded Opus packets, at most once per source.

The pass-through hook makes every remote track in the process yield packets, so whoever
needs samples (a level meter and silence alarm for the moderator, tests) decodes the
packets with PyAV's Opus decoder here. The SFU runs one :class:`LevelMeter` per source
only when asked (``EmbeddedSfu.meter(key)``); forwarding never goes through it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any, cast

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError

from simultan.media.fanout import DownTrack

SAMPLE_RATE = 48000


class OpusPacketDecoder:
    """Decodes Opus ``av.Packet[Any]``s to mono float32 samples in [-1, 1] at 48 kHz."""

    def __init__(self) -> None:
        self._codec = av.CodecContext.create("libopus", "r")
        self._codec.sample_rate = SAMPLE_RATE
        self._codec.layout = "stereo"
        self._codec.format = "s16"
        self.frames = 0

    def decode(self, packet: av.Packet[Any]) -> np.ndarray:
        chunks = []
        for frame in self._codec.decode(packet):
            chunks.append(frame_to_mono(frame))
            self.frames += 1
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks)


def frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    """Any PyAV audio frame to mono float32 in [-1, 1]."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        samples = data.reshape(channels, -1).mean(axis=0)
    else:
        samples = data.reshape(-1, channels).mean(axis=1)
    if np.issubdtype(data.dtype, np.integer):
        samples = samples / float(np.iinfo(cast(Any, data.dtype)).max)
    return cast(np.ndarray, samples.astype(np.float32))


def dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS (-inf for silence)."""
    if samples.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * math.log10(rms) if rms > 0 else -math.inf


class LevelMeter:
    """Decodes one source's audio and keeps its level; reports how long it has been silent.

    It reads a :class:`DownTrack` subscribed to the source, so it follows a reconnecting
    publisher like any listener does, and a slow meter only drops its own packets.
    """

    def __init__(
        self,
        track: DownTrack,
        *,
        silence_dbfs: float = -50.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.track = track
        self.silence_dbfs = silence_dbfs
        self.level_dbfs = -math.inf
        self._decoder = OpusPacketDecoder()
        self._clock = clock
        self._last_sound = clock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def silent_for(self) -> float:
        """Seconds since the level was last above ``silence_dbfs``."""
        return max(0.0, self._clock() - self._last_sound)

    async def _run(self) -> None:
        try:
            while True:
                packet = await self.track.recv()
                samples = self._decoder.decode(packet)
                self.level_dbfs = dbfs(samples)
                if self.level_dbfs > self.silence_dbfs:
                    self._last_sound = self._clock()
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def stop(self) -> None:
        self.track.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
