"""Recording: every channel and the floor video, each to its own file, without re-encoding.

The recorder subscribes like a listener: one :class:`~.fanout.DownTrack` per channel that
follows the channel's route (a handover or a fallback to the floor is recorded as one
continuous file, timestamps kept continuous by the down track) and one for the floor
video. Packets are muxed as they are (Opus into Ogg, VP8 into WebM) with PyAV.

Files: ``<channel>.ogg`` for each routed channel (``en.ogg``, ``zh.ogg`` …) and
``floor.webm`` for the floor video; a file is created when its first packet arrives.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError

from simultan.media.fanout import DownTrack, Switchboard
from simultan.media.passthrough import vp8_dimensions
from simultan.media.plane import FLOOR

logger = logging.getLogger(__name__)

QUEUE = 100  # packets a recorder may fall behind before it drops (it should never)
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
# RFC 7845 identification header: version 1, 2 channels, 312 samples pre-skip, 48 kHz.
OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)

# Samples per Opus frame by TOC config (RFC 6716 section 3.1), at 48 kHz.
_OPUS_FRAME_SAMPLES = (
    [480, 960, 1920, 2880] * 3  # SILK NB/MB/WB: 10, 20, 40, 60 ms
    + [480, 960] * 2  # hybrid SWB/FB: 10, 20 ms
    + [120, 240, 480, 960] * 4  # CELT: 2.5, 5, 10, 20 ms
)


def opus_packet_samples(data: bytes) -> int:
    """Duration of an Opus packet in 48 kHz samples (0 if it cannot be told)."""
    if not data:
        return 0
    toc = data[0]
    per_frame = _OPUS_FRAME_SAMPLES[toc >> 3]
    code = toc & 0x03
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        frames = data[1] & 0x3F if len(data) > 1 else 0
    return per_frame * frames


class _Output:
    """One file fed by one down track."""

    def __init__(self, path: Path, track: DownTrack) -> None:
        self.path = path
        self.track = track
        self.container: Any = None
        self.stream: Any = None
        self.packets = 0
        self.task: asyncio.Task[None] | None = None

    def _open(self, packet: av.Packet[Any]) -> bool:
        container: Any
        stream: Any
        if self.track.kind == "audio":
            container = av.open(str(self.path), "w", format="ogg")
            stream = container.add_stream("libopus", rate=48000)
            stream.codec_context.extradata = OPUS_HEAD
            stream.time_base = AUDIO_TIME_BASE
        else:
            size = vp8_dimensions(bytes(packet))
            if size is None:
                return False  # wait for a keyframe (the down track gates on one anyway)
            container = av.open(str(self.path), "w", format="webm")
            stream = container.add_stream("libvpx", rate=30)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.time_base = VIDEO_TIME_BASE
        self.container, self.stream = container, stream
        return True

    def write(self, packet: av.Packet[Any]) -> None:
        if self.container is None and not self._open(packet):
            return
        if self.track.kind == "audio":
            packet.duration = opus_packet_samples(bytes(packet))
        packet.stream = self.stream
        self.container.mux(packet)
        self.packets += 1

    async def run(self) -> None:
        try:
            while True:
                packet = await self.track.recv()
                try:
                    self.write(packet)
                except av.FFmpegError as exc:
                    logger.warning("recording %s: dropped a packet: %s", self.path.name, exc)
        except (MediaStreamError, asyncio.CancelledError):
            pass

    def close(self) -> Path | None:
        while (packet := self.track.recv_nowait()) is not None:
            try:
                self.write(packet)
            except av.FFmpegError:
                break
        if self.container is None:
            return None
        self.container.close()
        return self.path


class Recorder:
    """Records the channels routed in the SFU, and the floor video."""

    def __init__(self, board: Switchboard) -> None:
        self._board = board
        self._outputs: dict[str, _Output] = {}
        self.directory: Path | None = None

    async def start(
        self, directory: Path, routes: Mapping[str, str] | None = None, video: str = FLOOR
    ) -> Path:
        """Start recording into a new timestamped folder under ``directory``.

        ``routes`` (channel -> source key) names the channels to record now; later route
        changes come through :meth:`set_routes`. ``video`` is the source whose video the
        floor shows (a panel's shown speaker); later changes come through :meth:`set_video`.
        """
        if self.directory is not None:
            raise RuntimeError("recorder already started")
        folder = Path(directory) / time.strftime("%Y%m%d-%H%M%S")
        suffix = 1
        while folder.exists():
            suffix += 1
            folder = Path(directory) / f"{time.strftime('%Y%m%d-%H%M%S')}-{suffix}"
        folder.mkdir(parents=True)
        self.directory = folder
        self._add("floor.webm", "video", video)
        self.set_routes(routes or {})
        return folder

    def set_routes(self, routes: Mapping[str, str]) -> None:
        """Follow a route change; a channel seen for the first time gets its own file."""
        if self.directory is None:
            return
        for channel, key in routes.items():
            name = f"{channel}.ogg"
            output = self._outputs.get(name)
            if output is None:
                self._add(name, "audio", key)
            else:
                self._board.attach(output.track, key)

    def set_video(self, key: str) -> None:
        """The floor shows another source's video (the panel's active or pinned speaker):
        ``floor.webm`` goes on with it, one file (the track waits for its keyframe)."""
        output = self._outputs.get("floor.webm")
        if output is not None:
            self._board.attach(output.track, key)

    def _add(self, name: str, kind: str, key: str) -> None:
        assert self.directory is not None
        track = DownTrack(kind, self._board, queue_size=QUEUE, name=f"recorder/{name}")
        output = _Output(self.directory / name, track)
        track.start()
        self._board.attach(track, key)
        output.task = asyncio.ensure_future(output.run())
        self._outputs[name] = output

    async def stop(self) -> list[Path]:
        """Finish every file; returns the files written."""
        written: list[Path] = []
        for output in self._outputs.values():
            if output.task is not None:
                output.task.cancel()
                await asyncio.gather(output.task, return_exceptions=True)
            path = output.close()
            output.track.stop()
            if path is not None:
                written.append(path)
        self._outputs.clear()
        return written
