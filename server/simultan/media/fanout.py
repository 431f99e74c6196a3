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

Two ways out of a feed. *Queued* down tracks (recorders, level meters) get each encoded
frame and are read with ``recv()``. *Direct* down tracks (every session's sender) get each
RTP packet, once per feed packet, and write it out at once through their :class:`Wire`:
the header rewritten (sequence number and timestamp continuous across source changes),
SRTP-protected, one ``sendto`` (see :mod:`.passthrough`). No task, queue or clock call per
subscriber and packet; a subscriber whose socket will not take a packet loses it. Remote
feeds get RTP from their receiver's tap (the publisher's packetization is kept); local
feeds packetize each frame once. Video feeds keep the last packets for NACKs. Video to a
large audience goes out a slice of subscribers per turn of the event loop
(:class:`VideoPump`), so audio is not held behind a keyframe.

Subscribers follow a *key*, not a feed: when a publisher reconnects under the same key, its
new feed reaches the same subscribers.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from simultan.media.route import Route, forward

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
# A stream that has been behind its baseline for this long without a packet on time has
# settled at a new offset (a publisher that stalled and then went on steadily behind): its
# packets become the new baseline rather than being dropped until AUDIO_LAG_RESTART_S.
AUDIO_LAG_REBASE_S = 1.0
# How fast the lag baseline may creep up, to follow a publisher clock slower than ours.
CLOCK_DRIFT_ALLOWANCE = 0.001

# Packets a video feed keeps to answer NACKs (a power of two): ~1 s at 700 kb/s.
RTP_CACHE = 512
# Within one source, a sequence jump this large (either way) is a restarted stream.
MAX_SEQUENCE_JUMP = 3000

_feed_ids = itertools.count(1)


class RtpLike(Protocol):
    """What the direct path reads of an RTP packet (aiortc's ``RtpPacket`` has it)."""

    sequence_number: int
    timestamp: int
    marker: int
    payload: bytes


class WireLike(Protocol):
    """A subscriber's way out (:class:`simultan.media.passthrough.Wire`)."""

    def send(self, payload: bytes, marker: int, seq: int, ts: int, ntp: int) -> bool: ...

    def resend(self, payload: bytes, marker: int, seq: int, ts: int) -> bool: ...


Packetize = Callable[["av.Packet[Any]"], tuple[list[bytes], int]]


class _LocalRtp:
    __slots__ = ("marker", "payload", "sequence_number", "timestamp")

    def __init__(self, sequence_number: int, timestamp: int, marker: int, payload: bytes) -> None:
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.marker = marker
        self.payload = payload


class Subscriber(Protocol):
    kind: str
    direct: bool

    def push(self, packet: av.Packet[Any], feed_id: int, arrival: float) -> None: ...

    def push_rtp(
        self, packet: RtpLike, feed: Feed, arrival_ms: int, ntp: int, keyframe: bool
    ) -> None: ...

    def send_failed(self) -> None: ...


@dataclass
class FeedCounters:
    frames_in: int = 0
    frames_out: int = 0
    keyframe_requests: int = 0
    late_drops: int = 0
    rtp_in: int = 0


