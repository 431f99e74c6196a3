"""Fan-out of encoded media: one reader per source track, a bounded queue per subscriber.

Three nouns (Galène's ``Up``/``Down`` split, in asyncio):

- :class:`Feed`: one source track (a remote publisher's, or a local encoded one) read by
  one task. Every packet is pushed to the subscribers the :class:`Switchboard` lists for
  the feed's (source key, kind). The packet is never decoded or re-encoded here.
- :class:`DownTrack`: one outgoing track (a sender's, or a recorder's). Its queue is
  bounded and drops the oldest packet (audio) or everything up to the next keyframe
  (video): a slow consumer loses media, it never holds anyone up. It rewrites ``pts`` so
  its output stays continuous when its source changes (route change, channel switch,
  publisher reconnect), and gates video until a keyframe.
- :class:`LagGate`: a feed drops audio that arrives more than 250 ms behind its stream's
  own pace (after a stall the listeners catch up at once, instead of hearing the backlog
  late).
- :class:`Switchboard`: which subscribers listen to which source key, and which feed serves
  each (key, kind). Moving a subscriber to another key is a dictionary move, no
  renegotiation.

Subscribers follow a *key*, not a feed: when a publisher reconnects under the same key, its
new feed reaches the same subscribers.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

logger = logging.getLogger(__name__)

AUDIO_CLOCK = 48000
VIDEO_CLOCK = 90000
AUDIO_TIME_BASE = Fraction(1, AUDIO_CLOCK)
VIDEO_TIME_BASE = Fraction(1, VIDEO_CLOCK)
# A jump in a source's timestamps larger than this is a restarted stream: re-anchor.
MAX_TIMESTAMP_GAP_S = 5.0
# At most one keyframe request per feed per this many seconds.
KEYFRAME_REQUEST_INTERVAL_S = 0.25
# Audio that reaches a feed this much later than the stream's own pace is dropped: after a
# stall (a starved process, a burst from the network) listeners catch up at once instead
# of hearing the backlog late. Beyond the restart threshold the timeline is taken as new.
MAX_AUDIO_LAG_S = 0.25
AUDIO_LAG_RESTART_S = 10.0
# How fast the lag baseline may creep up, to follow a publisher clock slower than ours.
CLOCK_DRIFT_ALLOWANCE = 0.001

_feed_ids = itertools.count(1)


class Subscriber(Protocol):
    kind: str

    def push(self, packet: av.Packet[Any], feed_id: int, arrival: float) -> None: ...


@dataclass
class FeedCounters:
    frames_in: int = 0
    frames_out: int = 0
    keyframe_requests: int = 0
    late_drops: int = 0


class LagGate:
    """Tells audio packets that arrive too late for their place in the stream.

    The baseline is the smallest (arrival - media time) seen, allowed to creep up by
    CLOCK_DRIFT_ALLOWANCE per second; a packet's lag is how far it is behind that.
    """

    def __init__(self, max_lag: float = MAX_AUDIO_LAG_S) -> None:
        self.max_lag = max_lag
        self._baseline: float | None = None
        self._last_arrival = 0.0

    def late(self, media_time: float, arrival: float) -> bool:
        offset = arrival - media_time
        if self._baseline is None:
            self._baseline = offset
        else:
            self._baseline += (arrival - self._last_arrival) * CLOCK_DRIFT_ALLOWANCE
            self._baseline = min(self._baseline, offset)
        self._last_arrival = arrival
        lag = offset - self._baseline
        if lag > AUDIO_LAG_RESTART_S:  # the stream's clock restarted: a new baseline
            self._baseline = offset
            return False
        return lag > self.max_lag


class Feed:
    """Reads one source track once and pushes each packet to that key's subscribers."""

    def __init__(
        self,
        key: str,
        kind: str,
        track: MediaStreamTrack,
        board: Switchboard,
        *,
        owner: str | None = None,
        request_keyframe: Callable[[], bool] | None = None,
        on_ended: Callable[[Feed], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = next(_feed_ids)
        self.key = key
        self.kind = kind
        self.track = track
        self.owner = owner
        self.counters = FeedCounters()
        self._board = board
        self._request_keyframe = request_keyframe
        self._on_ended = on_ended
        self._clock = clock
        self._last_keyframe_request = float("-inf")
        self._lag = LagGate() if kind == "audio" else None
        self._task: asyncio.Task[None] | None = None
        self.ended = False

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while True:
                packet = await self.track.recv()
                if not isinstance(packet, av.Packet):
                    # A decoded frame means the pass-through hook is not in place; forwarding
                    # it would make every sender encode. Refuse loudly, once.
                    logger.error(
                        "feed %s/%s got a decoded frame: hook missing", self.key, self.kind
                    )
                    break
                if self._board.feed(self.key, self.kind) is not self:
                    continue  # superseded by another publisher of the key: drain only
                self.counters.frames_in += 1
                now = self._clock()
                if (
                    self._lag is not None
                    and packet.pts is not None
                    and packet.time_base is not None
                    and self._lag.late(float(packet.pts * packet.time_base), now)
                ):
                    self.counters.late_drops += 1
                    continue
                subscribers = self._board.subscribers(self.key, self.kind)
                for sub in subscribers:
                    sub.push(packet, self.id, now)
                self.counters.frames_out += len(subscribers)
        except MediaStreamError:
            pass
        except asyncio.CancelledError:
            pass
        except Exception:  # pragma: no cover - a bug, keep the SFU alive
            logger.exception("feed %s/%s failed", self.key, self.kind)
        finally:
            self._finish()

    def _finish(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self._on_ended is not None:
            self._on_ended(self)

    async def stop(self) -> None:
        """Stop reading (the track itself is the owner's to stop)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._finish()

    def request_keyframe(self) -> None:
        if self.kind != "video" or self._request_keyframe is None:
            return
        now = self._clock()
        if now - self._last_keyframe_request < KEYFRAME_REQUEST_INTERVAL_S:
            return
        if self._request_keyframe():
            self._last_keyframe_request = now
            self.counters.keyframe_requests += 1


@dataclass
class _Route:
    subscribers: list[Subscriber] = field(default_factory=list)
    feed: Feed | None = None


class Switchboard:
    """Who listens to which (source key, kind), and which feed serves it."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], _Route] = {}
        self._source_of: dict[int, str | None] = {}

    def subscribers(self, key: str, kind: str) -> list[Subscriber]:
        route = self._routes.get((key, kind))
        return route.subscribers if route is not None else []

    def feed(self, key: str, kind: str) -> Feed | None:
        route = self._routes.get((key, kind))
        return route.feed if route is not None else None

    def feeds(self) -> list[Feed]:
        return [r.feed for r in self._routes.values() if r.feed is not None]

    def set_feed(self, feed: Feed) -> Feed | None:
        """Make ``feed`` serve its (key, kind); returns the feed it replaced."""
        route = self._routes.setdefault((feed.key, feed.kind), _Route())
        previous, route.feed = route.feed, feed
        for sub in route.subscribers:
            if isinstance(sub, DownTrack):
                sub.source_changed()
        return previous

    def clear_feed(self, feed: Feed) -> bool:
        """Forget ``feed`` if it still serves its key; True if it did."""
        route = self._routes.get((feed.key, feed.kind))
        if route is None or route.feed is not feed:
            return False
        route.feed = None
        self._gc(feed.key, feed.kind)
        return True

    def attach(self, sub: Subscriber, key: str | None) -> None:
        """Make ``sub`` listen to ``key`` (None: to nothing). Idempotent."""
        current = self._source_of.get(id(sub))
        if current == key and (key is None or sub in self.subscribers(key, sub.kind)):
            return
        self.detach(sub)
        self._source_of[id(sub)] = key
        if key is None:
            return
        route = self._routes.setdefault((key, sub.kind), _Route())
        route.subscribers = [*route.subscribers, sub]  # copy-on-write: feeds iterate it
        if isinstance(sub, DownTrack):
            sub.source_changed()

    def detach(self, sub: Subscriber) -> None:
        key = self._source_of.pop(id(sub), None)
        if key is None:
            return
        route = self._routes.get((key, sub.kind))
        if route is not None:
            route.subscribers = [s for s in route.subscribers if s is not sub]
            self._gc(key, sub.kind)

    def source_of(self, sub: Subscriber) -> str | None:
        return self._source_of.get(id(sub))

    def request_keyframe(self, key: str | None) -> None:
        if key is None:
            return
        feed = self.feed(key, "video")
        if feed is not None:
            feed.request_keyframe()

    def _gc(self, key: str, kind: str) -> None:
        route = self._routes.get((key, kind))
        if route is not None and route.feed is None and not route.subscribers:
            del self._routes[(key, kind)]


@dataclass
class DownCounters:
    frames_out: int = 0
    drops: int = 0
    reanchors: int = 0


class DownTrack(MediaStreamTrack):
    """An outgoing track fed by whichever source its key names; yields ``av.Packet[Any]``s."""

    def __init__(
        self,
        kind: str,
        board: Switchboard,
        *,
        queue_size: int,
        name: str = "",
    ) -> None:
        super().__init__()
        if kind not in ("audio", "video"):
            raise ValueError(f"kind must be audio or video, not {kind!r}")
        self.kind = kind
        self.name = name
        self.counters = DownCounters()
        self._board = board
        self._queue: deque[tuple[av.Packet[Any], int, float]] = deque()
        self._queue_size = queue_size
        self._waiter: asyncio.Future[None] | None = None
        self._clock_rate = AUDIO_CLOCK if kind == "audio" else VIDEO_CLOCK
        self._time_base = AUDIO_TIME_BASE if kind == "audio" else VIDEO_TIME_BASE
        # One audio frame is 20 ms; one video frame at least 1/60 s.
        self._min_step = 960 if kind == "audio" else VIDEO_CLOCK // 60
        self._max_gap = int(MAX_TIMESTAMP_GAP_S * self._clock_rate)
        self._feed_id: int | None = None
        self._offset = 0
        self._last_in: int | None = None
        self._last_out: int | None = None
        self._last_arrival = 0.0
        self._need_keyframe = kind == "video"
        # Nothing is queued until the consumer first asks: a sender whose connection is not
        # up yet would otherwise get a burst of stale audio (latency) when it starts.
        self._started = False

    # -- producer side (the feed's task) -------------------------------------------------

    @property
    def source(self) -> str | None:
        return self._board.source_of(self)

    def source_changed(self) -> None:
        """Called when this track's key changes or its key gets a new feed."""
        if self.kind == "video":
            self._queue.clear()
            self._need_keyframe = True
            self._board.request_keyframe(self.source)

    def push(self, packet: av.Packet[Any], feed_id: int, arrival: float) -> None:
        if not self._started or self.readyState != "live":
            return
        if self.kind == "video":
            if self._need_keyframe:
                if not packet.is_keyframe:
                    self.counters.drops += 1
                    self._board.request_keyframe(self.source)
                    return
                self._need_keyframe = False
            if len(self._queue) >= self._queue_size:
                # A video decoder cannot skip frames: drop up to the next keyframe.
                self.counters.drops += len(self._queue) + 1
                self._queue.clear()
                self._need_keyframe = True
                self._board.request_keyframe(self.source)
                return
        elif len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self.counters.drops += 1
        self._queue.append((packet, feed_id, arrival))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- consumer side (a sender or a recorder) ------------------------------------------

    def start(self) -> None:
        """Begin queueing (the first recv() does it; a recorder may do it up front)."""
        if not self._started:
            self._started = True
            if self.kind == "video":
                self._board.request_keyframe(self.source)

    async def recv(self) -> av.Packet[Any]:
        self.start()
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.readyState != "live":
            raise MediaStreamError
        return self._take()

    def recv_nowait(self) -> av.Packet[Any] | None:
        """The next packet if one is queued (recorders drain with it)."""
        return self._take() if self._queue else None

    def _take(self) -> av.Packet[Any]:
        packet, feed_id, arrival = self._queue.popleft()
        out = av.Packet(bytes(packet))  # the source's packet is shared by all subscribers
        pts = self._retime(packet.pts or 0, feed_id, arrival)
        out.pts = pts
        out.dts = pts
        out.time_base = self._time_base
        out.is_keyframe = packet.is_keyframe
        self.counters.frames_out += 1
        return out

    def _retime(self, pts: int, feed_id: int, arrival: float) -> int:
        """Map a source pts to this track's continuous output timeline."""
        step = (pts - self._last_in) if self._last_in is not None else 0
        if feed_id != self._feed_id or not (0 < step <= self._max_gap):
            # New source (or a restarted one): continue from our last output, as far ahead
            # as wall-clock time has moved, so the listener's jitter buffer sees no jump.
            if self._last_out is None:
                out = 0
            else:
                elapsed = round((arrival - self._last_arrival) * self._clock_rate)
                out = self._last_out + max(self._min_step, elapsed)
            self._offset = out - pts
            self._feed_id = feed_id
            self.counters.reanchors += 1
        self._last_in = pts
        self._last_arrival = arrival
        self._last_out = pts + self._offset
        return self._last_out

    def keyframe_requested(self) -> None:
        """A subscriber sent PLI/FIR for this track (called by the sender hook)."""
        self._board.request_keyframe(self.source)

    def stop(self) -> None:
        super().stop()
        self._board.detach(self)
        self._queue.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def queued(self) -> int:
        return len(self._queue)
