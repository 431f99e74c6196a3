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
import logging
from typing import Any

import aiortc
import av

REQUIRED_AIORTC = "1.16.0"

if aiortc.__version__ != REQUIRED_AIORTC:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"simultan.media.passthrough relies on aiortc {REQUIRED_AIORTC} internals "
        f"(receiver get_decoder hook, sender encoded-frame path, RTCP PLI); found aiortc "
        f"{aiortc.__version__}. Install aiortc=={REQUIRED_AIORTC} or re-check "
        f"simultan/media/passthrough.py and its tests against the new version."
    )

import aiortc.rtcrtpreceiver as _receiver_mod  # noqa: E402
from aiortc.codecs.base import Decoder  # noqa: E402
from aiortc.jitterbuffer import JitterFrame  # noqa: E402
from aiortc.rtcrtpparameters import RTCRtpCodecParameters  # noqa: E402
from aiortc.rtcrtpreceiver import RTCRtpReceiver  # noqa: E402
from aiortc.rtcrtpsender import RTCRtpSender  # noqa: E402
from aiortc.rtp import RtpPacket  # noqa: E402

logger = logging.getLogger(__name__)

FORWARDED_MIME_TYPES = frozenset({"audio/opus", "video/vp8"})
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)

# What install() replaced, to check and to restore.
_ORIGINAL_GET_DECODER = _receiver_mod.get_decoder  # type: ignore[attr-defined]
_ORIGINAL_JITTER_BUFFER = _receiver_mod.JitterBuffer  # type: ignore[attr-defined]
_ORIGINAL_SEND_KEYFRAME = RTCRtpSender._send_keyframe

for _name, _owner in (
    ("_send_rtcp_pli", RTCRtpReceiver),
    ("receive", RTCRtpReceiver),
    ("_send_keyframe", RTCRtpSender),
    ("_next_encoded_frame", RTCRtpSender),
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


def _send_keyframe(self: RTCRtpSender) -> None:
    _ORIGINAL_SEND_KEYFRAME(self)
    listener = getattr(self.track, "keyframe_requested", None)
    if callable(listener):
        listener()


def install(*, low_latency_audio: bool = True) -> None:
    """Install the hooks (idempotent). Affects receivers started afterwards."""
    buffer: Any = _jitter_buffer if low_latency_audio else _ORIGINAL_JITTER_BUFFER
    _receiver_mod.get_decoder = _get_decoder  # type: ignore[attr-defined]
    _receiver_mod.JitterBuffer = buffer  # type: ignore[attr-defined]
    RTCRtpReceiver.receive = _receive  # type: ignore[method-assign]
    RTCRtpSender._send_keyframe = _send_keyframe  # type: ignore[method-assign]


def uninstall() -> None:
    """Put aiortc back as it was (tests)."""
    _receiver_mod.get_decoder = _ORIGINAL_GET_DECODER  # type: ignore[attr-defined]
    _receiver_mod.JitterBuffer = _ORIGINAL_JITTER_BUFFER  # type: ignore[attr-defined]
    RTCRtpReceiver.receive = _ORIGINAL_RECEIVE  # type: ignore[method-assign]
    RTCRtpSender._send_keyframe = _ORIGINAL_SEND_KEYFRAME  # type: ignore[method-assign]


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
        logger.warning("PLI not sent: %r", task.exception())
