"""The embedded SFU: aiortc peer connections inside the server process, forwarding only.

One :class:`RTCPeerConnection` per browser tab (a *session*). Received Opus/VP8 frames come
out of the receivers as ``av.Packet[Any]`` (the pass-through hook, :mod:`.passthrough`), are read
once per source by a :class:`~.fanout.Feed` and pushed into one bounded
:class:`~.fanout.DownTrack` per subscriber; each sender only packetizes and encrypts.
Routing (which source feeds which down track) lives in a :class:`~.fanout.Switchboard`, so
a channel switch or a route change is a dictionary move, never a renegotiation.

See :mod:`.plane` for the contract (slots per m-line, source keys, self-exclusion).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from simultan.core import link_quality as lq
from simultan.errors import BadOffer, CommandError, NotFoundError, ProtocolError
from simultan.media import ice, passthrough
from simultan.media.decode import LevelMeter
from simultan.media.encode import EncodedTrack
from simultan.media.fanout import DownTrack, Feed, Switchboard
from simultan.media.mixer import FloorMixer, minus_key
from simultan.media.offer import Offer, parse_offer
from simultan.media.plane import (
    FLOOR,
    BoothFeed,
    FloorLevels,
    FloorMix,
    FrameSource,
    LinkReport,
    MediaStats,
    RoomMedia,
    SessionStats,
    SourceGone,
    SourceStats,
    check_channel,
    check_source_key,
)
from simultan.media.recorder import Recorder
from simultan.media.rooms import RoomTable, publishes_video, slot_name
from simultan.settings import Settings

logger = logging.getLogger(__name__)

AUDIO_QUEUE = 16  # 320 ms of Opus; a subscriber further behind loses the oldest
VIDEO_QUEUE = 60  # frames; past that the subscriber waits for the next keyframe

SLOTS = ("video", "program", "channel")


@dataclass
class _Session:
    id: str
    pc: RTCPeerConnection
    publish: str | None = None
    channel: str | None = None
    listen_video: bool = True
    # Audio before video: the link cannot carry everything, floor video is not sent to
    # this session (any send path honours it through _resolve).
    video_paused: bool = False
    # Which of its receiver's video reports are about the video since it resumed.
    video_reports: lq.VideoReports = field(default_factory=lq.VideoReports)
    fingerprint: str = ""
    down: dict[str, DownTrack] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    feeds: dict[str, Feed] = field(default_factory=dict)  # kind -> feed it publishes
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closing: bool = False


@dataclass
class _LocalSource:
    key: str
    tracks: list[EncodedTrack]
    feeds: list[Feed]


class _KeyframeRequester:
    """Asks the publisher behind a receiver for a keyframe (looked up at call time)."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.receiver = receiver

    def __call__(self) -> bool:
        return passthrough.request_keyframe(self.receiver)


def _tap(receiver: RTCRtpReceiver, feed: Feed) -> None:
    """Hand the receiver's RTP packets to ``feed`` until it ends."""
    tap = feed.on_rtp
    passthrough.tap_receiver(receiver, tap, feed.frames_wanted)

    feed.on_finish = lambda: passthrough.untap_receiver(receiver, tap)


def _direction(send: bool, recv: bool) -> str:
    if send and recv:
        return "sendrecv"
    if send:
        return "sendonly"
    if recv:
        return "recvonly"
    return "inactive"


