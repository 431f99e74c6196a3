"""Media that survives real networks, end to end over /ws with real aiortc peers.

- A websocket cut keeps the tab's media (listener and live interpreter): the reconnecting
  socket names its media session in ``hello`` and takes it over; with no reconnect the grace
  period ends and the interpreter leaves the booth as on a clean drop.
- A live interpreter whose packets stop without any close (nftables drops them, inside the
  test's loopback-only namespace) is noticed within about a second: listeners hear the floor
  within 2 s, the partner is offered the mic, the tech view says so; when the packets resume
  the interpreter is live again.

Tones as in test_stage_media: floor 440 Hz, zh A 523 Hz, zh B 587 Hz.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from simultan.app import LOSS_WATCH
from simultan.eventdef import EventDefinition
from simultan.session.tech import tech_view
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.integration.test_stage_media import (
    FLOOR_HZ,
    ZH_A_HZ,
    ZH_B_HZ,
    Peer,
    Stage,
    change_kinds,
    first_run,
    log_measure,
    settled,
    stage,  # noqa: F401  (the fixture)
    until,
    zh_pair_with_listener,
)
from tests.netns import UdpBlock, local_ports, require_nft

pytestmark = pytest.mark.media


async def reconnect(peer: Peer, media_session: str | None) -> Peer:
    """The same tab opens a new websocket (its peer connection stays) and names its media
    session; returns the peer on the new socket."""
    client = await peer.server.connect(peer.token, media_session=media_session)
    again = Peer(peer.server, peer.name, peer.id, client)
    again.token, again.tab, again.session_id = peer.token, peer.tab, peer.session_id
    await again.wait_message(lambda m: m["type"] in ("welcome", "resumed"))
    return again


def booth_events(peer: Peer, since: int) -> list[dict[str, Any]]:
    return [m for _, m in peer.inbox[since:] if m["type"] == "event" and m["name"] == "booth"]


async def test_websocket_cut_keeps_the_listeners_and_the_interpreters_media(
    stage: Stage,  # noqa: F811
) -> None:
    a, b, listener, heard = await zh_pair_with_listener(stage)
    mark = len(b.inbox)
    sessions_before = set(stage.sfu.session_ids())

    cut = time.monotonic()
    await a.client.close()  # the interpreter's socket drops; its peer connection stays
    await listener.client.close()
    await until(lambda: time.monotonic() - cut > 2.0, 3)  # longer than a fallback would take
    # Nobody fell back: the zh listener heard A all along, the booth did not change.
    assert first_run(heard, FLOOR_HZ, after=cut) is None
    await settled(heard, ZH_A_HZ)
    assert booth_events(b, mark) == []
    assert stage.server.app[SESSION].stage.booths["zh"].live == a.id

    # Both tabs reconnect and resume their media sessions: the same peer connections.
    a2 = await reconnect(a, a.session_id)
    _, status = await a2.wait_message(lambda m: m["type"] == "media")
    assert status == {
        "type": "media",
        "session": a.session_id,
        "resumed": True,
        "video_paused": None,
        "message": "",
    }
    l2 = await reconnect(listener, listener.session_id)
    _, status = await l2.wait_message(lambda m: m["type"] == "media")
    assert status["resumed"] is True
    stage.peers += [a2, l2]
    assert set(stage.sfu.session_ids()) == sessions_before
    # The resumed socket drives its media: the listener switches channel, A's mic still live.
    await l2.ok({"type": "select_channel", "channel": "en"})
    await settled(heard, FLOOR_HZ)
    await l2.ok({"type": "select_channel", "channel": "zh"})
    await settled(heard, ZH_A_HZ)
    await a2.ok({"type": "booth", "booth": "zh", "action": "offer", "to": b.id})
    await b.ok({"type": "booth", "booth": "zh", "action": "accept"})
    await settled(heard, ZH_B_HZ)

    # Someone else's session cannot be taken over (another person names it).
    b2 = await reconnect(b, a.session_id)
    _, status = await b2.wait_message(lambda m: m["type"] == "media")
    assert status["resumed"] is False
    stage.peers.append(b2)


@pytest.fixture
async def short_grace(
    tmp_path: Path, clock: FakeClock, seminar: EventDefinition
) -> AsyncIterator[Stage]:
    runner, server = await start_server(
        tmp_path, clock, seminar, media_enabled=True, media_grace_seconds=1.0
    )
    st = Stage(server)
    try:
        yield st
    finally:
        await st.close()
        await runner.cleanup()


async def test_no_reconnect_within_the_grace_then_the_interpreter_leaves(
    short_grace: Stage,
) -> None:
    a, b, listener, heard = await zh_pair_with_listener(short_grace)
    mark = len(b.inbox)
    cut = time.monotonic()
    await a.client.close()
    _, msg = await b.wait_message(
        lambda m: (
            m["type"] == "event"
            and m["name"] == "booth"
            and "handover_offered" in change_kinds(m["data"])
        ),
        since=mark,
        timeout=5,
    )
    at = time.monotonic()
    assert at - cut >= 0.9  # not before the grace period ended
    assert change_kinds(msg["data"]) == ["mic_off", "member_disconnected", "handover_offered"]
    await settled(heard, FLOOR_HZ)
    assert a.session_id not in short_grace.sfu.session_ids()
    # A reconnecting too late gets "not resumed" (the page then offers afresh).
    a2 = await reconnect(a, a.session_id)
    _, status = await a2.wait_message(lambda m: m["type"] == "media")
    assert status["resumed"] is False
    short_grace.peers.append(a2)


@pytest.fixture
async def quick_loss(
    tmp_path: Path, clock: FakeClock, seminar: EventDefinition
) -> AsyncIterator[Stage]:
    runner, server = await start_server(
        tmp_path, clock, seminar, media_enabled=True, media_loss_seconds=0.8
    )
    st = Stage(server)
    try:
        yield st
    finally:
        await st.close()
        await runner.cleanup()


async def test_interpreter_packets_dropped_without_close_fall_back_then_restore(
    quick_loss: Stage,
) -> None:
    require_nft()
    stage = quick_loss  # noqa: F811
    assert stage.server.settings.media_loss_seconds == 0.8  # the production default
    a, b, listener, heard = await zh_pair_with_listener(stage)
    session = stage.server.app[SESSION]
    watch = stage.server.app[LOSS_WATCH]
    assert a.tab is not None
    ports = local_ports(a.tab.pc)
    assert ports
    mark = len(b.inbox)

    with UdpBlock(ports):
        dropped = time.monotonic()
        await until(lambda: first_run(heard, FLOOR_HZ, after=dropped) is not None, 4)
        fallback = first_run(heard, FLOOR_HZ, after=dropped)
        assert fallback is not None
        log_measure("packets dropped -> floor", fallback_ms=(fallback - dropped) * 1000)
        assert fallback - dropped < 2.0
        _, msg = await b.wait_message(
            lambda m: (
                m["type"] == "event"
                and m["name"] == "booth"
                and "handover_offered" in change_kinds(m["data"])
            ),
            since=mark,
        )
        assert change_kinds(msg["data"]) == ["mic_off", "member_disconnected", "handover_offered"]
        assert f"interpreter:{a.id}" in watch.lost
        view = tech_view(session, lost=watch.lost)
        assert [x["kind"] for x in view["alarms"] if x["person"] == a.id] == ["media_lost"]
        zh = next(x for x in view["booths"] if x["id"] == "zh")
        assert zh["quality"][a.id]["packets"] == "stopped"
        assert view["media"]["lost"] == [f"interpreter:{a.id}"]
        # Nothing closed: A's socket and peer connection are still open.
        assert a.open and a.session_id in stage.sfu.session_ids()
        mark = len(b.inbox)

    resumed = time.monotonic()
    _, msg = await b.wait_message(
        lambda m: (
            m["type"] == "event" and m["name"] == "booth" and "mic_live" in change_kinds(m["data"])
        ),
        since=mark,
        timeout=5,
    )
    kinds = [k for e in booth_events(b, mark) for k in change_kinds(e["data"])]
    assert kinds[0] == "member_connected" and "mic_live" in kinds
    assert session.stage.booths["zh"].live == a.id
    await until(lambda: first_run(heard, ZH_A_HZ, after=resumed) is not None, 4)
    back = first_run(heard, ZH_A_HZ, after=resumed)
    assert back is not None
    await settled(heard, ZH_A_HZ)
    log_measure("packets resumed -> interpreter again", back_ms=(back - resumed) * 1000)
    assert f"interpreter:{a.id}" not in watch.lost
