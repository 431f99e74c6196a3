"""Pass-through media in aiortc: the one module that relies on aiortc's internals.

aiortc decodes every received frame and encodes every frame it sends. An SFU must do
neither. Three hooks, all checked against the pinned version (aiortc 1.16.0):

1. **Receive side.** A receiver's decoder thread looks its decoder up through the module
   global ``aiortc.rtcrtpreceiver.get_decoder``. We put :func:`_get_decoder` in its place:
   for Opus and VP8 it returns a :class:`PassThroughDecoder` that hands back the encoded
   frame as an ``av.Packet`` (``pts`` and ``time_base`` set: without them the sender fails
   with only a logged warning and the listener goes silent while "connected"). Remote
   tracks then yield packets instead of decoded frames.
   Since there is nothing to decode, :func:`_receive` also swaps the receiver's decoder
   queue for an :class:`_InlineDecoderQueue` once the receiver starts: Opus/VP8 frames
   become packets on the event loop and go straight into the track's queue, skipping the
   decoder thread's two hops (latency, and GIL convoys under load); the thread only sees
   other codecs and the stop sentinel.
2. **Send side.** ``RTCRtpSender._next_encoded_frame`` packs an ``av.Packet`` with the
   codec's ``pack()`` (RTP packetizing only) instead of calling ``encode()``. Nothing to
   patch: a forwarded track just yields packets. The sender assigns its own sequence
   numbers; the RTP timestamp is ``random origin + packet.pts``, so whoever feeds a sender
   must keep ``pts`` continuous (see :mod:`simultan.media.fanout`).
3. **Keyframe requests.** A PLI/FIR from a subscriber reaches ``RTCRtpSender._send_keyframe``,
   which only sets a flag for the (unused) encoder. We wrap it to also call the sender's
   track's ``keyframe_requested()`` when it has one, so the SFU can ask the publisher
   (:func:`request_keyframe` sends a PLI through the publisher's receiver).

4. **Direct send path.** A sender whose track offers ``bind_wire`` (a
   :class:`~.fanout.DownTrack`) gets a :class:`Wire` once aiortc starts it (``send()``).
   The wire configures the track's :class:`~.route.Route` with the selected ICE pair's socket
   (a dup of its descriptor) and address, the SSRC, payload type and mid extension, and the
   DTLS transport's SRTP session (its libsrtp context and ``srtp_protect``); the feed then
   writes each packet to every subscriber with one :func:`~.route.forward` call (header,
   protect, ``sendto``; C, see :mod:`simultan.media.route`). The sender's own RTP task
   waits idle in ``recv()``; the RTCP clock (5.) sends true sender reports, because the wire
   gives the sender the route's packet/octet counts and NTP/RTP pair first. NACKs reach
   ``RTCRtpSender._retransmit``, which asks the track to answer from its feed's cache (RTX
   when negotiated). On the receive side, a receiver given a tap (:func:`tap_receiver`)
   hands each RTP packet, RTX unwrapped, with aiortc's own arrival time, to the tap before
   its jitter buffer sees it. Internals relied on: the DTLS transport's ``_state`` and
   ``_tx_srtp``, the ICE connection's ``_nominated`` pairs and their protocol's socket,
   pylibsrtp's ``_srtp`` context (tests/media/test_passthrough.py, test_route.py).

5. **One RTCP clock.** aiortc runs one RTCP task per sender (an SR and SDES about once a
   second, through its async send path): at 300 listeners with three senders each, 900
   task wakeups a second, more CPU than forwarding itself. :func:`_run_rtcp` registers the
   sender with :class:`RtcpClock` instead: one task for the whole process wakes every
   ``TICK`` and sends, for each DTLS transport that is due, one compound packet with an
   SR + SDES for each of its senders **that sent since its last report** (an idle slot
   sends none); it keeps aiortc's ``__lsr``/``__lsr_time`` (RTT from receiver reports) and
   the BYE when the sender stops. The interval is per transport, as libwebrtc's: about a
   second (0.5-1.5 s) while it carries video, about five (2.5-7.5 s) when it carries audio
   only; the first report comes 0.5-1.5 s after the transport's first sender starts, and a
   transport whose video starts (or resumes) while it is on the audio interval is
   reported within about a second.

6. **Direct receive path.** Once a DTLS transport is connected (``RTCDtlsTransport.start``,
   wrapped by :func:`_dtls_start`), its ICE connection gets a :class:`_MediaSink`
   (:func:`~.stunpath.set_media_sink`): each SRTP/SRTCP datagram is unprotected and handled in
   the datagram callback, as ``_recv_next`` would (aiortc's byte and packet counters, its
   ``_handle_rtp_data``/``_handle_rtcp_data``, run by :func:`run_eagerly`), instead of going
   through aioice's queue and one wakeup of the transport's task per packet. DTLS keeps that
   path. The receiver's tap also says whether anyone reads the track's frames
   (:class:`_TapBuffer`): while nobody does, packets skip the jitter buffer, so no frame is
   assembled, wrapped in an ``av.Packet`` and queued for nothing; and a receiver whose feed
   says so up front (``frames_wanted``) takes :class:`LeanReceive` instead of aiortc's
   handler (the same REMB, statistics and NACK bookkeeping, without a coroutine, a
   depayload and the jitter buffer per packet). Internals relied on: the
   DTLS transport's ``_state``, ``_rx_srtp``, ``__rx_bytes``, ``__rx_packets``, the ICE
   transport's ``_connection``, aiortc's ``JitterBuffer.remove``/``_origin``
   (tests/media/test_receive_path.py).

Optionally (``low_latency_audio``, on by default) the audio receiver's jitter buffer, which
holds four frames (~80 ms) before releasing one, is replaced by :class:`ForwardingAudioBuffer`:
an Opus RTP packet is a whole frame, and reordering and loss concealment are the listener's
jitter buffer's job, not the forwarder's.

The hooks are process-wide: every RTCPeerConnection in a process that installed them
receives packets, not frames. Raw audio (level meters, tests) comes from a separate decode
path on the packets (:mod:`simultan.media.decode`).
"""

from __future__ import annotations

import asyncio
import fractions
import heapq
import itertools
import logging
import random
import struct
import time
from collections.abc import Callable
from typing import Any

