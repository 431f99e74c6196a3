"""Floor video through the SFU: late joiners get a keyframe via PLI, local sources."""

from __future__ import annotations

import asyncio
import time

import pytest

from simultan.media import passthrough
from simultan.media.encode import EncodedTrack
from simultan.media.sfu import EmbeddedSfu
from simultan.media.synthetic import TestPatternTrack
from tests.media.tones import FLOOR_HZ, Tab, ToneTrack, wait_until


def _camera(keyframe_interval: int = 100_000) -> EncodedTrack:
    # A publisher whose encoder sends one keyframe at the start and then only on request
    # (PLI/FIR), so a late joiner sees video only if its keyframe request gets through.
    return EncodedTrack(
        TestPatternTrack("FLOOR", width=320, height=180, fps=15),
        keyframe_interval=keyframe_interval,
    )


def _frames_in(sfu: EmbeddedSfu, key: str) -> int:
    source = sfu.stats().sources.get(key)
    return source.frames_in if source else 0


async def test_late_joiner_gets_a_keyframe_within_2_s(sfu: EmbeddedSfu) -> None:
    camera = _camera()
    publisher = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ), video=camera)
    early = Tab(sfu, "early", channel="en", decode_video=True)
    late = Tab(sfu, "late", channel="en", decode_video=True)
    try:
        await publisher.connect()
        await early.connect()
        await wait_until(lambda: early.video.decoded > 5, timeout=5)
        await asyncio.sleep(1.5)  # the start keyframe is long gone
        requests_before = sfu.stats().sources["floor"].keyframe_requests

        joined = time.monotonic()
        await late.connect()
        await wait_until(lambda: late.video.first_decoded_at is not None, timeout=4)
        assert late.video.first_decoded_at is not None
        assert late.video.first_decoded_at - joined < 2.0
        assert late.video.size == (320, 180)
        assert sfu.stats().sources["floor"].keyframe_requests > requests_before
        assert sfu.stats().sources["floor"].kinds == ("audio", "video")
        # The early listener kept decoding throughout (the forced keyframe is shared): it goes
        # on decoding after the late joiner's keyframe (a loaded machine may run it slower).
        decoded_at_join = early.video.decoded
        await wait_until(lambda: early.video.decoded > decoded_at_join + 5, timeout=4)
    finally:
        await asyncio.gather(late.close(), early.close(), publisher.close())


async def test_without_keyframe_requests_a_late_joiner_sees_nothing(
    sfu: EmbeddedSfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control for the test above: the PLI path is what makes late joiners see video."""
    monkeypatch.setattr(passthrough, "request_keyframe", lambda receiver: False)
    publisher = Tab(sfu, "floor", publish="floor", video=_camera())
    early = Tab(sfu, "early", channel="en")
    late = Tab(sfu, "late", channel="en", decode_video=True)
    try:
        await publisher.connect()
        await early.connect()
        # The publisher's video is flowing (the early tab may itself be gated: its start
        # keyframe can pass before it joins, and nothing may ask for another here).
        await wait_until(lambda: _frames_in(sfu, "floor") > 10, timeout=5)
        await asyncio.sleep(0.5)
        await late.connect()
        await asyncio.sleep(2.0)
        assert late.video.decoded == 0
        assert late.video.packets == 0  # gated until a keyframe
        assert sfu.stats().per_session["late"].drops > 0
    finally:
        await asyncio.gather(late.close(), early.close(), publisher.close())


async def test_subscriber_pli_reaches_the_publisher(sfu: EmbeddedSfu) -> None:
    publisher = Tab(sfu, "floor", publish="floor", video=_camera())
    viewer = Tab(sfu, "viewer", channel="en")
    try:
        await publisher.connect()
        await viewer.connect()
        await wait_until(
            lambda: viewer.video.keyframes >= 1 and viewer.video.packets > 10, timeout=5
        )
        before = viewer.video.keyframes
        # A lossy viewer asks for a picture: PLI to the SFU's sender -> PLI to the publisher.
        assert passthrough.request_keyframe(viewer.video_t.receiver)
        await wait_until(lambda: viewer.video.keyframes > before, timeout=2)
    finally:
        await asyncio.gather(viewer.close(), publisher.close())


async def test_local_source_is_encoded_once_for_all_listeners(sfu: EmbeddedSfu) -> None:
    sfu.set_routes({"en": "floor"})
    audio = EncodedTrack(ToneTrack(FLOOR_HZ))
    video = EncodedTrack(TestPatternTrack("FLOOR", width=320, height=180, fps=15))
    sfu.add_local_source("floor", audio, video)
    listeners = [Tab(sfu, f"l{i}", channel="en", decode_video=(i == 0)) for i in range(3)]
    try:
        await asyncio.gather(*(t.connect() for t in listeners))
        await wait_until(lambda: all(t.program.packets > 50 for t in listeners), timeout=10)
        await wait_until(lambda: listeners[0].video.decoded > 5, timeout=5)
        await asyncio.sleep(0.3)
        for t in listeners:
            assert abs(t.program.frequency() - FLOOR_HZ) < 5
            assert abs(t.channel_audio.frequency() - FLOOR_HZ) < 5
        stats = sfu.stats().sources["floor"]
        assert stats.local
        # One encode per source frame, however many listeners: every packet the encoders
        # made was read once by the feed (a few may still be in flight).
        assert abs(audio.encoded_frames + video.encoded_frames - stats.frames_in) <= 3
        assert stats.frames_out > 2 * stats.frames_in
    finally:
        await asyncio.gather(*(t.close() for t in listeners))
        await sfu.remove_local_source("floor")
    assert "floor" not in sfu.stats().sources
