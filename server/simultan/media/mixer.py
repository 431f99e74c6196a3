"""The floor mix: every live speaker decoded once, mixed, encoded once into the floor source.

A panel has several live speakers; listeners, booths and the recorder still take the one
``floor`` source, so a panel costs each listener what one speaker does. The
:class:`FloorMixer` owns, while anyone is live:

- one :class:`~.fanout.DownTrack` per speaker's audio key (it follows a reconnecting
  publisher like any listener), decoded by its own Opus decoder into a short buffer;
- a 20 ms clock that takes one frame from every speaker the control plane lets through
  (a muted speaker is decoded and dropped: its audio reaches nobody), sums them and feeds
  the ``floor`` output; plus one *mix-minus* per speaker (``floor-minus:<key>``) so a live
  speaker hears the others and not their own delayed voice;
- each output encoded once (:class:`~.encode.EncodedTrack`) and served by a
  :class:`~.fanout.Feed` on the switchboard, like any source;
- the floor video: whichever speaker's video the control plane shows (the active or pinned
  one); the SFU points floor-video slots at that speaker's own feed (``video_key``), so a
  switch is a switchboard move plus a keyframe request.

Per-speaker levels (dBFS of what was mixed, over 100 ms) go to ``on_levels``: the pure
floor core picks the active speaker from them. While nobody is live the mixer serves
nothing and whatever ``floor`` feed it displaced (a server-side demo source) is restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from simultan.media import passthrough
from simultan.media.decode import OpusPacketDecoder, dbfs
from simultan.media.encode import EncodedTrack
from simultan.media.fanout import DownTrack, Feed, Switchboard
from simultan.media.plane import FLOOR

logger = logging.getLogger(__name__)

RATE = 48000
FRAME = 960  # 20 ms
FRAME_S = FRAME / RATE
# Each speaker's jitter buffer: mixing starts once PRIME is buffered; beyond MAX_BUFFER
# (a burst after a stall) the oldest samples go, so the added latency stays bounded.
PRIME = 2 * FRAME
MAX_BUFFER = 5 * FRAME
# A frame that arrives after its tick (an underrun: silence that tick) leaves the buffer a
# frame deeper for good, and each late arrival adds to it: the added latency would creep up
# to MAX_BUFFER (measured: p50 50-70 ms with 4-6 speakers on a loaded machine). A buffer
# that holds more than PRIME at its tick this many ticks in a row drops its oldest frame,
# back towards PRIME.
DRIFT_TICKS = 10  # 200 ms
# After a stall longer than this the clock skips ahead (a gap) instead of bursting.
MAX_CATCH_UP_S = 0.1
LEVEL_EVERY = 5  # frames: levels reported every 100 ms
MINUS = "floor-minus:"
Levels = Callable[[Mapping[str, float]], None]


def minus_key(speaker_key: str) -> str:
    """The mix without ``speaker_key``: what that speaker hears as the floor."""
    return f"{MINUS}{speaker_key}"


def _local_rtp(kind: str) -> dict[str, Any]:
    """What a server-side feed needs to reach senders on the direct path (RTP packetized
    once per feed, as ``EmbeddedSfu.add_local_source`` does)."""
    return {
        "packetize": passthrough.Packetizer(kind).pack,
        "keyframe_start": passthrough.vp8_rtp_starts_keyframe,
        "ntp_from_ms": passthrough.ntp_from_ms,
    }


class _MixFeed(Feed):
    """The mix's output feed. Its inputs were lag-gated by their own feeds already; gating the
    mix again would drop a whole catch-up burst after a stall (its timestamps run ahead of
    the wall clock for a moment), so this feed forwards everything it is given."""

    def __init__(self, key: str, track: MediaStreamTrack, board: Switchboard) -> None:
        super().__init__(key, "audio", track, board, **_local_rtp("audio"))
        self._lag = None


class _FrameQueue(MediaStreamTrack):
    """Raw mixed frames handed to an encoder; bounded, the oldest goes first."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[av.AudioFrame | None] = asyncio.Queue(maxsize=8)

    def flush(self) -> None:
        """Drop the mixed frames not yet encoded (they may carry someone just muted)."""
        while not self._queue.empty():
            self._queue.get_nowait()

    def put(self, frame: av.AudioFrame | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def recv(self) -> av.AudioFrame:
        frame = await self._queue.get()
        if frame is None or self.readyState != "live":
            raise MediaStreamError
        return frame

    def stop(self) -> None:
        super().stop()
        with contextlib.suppress(asyncio.QueueFull):
            self.put(None)


@dataclass
class _Input:
    key: str
    track: DownTrack
    decoder: OpusPacketDecoder = field(default_factory=OpusPacketDecoder)
    buffer: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    task: asyncio.Task[None] | None = None
    underruns: int = 0
    primed: bool = False
    deep: int = 0  # ticks in a row with more than PRIME buffered
    trimmed: int = 0  # frames dropped to bring the buffer back to PRIME

    def take(self) -> np.ndarray | None:
        """One frame of samples, or None (not primed yet, or nothing arrived in time)."""
        if not self.primed:
            if self.buffer.size < PRIME:
                return None
            self.primed = True
        if self.buffer.size < FRAME:
            self.underruns += 1
            self.deep = 0
            return None
        self.deep = self.deep + 1 if self.buffer.size > PRIME else 0
        if self.deep >= DRIFT_TICKS:  # late frames piled up: one goes, latency comes back
            self.buffer = self.buffer[FRAME:]
            self.deep = 0
            self.trimmed += 1
        frame, self.buffer = self.buffer[:FRAME], self.buffer[FRAME:]
        return frame

    def add(self, samples: np.ndarray) -> None:
        buffer = np.concatenate((self.buffer, samples))
        if buffer.size > MAX_BUFFER:
            buffer = buffer[-PRIME:]  # fell behind: keep only the newest
        self.buffer = buffer


@dataclass
class _Output:
    key: str
    frames: _FrameQueue
    encoded: EncodedTrack
    feed: Feed


@dataclass
class MixerStats:
    speakers: int
    outputs: int
    ticks: int
    underruns: int
    trimmed: int  # frames dropped to bring a speaker's buffer back to PRIME
    frames_mixed: int
    skipped: int


class FloorMixer:
    """Mixes the live speakers' audio into ``floor`` and follows the shown one's video."""

    def __init__(
        self,
        board: Switchboard,
        *,
        on_levels: Levels | None = None,
        key: str = FLOOR,
        mix_minus: bool = True,
    ) -> None:
        self._board = board
        self.on_levels = on_levels
        self.key = key
        self.mix_minus = mix_minus
        self._inputs: dict[str, _Input] = {}
        self._muted: frozenset[str] = frozenset()
        self._outputs: dict[str, _Output] = {}
        self._displaced: dict[str, Feed] = {}  # kind -> the floor feed we replaced
        self._video_key: str | None = None
        self._ticks = 0
        self._clock: asyncio.Task[None] | None = None
        self._skipped = 0
        self._window: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control -------------------------------------------------------------------------

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(self._inputs)

    @property
    def muted(self) -> frozenset[str]:
        return self._muted

    def set(self, speakers: Sequence[str], muted: Collection[str], video: str | None) -> None:
        """Mix ``speakers`` (source keys) except ``muted``; show ``video``'s video."""
        wanted = list(dict.fromkeys(speakers))
        silenced = [k for k in self._inputs if k not in wanted]
        silenced += [k for k in muted if k in self._inputs and k not in self._muted]
        if silenced:  # taken back or muted: what is queued of them goes too
            for out in self._outputs.values():
                out.frames.flush()
        for key in [k for k in self._inputs if k not in wanted]:
            self._drop_input(key)
        for key in wanted:
            if key not in self._inputs:
                self._add_input(key)
        self._muted = frozenset(muted)
        self._sync_outputs()
        self._show(video if wanted else None)
        if wanted and self._clock is None:
            self._clock = asyncio.ensure_future(self._run())
        elif not wanted and self._clock is not None:
            self._clock.cancel()
            self._clock = None

    async def close(self) -> None:
        self.set((), (), None)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def stats(self) -> MixerStats:
        return MixerStats(
            speakers=len(self._inputs),
            outputs=len(self._outputs),
            ticks=self._ticks,
            underruns=sum(i.underruns for i in self._inputs.values()),
            trimmed=sum(i.trimmed for i in self._inputs.values()),
            frames_mixed=self._ticks,
            skipped=self._skipped,
        )

    # -- inputs --------------------------------------------------------------------------

    def _add_input(self, key: str) -> None:
        track = DownTrack("audio", self._board, queue_size=16, name=f"mix/{key}")
        self._board.attach(track, key)
        inp = _Input(key=key, track=track)
        inp.task = asyncio.ensure_future(self._read(inp))
        self._inputs[key] = inp

    def _drop_input(self, key: str) -> None:
        inp = self._inputs.pop(key)
        inp.track.stop()
        if inp.task is not None:
            inp.task.cancel()

    async def _read(self, inp: _Input) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                packet = await inp.track.recv()
                inp.add(inp.decoder.decode(packet))

    # -- outputs -------------------------------------------------------------------------

    def _output_keys(self) -> list[str]:
        keys = [self.key] if self._inputs else []
        if self.mix_minus:
            keys += [minus_key(k) for k in self._inputs]
        return keys

    def _sync_outputs(self) -> None:
        wanted = self._output_keys()
        for key in [k for k in self._outputs if k not in wanted]:
            self._stop_output(key)
        for key in wanted:
            if key not in self._outputs:
                self._start_output(key)

    def _start_output(self, key: str) -> None:
        frames = _FrameQueue()
        encoded = EncodedTrack(frames)
        feed = _MixFeed(key, encoded, self._board)
        previous = self._board.set_feed(feed)
        if previous is not None and previous is not feed and not previous.ended:
            self._displaced["audio" if key == self.key else key] = previous
        feed.start()
        self._outputs[key] = _Output(key, frames, encoded, feed)

    def _stop_output(self, key: str) -> None:
        out = self._outputs.pop(key)
        out.encoded.stop()
        self._board.clear_feed(out.feed)
        self._spawn(out.feed.stop())
        previous = self._displaced.pop("audio" if key == self.key else key, None)
        if previous is not None and not previous.ended:
            self._board.set_feed(previous)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the floor video -----------------------------------------------------------------

    def _show(self, key: str | None) -> None:
        """The floor video is the shown speaker's own feed: the SFU points every floor-video
        slot at it (``video_key``), so it takes the direct forwarding path unchanged."""
        self._video_key = key

    @property
    def video_key(self) -> str | None:
        return self._video_key

    # -- mixing -------------------------------------------------------------------------

    async def _run(self) -> None:
        """The mix's clock: one frame every 20 ms of loop time, whatever arrived. Media time
        counts frames; after a stall the clock catches up by mixing the frames it owes (at
        most MAX_CATCH_UP_S of them), and beyond that skips ahead, leaving a gap."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        n = 0
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                delay = next_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                behind = loop.time() - next_at
                if behind > MAX_CATCH_UP_S:
                    skip = int(behind / FRAME_S)
                    next_at += skip * FRAME_S
                    n += skip
                    self._skipped += skip
                self._mix(list(self._inputs.values()), n * FRAME)
                n += 1
                next_at += FRAME_S

    def _mix(self, inputs: list[_Input], pts: int) -> None:
        self._ticks += 1
        frames: dict[str, np.ndarray] = {}
        window = self._window
        for inp in inputs:
            samples = inp.take()
            if samples is None or inp.key in self._muted:
                continue  # a muted speaker is decoded and dropped, never mixed
            frames[inp.key] = samples
            window[inp.key] = max(window.get(inp.key, -math.inf), dbfs(samples))
        total = np.zeros(FRAME, dtype=np.float32)
        for samples in frames.values():
            total += samples
        for key, out in self._outputs.items():
            mix = total
            if key != self.key:
                own = frames.get(key.removeprefix(MINUS))
                if own is not None:
                    mix = total - own
            out.frames.put(_frame(mix, pts))
        if self._ticks % LEVEL_EVERY == 0 and self.on_levels is not None:
            levels, self._window = dict(window), {}
            try:
                self.on_levels(levels)
            except Exception:  # the control plane's bug must not stop the mix
                logger.exception("on_levels failed")


_TIME_BASE = fractions.Fraction(1, RATE)


def _frame(samples: np.ndarray, pts: int) -> av.AudioFrame:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
    frame.sample_rate = RATE
    frame.pts = pts
    frame.time_base = _TIME_BASE
    return frame