import aiortc
import av
import pylibsrtp

REQUIRED_AIORTC = "1.16.0"

if aiortc.__version__ != REQUIRED_AIORTC:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"simultan.media.passthrough relies on aiortc {REQUIRED_AIORTC} internals "
        f"(receiver get_decoder hook, sender encoded-frame path, RTCP PLI); found aiortc "
        f"{aiortc.__version__}. Install aiortc=={REQUIRED_AIORTC} or re-check "
        f"simultan/media/passthrough.py and its tests against the new version."
    )

import aiortc.rtcrtpreceiver as _receiver_mod  # noqa: E402
from aiortc import clock as _aiortc_clock  # noqa: E402
from aiortc.codecs.base import Decoder  # noqa: E402
from aiortc.codecs.opus import OpusEncoder  # noqa: E402
from aiortc.codecs.vpx import Vp8Encoder  # noqa: E402
from aiortc.jitterbuffer import JitterFrame  # noqa: E402
from aiortc.rtcdtlstransport import RTCDtlsTransport  # noqa: E402
from aiortc.rtcdtlstransport import State as _DtlsState  # noqa: E402
from aiortc.rtcrtpparameters import RTCRtpCodecParameters  # noqa: E402
from aiortc.rtcrtpreceiver import RTCRtpReceiver  # noqa: E402
from aiortc.rtcrtpsender import RTCRtpSender  # noqa: E402
from aiortc.rtp import (  # noqa: E402
    RTCP_PSFB_APP,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    RtpPacket,
    is_rtcp,
    pack_remb_fci,
)
from pylibsrtp._binding import ffi as _srtp_ffi  # noqa: E402
from pylibsrtp._binding import lib as _srtp_lib  # noqa: E402

from simultan.media import batchread, stunpath  # noqa: E402

logger = logging.getLogger(__name__)

FORWARDED_MIME_TYPES = frozenset({"audio/opus", "video/vp8"})
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)

# What install() replaced, to check and to restore.
_ORIGINAL_GET_DECODER = _receiver_mod.get_decoder  # type: ignore[attr-defined]
_ORIGINAL_JITTER_BUFFER = _receiver_mod.JitterBuffer  # type: ignore[attr-defined]
_ORIGINAL_SEND_KEYFRAME = RTCRtpSender._send_keyframe
_ORIGINAL_HANDLE_RTP = RTCRtpReceiver._handle_rtp_packet
_ORIGINAL_SEND = RTCRtpSender.send
_ORIGINAL_REPLACE_TRACK = RTCRtpSender.replaceTrack
_ORIGINAL_RETRANSMIT = RTCRtpSender._retransmit
_ORIGINAL_RUN_RTCP = RTCRtpSender._run_rtcp
_ORIGINAL_DTLS_START = RTCDtlsTransport.start

for _name, _owner in (
    ("_send_rtcp_pli", RTCRtpReceiver),
    ("receive", RTCRtpReceiver),
    ("_send_keyframe", RTCRtpSender),
    ("_next_encoded_frame", RTCRtpSender),
    ("_handle_rtp_packet", RTCRtpReceiver),
    ("_retransmit", RTCRtpSender),
    ("send", RTCRtpSender),
    ("replaceTrack", RTCRtpSender),
    ("_run_rtcp", RTCRtpSender),
    ("_send_rtcp", RTCRtpSender),
    ("start", RTCDtlsTransport),
    ("_handle_rtp_data", RTCDtlsTransport),
    ("_handle_rtcp_data", RTCDtlsTransport),
):
    if not callable(getattr(_owner, _name, None)):  # pragma: no cover
        raise ImportError(f"aiortc {aiortc.__version__}: {_owner.__name__}.{_name} is missing")


def vp8_is_keyframe(data: bytes) -> bool:
    """A VP8 frame is a keyframe when bit 0 of its frame tag (the P bit) is 0 (RFC 6386 9.1)."""
    return len(data) >= 3 and not (data[0] & 0x01)


