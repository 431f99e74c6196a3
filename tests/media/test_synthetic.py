"""Synthetic demo sources: tone, file loop, test pattern; and the opt-in decode path."""

from __future__ import annotations

import asyncio
import math
import wave
from pathlib import Path

import av
import numpy as np

from simultan.media.decode import OpusPacketDecoder, dbfs, frame_to_mono
from simultan.media.encode import EncodedTrack
from simultan.media.sfu import EmbeddedSfu
from simultan.media.synthetic import (
    FileAudioTrack,
    TestPatternTrack,
    add_demo_sources,
    load_audio,
    render_text,
    sample_path,
)
from simultan.media.synthetic import ToneTrack as SyntheticTone
from tests.media.tones import FLOOR_HZ, Tab, ToneTrack, dominant_frequency, wait_until


async def test_tone_track_is_48k_20ms_at_its_frequency() -> None:
    track = SyntheticTone(523.0)
    frames = [await track.recv() for _ in range(10)]
    assert all(f.sample_rate == 48000 and f.samples == 960 for f in frames)
    assert [f.pts for f in frames] == [i * 960 for i in range(10)]
    samples = np.concatenate([frame_to_mono(f) for f in frames])
    assert abs(dominant_frequency(samples) - 523.0) < 3


async def test_file_track_loops_a_wav(tmp_path: Path) -> None:
    path = tmp_path / "beep.wav"
    t = np.arange(4800) / 16000  # 0.3 s at 16 kHz, resampled to 48 kHz on load
    pcm = (0.5 * np.sin(2 * np.pi * 659 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())
    assert abs(len(load_audio(path)) - 14400) < 200
    track = FileAudioTrack(path, gap=0.1)
    frames = [await track.recv() for _ in range(40)]  # 0.8 s: two passes of 0.3 + 0.1 s
    samples = np.concatenate([frame_to_mono(f) for f in frames])
    assert abs(dominant_frequency(samples[:9600]) - 659) < 5
    loud = np.abs(samples) > 0.1
    assert loud[:14000].mean() > 0.5 and loud[19400:33000].mean() > 0.5  # two passes
    assert not loud[14600:19000].any()  # the gap


def test_text_mask() -> None:
    mask = render_text("FLOOR", 2)
    assert mask.shape == (14, 5 * 6 * 2)
    assert mask.any()
    assert render_text("?", 1).sum() == 0  # unknown glyphs are blank


async def test_test_pattern_frames() -> None:
    track = TestPatternTrack("FLOOR", width=320, height=180, fps=30)
    first, second = await track.recv(), await track.recv()
    assert (first.width, first.height) == (320, 180)
    assert second.pts - first.pts == 3000  # 1/30 s in 90 kHz
    a, b = first.to_ndarray(format="rgb24"), second.to_ndarray(format="rgb24")
    assert not np.array_equal(a, b)  # it moves
    assert (a[60:120] == 255).all(axis=2).sum() > 100  # the white label in the middle band


async def test_encoded_track_makes_opus_and_vp8_packets() -> None:
    audio = EncodedTrack(SyntheticTone(440.0))
    packets = [await audio.recv() for _ in range(25)]
    assert all(isinstance(p, av.Packet) for p in packets)
    assert packets[0].pts == 0 and packets[1].pts == 960
    decoder = OpusPacketDecoder()
    samples = np.concatenate([decoder.decode(p) for p in packets])
    assert abs(dominant_frequency(samples[-9600:]) - 440.0) < 5
    assert -15 < dbfs(samples[-9600:]) < -8  # amplitude 0.3 -> about -13.5 dBFS

    video = EncodedTrack(TestPatternTrack(width=160, height=96, fps=30), keyframe_interval=1000)
    first = await video.recv()
    assert first.is_keyframe and first.time_base.denominator == 90000
    second = await video.recv()
    assert not second.is_keyframe
    video.force_keyframe()
    assert (await video.recv()).is_keyframe
    video.stop()
    assert video.source.readyState == "ended"


def test_dbfs_of_silence() -> None:
    assert dbfs(np.zeros(10, dtype=np.float32)) == -math.inf
    assert dbfs(np.zeros(0, dtype=np.float32)) == -math.inf


async def test_level_meter_decodes_once_on_demand(sfu: EmbeddedSfu) -> None:
    floor = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ))
    try:
        await floor.connect()
        meter = sfu.meter("floor")
        assert sfu.meter("floor") is meter  # one decoder per source
        await wait_until(lambda: meter.level_dbfs > -20, timeout=5)
        assert meter.silent_for() < 0.5
        quiet = sfu.meter("interpreter:nobody")
        await asyncio.sleep(0.3)
        assert quiet.level_dbfs == -math.inf and quiet.silent_for() >= 0.3
        await sfu.stop_meter("floor")
        await sfu.stop_meter("floor")
    finally:
        await floor.close()


def test_spoken_samples_are_shipped() -> None:
    for language in ("en", "zh", "ja", "es"):
        audio = load_audio(sample_path(language))
        assert 4 < len(audio) / 48000 < 15
        assert dbfs(audio) > -35  # speech, not silence


async def test_demo_sources(sfu: EmbeddedSfu) -> None:
    routes = add_demo_sources(sfu)
    assert routes == {
        "en": "floor",
        "zh": "interpreter:demo-zh",
        "ja": "interpreter:demo-ja",
        "es": "interpreter:demo-es",
    }
    sfu.set_routes(routes)
    listener = Tab(sfu, "listener", channel="es")
    try:
        await listener.connect()
        await wait_until(lambda: listener.channel_audio.packets > 25, timeout=10)
        await wait_until(lambda: listener.video.packets > 5, timeout=5)
        assert sfu.stats().sources["floor"].kinds == ("audio", "video")
    finally:
        await listener.close()
