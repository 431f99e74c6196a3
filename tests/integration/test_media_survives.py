"""Media that survives real networks, end to end over /ws with real aiortc peers.

- A websocket cut keeps the tab's media (listener and live interpreter): the reconnecting
  socket names its media session in ``hello`` and takes it over; with no reconnect the grace
  period ends and the interpreter leaves the booth as on a clean drop.
- A live floor speaker whose packets stop is taken out of the mix and the floor video shows
  another live speaker within 2 s (the moderators are told); both undo when packets resume.
- A live interpreter whose packets stop without any close (nftables drops them, inside the
  test's loopback-only namespace) is noticed within about a second: listeners hear the floor
  within 2 s, the partner is offered the mic, the tech view says so; when the packets resume
  the interpreter is live again.

Tones as in test_stage_media: floor 440 Hz, zh A 523 Hz, zh B 587 Hz.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simultan.app import LOSS_WATCH
from simultan.core.capabilities import Role
from simultan.eventdef import EventDefinition
from simultan.media.plane import speaker_key
from simultan.media.synthetic import TestPatternTrack
from simultan.session.tech import tech_view
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.integration.test_stage_media import (
    FLOOR_HZ,
    WARM_UP,
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
from tests.media.tones import ToneTrack
from tests.netns import UdpBlock, local_ports, require_nft

pytestmark = pytest.mark.media

A_SIZE, B_SIZE = (320, 180), (160, 96)  # two floor speakers' cameras, told apart by size


async def reconnect(peer: Peer, media_session: str | None) -> Peer:
    """The same tab opens a new websocket (its peer connection stays) and names its media
    session; returns the peer on the new socket."""
    client = await peer.server.connect(peer.token, media_session=media_session)
    again = Peer(peer.server, peer.name, peer.id, client)
    again.token, again.tab, again.session_id = peer.token, peer.tab, peer.session_id
    await again.wait_message(lambda m: m["type"] in ("welcome", "resumed"))
    return again


def noticed_after_last_packet(st: Stage, watch: Any, key: str, dropped: float) -> float:
    """Seconds from the last packet of ``key`` that reached the server (its feed's arrival
    time, on the server's clock) to the loss watch's notice of the loss; the last packet
    is checked to come from before the drop (``dropped``: when the test's nftables rule
    went in), so the figure is the server's detection delay, not the test's timing."""
    last = st.sfu.last_packets()[key]
    noticed = watch.lost_since[key]
    # (a packet already in the socket buffer when the rule went in may be read a little later)
    assert last <= dropped + 0.25, (last, dropped)
    return float(noticed - last)


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


@asynccontextmanager
async def media_stage(
    tmp_path: Path, clock: FakeClock, seminar: EventDefinition, **overrides: Any
) -> AsyncIterator[Stage]:
    """A server with media (``overrides`` its settings) and a Stage on it; at the end the
    stage's peers close, then the server."""
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=True, **overrides)
    st = Stage(server)
    try:
        yield st
    finally:
        await st.close()
        await runner.cleanup()


@pytest.fixture
async def short_grace(
    tmp_path: Path, clock: FakeClock, seminar: EventDefinition
) -> AsyncIterator[Stage]:
    async with media_stage(tmp_path, clock, seminar, media_grace_seconds=1.0) as st:
        yield st


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
    async with media_stage(tmp_path, clock, seminar, media_loss_seconds=0.8) as st:
        yield st


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
        after_last = noticed_after_last_packet(stage, watch, f"interpreter:{a.id}", dropped)
        log_measure("interpreter packets dropped", after_last_packet_ms=after_last * 1000)
        assert after_last <= 1.0
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


async def floor_speaker(
    st: Stage,
    moderator: Peer,
    name: str,
    tone: float,
    size: tuple[int, int],
) -> Peer:
    """A participant given the floor who publishes a tone and a test pattern of ``size``
    (the listener tells whose video it sees by the decoded frame size)."""
    peer = await st.join(Role.PARTICIPANT, name)
    await peer.ok({"type": "raise_hand", "language": "en"})
    await moderator.ok({"type": "floor", "action": "give", "person_id": peer.id})
    camera = TestPatternTrack(name, width=size[0], height=size[1], fps=10)
    await peer.offer(publish="floor", channel="en", audio=ToneTrack(tone), video=camera)
    return peer


def floor_media_events(peer: Peer, since: int) -> list[dict[str, Any]]:
    return [
        m["data"]
        for _, m in peer.inbox[since:]
        if m["type"] == "event" and m["name"] == "floor_media"
    ]