class LagGate:
    """Tells audio packets that arrive too late for their place in the stream.

    The baseline is the smallest (arrival - media time) seen, allowed to creep up by
    CLOCK_DRIFT_ALLOWANCE per second; a packet's lag is how far it is behind that. A
    stream late for AUDIO_LAG_REBASE_S without one packet on time is re-baselined: a burst
    after a stall is trimmed, a stream that stays behind is heard again after a second.
    """

    def __init__(self, max_lag: float = MAX_AUDIO_LAG_S) -> None:
        self.max_lag = max_lag
        self._baseline: float | None = None
        self._last_arrival = 0.0
        self._late_since: float | None = None

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
            return self._rebase(offset)
        if lag <= self.max_lag:
            self._late_since = None
            return False
        if self._late_since is None:
            self._late_since = arrival
        elif arrival - self._late_since >= AUDIO_LAG_REBASE_S:
            return self._rebase(offset)
        return True

    def _rebase(self, offset: float) -> bool:
        self._baseline = offset
        self._late_since = None
        return False


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
        packetize: Packetize | None = None,
        wall_ms: Callable[[], int] | None = None,
        ntp_from_ms: Callable[[int], int] | None = None,
        keyframe_start: Callable[[bytes], bool] | None = None,
    ) -> None:
        """``packetize``: a local feed's frames become RTP here (remote feeds get
        :meth:`on_rtp` from their receiver instead). ``wall_ms`` and ``ntp_from_ms`` give
        the wall clock of a local frame and its NTP form; ``keyframe_start`` tells the first
        packet of a video keyframe from its RTP payload."""
        self.id = next(_feed_ids)
        self.key = key
        self.kind = kind
        self.track = track
        self.owner = owner
        self.counters = FeedCounters()
        self.last_in = clock()  # when its last packet (or local frame) came: the loss watch
        self._board = board
        self._request_keyframe = request_keyframe
        self._on_ended = on_ended
        self._clock = clock
        self._last_keyframe_request = float("-inf")
        self._lag = LagGate() if kind == "audio" else None
        self._task: asyncio.Task[None] | None = None
        self.ended = False
        self.on_finish: Callable[[], None] | None = None
        self._packetize = packetize
        self._wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self._ntp = ntp_from_ms or (lambda ms: 0)
        self._keyframe_start = keyframe_start or (lambda payload: False)
        self._rtp_lag = LagGate() if kind == "audio" else None
        self._rtp_last_seq: int | None = None
        self._local_seq = 0
        self._cache: list[RtpLike | None] | None = [None] * RTP_CACHE if kind == "video" else None
        # Video to many subscribers goes out a slice per loop turn, so audio is not held
        # behind a keyframe (see VideoPump).
        self._pump: VideoPump | None = VIDEO_PUMP if kind == "video" else None

    # -- the direct path -----------------------------------------------------------------

    def on_rtp(self, packet: RtpLike, arrival_ms: int) -> bool:
        """A received RTP packet of this feed's track (the receiver's tap). Returns whether
        the track's frames are wanted (a subscriber takes frames, not RTP): if not, the
        receiver need not assemble them (:class:`~.passthrough._TapBuffer`)."""
        if not self._serving():
            return False
        frames = bool(self._board.frame_subscribers(self.key, self.kind))
        counters = self.counters
        counters.rtp_in += 1
        if not frames and (self._rtp_lag is not None or packet.marker):
            counters.frames_in += 1  # the frame path, which counts them, is skipped
        self.last_in = self._clock()
        seq = packet.sequence_number
        if self._rtp_lag is not None:  # audio
            last = self._rtp_last_seq
            if last is not None and ((last - seq) & 0xFFFF) < 100:
                return frames  # a duplicate or a late one: never send time backwards
            self._rtp_last_seq = seq
            if self._rtp_lag.late(packet.timestamp / AUDIO_CLOCK, arrival_ms / 1000):
                counters.late_drops += 1
                return frames
            keyframe = False
        else:
            keyframe = self._keyframe_start(packet.payload)
            assert self._cache is not None
            self._cache[seq % RTP_CACHE] = packet
        self._forward(packet, arrival_ms, keyframe)
        return frames

    def _serving(self) -> bool:
        """This feed has not ended and still serves its key (not superseded)."""
        return not self.ended and self._board.feed(self.key, self.kind) is self

    def frames_wanted(self) -> bool:
        """Whether a subscriber reads this feed's frames (not RTP) now."""
        return self._serving() and bool(self._board.frame_subscribers(self.key, self.kind))

    def _forward(self, packet: RtpLike, arrival_ms: int, keyframe: bool) -> None:
        subs, routes = self._board.rtp_routes(self.key, self.kind)
        if not subs:
            return
        ntp = self._ntp(arrival_ms)
        self.counters.frames_out += len(subs)
        pump = self._pump
        if (
            pump is not None
            and (len(routes) > VideoPump.CHUNK or keyframe or pump.busy(self))
            and pump.add(_Send(self, packet, arrival_ms, ntp, keyframe, subs, routes))
        ):
            return
        self.send_to(packet, arrival_ms, ntp, keyframe, subs, routes, 0, len(routes))

    def send_to(
        self,
        packet: RtpLike,
        arrival_ms: int,
        ntp: int,
        keyframe: bool,
        subs: list[Subscriber],
        routes: list[Any],
        start: int,
        stop: int,
    ) -> None:
        """Forward ``packet`` to the subscribers ``start:stop`` of these parallel lists."""
        part = routes if start == 0 and stop == len(routes) else routes[start:stop]
        rest = forward(
            part,
            self.id,
            packet.sequence_number,
            packet.timestamp,
            packet.marker,
            packet.payload,
            arrival_ms,
            ntp,
            MAX_SEQUENCE_JUMP,
        )
        if rest is not None:
            slow, failed = rest
            for i in slow:
                subs[start + i].push_rtp(packet, self, arrival_ms, ntp, keyframe)
            for i in failed:
                subs[start + i].send_failed()

    def _forward_frame(self, packet: av.Packet[Any]) -> None:
        """A local feed: packetize the frame once, forward each packet."""
        assert self._packetize is not None
        if not self._board.rtp_subscribers(self.key, self.kind):
            return
        payloads, timestamp = self._packetize(packet)
        arrival_ms = self._wall_ms()
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            rtp = _LocalRtp(self._local_seq, timestamp & 0xFFFFFFFF, int(i == last), payload)
            self._local_seq = (self._local_seq + 1) & 0xFFFF
            keyframe = i == 0 and bool(packet.is_keyframe) and self.kind == "video"
            if self._cache is not None:
                self._cache[rtp.sequence_number % RTP_CACHE] = rtp
            self._forward(rtp, arrival_ms, keyframe)

    def cached(self, seq: int) -> RtpLike | None:
        """The packet with input sequence number ``seq``, if still kept (video)."""
        if self._cache is None:
            return None
        packet = self._cache[seq % RTP_CACHE]
        if packet is None or packet.sequence_number != seq:
            return None
        return packet

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
                if not self.counters.rtp_in:  # a local feed (a remote one is dated on arrival)
                    self.last_in = now
                if (
                    self._lag is not None
                    and packet.pts is not None
                    and packet.time_base is not None
                    and self._lag.late(float(packet.pts * packet.time_base), now)
                ):
                    if not self.counters.rtp_in:  # else counted on the RTP path
                        self.counters.late_drops += 1
                    continue
                subscribers = self._board.frame_subscribers(self.key, self.kind)
                for sub in subscribers:
                    sub.push(packet, self.id, now)
                self.counters.frames_out += len(subscribers)
                if self._packetize is not None:
                    self._forward_frame(packet)
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
        if self.on_finish is not None:
            self.on_finish()
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


