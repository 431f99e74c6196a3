"""Recording each channel and the floor video to its own file, without re-encoding."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from simultan.errors import CommandError
from simultan.media.plane import FloorMix
from simultan.media.recorder import opus_packet_samples
from simultan.media.sfu import EmbeddedSfu
from simultan.media.synthetic import TestPatternTrack, load_audio
from tests.media.tones import FLOOR_HZ, TONES, Tab, ToneTrack, closest_tone, dominant_frequency


def _tone_over_time(path: Path, window: float = 0.5) -> list[float | None]:
    samples = load_audio(path)
    n = int(window * 48000)
    return [
        closest_tone(samples[i : i + n], TONES.values()) for i in range(0, len(samples) - n + 1, n)
    ]


async def test_records_channels_and_floor_video(sfu: EmbeddedSfu, tmp_path: Path) -> None:
    sfu.set_routes({"en": "floor", "zh": "interpreter:zh-a"})
    sfu.add_local_source(
        "floor", ToneTrack(FLOOR_HZ), TestPatternTrack("FLOOR", width=320, height=180, fps=15)
    )
    booth_a = Tab(sfu, "booth-a", publish="interpreter:zh-a", audio=ToneTrack(TONES["zh"]))
    booth_b = Tab(sfu, "booth-b", publish="interpreter:zh-b", audio=ToneTrack(TONES["ja"]))
    try:
        await asyncio.gather(booth_a.connect(), booth_b.connect())
        await asyncio.sleep(0.5)
        folder = await sfu.start_recording(tmp_path)
        assert sfu.stats().recording == folder
        with pytest.raises(CommandError):
            await sfu.start_recording(tmp_path)
        await asyncio.sleep(1.5)
        sfu.set_routes({"en": "floor", "zh": "interpreter:zh-b", "es": "floor"})  # handover
        await asyncio.sleep(1.5)
        files = await sfu.stop_recording()
    finally:
        await asyncio.gather(booth_a.close(), booth_b.close())
    assert sorted(p.name for p in files) == ["en.ogg", "es.ogg", "floor.webm", "zh.ogg"]
    assert all(p.parent == folder for p in files)

    en = load_audio(folder / "en.ogg")
    assert 2.5 < len(en) / 48000 < 3.6
    assert abs(dominant_frequency(en[-24000:]) - FLOOR_HZ) < 5
    # zh is one file across the handover: A's tone, then B's.
    tones = [t for t in _tone_over_time(folder / "zh.ogg") if t is not None]
    assert tones[0] == TONES["zh"] and tones[-1] == TONES["ja"]
    assert tones == sorted(tones, key=lambda t: t != TONES["zh"])  # one change, no flapping

    with av.open(str(folder / "floor.webm")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name in ("vp8", "libvpx")
        frames = list(container.decode(video=0))
    assert len(frames) > 30
    assert (frames[0].width, frames[0].height) == (320, 180)
    assert np.asarray(frames[-1].to_ndarray(format="rgb24")).mean() > 20


async def test_floor_video_follows_the_panels_shown_speaker(
    sfu: EmbeddedSfu, tmp_path: Path
) -> None:
    """During a panel floor.webm carries the shown speaker's own video (there is no floor
    source then), and follows the floor when another speaker is shown: one file."""
    a = Tab(
        sfu,
        "city-a",
        publish="speaker:a",
        audio=ToneTrack(TONES["en"]),
        video=TestPatternTrack("A", width=320, height=180, fps=15),
    )
    b = Tab(
        sfu,
        "city-b",
        publish="speaker:b",
        audio=ToneTrack(TONES["zh"]),
        video=TestPatternTrack("B", width=160, height=96, fps=15),
    )
    try:
        await asyncio.gather(a.connect(), b.connect())
        sfu.set_floor_mix(FloorMix(speakers=("speaker:a", "speaker:b"), video="speaker:a"))
        await asyncio.sleep(0.5)
        folder = await sfu.start_recording(tmp_path)
        await asyncio.sleep(2.0)
        sfu.set_floor_mix(FloorMix(speakers=("speaker:a", "speaker:b"), video="speaker:b"))
        await asyncio.sleep(2.0)
        await sfu.stop_recording()
    finally:
        await asyncio.gather(a.close(), b.close())
    with av.open(str(folder / "floor.webm")) as container:
        sizes = [(f.width, f.height) for f in container.decode(video=0)]
    assert sizes.count((320, 180)) > 10 and sizes.count((160, 96)) > 10, sizes
    # A, then B: one switch, when the floor showed B
    assert sizes[0] == (320, 180) and sizes[-1] == (160, 96)
    switch = sizes.index((160, 96))
    assert set(sizes[switch:]) == {(160, 96)}


async def test_stop_without_start(sfu: EmbeddedSfu) -> None:
    assert await sfu.stop_recording() == []


def test_opus_packet_durations() -> None:
    assert opus_packet_samples(b"") == 0
    assert opus_packet_samples(bytes([0xFC, 0])) == 960  # CELT FB 20 ms, one frame
    assert opus_packet_samples(bytes([0x78])) == 960  # config 15: hybrid FB 20 ms
    assert opus_packet_samples(bytes([0x09])) == 1920  # SILK NB 20 ms, two frames
    assert opus_packet_samples(bytes([0x03 | (19 << 3), 0x03])) == 3 * 960
