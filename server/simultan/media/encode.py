"""Encode a raw track once: server-side sources (synthetic demo sources, test publishers).

:class:`EncodedTrack` wraps a track that yields ``av.AudioFrame``/``av.VideoFrame`` and
yields Opus (20 ms) or VP8 ``av.Packet[Any]``s with ``pts`` and ``time_base`` set, exactly like a
remote track behind the pass-through hook. The SFU fans those out to every subscriber, so
a local source costs one encode, not one per listener. Encoding uses PyAV directly (not
aiortc's encoders, which return RTP payloads rather than frames).
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

AUDIO_RATE = 48000
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
OPUS_FRAME = 960  # 20 ms


class EncodedTrack(MediaStreamTrack):
    """Yields encoded packets made from ``source``'s raw frames (encoded once)."""

    def __init__(
        self,
        source: MediaStreamTrack,
        *,
        audio_bitrate: int = 64_000,
        video_bitrate: int = 600_000,
        keyframe_interval: int = 300,
    ) -> None:
        super().__init__()
        if source.kind not in ("audio", "video"):
            raise ValueError(f"cannot encode a {source.kind!r} track")
        self.kind = source.kind
        self.source = source
        self.encoded_frames = 0
        self._pending: deque[av.Packet[Any]] = deque()
        self._force_keyframe = False
        self._audio_bitrate = audio_bitrate
        self._video_bitrate = video_bitrate
        self._keyframe_interval = keyframe_interval
        self._codec: Any = None
        self._resampler: av.AudioResampler | None = None
        self._first_pts: int | None = None
        self._size: tuple[int, int] | None = None

    def force_keyframe(self) -> bool:
        """Make the next video frame a keyframe (a subscriber asked). Always True."""
        self._force_keyframe = True
        return True

    def keyframe_requested(self) -> None:
        """Sender hook (see :mod:`.passthrough`): a peer sent PLI/FIR for this track."""
        self.force_keyframe()

    async def recv(self) -> av.Packet[Any]:
        while not self._pending:
            if self.readyState != "live":
                raise MediaStreamError
            frame = await self.source.recv()
            if isinstance(frame, av.AudioFrame):
                self._pending.extend(self._encode_audio(frame))
            elif isinstance(frame, av.VideoFrame):
                loop = asyncio.get_running_loop()
                packets = await loop.run_in_executor(None, self._encode_video, frame)
                self._pending.extend(packets)
            else:
                raise MediaStreamError(f"cannot encode {type(frame).__name__}")
        return self._pending.popleft()

    def stop(self) -> None:
        super().stop()
        self.source.stop()

    def _encode_audio(self, frame: av.AudioFrame) -> list[av.Packet[Any]]:
        if self._codec is None:
            # Mono stays mono (an Opus stream may carry mono packets; upmixing through the
            # resampler would cost 3 dB).
            layout = "mono" if len(frame.layout.channels) == 1 else "stereo"
            codec = av.CodecContext.create("libopus", "w")
            codec.sample_rate = AUDIO_RATE
            codec.layout = layout
            codec.format = "s16"
            codec.bit_rate = self._audio_bitrate
            codec.time_base = AUDIO_TIME_BASE
            codec.options = {"application": "audio", "frame_duration": "20"}
            self._codec = codec
            self._resampler = av.AudioResampler(
                format="s16", layout=layout, rate=AUDIO_RATE, frame_size=OPUS_FRAME
            )
        assert self._resampler is not None
        out: list[av.Packet[Any]] = []
        for chunk in self._resampler.resample(frame):
            for packet in self._codec.encode(chunk):
                out.append(self._stamp(packet, AUDIO_TIME_BASE))
        return out

    def _encode_video(self, frame: av.VideoFrame) -> list[av.Packet[Any]]:
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        if self._codec is None or self._size != (frame.width, frame.height):
            codec = av.CodecContext.create("libvpx", "w")
            codec.width = frame.width
            codec.height = frame.height
            codec.pix_fmt = "yuv420p"
            codec.bit_rate = self._video_bitrate
            codec.time_base = VIDEO_TIME_BASE
            codec.gop_size = self._keyframe_interval
            codec.options = {
                "deadline": "realtime",
                "cpu-used": "8",
                "lag-in-frames": "0",
                "error-resilient": "1",
            }
            self._codec = codec
            self._size = (frame.width, frame.height)
            self._first_pts = None
        if frame.pts is None or frame.time_base is None:
            raise MediaStreamError("video frames need pts and time_base")
        pts = int(frame.pts * frame.time_base / VIDEO_TIME_BASE)
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        if self._force_keyframe:
            self._force_keyframe = False
            frame.pict_type = av.video.frame.PictureType.I
        else:
            frame.pict_type = av.video.frame.PictureType.NONE
        return [self._stamp(p, VIDEO_TIME_BASE) for p in self._codec.encode(frame)]

    def _stamp(self, packet: av.Packet[Any], time_base: fractions.Fraction) -> av.Packet[Any]:
        self.encoded_frames += 1
        pts = packet.pts if packet.pts is not None else 0
        if self._first_pts is None:
            self._first_pts = pts  # libopus starts at -pre_skip: count from zero
        packet.pts = pts - self._first_pts
        packet.dts = packet.pts
        packet.time_base = time_base
        return packet