@dataclass(slots=True)
class _Send:
    """One video packet on its way to a feed's subscribers, ``done`` of them so far."""

    feed: Feed
    packet: RtpLike
    arrival_ms: int
    ntp: int
    keyframe: bool
    subs: list[Subscriber]
    routes: list[Any]
    done: int = 0


class VideoPump:
    """Sends video packets to large audiences a slice of ``CHUNK`` subscribers per turn of
    the event loop.

    A publisher's audio and video share one socket (BUNDLE). Forwarding a keyframe of 50-200
    packets to hundreds of listeners in one go (a few µs per listener and packet) would hold
    every audio packet behind it for tens to hundreds of milliseconds; in slices, between
    which the loop reads the socket again (:mod:`.batchread`), an audio packet is forwarded
    within a few slices (~0.3 ms each). A feed's packets take the pump while it has more
    than ``CHUNK`` subscribers, from a keyframe's first packet on (the burst that follows),
    and while it still has packets queued; they keep their order for every subscriber (one
    queue, first in, first out). The total work is the same: the last subscribers get a big
    keyframe as late as before.
    """

    CHUNK = 64

    def __init__(self) -> None:
        self._queue: deque[_Send] = deque()
        self._pending: dict[int, int] = {}  # feed id -> packets queued
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.slices = 0  # slices sent (tests, benchmarks)

    def busy(self, feed: Feed) -> bool:
        return feed.id in self._pending

    def add(self, send: _Send) -> bool:
        """Queue ``send``; False (nothing queued) outside an event loop: send it at once."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if loop is not self._loop:  # a new event loop (a test's): what the old one left is moot
            self._queue.clear()
            self._pending.clear()
            self._scheduled = False
            self._loop = loop
        self._queue.append(send)
        fid = send.feed.id
        self._pending[fid] = self._pending.get(fid, 0) + 1
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._step)
        return True

    def _step(self) -> None:
        self._scheduled = False
        if not self._queue:
            return
        send = self._queue[0]
        stop = min(send.done + self.CHUNK, len(send.routes))
        try:
            send.feed.send_to(
                send.packet,
                send.arrival_ms,
                send.ntp,
                send.keyframe,
                send.subs,
                send.routes,
                send.done,
                stop,
            )
        except Exception:
            logger.exception("video slice failed for %s", send.feed.key)
            stop = len(send.routes)
        self.slices += 1
        send.done = stop
        if stop >= len(send.routes):
            self._queue.popleft()
            fid = send.feed.id
            left = self._pending[fid] - 1
            if left:
                self._pending[fid] = left
            else:
                del self._pending[fid]
        if self._queue and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._step)


VIDEO_PUMP = VideoPump()


@dataclass
class _Route:
    subscribers: list[Subscriber] = field(default_factory=list)
    feed: Feed | None = None
    # Split by way out, recomputed on every change (feeds iterate them per packet).
    direct: list[Subscriber] = field(default_factory=list)
    queued: list[Subscriber] = field(default_factory=list)
    routes: list[Any] = field(default_factory=list)  # the direct ones' routes, in order

    def set_subscribers(self, subscribers: list[Subscriber]) -> None:
        self.subscribers = subscribers
        self.direct = [s for s in subscribers if s.direct]
        self.queued = [s for s in subscribers if not s.direct]
        self.routes = [getattr(s, "route", None) for s in self.direct]


_NO_SUBSCRIBERS: list[Subscriber] = []


class Switchboard:
    """Who listens to which (source key, kind), and which feed serves it."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], _Route] = {}
        self._source_of: dict[int, str | None] = {}

    def subscribers(self, key: str, kind: str) -> list[Subscriber]:
        route = self._routes.get((key, kind))
        return route.subscribers if route is not None else []

    def rtp_subscribers(self, key: str, kind: str) -> list[Subscriber]:
        route = self._routes.get((key, kind))
        return route.direct if route is not None else _NO_SUBSCRIBERS

    def rtp_routes(self, key: str, kind: str) -> tuple[list[Subscriber], list[Any]]:
        """The direct subscribers and their routes (parallel lists)."""
        route = self._routes.get((key, kind))
        if route is None:
            return _NO_SUBSCRIBERS, _NO_SUBSCRIBERS
        return route.direct, route.routes

    def frame_subscribers(self, key: str, kind: str) -> list[Subscriber]:
        route = self._routes.get((key, kind))
        return route.queued if route is not None else _NO_SUBSCRIBERS

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
        route.set_subscribers([*route.subscribers, sub])  # copy-on-write: feeds iterate it
        if isinstance(sub, DownTrack):
            sub.source_changed()

    def detach(self, sub: Subscriber) -> None:
        key = self._source_of.pop(id(sub), None)
        if key is None:
            return
        route = self._routes.get((key, sub.kind))
        if route is not None:
            route.set_subscribers([s for s in route.subscribers if s is not sub])
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
    frames_out: int = 0  # frames (queued) or RTP packets (direct) sent
    drops: int = 0
    reanchors: int = 0
    retransmits: int = 0


