"""A booth assigned to a group, end to end over /ws: real server, aiortc tabs whose offers go
through ``rtc_offer``, the rooms commands the control page sends, tones judged by ear.

The es booth's interpreter (784 Hz) is assigned to one group: there, the cities that chose
Spanish hear the interpreter on their channel and those that chose English do not, until
they choose Spanish themselves; the other group hears nothing of it; the plenary's Spanish
channel carries the floor (440 Hz) meanwhile. Once the groups close, the plenary's Spanish
channel carries the interpreter again, for everyone who chose it.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from simultan.core.capabilities import Role
from tests.integration.test_stage_media import (
    ALL_TONES,
    ES_HZ,
    FLOOR_HZ,
    JA_HZ,
    TOLERANCE_HZ,
    WARM_UP,
    ZH_A_HZ,
    Peer,
    Stage,
    settled,
    until,
)
from tests.integration.test_stage_media import stage as stage_fixture
from tests.media.tones import Heard, ToneTrack, closest_tone, dominant_frequency

stage = stage_fixture  # the real server with media, shared with test_stage_media

pytestmark = pytest.mark.media


def since(heard: Heard, at: float) -> np.ndarray:
    chunks = [samples for arrival, samples in list(heard.frames) if arrival > at]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


async def not_hearing(peer: Peer, tone: float, seconds: float = 1.5) -> None:
    """After ``seconds``, the channel's last half second (if anything came) is not ``tone``."""
    assert peer.tab is not None
    at = time.monotonic()
    await until(lambda: time.monotonic() - at > seconds, seconds + 1)
    heard = closest_tone(since(peer.tab.channel_audio, at + seconds - 0.5), ALL_TONES)
    assert heard != tone, f"{peer.name} hears {tone} Hz on its channel"


async def open_two_groups(
    mod: Peer, neutrality: tuple[Peer, Peer], governance: tuple[Peer, Peer]
) -> None:
    """The moderator starts the afternoon's groups, plans two by hand, moves the cities
    into them (``neutrality``, then ``governance``) and opens them."""
    await mod.ok(
        {"type": "timeline", "action": "start", "item_id": "afternoon-groups", "base_version": 0}
    )
    await mod.ok({"type": "rooms", "action": "plan", "method": "hand", "count": 2})
    for room, members in (("neutrality", neutrality), ("governance", governance)):
        for peer in members:
            await mod.ok({"type": "rooms", "action": "move", "person_id": peer.id, "room": room})
    await mod.ok({"type": "rooms", "action": "open"})


async def test_a_booth_serving_a_group_is_heard_there_only_by_those_who_chose_it(
    stage: Stage,
) -> None:
    stage.local_floor()
    await stage.interpreter("es", "A", ES_HZ, take=True)
    mod = await stage.join(Role.MODERATOR, "Mo Derator")
    await mod.offer(channel="es")  # stays in the plenary (staff visit groups, never join)
    cities = {
        name: await stage.join(Role.PARTICIPANT, f"{name} City", language=language)
        for name, language in (("ana", "es"), ("bo", "en"), ("cy", "es"), ("di", "en"))
    }
    for peer, language in zip(cities.values(), ("es", "en", "es", "en"), strict=True):
        await peer.offer(channel=language)
    ana, bo, cy, di = cities.values()
    for peer in (ana, cy, mod):
        assert peer.tab is not None
        await until(lambda p=peer: p.tab.channel_audio.packets > 30, WARM_UP)
        await settled(peer.tab.channel_audio, ES_HZ, timeout=WARM_UP)  # the plenary: es booth

    await open_two_groups(mod, neutrality=(ana, bo), governance=(cy, di))
    await mod.ok({"type": "rooms", "action": "booth", "room": "neutrality", "booth": "es"})

    assert ana.tab is not None and bo.tab is not None and mod.tab is not None
    await settled(ana.tab.channel_audio, ES_HZ, timeout=WARM_UP)  # its group's interpreter
    await settled(mod.tab.channel_audio, FLOOR_HZ, timeout=WARM_UP)  # plenary es: the floor
    await not_hearing(cy, ES_HZ)  # the other group: nothing of it
    await not_hearing(bo, ES_HZ)  # chose English: the original, not the interpreter
    # Bo chooses Spanish in its group, as on the plenary: the interpreter, no renegotiation.
    await bo.ok({"type": "select_channel", "channel": "es"})
    await settled(bo.tab.channel_audio, ES_HZ, timeout=WARM_UP)
    await not_hearing(cy, ES_HZ, seconds=0.8)
    await settled(mod.tab.channel_audio, FLOOR_HZ)

    # Everyone back: the plenary's Spanish channel carries the interpreter again.
    await mod.ok({"type": "rooms", "action": "call_back"})
    stage.server.clock.advance(seconds=61)
    for peer in (ana, bo, cy, mod):
        assert peer.tab is not None
        await settled(peer.tab.channel_audio, ES_HZ, timeout=WARM_UP)
    # ...and Di, who kept English, is back on the English channel: the floor itself.
    assert di.tab is not None
    await settled(di.tab.channel_audio, FLOOR_HZ, timeout=WARM_UP)


