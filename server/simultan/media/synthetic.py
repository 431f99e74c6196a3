"""Synthetic sources for the demo and for tests: raw tracks paced in real time.

- :class:`ToneTrack`: a sine tone, 48 kHz mono, 20 ms frames.
- :class:`FileAudioTrack`: a WAV/OGG/any file PyAV reads, resampled to 48 kHz mono, looped.
- :class:`TestPatternTrack`: colour bars, a moving bar and a big label ("FLOOR"), drawn
  with numpy.

They yield raw frames: give them to ``EmbeddedSfu.add_local_source``, which encodes each
once (:class:`~.encode.EncodedTrack`) and fans the packets out. :func:`add_demo_sources`
sets up a whole demo floor (spoken English and a test pattern) and one spoken "interpreter"
per language from the small Ogg files in ``samples/`` (made with espeak-ng, see there).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms
AUDIO_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
SAMPLES_DIR = Path(__file__).parent / "samples"

if TYPE_CHECKING:
    from simultan.media.plane import MediaPlane


class _Pacer:
    """Sleeps until frame ``n`` is due, so a synthetic source runs in real time."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.start: float | None = None
        self.count = 0

    async def next(self) -> int:
        now = time.monotonic()
        if self.start is None:
            self.start = now
        due = self.start + self.count * self.period
        if due - now > 0:
            await asyncio.sleep(due - now)
        elif now - due > 1.0:  # fell far behind (a suspended loop): skip ahead
            self.count = int((now - self.start) / self.period)
        n = self.count
        self.count += 1
        return n


def _audio_frame(samples: np.ndarray, pts: int) -> av.AudioFrame:
    pcm = np.clip(samples * 32767.0, -32768, 32767).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = AUDIO_TIME_BASE
    return frame


class ToneTrack(MediaStreamTrack):
    """A sine tone at ``frequency`` Hz."""

    kind = "audio"

    def __init__(self, frequency: float, *, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self._pacer = _Pacer(FRAME_SAMPLES / SAMPLE_RATE)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        n = await self._pacer.next()
        start = n * FRAME_SAMPLES
        t = (np.arange(FRAME_SAMPLES) + start) / SAMPLE_RATE
        samples = self.amplitude * np.sin(2 * np.pi * self.frequency * t)
        return _audio_frame(samples, start)


def load_audio(path: str | Path) -> np.ndarray:
    """Decode a whole audio file to mono float32 at 48 kHz."""
    chunks: list[np.ndarray] = []
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        raise ValueError(f"{path}: no audio")
    return np.concatenate(chunks).astype(np.float32)


class FileAudioTrack(MediaStreamTrack):
    """Plays an audio file in a loop (with ``gap`` seconds of silence between passes)."""

    kind = "audio"

    def __init__(self, path: str | Path, *, gap: float = 1.0) -> None:
        super().__init__()
        audio = load_audio(path)
        silence = np.zeros(int(gap * SAMPLE_RATE), dtype=np.float32)
        looped = np.concatenate([audio, silence])
        pad = (-len(looped)) % FRAME_SAMPLES
        self._samples = np.concatenate([looped, np.zeros(pad, dtype=np.float32)])
        self._frames = len(self._samples) // FRAME_SAMPLES
        self._pacer = _Pacer(FRAME_SAMPLES / SAMPLE_RATE)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        n = await self._pacer.next()
        i = n % self._frames
        chunk = self._samples[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
        return _audio_frame(chunk, n * FRAME_SAMPLES)


# A 5x7 font: seven rows of five bits per glyph (enough for labels like "FLOOR 12:34").
_FONT: dict[str, tuple[int, ...]] = {
    "0": (0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E),
    "1": (0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E),
    "2": (0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F),
    "3": (0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E),
    "4": (0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02),
    "5": (0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E),
    "6": (0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E),
    "7": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08),
    "8": (0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E),
    "9": (0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C),
    "A": (0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11),
    "B": (0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E),
    "C": (0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E),
    "D": (0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C),
    "E": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F),
    "F": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10),
    "G": (0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F),
    "H": (0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11),
    "I": (0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E),
    "J": (0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C),
    "K": (0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11),
    "L": (0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F),
    "M": (0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11),
    "N": (0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11),
    "O": (0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E),
    "P": (0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10),
    "Q": (0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D),
    "R": (0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11),
    "S": (0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E),
    "T": (0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04),
    "U": (0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E),
    "V": (0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04),
    "W": (0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A),
    "X": (0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11),
    "Y": (0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04),
    "Z": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F),
    " ": (0, 0, 0, 0, 0, 0, 0),
    ":": (0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00),
    "-": (0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00),
    ".": (0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C),
}