def vp8_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header, or None for an inter frame."""
    if not vp8_is_keyframe(data) or len(data) < 10 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


class PassThroughDecoder(Decoder):
    """Returns the received encoded frame as one ``av.Packet`` instead of decoding it."""

    def __init__(self, kind: str, time_base: fractions.Fraction) -> None:
        self.kind = kind
        self.time_base = time_base

    def decode(self, encoded_frame: JitterFrame) -> list[Any]:
        packet = av.Packet(encoded_frame.data)
        packet.pts = encoded_frame.timestamp
        packet.dts = encoded_frame.timestamp
        packet.time_base = self.time_base
        if self.kind == "video":
            packet.is_keyframe = vp8_is_keyframe(encoded_frame.data)
        return [packet]


def _get_decoder(codec: RTCRtpCodecParameters) -> Decoder:
    mime = codec.mimeType.lower()
    if mime == "audio/opus":
        return PassThroughDecoder("audio", AUDIO_TIME_BASE)
    if mime == "video/vp8":
        return PassThroughDecoder("video", VIDEO_TIME_BASE)
    # The SFU only negotiates Opus and VP8 (simultan.media.offer); anything else would
    # come out decoded and be re-encoded per listener, so say so loudly.
    logger.warning("no pass-through for %s: decoding it", mime)
    return _ORIGINAL_GET_DECODER(codec)


class ForwardingAudioBuffer:
    """Stands in for aiortc's audio jitter buffer: releases each Opus packet at once.

    Duplicates and packets older than the newest one seen (within a reorder window) are
    dropped: a forwarder must not send time backwards. A large backwards jump is taken as a
    restarted stream and accepted.
    """

    REORDER_WINDOW = 100

    def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False) -> None:
        self._capacity = capacity
        self._last_seq: int | None = None
        self.dropped = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        seq = packet.sequence_number
        if self._last_seq is not None:
            behind = (self._last_seq - seq) & 0xFFFF
            if behind < self.REORDER_WINDOW:  # duplicate (0) or late
                self.dropped += 1
                return False, None
        self._last_seq = seq
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]


def _jitter_buffer(capacity: int, prefetch: int = 0, is_video: bool = False) -> Any:
    if is_video:
        return _ORIGINAL_JITTER_BUFFER(capacity=capacity, prefetch=prefetch, is_video=True)
    return ForwardingAudioBuffer(capacity=capacity, prefetch=prefetch)


class _InlineDecoderQueue:
    """Stands in for a receiver's decoder queue: pass-through frames skip the thread.

    aiortc hands every complete frame to a decoder thread, which returns the result to the
    event loop with ``run_coroutine_threadsafe``. For a pass-through codec there is nothing
    to decode, and the two thread hops per frame cost latency and, under load, GIL
    convoys. Frames of Opus/VP8 are turned into packets right here, on the event loop, and
    put straight into the track's queue; anything else (and the stop sentinel) still goes
    to the thread.
    """

    def __init__(self, thread_queue: Any, track_queue: asyncio.Queue[Any]) -> None:
        self._thread_queue = thread_queue
        self._track_queue = track_queue
        self._decoders: dict[str, Decoder] = {}

    def put(self, item: Any) -> None:
        if item is not None:
            codec, encoded_frame = item
            mime = codec.mimeType.lower()
            if mime in FORWARDED_MIME_TYPES:
                decoder = self._decoders.get(mime)
                if decoder is None:
                    decoder = self._decoders[mime] = _get_decoder(codec)
                for packet in decoder.decode(encoded_frame):
                    self._track_queue.put_nowait(packet)
                return
        self._thread_queue.put(item)

    def qsize(self) -> int:
        return int(self._thread_queue.qsize())


_ORIGINAL_RECEIVE = RTCRtpReceiver.receive


async def _receive(self: RTCRtpReceiver, parameters: Any) -> None:
    await _ORIGINAL_RECEIVE(self, parameters)
    current = getattr(self, "_RTCRtpReceiver__decoder_queue", None)
    track = self._track
    if current is not None and track is not None and not isinstance(current, _InlineDecoderQueue):
        self._RTCRtpReceiver__decoder_queue = _InlineDecoderQueue(  # type: ignore[attr-defined]
            current, track._queue
        )
    buffer = getattr(self, "_RTCRtpReceiver__jitter_buffer", None)
    if buffer is not None and not isinstance(buffer, _TapBuffer):
        self._RTCRtpReceiver__jitter_buffer = _TapBuffer(buffer, self)  # type: ignore[attr-defined]


# -- receive tap ---------------------------------------------------------------------------

RtpTap = Callable[[RtpPacket, int], "bool | None"]
"""Called with each received RTP packet (RTX unwrapped) and aiortc's arrival time in ms
(wall clock, since the NTP epoch). Returning False says nobody reads the track's frames
now: the packet skips the jitter buffer, and frames are not assembled."""


def vp8_frame_start(payload: bytes) -> bool:
    """An RTP payload that starts a VP8 frame: S bit set, partition 0 (RFC 7741 4.2)."""
    return len(payload) > 0 and (payload[0] & 0x1F) == 0x10


class _TapBuffer:
    """Wraps a receiver's jitter buffer: the receiver's tap sees each packet first.

    While the tap says no frames are wanted (every reader takes RTP), packets skip the
    jitter buffer: no frame assembly, no ``av.Packet``, no wakeup of the track's reader for
    each one. When frames are wanted again, the buffer starts afresh, and a video one at the
    first packet of a frame, so a reader never gets a frame without its beginning."""

    def __init__(self, inner: Any, receiver: RTCRtpReceiver) -> None:
        self._inner = inner
        self._receiver = receiver
        self._video = bool(getattr(inner, "_is_video", False))
        self._paused = False
        self._wait_for_start = False
        self.skipped = 0  # packets that bypassed the buffer (tests)

    @property
    def capacity(self) -> int:
        return int(self._inner.capacity)

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        receiver: Any = self._receiver
        tap = receiver._simultan_tap
        if tap is not None and tap(packet, receiver._simultan_arrival) is False:
            self._paused = True
            self.skipped += 1
            return False, None
        if self._paused:
            self._paused = False
            self._reset()
            self._wait_for_start = self._video
        if self._wait_for_start:
            if not vp8_frame_start(packet.payload):
                return False, None
            self._wait_for_start = False
        result: tuple[bool, JitterFrame | None] = self._inner.add(packet)
        return result

    def bypassed(self) -> None:
        """A packet went past this buffer (:class:`LeanReceive`): as if the tap said no."""
        self._paused = True
        self.skipped += 1

    def _reset(self) -> None:
        inner = self._inner
        if isinstance(inner, ForwardingAudioBuffer):
            inner._last_seq = None
        elif getattr(inner, "_origin", None) is not None:  # aiortc's JitterBuffer
            inner.remove(inner.capacity)
            inner._origin = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def _handle_rtp_packet(self: RTCRtpReceiver, packet: RtpPacket, arrival_time_ms: int) -> None:
    self._simultan_arrival = arrival_time_ms  # type: ignore[attr-defined]
    await _ORIGINAL_HANDLE_RTP(self, packet, arrival_time_ms)


def tap_receiver(
    receiver: RTCRtpReceiver,
    tap: RtpTap | None,
    frames_wanted: Callable[[], bool] | None = None,
) -> None:
    """Give ``receiver`` a tap (None removes it). Works before or after it starts.

    With ``frames_wanted`` (whether anyone reads the track's frames now), packets that
    arrive on the direct receive path while it says no take :class:`LeanReceive`."""
    receiver._simultan_tap = tap  # type: ignore[attr-defined]
    receiver._simultan_lean = (  # type: ignore[attr-defined]
        LeanReceive(receiver, tap, frames_wanted)
        if tap is not None and frames_wanted is not None
        else None
    )


def untap_receiver(receiver: RTCRtpReceiver, tap: RtpTap) -> None:
    """Remove ``tap`` from ``receiver`` unless another tap replaced it meanwhile."""
    if getattr(receiver, "_simultan_tap", None) == tap:
        receiver._simultan_tap = None  # type: ignore[attr-defined]
        receiver._simultan_lean = None  # type: ignore[attr-defined]


class LeanReceive:
    """What ``RTCRtpReceiver._handle_rtp_packet`` does with a packet, for a receiver whose
    frames nobody reads: the same bitrate estimate (REMB), source, statistics and NACK
    bookkeeping, then the tap; no depayloading, no jitter buffer, and no coroutine per
    packet (the RTCP it may send goes through :func:`run_eagerly`). Anything else (RTX, an
    unknown payload type, a disabled receiver, frames wanted) returns False: aiortc's own
    handler takes it. Pinned to aiortc 1.16.0's handler by tests/media/test_receive_path.py."""

    __slots__ = ("_frames_wanted", "_receiver", "_tap", "handled")

    def __init__(
        self, receiver: RTCRtpReceiver, tap: RtpTap, frames_wanted: Callable[[], bool]
    ) -> None:
        self._receiver: Any = receiver
        self._tap = tap
        self._frames_wanted = frames_wanted
        self.handled = 0

    def __call__(self, packet: RtpPacket, arrival_ms: int) -> bool:
        r = self._receiver
        if not r._enabled or self._frames_wanted():
            return False
        codec = r._RTCRtpReceiver__codecs.get(packet.payload_type)
        if codec is None or codec.mimeType.lower() not in FORWARDED_MIME_TYPES:
            return False  # unknown or RTX: aiortc's handler logs, unwraps, drops
        estimator = r._RTCRtpReceiver__remote_bitrate_estimator
        if estimator is not None:
            abs_send_time = packet.extensions.abs_send_time
            if abs_send_time is not None:
                remb = estimator.add(
                    abs_send_time=abs_send_time,
                    arrival_time_ms=arrival_ms,
                    payload_size=len(packet.payload) + packet.padding_size,
                    ssrc=packet.ssrc,
                )
                rtcp_ssrc = r._RTCRtpReceiver__rtcp_ssrc
                if rtcp_ssrc is not None and remb is not None:
                    feedback = RtcpPsfbPacket(
                        fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
                    )
                    run_eagerly(r._send_rtcp(feedback))
        ssrc = packet.ssrc
        r._RTCRtpReceiver__active_ssrc[ssrc] = _aiortc_clock.current_datetime()
        streams = r._RTCRtpReceiver__remote_streams
        stats = streams.get(ssrc)
        if stats is None:
            stats = streams[ssrc] = _receiver_mod.StreamStatistics(codec.clockRate)
        stats.add(packet)
        nack = r._RTCRtpReceiver__nack_generator
        if nack is not None and nack.add(packet):
            run_eagerly(r._send_rtcp_nack(ssrc, sorted(nack.missing)))
        self._tap(packet, arrival_ms)
        buffer = r._RTCRtpReceiver__jitter_buffer
        if type(buffer) is _TapBuffer:
            buffer.bypassed()  # it starts afresh when frames are wanted again
        self.handled += 1
        return True


RTCRtpReceiver._simultan_tap = None  # type: ignore[attr-defined]
RTCRtpReceiver._simultan_lean = None  # type: ignore[attr-defined]
RTCRtpReceiver._simultan_arrival = 0  # type: ignore[attr-defined]


def ntp_from_ms(ms: int) -> int:
    """aiortc's wall-clock milliseconds (since 1900) as a 64-bit NTP timestamp."""
    seconds, rest = divmod(ms, 1000)
    return (seconds << 32) | ((rest << 32) // 1000)


def vp8_rtp_starts_keyframe(payload: bytes) -> bool:
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


class Packetizer:
    """Splits encoded frames (``av.Packet``) into RTP payloads, once per feed.

    aiortc's own codec packers: Opus is one payload per packet; VP8 gets RFC 7741
    descriptors with a running picture id.
    """

    def __init__(self, kind: str) -> None:
        self._packer: OpusEncoder | Vp8Encoder = OpusEncoder() if kind == "audio" else Vp8Encoder()

    def pack(self, packet: av.Packet[Any]) -> tuple[list[bytes], int]:
        return self._packer.pack(packet)


# -- direct send ---------------------------------------------------------------------------

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
_RTP_HEADER = struct.Struct("!BBHII")
_CONNECTED = _DtlsState.CONNECTED


def _mid_extension(parameters: Any) -> bytes:
    """The RTP header extension block carrying the mid (one-byte form), or b""."""
    mid = str(parameters.muxId or "").encode()
    ext_id = next((e.id for e in parameters.headerExtensions if e.uri == MID_URI), None)
    if not mid or ext_id is None or not 1 <= ext_id <= 14 or len(mid) > 16:
        return b""
    body = bytes([(ext_id << 4) | (len(mid) - 1)]) + mid
    body += b"\x00" * (-len(body) % 4)
    return b"\xbe\xde" + struct.pack("!H", len(body) // 4) + body


# pylibsrtp's Session.protect allocates an ``int *`` and checks its argument on every call
# (~15 % of the direct path). Wires call libsrtp through the session's own context and
# buffer instead (pylibsrtp 1.0.0 internals: ``_srtp``, ``_cdata``, ``_buffer``; pinned by
# tests/media/test_passthrough.py, which checks the bytes against Session.protect).
_SRTP_TRAILER = 16 + 128  # pylibsrtp.SRTP_MAX_TRAILER_LEN


def _fast_srtp(
    session: pylibsrtp.Session, function: Any, trailer: int, name: str
) -> Callable[[bytes], bytes]:
    """One of ``session``'s four operations, without pylibsrtp's per-call allocation."""
    s: Any = session
    context = s._srtp[0]
    cdata = s._cdata
    buffer = s._buffer
    limit = len(cdata) - trailer
    length = _srtp_ffi.new("int *")
    ok = _srtp_lib.srtp_err_status_ok

    def fast(data: bytes, _session: Any = session) -> bytes:  # _session: keeps it alive
        n = len(data)
        if n > limit:
            raise ValueError("packet is too long")
        length[0] = n
        buffer[0:n] = data
        rc = function(context, cdata, length)
        if rc != ok:
            raise pylibsrtp.Error(f"{name} failed ({rc})")
        out: bytes = buffer[0 : length[0]]
        return out

    return fast


def fast_protect(session: pylibsrtp.Session) -> Callable[[bytes], bytes]:
    """``session.protect`` for RTP, without pylibsrtp's per-call allocation."""
    return _fast_srtp(session, _srtp_lib.srtp_protect, _SRTP_TRAILER, "srtp_protect")


def fast_unprotect(session: pylibsrtp.Session) -> Callable[[bytes], bytes]:
    """``session.unprotect`` (SRTP), without pylibsrtp's per-call allocation."""
    return _fast_srtp(session, _srtp_lib.srtp_unprotect, 0, "srtp_unprotect")


_SRTP_PROTECT = int(_srtp_ffi.cast("uintptr_t", _srtp_ffi.addressof(_srtp_lib, "srtp_protect")))


def srtp_context(session: pylibsrtp.Session) -> int:
    """The libsrtp context behind a pylibsrtp session, as an address (for the C path)."""
    s: Any = session
    return int(_srtp_ffi.cast("uintptr_t", s._srtp[0]))


class Wire:
    """One sender's way out: configures its track's :class:`~.route.Route` with the selected
    ICE pair's socket and address, the SSRC, payload type, mid extension and SRTP session.

    The route then sends by itself (:func:`~.route.forward`, once per feed packet for every
    subscriber). The wire checks that what the route was given is still current (DTLS
    connected, the same nominated pair, the same SRTP session) on every send of its own and
    once per sender report (:class:`RtcpClock`), and re-configures or clears the route when it
    is not. A pair without a plain UDP socket of ours (a TURN relay) is sent to through aioice,
    in Python. The sender's packet and octet counts (for its sender reports) come from the
    route: :meth:`sync_sender`.
    """

    def __init__(self, sender: RTCRtpSender, parameters: Any, route: Any) -> None:
        self._sender: Any = sender
        self._dtls: Any = sender.transport
        codec = parameters.codecs[0]
        self.payload_type: int = codec.payloadType
        self.clock_rate: int = codec.clockRate
        self.ssrc: int = sender._ssrc
        self.rtx_ssrc: int = sender._rtx_ssrc
        self.rtx_payload_type: int | None = next(
            (
                c.payloadType
                for c in parameters.codecs
                if c.mimeType.lower().endswith("/rtx")
                and c.parameters.get("apt") == codec.payloadType
            ),
            None,
        )
        self._rtx_seq = random.randrange(0, 32768)
        self._ext = _mid_extension(parameters)
        self._byte0 = 0x90 if self._ext else 0x80
        self._nominated: dict[int, Any] = self._dtls.transport._connection._nominated
        self.route = route
        self._pair: Any = None
        self._srtp: Any = None
        self._addr: tuple[str, int] = ("", 0)
        self._fallback: Any = None  # aioice's protocol, when the pair has no socket of ours
        self._relayed = [0, 0]  # packets and octets sent through it
        self._protect: Callable[[bytes], bytes] = bytes
        # The sender's counts before this wire, and the route's when it was attached.
        s: Any = sender
        self._base = (s._RTCRtpSender__packet_count, s._RTCRtpSender__octet_count)
        self._route_base = (route.packets, route.octets)
        self._detached = False
        route.unconfigure()
        s._simultan_wire = self

    @property
    def sent(self) -> int:
        return int(self.route.sent)

    @property
    def failed(self) -> int:
        return int(self.route.failed)

    def current(self) -> bool:
        """Bring the route up to date with the connection; True if packets can go."""
        if self._detached:
            return False
        dtls = self._dtls
        if dtls._state is not _CONNECTED:
            if self._pair is not None:
                self._clear()
            return False
        pair = self._nominated.get(1)
        srtp = dtls._tx_srtp
        if (
            pair is self._pair
            and srtp is self._srtp
            and (self._fallback is not None or self.route.configured)
        ):
            return pair is not None
        self._clear()
        if pair is None or srtp is None:
            return False
        self._pair, self._srtp, self._addr = pair, srtp, pair.remote_addr
        transport = getattr(pair.protocol, "transport", None)
        sock = getattr(transport, "_sock", None)
        if sock is not None and hasattr(sock, "fileno") and sock.fileno() >= 0:
            self.route.configure(
                sock.fileno(),
                self._addr[0],
                self._addr[1],
                self._byte0,
                self.payload_type,
                self.ssrc,
                self._ext,
                srtp_context(srtp),
                _SRTP_PROTECT,
                srtp,
            )
        else:  # e.g. a TURN relay: let aioice wrap it
            self._fallback, self._protect = pair.protocol, fast_protect(srtp)
        return True

    def _clear(self) -> None:
        self.route.unconfigure()
        self._pair = self._srtp = self._fallback = None
        self._protect = bytes

    def detach(self) -> None:
        """The track leaves this sender (or the sender stops): its counts stay with the
        sender, and the route, which the track may take to another sender, is let go."""
        if self._detached:
            return
        self.sync_sender()
        self._clear()
        self._detached = True

    def sync_sender(self) -> None:
        """Give the sender the counts and the last timestamp pair its next report says."""
        if self._detached:
            return
        route, sender = self.route, self._sender
        packets, octets = self._relayed
        sender._RTCRtpSender__packet_count = (
            self._base[0] + packets + route.packets - self._route_base[0]
        )
        sender._RTCRtpSender__octet_count = (
            self._base[1] + octets + route.octets - self._route_base[1]
        )
        if route.packets:
            sender._RTCRtpSender__rtp_timestamp = route.rtp_ts
            sender._RTCRtpSender__ntp_timestamp = route.ntp

    def send(self, payload: bytes, marker: int, seq: int, ts: int, ntp: int) -> bool:
        """Protect and send one packet now; False if it could not go (never waits)."""
        if not self.current():
            return bool(self.route.send(payload, marker, seq, ts, ntp))  # counts the failure
        if self._fallback is None:
            return bool(self.route.send(payload, marker, seq, ts, ntp))
        header = _RTP_HEADER.pack(
            self._byte0, (marker << 7) | self.payload_type, seq, ts, self.ssrc
        )
        if not self._relay(header + self._ext + payload):
            return False
        self._relayed[0] += 1
        self._relayed[1] += len(payload)
        return True

    def resend(self, payload: bytes, marker: int, seq: int, ts: int) -> bool:
        """Send a packet again (a NACK): as RTX when negotiated, else as it was."""
        rtx_pt = self.rtx_payload_type
        if rtx_pt is None:
            header = _RTP_HEADER.pack(
                self._byte0, (marker << 7) | self.payload_type, seq, ts, self.ssrc
            )
            packet = header + self._ext + payload
        else:
            rtx_seq = self._rtx_seq
            self._rtx_seq = (rtx_seq + 1) & 0xFFFF
            header = _RTP_HEADER.pack(
                self._byte0, (marker << 7) | rtx_pt, rtx_seq, ts, self.rtx_ssrc
            )
            packet = header + self._ext + struct.pack("!H", seq) + payload
        if self.current() and self._fallback is not None:
            return self._relay(packet)
        return bool(self.route.send_packet(packet))

    def _relay(self, packet: bytes) -> bool:
        try:
            data = self._protect(packet)
        except pylibsrtp.Error:
            return False
        task = asyncio.ensure_future(self._fallback.send_data(data, self._addr))
        task.add_done_callback(_log_failure)
        return True


def _bind(sender: RTCRtpSender, track: Any) -> None:
    bind = getattr(track, "bind_wire", None)
    parameters = getattr(sender, "_simultan_parameters", None)
    if callable(bind) and parameters is not None:
        bind(Wire(sender, parameters, track.route))


async def _send(self: RTCRtpSender, parameters: Any) -> None:
    await _ORIGINAL_SEND(self, parameters)
    if getattr(self, "_simultan_parameters", None) is None:
        self._simultan_parameters = parameters  # type: ignore[attr-defined]
        _bind(self, self.track)


def _replace_track(self: RTCRtpSender, track: Any) -> None:
    old = getattr(self, "_RTCRtpSender__track", None)
    _ORIGINAL_REPLACE_TRACK(self, track)
    if old is track:
        return
    unbind = getattr(old, "bind_wire", None)
    if callable(unbind):
        unbind(None)
    wire = getattr(self, "_simultan_wire", None)
    if wire is not None:
        wire.detach()
        self._simultan_wire = None  # type: ignore[attr-defined]
    _bind(self, track)


async def _retransmit(self: RTCRtpSender, sequence_number: int) -> None:
    track: Any = self.track
    if getattr(track, "direct", False):
        track.retransmit(sequence_number)
        return
    await _ORIGINAL_RETRANSMIT(self, sequence_number)


def sender_counts(sender: RTCRtpSender) -> tuple[int, int, int, int]:
    """(packets, octets, last RTP timestamp, its NTP time): what the next SR will say."""
    s: Any = sender
    wire = getattr(s, "_simultan_wire", None)
    if wire is not None:
        wire.sync_sender()
    return (
        s._RTCRtpSender__packet_count,
        s._RTCRtpSender__octet_count,
        s._RTCRtpSender__rtp_timestamp,
        s._RTCRtpSender__ntp_timestamp,
    )


# -- one RTCP clock -------------------------------------------------------------------------


class RtcpClock:
    """Sender reports for every sender in the process, from one task (see point 5 above)."""

    TICK = 0.25
    VIDEO_INTERVAL = 1.0  # libwebrtc: video RTCP about every second
    AUDIO_INTERVAL = 5.0  # libwebrtc: audio-only RTCP about every five seconds
    FIRST_INTERVAL = 1.0  # the first report, and the next look at a transport that sent none
    PEEK_EVERY = 4  # ticks: how often a transport on the audio interval is checked for video

    def __init__(self) -> None:
        self._senders: dict[Any, dict[RTCRtpSender, int]] = {}  # transport -> sender -> count
        self._due: dict[Any, float] = {}
        # Transports on the audio interval that have a video sender: checked every
        # PEEK_EVERY ticks, so video that starts is reported at the video interval.
        self._long: set[Any] = set()
        # (due, n, transport): only the transports due are visited at a tick; an entry whose
        # due time is no longer the transport's is stale and skipped.
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._ticks = 0
        self._task: asyncio.Task[None] | None = None
        self.reports = 0  # SRs sent (tests, benchmarks)

    @staticmethod
    def jitter(interval: float) -> float:
        """An interval randomized over 0.5-1.5 times itself (RFC 3550 6.3.1, aiortc, libwebrtc)."""
        return interval * (0.5 + random.random())

    def add(self, sender: RTCRtpSender) -> None:
        loop = asyncio.get_running_loop()
        self.enroll(sender, loop.time())
        task = self._task
        # A task of another (e.g. a finished test's) event loop never runs again: start one here.
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._run())

    def enroll(self, sender: RTCRtpSender, now: float) -> None:
        """Put ``sender`` on the clock at loop time ``now`` (:meth:`add` without the task)."""
        transport = sender.transport
        if transport not in self._senders:
            self._senders[transport] = {}
            self._set_due(transport, now + self.jitter(self.FIRST_INTERVAL))
        self._senders[transport][sender] = -1

    def _set_due(self, transport: Any, due: float) -> None:
        self._due[transport] = due
        heapq.heappush(self._heap, (due, next(self._seq), transport))

    def remove(self, sender: RTCRtpSender) -> None:
        transport = sender.transport
        senders = self._senders.get(transport)
        if senders is None:
            return
        senders.pop(sender, None)
        if not senders:
            del self._senders[transport]
            del self._due[transport]
            self._long.discard(transport)

    def senders(self) -> int:
        return sum(len(s) for s in self._senders.values())

    def has(self, sender: RTCRtpSender) -> bool:
        return sender in self._senders.get(sender.transport, {})

    def due_in(self, transport: Any, now: float) -> float | None:
        """Seconds until ``transport``'s next report (tests), None if it has no sender."""
        due = self._due.get(transport)
        return None if due is None else due - now

    @staticmethod
    def _count(sender: RTCRtpSender) -> int:
        s: Any = sender
        wire = getattr(s, "_simultan_wire", None)
        if wire is not None:
            wire.current()  # the pair or the SRTP session may have changed
            wire.sync_sender()
        return int(s._RTCRtpSender__packet_count)

    def _video_started(self, senders: dict[RTCRtpSender, int]) -> bool:
        """A video sender of this transport sent since its last report."""
        for sender, last in senders.items():
            if sender.kind == "video":
                count = self._count(sender)
                if count and count != last:
                    return True
        return False

    def compound(self, senders: dict[RTCRtpSender, int]) -> bytes:
        """SR + SDES for each sender that sent since its last report (b"" if none did)."""
        return self.report(senders)[0]

    def report(self, senders: dict[RTCRtpSender, int]) -> tuple[bytes, bool]:
        """The compound packet (:meth:`compound`), and whether it reports a video sender."""
        payload = b""
        video = False
        now = None
        for sender in list(senders):
            s: Any = sender
            count = self._count(sender)
            if count == senders[sender] or count == 0:
                continue  # idle since its last report: nothing to report
            senders[sender] = count
            if sender.kind == "video":
                video = True
            ntp = s._RTCRtpSender__ntp_timestamp
            payload += bytes(
                RtcpSrPacket(
                    ssrc=s._ssrc,
                    sender_info=RtcpSenderInfo(
                        ntp_timestamp=ntp,
                        rtp_timestamp=s._RTCRtpSender__rtp_timestamp,
                        packet_count=count & 0xFFFFFFFF,
                        octet_count=s._RTCRtpSender__octet_count & 0xFFFFFFFF,
                    ),
                )
            )
            if now is None:
                now = time.time()
            s._RTCRtpSender__lsr = (ntp >> 16) & 0xFFFFFFFF
            s._RTCRtpSender__lsr_time = now
            cname = s._RTCRtpSender__cname
            if cname is not None:
                payload += bytes(
                    RtcpSdesPacket(
                        chunks=[RtcpSourceInfo(ssrc=s._ssrc, items=[(1, cname.encode("utf8"))])]
                    )
                )
            self.reports += 1
        return payload, video

    def step(self, now: float) -> list[tuple[Any, bytes]]:
        """One tick at loop time ``now``: the (transport, compound packet) pairs to send now,
        each transport rescheduled at its interval."""
        out: list[tuple[Any, bytes]] = []
        self._ticks += 1
        due: list[Any] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, transport = heapq.heappop(heap)
            if self._due.get(transport) == at:
                due.append(transport)
        if self._ticks % self.PEEK_EVERY == 0:
            for transport in list(self._long):
                if transport not in due and self._video_started(self._senders[transport]):
                    due.append(transport)
        for transport in due:
            senders = self._senders[transport]
            if transport.state in ("closed", "failed"):  # its senders never stopped
                for sender in senders:
                    _release_wire(sender)
                self._senders.pop(transport, None)
                self._due.pop(transport, None)
                self._long.discard(transport)
                continue
            try:
                payload, video = self.report(senders)
            except Exception:  # one broken session must not stop everyone's reports
                logger.exception("RTCP not built")
                payload, video = b"", False
            if video:
                interval = self.VIDEO_INTERVAL
            elif payload:
                interval = self.AUDIO_INTERVAL
            else:  # nothing sent yet (or all idle): look again soon, for a prompt first report
                interval = self.FIRST_INTERVAL
            self._set_due(transport, now + self.jitter(interval))
            if interval == self.AUDIO_INTERVAL and any(s.kind == "video" for s in senders):
                self._long.add(transport)
            else:
                self._long.discard(transport)
            if payload:
                out.append((transport, payload))
        return out

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._senders and self._task is asyncio.current_task():
            await asyncio.sleep(self.TICK)
            for transport, payload in self.step(loop.time()):
                try:
                    await transport._send_rtp(payload)
                except ConnectionError:
                    pass
                except Exception:  # one broken session must not stop everyone's reports
                    logger.exception("RTCP not sent")


RTCP_CLOCK = RtcpClock()


def _release_wire(sender: RTCRtpSender) -> None:
    """The sender stopped (or its connection closed): its route lets go of the socket."""
    wire = getattr(sender, "_simultan_wire", None)
    if wire is not None:
        wire.detach()


async def _run_rtcp(self: RTCRtpSender) -> None:
    s: Any = self
    s._RTCRtpSender__rtcp_started.set()
    RTCP_CLOCK.add(self)
    try:
        await asyncio.get_running_loop().create_future()  # until stop() cancels it
    except asyncio.CancelledError:
        pass
    finally:
        RTCP_CLOCK.remove(self)
        _release_wire(self)
    await self._send_rtcp([RtcpByePacket(sources=[self._ssrc])])
    s._RTCRtpSender__rtcp_exited.set()


def _send_keyframe(self: RTCRtpSender) -> None:
    _ORIGINAL_SEND_KEYFRAME(self)
    listener = getattr(self.track, "keyframe_requested", None)
    if callable(listener):
        listener()


# -- direct receive path -------------------------------------------------------------------


def run_eagerly(coro: Any) -> None:
    """Run a coroutine now, on the caller's stack, as far as it goes without waiting.

    aiortc's packet handlers are coroutines only because they may send RTCP, and sending
    never waits (aioice's ``send`` ends in a plain ``sendto``). The common case runs to the
    end here; should one wait on a future after all, a task finishes it, so nothing is lost.
    An exception is logged, never raised into the caller (a datagram callback)."""
    try:
        waited = coro.send(None)
    except StopIteration:
        return
    except Exception:
        logger.exception("packet handler failed")
        return
    task = asyncio.ensure_future(_finish(coro, waited))
    task.add_done_callback(_log_failure)


async def _finish(coro: Any, waited: Any) -> None:
    while True:
        if waited is None:  # a bare yield (asyncio.sleep(0))
            await asyncio.sleep(0)
        else:
            waited._asyncio_future_blocking = False
            try:
                await waited
            except BaseException:  # noqa: S110 - the coroutine sees it in result()
                pass
        try:
            waited = coro.send(None)
        except StopIteration:
            return


class _MediaSink:
    """What :func:`_dtls_start` gives a connected DTLS transport's ICE connection
    (:func:`~.stunpath.set_media_sink`): SRTP and SRTCP are unprotected and handled as each
    datagram arrives, as ``RTCDtlsTransport._recv_next`` would, but without its queue and
    one task wakeup per packet."""

    __slots__ = ("_dtls", "_failed", "_srtp", "_unprotect")

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self._dtls = dtls
        self._failed = False
        self._srtp: Any = dtls._rx_srtp
        self._unprotect = fast_unprotect(self._srtp)

    def __call__(self, data: bytes) -> bool:
        dtls: Any = self._dtls
        if dtls._state is not _DtlsState.CONNECTED or dtls._rx_srtp is not self._srtp:
            return False  # closing, or re-keyed: aiortc's own path
        dtls._RTCDtlsTransport__rx_bytes += len(data)
        dtls._RTCDtlsTransport__rx_packets += 1
        try:
            if is_rtcp(data):
                run_eagerly(dtls._handle_rtcp_data(self._srtp.unprotect_rtcp(data)))
            else:
                arrival = _aiortc_clock.current_ms()
                self._rtp(dtls, self._unprotect(data), arrival)
        except (pylibsrtp.Error, ValueError):
            pass  # as aiortc: a packet that fails authentication (or parsing) is dropped
        except Exception:
            # Never into the datagram callback: asyncio would close the socket. Said once.
            if not self._failed:
                self._failed = True
                logger.exception("packet handling failed; later failures are not logged")
        return True

    @staticmethod
    def _rtp(dtls: Any, data: bytes, arrival: int) -> None:
        """``RTCDtlsTransport._handle_rtp_data``, then the receiver's lean path if it has
        one (:class:`LeanReceive`), else its own handler."""
        packet = RtpPacket.parse(data, dtls._rtp_header_extensions_map)
        receiver = dtls._rtp_router.route_rtp(packet)
        if receiver is None:
            return
        lean = receiver._simultan_lean
        if lean is not None and lean(packet, arrival):
            return
        run_eagerly(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival))


async def _dtls_start(self: RTCDtlsTransport, remoteParameters: Any) -> None:
    await _ORIGINAL_DTLS_START(self, remoteParameters)
    ice: Any = self.transport
    if self._state is _DtlsState.CONNECTED and self._rx_srtp is not None:
        stunpath.set_media_sink(ice._connection, _MediaSink(self))


def install(
    *, low_latency_audio: bool = True, fast_stun: bool = True, fast_receive: bool = True
) -> None:
    """Install the hooks (idempotent). Affects receivers started afterwards. ``fast_stun``
    also installs :mod:`simultan.media.stunpath` (ICE consent on a fast path);
    ``fast_receive`` (with it) the direct receive path (6.), and up to
    :data:`~.batchread.MOST` datagrams read per wakeup (:mod:`.batchread`)."""
    buffer: Any = _jitter_buffer if low_latency_audio else _ORIGINAL_JITTER_BUFFER
    if fast_stun:
        stunpath.install()
    else:
        stunpath.uninstall()
    if fast_receive:
        batchread.install()
    else:
        batchread.uninstall()
    _receiver_mod.get_decoder = _get_decoder  # type: ignore[attr-defined]
    _receiver_mod.JitterBuffer = buffer  # type: ignore[attr-defined]
    RTCRtpReceiver.receive = _receive  # type: ignore[method-assign]
    RTCRtpSender._send_keyframe = _send_keyframe  # type: ignore[method-assign]
    RTCRtpReceiver._handle_rtp_packet = _handle_rtp_packet  # type: ignore[method-assign]
    RTCRtpSender.send = _send  # type: ignore[method-assign]
    RTCRtpSender.replaceTrack = _replace_track  # type: ignore[method-assign]
    RTCRtpSender._retransmit = _retransmit  # type: ignore[method-assign]
    RTCRtpSender._run_rtcp = _run_rtcp  # type: ignore[method-assign]
    if fast_stun and fast_receive:  # the sink is offered by stunpath's datagram hook
        RTCDtlsTransport.start = _dtls_start  # type: ignore[method-assign]
    else:
        RTCDtlsTransport.start = _ORIGINAL_DTLS_START  # type: ignore[method-assign]


def uninstall() -> None:
    """Put aiortc (and aioice, and asyncio's datagram reads) back as they were (tests)."""
    stunpath.uninstall()
    batchread.uninstall()
    _receiver_mod.get_decoder = _ORIGINAL_GET_DECODER  # type: ignore[attr-defined]
    _receiver_mod.JitterBuffer = _ORIGINAL_JITTER_BUFFER  # type: ignore[attr-defined]
    RTCRtpReceiver.receive = _ORIGINAL_RECEIVE  # type: ignore[method-assign]
    RTCRtpSender._send_keyframe = _ORIGINAL_SEND_KEYFRAME  # type: ignore[method-assign]
    RTCRtpReceiver._handle_rtp_packet = _ORIGINAL_HANDLE_RTP  # type: ignore[method-assign]
    RTCRtpSender.send = _ORIGINAL_SEND  # type: ignore[method-assign]
    RTCRtpSender.replaceTrack = _ORIGINAL_REPLACE_TRACK  # type: ignore[method-assign]
    RTCRtpSender._retransmit = _ORIGINAL_RETRANSMIT  # type: ignore[method-assign]
    RTCRtpSender._run_rtcp = _ORIGINAL_RUN_RTCP  # type: ignore[method-assign]
    RTCDtlsTransport.start = _ORIGINAL_DTLS_START  # type: ignore[method-assign]


def is_installed() -> bool:
    return bool(_receiver_mod.get_decoder is _get_decoder)  # type: ignore[attr-defined]


def low_latency_audio_installed() -> bool:
    return bool(_receiver_mod.JitterBuffer is _jitter_buffer)  # type: ignore[attr-defined]


def remote_ssrc(receiver: RTCRtpReceiver) -> int | None:
    """The media SSRC a receiver is hearing now (not its RTX one), or None before any packet."""
    rtx: dict[int, int] = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {})
    sources = [s for s in receiver.getSynchronizationSources() if s.source not in rtx]
    if not sources:
        return None
    return max(sources, key=lambda s: s.timestamp).source


def request_keyframe(receiver: RTCRtpReceiver) -> bool:
    """Send a PLI to the remote publisher behind ``receiver``. False if it is not known yet."""
    ssrc = remote_ssrc(receiver)
    if ssrc is None:
        return False
    task = asyncio.ensure_future(receiver._send_rtcp_pli(ssrc))
    task.add_done_callback(_log_failure)
    return True


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("not sent: %r", task.exception())