ANA_HZ, BO_HZ, MOD_HZ = ZH_A_HZ, JA_HZ, ES_HZ


def silent_or_not(heard: Heard, tone: float, seconds: float = 0.5) -> bool:
    """The last ``seconds`` of ``heard`` are not ``tone`` (nothing at all counts)."""
    recent = heard.recent(seconds)
    return len(recent) == 0 or abs(dominant_frequency(recent) - tone) > TOLERANCE_HZ


async def test_the_moderator_visits_a_group_listening_then_speaking(stage: Stage) -> None:
    """Listening, the moderator hears both members of the group (its member slots) and is
    heard by nobody: the members' slot for a third voice stays silent and an offer to
    publish is refused. Speaking, its tone reaches both members (their next slot), while it
    still hears them; the other group hears nothing of it. Leaving, it is gone."""
    mod = await stage.join(Role.MODERATOR, "Mo Derator")
    peers = {n: await stage.join(Role.PARTICIPANT, f"{n} City") for n in ("ana", "bo", "cy", "di")}
    ana, bo, cy, di = peers.values()
    await open_two_groups(mod, neutrality=(ana, bo), governance=(cy, di))
    tones = {ana: ANA_HZ, bo: BO_HZ, cy: FLOOR_HZ, di: FLOOR_HZ}
    for peer, hz in tones.items():
        await peer.offer(publish="member", audio=ToneTrack(hz), member_slots=2)
    await mod.offer(member_slots=2)  # the control page's session: receive only
    assert mod.tab is not None and ana.tab is not None and bo.tab is not None
    assert cy.tab is not None
    await settled(ana.tab.members[0], BO_HZ, timeout=WARM_UP)
    await settled(bo.tab.members[0], ANA_HZ, timeout=WARM_UP)

    # Listening: both members heard, in slot order (members sorted by id); nothing sent.
    await mod.ok({"type": "rooms", "action": "visit", "room": "neutrality", "speak": False})
    first, second = sorted((ana, bo), key=lambda p: p.id)
    await settled(mod.tab.members[0], tones[first], timeout=WARM_UP)
    await settled(mod.tab.members[1], tones[second], timeout=WARM_UP)
    reply = await mod.request(
        {"type": "rtc_offer", "sdp": mod.tab.pc.localDescription.sdp, "publish": "member"}
    )
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    await asyncio.sleep(1.0)
    for member in (ana, bo):
        assert member.tab is not None and member.tab.members[1].packets == 0, member.name

    # Speaking: the members' second slot carries the moderator; it still hears them.
    await mod.ok({"type": "rooms", "action": "visit", "room": "neutrality", "speak": True})
    await mod.tab.publish_now("member", ToneTrack(MOD_HZ))
    await settled(ana.tab.members[1], MOD_HZ, timeout=WARM_UP)
    await settled(bo.tab.members[1], MOD_HZ, timeout=WARM_UP)
    await settled(ana.tab.members[0], BO_HZ)
    await settled(mod.tab.members[0], tones[first])
    await settled(mod.tab.members[1], tones[second])
    for slot in cy.tab.members:  # the other group: nothing of the visitor
        assert silent_or_not(slot, MOD_HZ)

    # Leaving: the members no longer hear the moderator.
    await mod.ok({"type": "rooms", "action": "visit", "room": None})
    left = time.monotonic()
    await asyncio.sleep(1.5)
    late = since(ana.tab.members[1], left + 0.5)  # what came after the move settled
    assert len(late) == 0 or abs(dominant_frequency(late) - MOD_HZ) > TOLERANCE_HZ
    await settled(ana.tab.members[0], BO_HZ)