class DownTrack(MediaStreamTrack):
    """An outgoing track fed by whichever source its key names; yields ``av.Packet[Any]``s."""

    def __init__(
        self,
        kind: str,
        board: Switchboard,
        *,
        queue_size: int,
        name: str = "",
        direct: bool = False,
    ) -> None:
        """``direct``: this track is a sender's; packets go out through the :class:`Wire`
        bound to it (:meth:`bind_wire`), never through ``recv()``."""
        super().__init__()
        self.direct = direct
        self._wire: WireLike | None = None
        self._rtp_feed: Feed | None = None
        # The RTP numbering of the direct path, and its way out once a wire configures it.
        self.route = Route(random.randrange(0, 32768), random.getrandbits(32))
        self._fast = True
        if kind not in ("audio", "video"):
            raise ValueError(f"kind must be audio or video, not {kind!r}")
        self.kind = kind
        self.name = name
        self._counters = DownCounters()
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

    @property
    def counters(self) -> DownCounters:
        """What this track sent and dropped, on either path."""
        c, route = self._counters, self.route
        return DownCounters(
            frames_out=c.frames_out + route.fast_sent,
            drops=c.drops + route.fast_failed,
            reanchors=c.reanchors,
            retransmits=c.retransmits,
        )

    @property
    def fast(self) -> bool:
        """False keeps every packet on the Python path (diagnostics; tests that intercept
        what goes out through the wire)."""
        return self._fast

    @fast.setter
    def fast(self, value: bool) -> None:
        self._fast = value
        if not value:
            self.route.ready = 0

    @property
    def _need_keyframe(self) -> bool:
        return self._waiting_for_keyframe

    @_need_keyframe.setter
    def _need_keyframe(self, value: bool) -> None:
        self._waiting_for_keyframe = value
        if value:
            self.route.ready = 0  # the next packets need Python (the keyframe gate)

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

    # -- the direct path -----------------------------------------------------------------

    @property
    def wired(self) -> bool:
        return self._wire is not None

    def bind_wire(self, wire: WireLike | None) -> None:
        """Its sender started (or stopped carrying this track): send through ``wire``."""
        self._wire = wire
        self.route.ready = 0
        if wire is not None and self.kind == "video":
            self._need_keyframe = True
            self._board.request_keyframe(self.source)

    def push_rtp(
        self, packet: RtpLike, feed: Feed, arrival_ms: int, ntp: int, keyframe: bool
    ) -> None:
        """The slow path of one packet: what :func:`~.route.forward` left to Python (a new
        source, a keyframe wait, a jump). Once anchored, the route is ready and the next
        packets of this feed go out without Python."""
        wire = self._wire
        route = self.route
        if wire is None or self.readyState != "live":
            return
        seq_in = packet.sequence_number
        if self._need_keyframe:  # video: a new source, a late join, or after a drop
            if not keyframe:
                self._counters.drops += 1
                self._board.request_keyframe(self.source)
                return
            self._need_keyframe = False
            self._anchor(packet, feed, arrival_ms, same_timeline=feed is self._rtp_feed)
        elif feed is not self._rtp_feed:
            self._anchor(packet, feed, arrival_ms, same_timeline=False)
        else:
            jump = (seq_in + route.seq_off - route.out_seq) & 0xFFFF
            if MAX_SEQUENCE_JUMP < jump < 0x10000 - MAX_SEQUENCE_JUMP:
                self._anchor(packet, feed, arrival_ms, same_timeline=False)
        seq = (seq_in + route.seq_off) & 0xFFFF
        ts = (packet.timestamp + route.ts_off) & 0xFFFFFFFF
        if wire.send(packet.payload, packet.marker, seq, ts, ntp):
            self._counters.frames_out += 1
        else:
            self._counters.drops += 1
            self.send_failed()
            if self.kind == "video":
                return
        if (seq - route.out_seq) & 0xFFFF < 0x8000:  # not a late one
            route.out_seq = seq
            route.out_ts = ts
            route.out_arrival_ms = arrival_ms
        route.feed = feed.id
        route.ready = int(self._fast and not self._need_keyframe)

    def send_failed(self) -> None:
        """A packet could not go (the socket's buffer is full, the connection is down)."""
        if self.kind == "video":
            # A decoder cannot skip: wait for the next keyframe, and number on from the
            # last packet that went out (no gap for the listener to NACK).
            self._need_keyframe = True
            self._board.request_keyframe(self.source)

    def _anchor(self, packet: RtpLike, feed: Feed, arrival_ms: int, *, same_timeline: bool) -> None:
        """Continue this track's sequence numbers (and timestamps) from where they were."""
        route = self.route
        route.seq_off = (route.out_seq + 1 - packet.sequence_number) & 0xFFFF
        route.anchor_seq = (route.out_seq + 1) & 0xFFFF
        if not same_timeline:
            elapsed = 0
            if self._rtp_feed is not None:
                elapsed = max(0, arrival_ms - route.out_arrival_ms) * self._clock_rate // 1000
            out_ts = route.out_ts + max(self._min_step, elapsed)
            route.ts_off = (out_ts - packet.timestamp) & 0xFFFFFFFF
            self._counters.reanchors += 1
        self._rtp_feed = feed

    def retransmit(self, seq: int) -> bool:
        """A subscriber NACKed ``seq`` (our numbering): resend it from the feed's cache."""
        wire, feed, route = self._wire, self._rtp_feed, self.route
        if wire is None or feed is None:
            return False
        if (seq - route.anchor_seq) & 0xFFFF > (route.out_seq - route.anchor_seq) & 0xFFFF:
            return False  # sent before the current source, or never
        packet = feed.cached((seq - route.seq_off) & 0xFFFF)
        if packet is None:
            return False
        ts = (packet.timestamp + route.ts_off) & 0xFFFFFFFF
        if not wire.resend(packet.payload, packet.marker, seq, ts):
            return False
        self._counters.retransmits += 1
        return True

    def push(self, packet: av.Packet[Any], feed_id: int, arrival: float) -> None:
        if not self._started or self.readyState != "live":
            return
        if self.kind == "video":
            if self._need_keyframe:
                if not packet.is_keyframe:
                    self._counters.drops += 1
                    self._board.request_keyframe(self.source)
                    return
                self._need_keyframe = False
            if len(self._queue) >= self._queue_size:
                # A video decoder cannot skip frames: drop up to the next keyframe.
                self._counters.drops += len(self._queue) + 1
                self._queue.clear()
                self._need_keyframe = True
                self._board.request_keyframe(self.source)
                return
        elif len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self._counters.drops += 1
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
        if self.direct:
            # A sender's task asks, but its packets go out through the wire: wait idle.
            while self.readyState == "live":
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            raise MediaStreamError
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
        self._counters.frames_out += 1
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
            self._counters.reanchors += 1
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
        self._wire = None
        self.route.ready = 0
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def drop_queued(self) -> None:
        """Forget what waits to be sent (video paused: a weak link must not drain a backlog)."""
        self._counters.drops += len(self._queue)
        self._queue.clear()
        if self.kind == "video":
            self._need_keyframe = True

    def queued(self) -> int:
        return len(self._queue)