async def test_live_speaker_packets_dropped_leaves_the_mix_and_the_screen_then_returns(
    quick_loss: Stage,
) -> None:
    """Two live speakers, A shown; A's packets are dropped without any close: within 2 s A
    is out of the mix, the listener's floor video is B's (its frame size), the moderator is
    told; when A's packets resume A is mixed and shown again."""
    require_nft()
    stage = quick_loss  # noqa: F811
    session = stage.server.app[SESSION]
    watch = stage.server.app[LOSS_WATCH]
    moderator = await stage.join(Role.MODERATOR, "Mo Derator")
    a = await floor_speaker(stage, moderator, "Ana Speaker", ZH_A_HZ, A_SIZE)
    b = await floor_speaker(stage, moderator, "Ben Speaker", ZH_B_HZ, B_SIZE)
    listener = await stage.join(Role.PARTICIPANT, "Lee Listener")
    await listener.offer(channel="en", decode_video=True)
    seen = listener.tab.video  # type: ignore[union-attr]
    assert session.floor.shown() == a.id
    await until(lambda: seen.size == A_SIZE, WARM_UP)
    mixer = stage.sfu.mixer
    assert set(mixer.speakers) == {speaker_key(a.id), speaker_key(b.id)}
    assert mixer.muted == frozenset()
    assert a.tab is not None
    ports = local_ports(a.tab.pc)
    mark = len(moderator.inbox)

    with UdpBlock(ports):
        dropped = time.monotonic()
        await until(lambda: speaker_key(a.id) in watch.lost, 2.0)
        noticed = time.monotonic() - dropped
        # Server-side: from the last packet of A that reached the SFU to the loss noticed.
        after_last = noticed_after_last_packet(stage, watch, speaker_key(a.id), dropped)
        await until(lambda: mixer.video_key == speaker_key(b.id), 2.0 - noticed)
        assert mixer.muted == {speaker_key(a.id)}  # out of the mix, still on the floor
        assert session.floor.is_live(a.id) and session.floor.shown() == a.id
        await until(lambda: seen.size == B_SIZE, 2.0)
        switched = time.monotonic() - dropped
        log_measure(
            "speaker packets dropped",
            noticed_ms=noticed * 1000,
            after_last_packet_ms=after_last * 1000,
            video_ms=switched * 1000,
        )
        assert after_last <= 1.0 and switched < 2.0
        _, event = await moderator.wait_message(
            lambda m: m["type"] == "event" and m["name"] == "floor_media", since=mark
        )
        assert event["data"]["person"]["id"] == a.id
        assert event["data"]["lost"] is True and event["data"]["shown"] == b.id
        assert floor_media_events(listener, 0) == []  # the moderators', not everyone's
        view = tech_view(session, lost=watch.lost)
        assert [(x["kind"], x["booth"]) for x in view["alarms"] if x["person"] == a.id] == [
            ("speaker_media_lost", "floor")
        ]
        assert a.open and a.session_id in stage.sfu.session_ids()  # nothing was closed
        mark = len(moderator.inbox)
        b_frames = seen.decoded

    resumed = time.monotonic()
    await until(lambda: speaker_key(a.id) not in watch.lost, 3.0)
    await until(lambda: seen.size == A_SIZE, 3.0)
    log_measure("speaker packets resumed", video_ms=(time.monotonic() - resumed) * 1000)
    assert seen.decoded > b_frames
    assert mixer.muted == frozenset() and mixer.video_key == speaker_key(a.id)
    await moderator.wait_message(
        lambda m: m["type"] == "event" and m["name"] == "floor_media", since=mark
    )
    events = floor_media_events(moderator, mark)
    assert [(e["person"]["id"], e["lost"], e["shown"]) for e in events] == [(a.id, False, a.id)]
    assert view_alarms_for(session, watch, a.id) == []


def view_alarms_for(session: Any, watch: Any, person: str) -> list[str]:
    view = tech_view(session, lost=watch.lost)
    return [x["kind"] for x in view["alarms"] if x["person"] == person]


async def test_revoked_access_closes_the_media_session_without_grace(
    stage: Stage,  # noqa: F811
) -> None:
    """An organizer revokes the live interpreter: their socket closes (4003) and their media
    session goes at once, not after the 30 s grace; listeners fall back to the floor."""
    a, b, listener, heard = await zh_pair_with_listener(stage)
    session = stage.server.app[SESSION]
    registry = session.media_sessions
    assert registry is not None and registry.grace >= 30
    assert registry.held_by(a.id)
    _, organizer_token = await stage.server.person(Role.ORGANIZER, "Olga Organizer")
    mark = len(b.inbox)
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{stage.server.url}/api/admin/registrations/{a.id}/revoke",
            headers={"Authorization": f"Bearer {organizer_token}", "Accept": "application/json"},
        )
        assert response.status == 200, await response.text()
    revoked = time.monotonic()
    await until(lambda: a.session_id not in stage.sfu.session_ids(), 2.0)
    assert not registry.held_by(a.id) and registry.owner_of(a.session_id or "") is None
    await until(lambda: first_run(heard, FLOOR_HZ, after=revoked) is not None, 3.0)
    await b.wait_message(
        lambda m: (
            m["type"] == "event"
            and m["name"] == "booth"
            and "handover_offered" in change_kinds(m["data"])
        ),
        since=mark,
    )
    await until(lambda: not a.open, 2.0)
    assert a.client.ws.close_code == 4003


async def test_a_lost_speaker_taken_back_then_given_the_floor_again_is_mixed(
    quick_loss: Stage,
) -> None:
    """The moderator takes back a speaker whose packets stopped (their source goes without a
    loss or return): given the floor again and publishing anew, they are in the mix, unmuted."""
    require_nft()
    stage = quick_loss  # noqa: F811
    session = stage.server.app[SESSION]
    watch = stage.server.app[LOSS_WATCH]
    moderator = await stage.join(Role.MODERATOR, "Mo Derator")
    a = await floor_speaker(stage, moderator, "Ana Speaker", ZH_A_HZ, A_SIZE)
    mixer = stage.sfu.mixer
    key = speaker_key(a.id)
    await until(lambda: stage.sfu.frames_in().get(key, 0) > 20, WARM_UP)
    assert a.tab is not None
    with UdpBlock(local_ports(a.tab.pc)):
        await until(lambda: key in watch.lost, 3.0)
        assert mixer.muted == {key}
        await moderator.ok({"type": "floor", "action": "take", "person_id": a.id})
        await until(lambda: key not in watch.lost and not session.floor_driver.lost, 2.0)
    await a.ok({"type": "raise_hand", "language": "en"})
    await moderator.ok({"type": "floor", "action": "give", "person_id": a.id})
    await a.tab.connect()  # publishes to the floor again on the same peer connection
    await until(lambda: stage.sfu.frames_in().get(key, 0) > 20, WARM_UP)
    assert mixer.speakers == (key,) and mixer.muted == frozenset()
    assert key not in watch.lost