def render_text(text: str, scale: int) -> np.ndarray:
    """A boolean mask of ``text`` in the 5x7 font (unknown characters become blanks)."""
    cols: list[np.ndarray] = []
    for ch in text.upper():
        rows = _FONT.get(ch, _FONT[" "])
        glyph = np.array([[(r >> (4 - c)) & 1 for c in range(5)] for r in rows], dtype=bool)
        cols.append(glyph)
        cols.append(np.zeros((7, 1), dtype=bool))
    mask = np.hstack(cols) if cols else np.zeros((7, 1), dtype=bool)
    return np.kron(mask, np.ones((scale, scale), dtype=bool))


def draw_text(
    image: np.ndarray, text: str, x: int, y: int, scale: int, color: tuple[int, int, int]
) -> None:
    """Draw ``text`` into an RGB image in place, clipped to the image."""
    mask = render_text(text, scale)
    h = min(mask.shape[0], image.shape[0] - y)
    w = min(mask.shape[1], image.shape[1] - x)
    if h <= 0 or w <= 0:
        return
    region = image[y : y + h, x : x + w]
    region[mask[:h, :w]] = color


class TestPatternTrack(MediaStreamTrack):
    """Colour bars, a moving bar, the label and a running clock."""

    __test__ = False  # not a pytest class, despite the name
    kind = "video"

    def __init__(
        self, label: str = "FLOOR", *, width: int = 640, height: int = 360, fps: int = 15
    ) -> None:
        super().__init__()
        self.label = label
        self.width = width
        self.height = height
        self.fps = fps
        self._pacer = _Pacer(1 / fps)
        bars = np.array(
            [
                (192, 192, 192),
                (192, 192, 0),
                (0, 192, 192),
                (0, 192, 0),
                (192, 0, 192),
                (192, 0, 0),
                (0, 0, 192),
            ],
            dtype=np.uint8,
        )
        index = (np.arange(width) * len(bars) // width).astype(int)
        self._background = np.repeat(bars[index][np.newaxis, :, :], height, axis=0)
        self._scale = max(2, min(height // 40, width // (6 * max(len(label), 1) + 2)))

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        n = await self._pacer.next()
        image = self._background.copy()
        bar_w = max(4, self.width // 32)
        x = (n * 8) % (self.width + bar_w) - bar_w
        image[:, max(0, x) : max(0, x + bar_w)] = 255
        band = self.height // 3
        image[band : 2 * band, :] //= 3
        scale = self._scale
        label_w = render_text(self.label, scale).shape[1]
        draw_text(
            image, self.label, (self.width - label_w) // 2, band + scale, scale, (255, 255, 255)
        )
        seconds = n // self.fps
        clock = f"{seconds // 60:02d}:{seconds % 60:02d}"
        small = max(1, scale // 2)
        draw_text(image, clock, 8, 2 * band - 8 * small, small, (255, 255, 0))
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = int(n * 90000 / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        return frame


def sample_path(language: str) -> Path:
    """The spoken demo sample for a language (``en``, ``zh``, ``ja``, ``es``)."""
    path = SAMPLES_DIR / f"{language}.ogg"
    if not path.exists():
        raise FileNotFoundError(f"no demo sample for {language!r} in {SAMPLES_DIR}")
    return path


def add_demo_sources(
    plane: MediaPlane, languages: Iterable[str] = ("zh", "ja", "es"), *, floor: str = "en"
) -> dict[str, str]:
    """Add a spoken floor with a test pattern and one spoken interpreter per language
    (a tone for a language without a shipped sample).

    Returns the routes that play them (channel -> source key); applying them is the
    caller's choice (in the product the control plane computes routes).
    """
    plane.add_local_source("floor", _voice(floor), TestPatternTrack(floor.upper() + " FLOOR"))
    routes = {floor: "floor"}
    for language in languages:
        key = f"interpreter:demo-{language}"
        plane.add_local_source(key, _voice(language), None)
        routes[language] = key
    return routes


# A language without a spoken sample gets its own tone, so every source stays distinct.
_FALLBACK_TONES = {"pl": 587.33, "uk": 698.46, "de": 880.0, "fr": 987.77}


def _voice(language: str) -> MediaStreamTrack:
    try:
        return FileAudioTrack(sample_path(language))
    except FileNotFoundError:
        return ToneTrack(_FALLBACK_TONES.get(language, 932.33))
