"""The embedded SFU with real aiortc peers on 127.0.0.1: channels, switching, routes, gone."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from aiortc.sdp import SessionDescription

from simultan.errors import NotFoundError
from simultan.media.encode import EncodedTrack
from simultan.media.plane import BoothFeed, MediaPlane
from simultan.media.sfu import EmbeddedSfu
from simultan.media.synthetic import TestPatternTrack
from tests.media.tones import FLOOR_HZ, TONES, Tab, ToneTrack, wait_until

ROUTES = {
    "en": "floor",
    "zh": "interpreter:zh-a",
    "ja": "interpreter:ja-a",
    "es": "interpreter:es-a",
}


async def _close(*tabs: Tab) -> None:
    await asyncio.gather(*(tab.close() for tab in tabs), return_exceptions=True)


async def _publishers(sfu: EmbeddedSfu) -> list[Tab]:
    tabs = [Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ))]
    for lang in ("zh", "ja", "es"):
        tabs.append(
            Tab(sfu, f"booth-{lang}", publish=f"interpreter:{lang}-a", audio=ToneTrack(TONES[lang]))
        )
    await asyncio.gather(*(t.connect() for t in tabs))
    return tabs


def _switch_pts_ok(timestamps: list[tuple[float, int]]) -> None:
    """RTP timestamps only move forward, and never by more than wall-clock time allows."""
    for (t0, p0), (t1, p1) in itertools.pairwise(timestamps):
        step = p1 - p0
        assert step > 0, f"timestamp went back or repeated: {p0} -> {p1}"
        # Arrival times jitter; allow 100 ms of slack over the wall-clock gap.
        assert step <= (t1 - t0 + 0.1) * 48000, (
            f"timestamp jumped {step} samples in {t1 - t0:.3f} s"
        )


async def test_is_a_media_plane(sfu: EmbeddedSfu) -> None:
    assert isinstance(sfu, MediaPlane)


async def test_listeners_hear_their_channel_and_switch_without_renegotiation(
    sfu: EmbeddedSfu,
) -> None:
    sfu.set_routes(ROUTES)
    pubs = await _publishers(sfu)
    listeners = {lang: Tab(sfu, f"listener-{lang}", channel=lang) for lang in TONES}
    try:
        answers = await asyncio.gather(*(t.connect() for t in listeners.values()))
        for answer in answers:  # the server offers loopback candidates only
            parsed = SessionDescription.parse(answer)
            hosts = {c.ip for m in parsed.media for c in m.ice_candidates}
            assert hosts == {"127.0.0.1"}
        await wait_until(
            lambda: all(t.channel_audio.packets > 50 for t in listeners.values()), timeout=10
        )
        await asyncio.sleep(0.5)  # warm-up
        for lang, tab in listeners.items():
            assert abs(tab.channel_audio.frequency() - TONES[lang]) < 5, lang
            assert abs(tab.program.frequency() - FLOOR_HZ) < 5, lang

        # Switch en -> ja: same peer connection, no new offer/answer.
        tab = listeners["en"]
        sdp_before = sfu._sessions["listener-en"].pc.localDescription.sdp
        switched_at = time.monotonic()
        sfu.select_channel("listener-en", "ja")
        await wait_until(
            lambda: tab.channel_audio.first_heard(TONES["ja"], after=switched_at) is not None,
            timeout=3,
        )
        heard_at = tab.channel_audio.first_heard(TONES["ja"], after=switched_at)
        assert heard_at is not None and heard_at - switched_at < 0.5
        assert sfu._sessions["listener-en"].pc.localDescription.sdp == sdp_before
        assert sfu.stats().per_session["listener-en"].channel == "ja"
        # The listener's decoder saw continuous timestamps across the switch.
        await asyncio.sleep(0.3)
        _switch_pts_ok([x for x in tab.channel_audio.timestamps if x[0] > switched_at - 1])
    finally:
        await _close(*listeners.values(), *pubs)


async def test_handover_moves_every_listener_of_the_channel(sfu: EmbeddedSfu) -> None:
    sfu.set_routes({"en": "floor", "zh": "interpreter:zh-a"})
    booth_a = Tab(sfu, "booth-a", publish="interpreter:zh-a", audio=ToneTrack(TONES["zh"]))
    booth_b = Tab(sfu, "booth-b", publish="interpreter:zh-b", audio=ToneTrack(TONES["ja"]))
    listeners = [Tab(sfu, f"l{i}", channel="zh") for i in range(3)]
    try:
        await asyncio.gather(booth_a.connect(), booth_b.connect())
        await asyncio.gather(*(t.connect() for t in listeners))
        await wait_until(lambda: all(t.channel_audio.packets > 40 for t in listeners), timeout=10)
        await asyncio.sleep(0.3)
        assert all(abs(t.channel_audio.frequency() - TONES["zh"]) < 5 for t in listeners)

        routed_at = time.monotonic()
        sfu.set_routes({"en": "floor", "zh": "interpreter:zh-b"})  # B takes the mic
        await wait_until(
            lambda: all(
                t.channel_audio.first_heard(TONES["ja"], after=routed_at) is not None
                for t in listeners
            ),
            timeout=3,
        )
        for t in listeners:
            heard = t.channel_audio.first_heard(TONES["ja"], after=routed_at)
            assert heard is not None and heard - routed_at < 0.4
            _switch_pts_ok([x for x in t.channel_audio.timestamps if x[0] > routed_at - 1])
    finally:
        await _close(*listeners, booth_a, booth_b)


async def test_interpreter_gone_then_listeners_fall_back_to_floor(sfu: EmbeddedSfu) -> None:
    gone: list[str] = []
    fired = asyncio.Event()

    def on_gone(key: str) -> None:
        gone.append(key)
        fired.set()
        # What the control plane does: recompute routes; the empty booth gets the floor.
        sfu.set_routes({"en": "floor", "zh": "floor"})

    sfu.on_source_gone = on_gone
    sfu.set_routes({"en": "floor", "zh": "interpreter:zh-a"})
    floor = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ))
    booth = Tab(sfu, "booth", publish="interpreter:zh-a", audio=ToneTrack(TONES["zh"]))
    listener = Tab(sfu, "listener", channel="zh")
    try:
        await asyncio.gather(floor.connect(), booth.connect())
        await listener.connect()
        await wait_until(lambda: listener.channel_audio.packets > 40, timeout=10)
        await asyncio.sleep(0.3)
        assert abs(listener.channel_audio.frequency() - TONES["zh"]) < 5

        left_at = time.monotonic()
        await booth.close()  # the interpreter's tab goes away (RTCP BYE, DTLS close)
        await asyncio.wait_for(fired.wait(), timeout=5)
        assert gone == ["interpreter:zh-a"]
        await wait_until(
            lambda: listener.channel_audio.first_heard(FLOOR_HZ, after=left_at) is not None,
            timeout=3,
        )
        heard = listener.channel_audio.first_heard(FLOOR_HZ, after=left_at)
        assert heard is not None and heard - left_at < 2.0
        assert "interpreter:zh-a" not in sfu.stats().sources
    finally:
        await _close(listener, floor, booth)


async def test_unauthorized_publish_is_heard_by_nobody(sfu: EmbeddedSfu) -> None:
    rogue_hz = 1000.0
    sfu.set_routes({"en": "floor", "zh": "floor"})
    floor = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ))
    rogue = Tab(sfu, "rogue", publish=None, channel="en", audio=ToneTrack(rogue_hz))
    listener = Tab(sfu, "listener", channel="zh")
    try:
        await floor.connect()
        answer = await rogue.connect()
        await listener.connect()
        # The answer refuses the rogue's audio: our side of its m-line does not receive.
        audio = [m for m in SessionDescription.parse(answer).media if m.kind == "audio"]
        assert audio[0].direction == "sendonly"
        await wait_until(lambda: listener.channel_audio.packets > 50, timeout=10)
        await asyncio.sleep(0.5)
        assert abs(listener.program.frequency() - FLOOR_HZ) < 5
        assert abs(listener.channel_audio.frequency() - FLOOR_HZ) < 5
        assert set(sfu.stats().sources) == {"floor"}
        assert sfu.stats().per_session["rogue"].publish is None
        # The rogue still hears the floor like any listener.
        assert abs(rogue.channel_audio.frequency() - FLOOR_HZ) < 5
    finally:
        await _close(listener, rogue, floor)


async def test_renegotiation_gives_a_listener_the_floor(sfu: EmbeddedSfu) -> None:
    sfu.set_routes({"en": "floor"})
    panelist = Tab(sfu, "panelist", channel="en")
    audience = Tab(sfu, "audience", channel="en")
    try:
        await panelist.connect()
        await audience.connect()
        await asyncio.sleep(0.5)
        assert audience.program.packets == 0  # nobody has the floor yet

        # The moderator gives the floor: the tab adds camera and mic on the same peer
        # connection (same m-lines, directions change) and offers again.
        camera = EncodedTrack(TestPatternTrack("PANEL", width=160, height=96, fps=15))
        await panelist.publish_now("floor", ToneTrack(TONES["zh"]), camera)
        await wait_until(lambda: audience.program.packets > 40, timeout=10)
        await wait_until(lambda: audience.video.keyframes > 0 and audience.video.packets > 5, 5)
        await asyncio.sleep(0.3)
        assert abs(audience.program.frequency() - TONES["zh"]) < 5
        assert abs(audience.channel_audio.frequency() - TONES["zh"]) < 5
        assert panelist.program.packets == 0  # never hears itself
        assert sfu.stats().sources["floor"].kinds == ("audio", "video")
        assert panelist.video.packets == 0
        assert sfu.stats().sessions == 2
    finally:
        await _close(panelist, audience)


async def test_interpreter_hears_booth_feed_and_partner(sfu: EmbeddedSfu) -> None:
    sfu.set_routes({"en": "floor", "zh": "interpreter:zh-a", "ja": "interpreter:ja-a"})
    sfu.set_booth_feeds(
        {
            "interpreter:zh-a": BoothFeed(hear="floor", partner="interpreter:zh-b"),
            "interpreter:zh-b": BoothFeed(hear="floor", partner="interpreter:zh-a"),
            "interpreter:ja-a": BoothFeed(hear="interpreter:zh-a"),  # relay from zh
        }
    )
    floor = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ))
    zh_a = Tab(sfu, "zh-a", publish="interpreter:zh-a", audio=ToneTrack(TONES["zh"]))
    zh_b = Tab(sfu, "zh-b", publish="interpreter:zh-b", audio=ToneTrack(TONES["es"]))
    ja_a = Tab(sfu, "ja-a", publish="interpreter:ja-a", audio=ToneTrack(TONES["ja"]))
    tabs = [floor, zh_a, zh_b, ja_a]
    try:
        await asyncio.gather(*(t.connect() for t in tabs))
        await wait_until(
            lambda: all(t.program.packets > 40 for t in (zh_a, zh_b, ja_a)), timeout=10
        )
        await asyncio.sleep(0.4)
        assert abs(zh_a.program.frequency() - FLOOR_HZ) < 5
        assert abs(zh_a.channel_audio.frequency() - TONES["es"]) < 5  # partner B
        assert abs(zh_b.channel_audio.frequency() - TONES["zh"]) < 5  # partner A
        assert abs(ja_a.program.frequency() - TONES["zh"]) < 5  # relay
        assert ja_a.channel_audio.packets == 0  # no partner

        # Relay dropped: ja hears the floor again, without renegotiation.
        changed_at = time.monotonic()
        sfu.set_booth_feeds({"interpreter:ja-a": BoothFeed(hear="floor")})
        await wait_until(
            lambda: ja_a.program.first_heard(FLOOR_HZ, after=changed_at) is not None, timeout=3
        )
    finally:
        await _close(*tabs)


async def test_select_channel_needs_a_session(sfu: EmbeddedSfu) -> None:
    with pytest.raises(NotFoundError):
        sfu.select_channel("nobody", "zh")


async def test_close_session_and_stats(sfu: EmbeddedSfu) -> None:
    sfu.set_routes({"en": "floor"})
    floor = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ))
    listener = Tab(sfu, "listener", channel="en")
    try:
        await floor.connect()
        await listener.connect()
        await wait_until(lambda: listener.program.packets > 20, timeout=10)
        stats = sfu.stats()
        assert stats.sessions == 2
        assert stats.sources["floor"].frames_in > 0
        assert stats.sources["floor"].frames_out >= stats.sources["floor"].frames_in
        assert stats.per_session["listener"].frames_out > 0
        assert stats.routes == {"en": "floor"}
        await sfu.close_session("listener")
        await sfu.close_session("listener")  # idempotent
        assert sfu.stats().sessions == 1
        assert "listener" not in sfu.session_ids()
    finally:
        await _close(listener, floor)