class EmbeddedSfu:
    """The default :class:`~.plane.MediaPlane`: an aiortc SFU in the server's event loop.

    Creating one installs process-wide hooks: aiortc's pass-through (remote tracks yield
    packets), aioice's host addresses (``settings.ice_host_addresses``, or every address
    of the machine when that is empty), and the port range and public address.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_source_gone: SourceGone | None = None,
        low_latency_audio: bool = True,
    ) -> None:
        self.settings = settings
        self.on_source_gone = on_source_gone
        if settings.ice_host_addresses:
            ice.use_host_addresses(settings.ice_host_addresses)
        else:
            ice.restore_default()  # aioice's own: every interface address but loopback
        ice.use_gathering(settings.ice_port_range, settings.ice_public_address)
        passthrough.install(low_latency_audio=low_latency_audio)
        self._board = Switchboard()
        self.on_floor_levels: FloorLevels | None = None
        self._mixer = FloorMixer(self._board, on_levels=self._floor_levels)
        self._sessions: dict[str, _Session] = {}
        self._routes: dict[str, str] = {}
        self._booth_feeds: dict[str, BoothFeed] = {}
        self._rooms = RoomTable()
        self._local: dict[str, _LocalSource] = {}
        self._meters: dict[str, LevelMeter] = {}
        self._recorder: Recorder | None = None
        self._retired: dict[str, tuple[int, int, int, int]] = {}  # key -> ended feeds' counters
        self._closed = False
        self._tasks: set[asyncio.Future[None]] = set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, keeping a reference until it is done."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sessions ------------------------------------------------------------------------

    async def negotiate(
        self,
        session_id: str,
        offer_sdp: str,
        *,
        publish: str | None,
        channel: str | None,
        listen_to_floor_video: bool = True,
    ) -> str:
        if self._closed:
            raise CommandError("the media plane is closed")
        if not isinstance(session_id, str) or not session_id:
            raise ProtocolError("session id must be a non-empty string")
        if publish is not None:
            check_source_key(publish)
        if channel is not None:
            check_channel(channel)
        offer = parse_offer(offer_sdp, max_bytes=self.settings.max_sdp_bytes)

        session = self._sessions.get(session_id)
        if session is not None and session.fingerprint not in ("", offer.fingerprint):
            # Another peer connection under the same session id (the tab reloaded):
            # the old one is dead, start afresh rather than confuse aiortc.
            logger.info("media session %s: new peer connection replaces the old", session_id)
            await self.close_session(session_id)
            session = None
        is_new = session is None
        if session is None:
            session = self._new_session(session_id)
        async with session.lock:
            if session.closing:
                raise CommandError(f"media session {session_id!r} is closing")
            try:
                await session.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=offer.sdp, type="offer")
                )
            except Exception as exc:
                if is_new:
                    await self.close_session(session_id)
                raise BadOffer(f"SDP offer rejected: {exc}") from exc
            session.fingerprint = offer.fingerprint
            session.channel = channel
            session.listen_video = listen_to_floor_video
            self._apply_offer(session, offer, publish)
            answer = await session.pc.createAnswer()
            await session.pc.setLocalDescription(answer)
            self._take_published_tracks(session, offer)
            self._resolve(session)
            return str(session.pc.localDescription.sdp)

    def _new_session(self, session_id: str) -> _Session:
        # max-bundle: aiortc's default (balanced) leaves a second audio m-line on a transport
        # it then stops when the offer bundles everything; every browser offer bundles.
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        session = _Session(id=session_id, pc=pc)
        session.down = {
            "video": DownTrack(
                "video",
                self._board,
                queue_size=VIDEO_QUEUE,
                name=f"{session_id}/video",
                direct=True,
            ),
            "program": DownTrack(
                "audio",
                self._board,
                queue_size=AUDIO_QUEUE,
                name=f"{session_id}/program",
                direct=True,
            ),
            "channel": DownTrack(
                "audio",
                self._board,
                queue_size=AUDIO_QUEUE,
                name=f"{session_id}/channel",
                direct=True,
            ),
        }
        self._sessions[session_id] = session

        @pc.on("connectionstatechange")
        def on_state() -> None:
            # failed: ICE or DTLS gave up; closed: the tab closed its peer connection
            if pc.connectionState in ("failed", "closed") and not session.closing:
                logger.info("media session %s: connection %s", session_id, pc.connectionState)
                self._spawn(self.close_session(session_id))

        return session

    def _apply_offer(self, session: _Session, offer: Offer, publish: str | None) -> None:
        """Decide each m-line's direction and bind our down tracks to its sender."""
        by_mid = {t.mid: t for t in session.pc.getTransceivers()}
        seen = {"audio": 0, "video": 0}
        taken = {"audio": False, "video": False}
        for m in offer.media:
            transceiver = by_mid.get(m.mid)
            if transceiver is None:
                raise ProtocolError(f"SDP offer m-line {m.index} has no a=mid")
            slot = slot_name(m.kind, seen[m.kind])
            seen[m.kind] += 1
            if slot not in session.down:  # a member slot (see .rooms)
                session.down[slot] = DownTrack(
                    m.kind,
                    self._board,
                    queue_size=VIDEO_QUEUE if m.kind == "video" else AUDIO_QUEUE,
                    name=f"{session.id}/{slot}",
                    direct=True,
                )
            send = m.receives and (slot != "video" or session.listen_video)
            may_publish = publish is not None and (m.kind == "audio" or publishes_video(publish))
            recv = m.sends and may_publish and not taken[m.kind]
            if recv:
                taken[m.kind] = True
            transceiver.direction = _direction(send, recv)
            down = session.down[slot]
            if send:
                if transceiver.sender.track is not down:
                    transceiver.sender.replaceTrack(down)
                session.bound.add(slot)
            else:
                if transceiver.sender.track is down:
                    transceiver.sender.replaceTrack(None)
                session.bound.discard(slot)
        if publish != session.publish:
            for feed in list(session.feeds.values()):
                self._spawn(feed.stop())
            session.feeds.clear()
        session.publish = publish

    def _take_published_tracks(self, session: _Session, offer: Offer) -> None:
        """Start a feed for each remote track this session may publish."""
        if session.publish is None:
            return
        for transceiver in session.pc.getTransceivers():
            if transceiver.currentDirection not in ("recvonly", "sendrecv"):
                continue
            track = transceiver.receiver.track
            if track is None:
                continue
            existing = session.feeds.get(transceiver.kind)
            if existing is not None and existing.track is track and not existing.ended:
                continue
            feed = Feed(
                session.publish,
                transceiver.kind,
                track,
                self._board,
                owner=session.id,
                request_keyframe=_KeyframeRequester(transceiver.receiver),
                on_ended=self._feed_ended,
                keyframe_start=passthrough.vp8_rtp_starts_keyframe,
                ntp_from_ms=passthrough.ntp_from_ms,
            )
            _tap(transceiver.receiver, feed)
            if existing is not None:
                self._spawn(existing.stop())
            session.feeds[transceiver.kind] = feed
            self._start_feed(feed)

    def _start_feed(self, feed: Feed) -> None:
        previous = self._board.set_feed(feed)
        if previous is not None and previous is not feed:
            # The old publisher's feed keeps draining its track (nobody hears it) until its
            # session ends; stopping it would let its receiver queue grow without bound.
            logger.info("source %s/%s taken over by a new publisher", feed.key, feed.kind)
        feed.start()

    def _feed_ended(self, feed: Feed) -> None:
        retired = self._retired.get(feed.key, (0, 0, 0, 0))
        c = feed.counters
        self._retired[feed.key] = (
            retired[0] + c.frames_in,
            retired[1] + c.frames_out,
            retired[2] + c.keyframe_requests,
            retired[3] + c.late_drops,
        )
        session = self._sessions.get(feed.owner) if feed.owner else None
        if session is not None and session.feeds.get(feed.kind) is feed:
            del session.feeds[feed.kind]
        if not self._board.clear_feed(feed):
            return  # replaced by another publisher of the same key
        if any(f.key == feed.key for f in self._board.feeds()):
            return
        logger.info("source %s gone", feed.key)
        if self.on_source_gone is not None and not self._closed:
            asyncio.get_running_loop().call_soon(self._notify_gone, feed.key)

    def _notify_gone(self, key: str) -> None:
        if self.on_source_gone is None or self._closed:
            return
        if any(f.key == key for f in self._board.feeds()):
            return  # came back meanwhile
        try:
            self.on_source_gone(key)
        except Exception:  # the control plane's bug must not kill the media plane
            logger.exception("on_source_gone(%s) failed", key)

    def unpublish(self, key: str) -> None:
        """Stop forwarding what sessions publish as ``key`` (the floor was taken away).

        Feeds are unhooked from the switchboard but keep draining their receivers; the
        session may publish again after a new offer."""
        for session in self._sessions.values():
            if session.publish != key:
                continue
            for feed in session.feeds.values():
                self._board.clear_feed(feed)
            session.publish = None
            self._resolve(session)

    def select_channel(self, session_id: str, channel: str | None) -> None:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFoundError(f"no media session {session_id!r}")
        if channel is not None:
            check_channel(channel)
        session.channel = channel
        self._resolve(session)

    async def close_session(self, session_id: str) -> None:
        session = self._sessions.get(session_id)
        if session is None:
            return
        session.closing = True
        try:
            for down in session.down.values():
                down.stop()
            for feed in list(session.feeds.values()):
                await feed.stop()
            await session.pc.close()
        finally:
            if self._sessions.get(session_id) is session:
                del self._sessions[session_id]
                self._rooms.forget(session_id)

    # -- routing -------------------------------------------------------------------------

    def set_routes(self, routes: Mapping[str, str]) -> None:
        checked = {check_channel(ch): check_source_key(key) for ch, key in routes.items()}
        self._routes = checked
        for session in self._sessions.values():
            self._resolve(session)
        if self._recorder is not None:
            self._recorder.set_routes(checked)

    def set_booth_feeds(self, feeds: Mapping[str, BoothFeed | str]) -> None:
        checked: dict[str, BoothFeed] = {}
        for who, feed in feeds.items():
            if isinstance(feed, str):
                feed = BoothFeed(hear=feed)
            check_source_key(who)
            check_source_key(feed.hear)
            if feed.partner is not None:
                check_source_key(feed.partner)
            checked[who] = feed
        self._booth_feeds = checked
        for session in self._sessions.values():
            self._resolve(session)

    def set_rooms(self, rooms: Mapping[str, RoomMedia], layer: str = "groups") -> None:
        for room in rooms.values():
            for key in room.members:
                check_source_key(key)
            for ch, key in room.routes.items():
                check_channel(ch)
                check_source_key(key)
            for heard in room.channels.values():
                if heard is not None:
                    check_channel(heard)
        self._rooms.set_rooms(rooms, layer)
        for session in self._sessions.values():
            self._resolve(session)

    def place(self, session_id: str, room: str | None, layer: str = "groups") -> None:
        self._rooms.place(session_id, room, layer)
        session = self._sessions.get(session_id)
        if session is not None:
            self._resolve(session)

    def room_of(self, session_id: str) -> str:
        return self._rooms.room_of(session_id)

    def set_floor_mix(self, mix: FloorMix) -> None:
        for key in (*mix.speakers, *([mix.video] if mix.video else [])):
            check_source_key(key)
        self._mixer.set(mix.speakers, mix.muted, mix.video)
        for session in self._sessions.values():
            self._resolve(session)
        if self._recorder is not None:  # floor.webm shows what the floor shows
            self._recorder.set_video(self._mixer.video_key or FLOOR)

    def _floor_levels(self, levels: Mapping[str, float]) -> None:
        if self.on_floor_levels is not None:
            self.on_floor_levels(levels)

    @property
    def mixer(self) -> FloorMixer:
        return self._mixer

    @property
    def routes(self) -> Mapping[str, str]:
        return dict(self._routes)

    def _resolve(self, session: _Session) -> None:
        """Point each of the session's down tracks at the source it should carry now."""
        booth = self._booth_feeds.get(session.publish) if session.publish else None
        plenary: dict[str, str | None] = {
            "video": FLOOR if session.listen_video and not session.video_paused else None,
            "program": booth.hear if booth else FLOOR,
            "channel": (
                booth.partner
                if booth
                else (self._routes.get(session.channel) if session.channel else None)
            ),
        }
        wanted = self._rooms.wanted(
            session.id,
            publish=session.publish,
            channel=session.channel,
            plenary=plenary,
            slots=session.down,
        )
        speaking = session.publish is not None and session.publish in self._mixer.speakers
        for slot, key in wanted.items():
            if key == FLOOR and slot == "video" and self._mixer.video_key:
                key = self._mixer.video_key  # the floor shows its active (or pinned) speaker
            elif speaking and key == FLOOR and slot != "video":
                key = minus_key(session.publish or "")  # a live speaker hears the others
            if slot not in session.bound or key == session.publish:
                key = None
            self._board.attach(session.down[slot], key)

    # -- local sources -------------------------------------------------------------------

    def add_local_source(
        self,
        key: str,
        audio: FrameSource | None,
        video: FrameSource | None,
    ) -> None:
        check_source_key(key)
        for track in (audio, video):
            if track is not None and not isinstance(track, MediaStreamTrack):
                raise CommandError("the embedded engine reads local sources as aiortc tracks")
        if key in self._local:
            raise CommandError(f"local source {key!r} exists")
        source = _LocalSource(key=key, tracks=[], feeds=[])
        for track in (audio, video):
            if not isinstance(track, MediaStreamTrack):
                continue
            encoded = track if isinstance(track, EncodedTrack) else EncodedTrack(track)
            feed = Feed(
                key,
                encoded.kind,
                encoded,
                self._board,
                request_keyframe=encoded.force_keyframe,
                on_ended=self._feed_ended,
                packetize=passthrough.Packetizer(encoded.kind).pack,
                keyframe_start=passthrough.vp8_rtp_starts_keyframe,
                ntp_from_ms=passthrough.ntp_from_ms,
            )
            source.tracks.append(encoded)
            source.feeds.append(feed)
            self._start_feed(feed)
        self._local[key] = source

    async def remove_local_source(self, key: str) -> None:
        source = self._local.pop(key, None)
        if source is None:
            return
        for track in source.tracks:
            track.stop()
        for feed in source.feeds:
            await feed.stop()

    # -- metering and recording ----------------------------------------------------------

    def meter(self, key: str, *, silence_dbfs: float = -50.0) -> LevelMeter:
        """Decode ``key``'s audio (once, from now on) for its level and silence alarm."""
        check_source_key(key)
        meter = self._meters.get(key)
        if meter is None:
            track = DownTrack("audio", self._board, queue_size=AUDIO_QUEUE, name=f"meter/{key}")
            self._board.attach(track, key)
            meter = LevelMeter(track, silence_dbfs=silence_dbfs)
            meter.start()
            self._meters[key] = meter
        return meter

    async def stop_meter(self, key: str) -> None:
        meter = self._meters.pop(key, None)
        if meter is not None:
            await meter.stop()

    async def start_recording(self, directory: Path | None = None) -> Path:
        if self._recorder is not None:
            raise CommandError("already recording")
        recorder = Recorder(self._board)
        path = await recorder.start(
            directory or self.settings.recordings_dir,
            self._routes,
            video=self._mixer.video_key or FLOOR,
        )
        self._recorder = recorder
        return path

    async def stop_recording(self) -> list[Path]:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return []
        return await recorder.stop()

    # -- stats and shutdown --------------------------------------------------------------

    def stats(self) -> MediaStats:
        # Live sources only (a key whose publisher left is absent); counters are cumulative
        # over the key's publishers, including ones that left before.
        sources: dict[str, SourceStats] = {}
        keys = {f.key for f in self._board.feeds()}
        for key in sorted(keys):
            feeds = [f for f in self._board.feeds() if f.key == key]
            retired = self._retired.get(key, (0, 0, 0, 0))
            sources[key] = SourceStats(
                key=key,
                kinds=tuple(sorted(f.kind for f in feeds)),
                local=key in self._local,
                frames_in=retired[0] + sum(f.counters.frames_in for f in feeds),
                frames_out=retired[1] + sum(f.counters.frames_out for f in feeds),
                keyframe_requests=retired[2] + sum(f.counters.keyframe_requests for f in feeds),
                late_drops=retired[3] + sum(f.counters.late_drops for f in feeds),
            )
        per_session = {
            s.id: SessionStats(
                session_id=s.id,
                publish=s.publish,
                channel=s.channel,
                connection_state=s.pc.connectionState,
                frames_out=sum(d.counters.frames_out for d in s.down.values()),
                drops=sum(d.counters.drops for d in s.down.values()),
            )
            for s in self._sessions.values()
        }
        return MediaStats(
            sessions=len(self._sessions),
            sources=sources,
            per_session=per_session,
            routes=dict(self._routes),
            recording=self._recorder.directory if self._recorder else None,
        )

    def set_video_paused(self, session_id: str, paused: bool) -> None:
        """Stop (or resume) sending floor video to one session; audio is untouched."""
        session = self._sessions.get(session_id)
        if session is None or session.video_paused == paused:
            return
        session.video_paused = paused
        if not paused:
            session.video_reports = lq.VideoReports(resumed_at=datetime.now(UTC))
        self._resolve(session)
        if paused:
            session.down["video"].drop_queued()

    async def link_reports(self) -> dict[str, LinkReport]:
        """What each session's receiver last reported (RTCP receiver reports): fraction
        lost on the audio and on the video it is sent."""
        out: dict[str, LinkReport] = {}
        for sid, session in list(self._sessions.items()):
            if session.closing:
                continue
            loss: dict[str, float | None] = {"audio": None, "video": None}
            for transceiver in session.pc.getTransceivers():
                sender = transceiver.sender
                if sender.track is None or not isinstance(sender.track, DownTrack):
                    continue
                if sender.track.kind == "video" and session.video_paused:
                    continue
                try:
                    report = await sender.getStats()
                except Exception as exc:  # a closing transport: no figures this time
                    logger.debug("session %s: no sender stats (%s)", sid, exc)
                    continue
                for stat in report.values():
                    if getattr(stat, "type", "") != "remote-inbound-rtp":
                        continue
                    fraction = getattr(stat, "fractionLost", None)
                    if fraction is None:
                        continue
                    kind = sender.track.kind
                    if kind == "video":
                        session.video_reports, usable = lq.judge_video_report(
                            session.video_reports, getattr(stat, "timestamp", None)
                        )
                        if not usable:
                            continue
                    value = fraction / 256.0
                    current = loss[kind]
                    loss[kind] = value if current is None else max(current, value)
            out[sid] = LinkReport(
                audio_loss=loss["audio"],
                video_loss=loss["video"],
                video_paused=session.video_paused,
            )
        return out

    def frames_in(self) -> dict[str, int]:
        """Frames received so far per live source key (cheap: the loss watch samples it)."""
        out: dict[str, int] = {}
        for feed in self._board.feeds():
            retired = self._retired.get(feed.key, (0, 0, 0, 0))[0]
            out[feed.key] = out.get(feed.key, retired) + feed.counters.frames_in
        return out

    def last_packets(self) -> dict[str, float]:
        """When each live source key's last packet arrived (time.monotonic()), for the loss
        watch: its delay is counted from there, not from the sample that saw it."""
        out: dict[str, float] = {}
        for feed in self._board.feeds():
            out[feed.key] = max(out.get(feed.key, feed.last_in), feed.last_in)
        return out

    def session_ids(self) -> list[str]:
        return list(self._sessions)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.stop_recording()
        await self._mixer.close()
        for key in list(self._meters):
            await self.stop_meter(key)
        for key in list(self._local):
            await self.remove_local_source(key)
        await asyncio.gather(
            *(self.close_session(sid) for sid in list(self._sessions)), return_exceptions=True
        )
        await asyncio.gather(*self._tasks, return_exceptions=True)
