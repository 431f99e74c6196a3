"""Negotiation edge cases: bad SDP, bad arguments, a reloaded tab, shutdown."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection

from simultan.errors import CommandError, ProtocolError
from simultan.media import offer
from simultan.media.sfu import EmbeddedSfu
from simultan.media.synthetic import ToneTrack as ServerTone
from tests.media.tones import FLOOR_HZ, Tab, ToneTrack, wait_until


async def _offer(*kinds: str) -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    try:
        for kind in kinds:
            pc.addTransceiver(kind, direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


@pytest.mark.parametrize(
    ("sdp", "message"),
    [
        ("not sdp at all", "must start with 'v=0'"),
        ("v=0\r\n" + "a=x\r\n" * 10_000, "the limit is"),
    ],
)
async def test_bad_sdp_is_a_protocol_error_and_leaves_nothing(
    sfu: EmbeddedSfu, sdp: str, message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        await sfu.negotiate("tab", sdp, publish=None, channel="en")
    assert sfu.stats().sessions == 0


async def test_too_many_m_lines_from_a_real_peer(sfu: EmbeddedSfu) -> None:
    # One audio m-line more than the plenary's two plus a member slot per other group member.
    sdp = await _offer("video", *["audio"] * (offer.MAX_AUDIO_MLINES + 1))
    limit = f"at most {offer.MAX_AUDIO_MLINES} audio and {offer.MAX_VIDEO_MLINES} video"
    with pytest.raises(ProtocolError, match=limit):
        await sfu.negotiate("tab", sdp, publish=None, channel="en")
    assert sfu.stats().sessions == 0


async def test_an_offer_aiortc_refuses_is_a_protocol_error(sfu: EmbeddedSfu) -> None:
    sdp = await _offer("audio")
    broken = sdp.replace("a=setup:actpass", "a=setup:bogus")
    with pytest.raises(ProtocolError):
        await sfu.negotiate("tab", broken, publish=None, channel="en")
    assert sfu.stats().sessions == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"publish": "bad key!", "channel": None}, "invalid media source key"),
        ({"publish": None, "channel": "Chinese"}, "invalid channel"),
    ],
)
async def test_bad_arguments(sfu: EmbeddedSfu, kwargs: dict[str, str | None], message: str) -> None:
    sdp = await _offer("audio")
    with pytest.raises(ProtocolError, match=message):
        await sfu.negotiate("tab", sdp, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        await sfu.negotiate("", sdp, publish=None, channel=None)


async def test_routes_and_feeds_are_validated(sfu: EmbeddedSfu) -> None:
    with pytest.raises(ProtocolError):
        sfu.set_routes({"zh": "no spaces please"})
    with pytest.raises(ProtocolError):
        sfu.set_routes({"ZH!": "floor"})
    with pytest.raises(ProtocolError):
        sfu.set_booth_feeds({"interpreter:1": "bad key!"})
    sfu.set_booth_feeds({"interpreter:1": "floor"})  # a plain key means "hear this"


async def test_a_reloaded_tab_replaces_its_old_peer_connection(sfu: EmbeddedSfu) -> None:
    sfu.set_routes({"en": "floor"})
    floor = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ))
    first = Tab(sfu, "tab", channel="en")
    second = Tab(sfu, "tab", channel="en")  # same session id, new RTCPeerConnection
    try:
        await floor.connect()
        await first.connect()
        await wait_until(lambda: first.program.packets > 10, timeout=10)
        await second.connect()
        await wait_until(lambda: second.program.packets > 25, timeout=10)
        await asyncio.sleep(0.3)
        assert abs(second.program.frequency() - FLOOR_HZ) < 5
        assert sfu.stats().sessions == 2
    finally:
        await asyncio.gather(second.close(), first.close(), floor.close())


async def test_local_sources_and_shutdown(sfu: EmbeddedSfu) -> None:
    sfu.add_local_source("demo", ServerTone(300.0), None)
    with pytest.raises(CommandError):
        sfu.add_local_source("demo", ServerTone(300.0), None)
    await wait_until(lambda: sfu.stats().sources.get("demo") is not None, timeout=2)
    await sfu.close()
    await sfu.close()  # idempotent
    with pytest.raises(CommandError):
        await sfu.negotiate("tab", await _offer("audio"), publish=None, channel=None)
