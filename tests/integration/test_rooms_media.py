"""A booth assigned to a group, end to end over /ws: real server, aiortc tabs whose offers go
through ``rtc_offer``, the rooms commands the control page sends, tones judged by ear.

The es booth's interpreter (784 Hz) is assigned to one group: there, the cities that chose
Spanish hear the interpreter on their channel and those that chose English do not, until
they choose Spanish themselves; the other group hears nothing of it; the plenary's Spanish
channel carries the floor (440 Hz) meanwhile. Once the groups close, the plenary's Spanish
channel carries the interpreter again, for everyone who chose it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from simultan.core.capabilities import Role
from tests.integration.test_stage_media import (
    ALL_TONES,
    ES_HZ,
    FLOOR_HZ,
    WARM_UP,
    Peer,
    Stage,
    settled,
    until,
)
from tests.integration.test_stage_media import stage as stage_fixture
from tests.media.tones import Heard, closest_tone

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

    await mod.ok(
        {"type": "timeline", "action": "start", "item_id": "afternoon-groups", "base_version": 0}
    )
    await mod.ok({"type": "rooms", "action": "plan", "method": "hand", "count": 2})
    for peer, room in (
        (ana, "neutrality"),
        (bo, "neutrality"),
        (cy, "governance"),
        (di, "governance"),
    ):
        await mod.ok({"type": "rooms", "action": "move", "person_id": peer.id, "room": room})
    await mod.ok({"type": "rooms", "action": "open"})
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
