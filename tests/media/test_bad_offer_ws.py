"""aiortc failing on an offer, first or renegotiated, answers ``bad_offer`` over /ws, never
``internal``; the socket stays usable (issue 7.6). Real aiortc peers on loopback; the
failure inside aiortc is injected, since a browser-made offer that trips it is version-bound."""

from __future__ import annotations

from typing import Any

import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection

from simultan.core.capabilities import Role
from tests.conftest import FakeClock, start_server


async def _offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    try:
        for kind in ("video", "audio", "audio"):
            pc.addTransceiver(kind, direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


async def test_aiortc_failures_are_bad_offer(
    tmp_path: Any, clock: FakeClock, seminar: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=True)
    try:
        _, token = await server.person(Role.PARTICIPANT, "Pat Offer")
        client = await server.connect(token)
        assert (await client.recv())["type"] == "welcome"
        sdp = await _offer()
        first = await client.request({"type": "rtc_offer", "sdp": sdp}, timeout=20)
        assert first["type"] == "rtc_answer", first

        async def refuse(self: RTCPeerConnection, *args: Any) -> Any:
            raise ValueError("cannot follow this renegotiation")

        with monkeypatch.context() as patch:
            patch.setattr(RTCPeerConnection, "createAnswer", refuse)
            again = await client.request({"type": "rtc_offer", "sdp": sdp}, timeout=20)
        assert (again["type"], again["code"]) == ("error", "bad_offer"), again
        assert "renegotiation" in again["message"]

        with monkeypatch.context() as patch:  # a first offer (new peer connection) refused
            patch.setattr(RTCPeerConnection, "setRemoteDescription", refuse)
            fresh = await _offer()
            refused = await client.request({"type": "rtc_offer", "sdp": fresh}, timeout=20)
        assert (refused["type"], refused["code"]) == ("error", "bad_offer"), refused
        answered = await client.request({"type": "rtc_offer", "sdp": fresh}, timeout=20)
        assert answered["type"] == "rtc_answer", answered  # and the tab can try again
        assert (await client.request({"type": "ping"}))["type"] == "pong"
        for c in server.clients:
            await c.close()
    finally:
        await runner.cleanup()
