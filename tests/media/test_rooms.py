"""Groups in the embedded SFU, real aiortc peers on 127.0.0.1, judged by ear (tones).

A four-member group where each member hears the three others and not itself; a second group
at the same time that hears nothing of the first; an interpreter assigned to the first group
heard there only; closing puts everyone back on their plenary channel.
"""

from __future__ import annotations

import asyncio
import time

from simultan.media.plane import RoomMedia
from simultan.media.rooms import member_key, member_slot, publishes_video, slot_name
from simultan.media.sfu import EmbeddedSfu
from simultan.media.synthetic import TestPatternTrack
from tests.media.tones import FLOOR_HZ, FRAME, Heard, LoopedTone, Tab, closest_tone, wait_until

GROUP_A = {"a1": 523.0, "a2": 659.0, "a3": 784.0, "a4": 880.0}
GROUP_B = {"b1": 330.0, "b2": 392.0}
INTERPRETER_HZ = 1047.0
ALL = [FLOOR_HZ, INTERPRETER_HZ, *GROUP_A.values(), *GROUP_B.values()]


async def hearing(heard: list[Heard], since: float, frames: int = 20) -> None:
    """Wait until each of ``heard`` received ``frames`` packets after ``since``: a loaded
    machine may take a while; slots meant to stay silent are judged after that."""

    def short() -> list[int]:
        return [h.count_since(since) for h in heard if h.count_since(since) < frames]

    try:
        await wait_until(lambda: not short(), timeout=30)
    except AssertionError as exc:
        raise AssertionError(f"packets since: {short()}: {exc}") from None


def tone_since(heard: Heard, since: float) -> float | None:
    """The standard tone heard in the frames that arrived after ``since`` (None: silence)."""
    if heard.count_since(since) < 10:
        return None
    # A fresh decoder's first frames are its warm-up: judge the last 20 of 30.
    return closest_tone(heard.decoded_since(since, limit=30)[-FRAME * 20 :], ALL)


def test_slot_names_and_keys() -> None:
    assert [slot_name("audio", i) for i in range(4)] == [
        "program",
        "channel",
        "member-audio-0",
        "member-audio-1",
    ]
    assert [slot_name("video", i) for i in range(2)] == ["video", "member-video-0"]
    assert member_slot("member-video-3") == ("video", 3)
    assert member_slot("channel") is None
    assert publishes_video(member_key(7)) and publishes_video("floor")
    assert not publishes_video("interpreter:3") and not publishes_video(None)


async def test_groups_hear_their_members_only_and_come_back(sfu: EmbeddedSfu) -> None:
    sfu.set_routes({"en": "floor", "es": "floor"})  # the es interpreter serves a group
    floor = Tab(sfu, "floor", publish="floor", audio=LoopedTone(FLOOR_HZ))
    interpreter = Tab(
        sfu,
        "interp",
        publish="interpreter:x",
        audio=LoopedTone(INTERPRETER_HZ),
        member_slots=4,
        decode_audio=False,
    )
    members = {
        name: Tab(
            sfu,
            name,
            publish=member_key(name),
            channel="es" if name in ("a1", "b1") else "en",
            audio=LoopedTone(hz),
            member_slots=3,
            decode_audio=False,
        )
        for name, hz in {**GROUP_A, **GROUP_B}.items()
    }
    plenary = Tab(sfu, "plenary-es", channel="es", decode_audio=False)
    tabs = [floor, interpreter, *members.values(), plenary]
    try:
        await asyncio.gather(*(t.connect() for t in tabs))
        # In the plenary a member hears the floor, and its member slots are silent.
        start = time.monotonic()
        await hearing([m.program for m in members.values()], start)
        # (polled: on a loaded machine the first second may be patchy)
        await wait_until(
            lambda: all(tone_since(m.program, start) == FLOOR_HZ for m in members.values()), 30
        )
        assert all(m.members[0].packets == 0 for m in members.values())

        sfu.set_rooms(
            {
                "a": RoomMedia(
                    members=tuple(member_key(n) for n in GROUP_A),
                    routes={"es": "interpreter:x"},
                ),
                "b": RoomMedia(members=tuple(member_key(n) for n in GROUP_B)),
            }
        )
        for name in members:
            sfu.place(name, name[0])
        sfu.place("interp", "a")
        sdp_before = sfu._sessions["a1"].pc.localDescription.sdp
        judged = time.monotonic() + 0.5
        await hearing(
            [
                *(
                    h
                    for name, m in members.items()
                    for h in m.members[: 3 if name[0] == "a" else 1]
                ),
                *interpreter.members,
                members["a1"].channel_audio,
                plenary.program,
                plenary.channel_audio,
            ],
            judged,
        )
        for name, tab in members.items():
            group = GROUP_A if name in GROUP_A else GROUP_B
            others = {hz for n, hz in group.items() if n != name}
            heard = [tone_since(h, judged) for h in tab.members]
            assert {hz for hz in heard if hz is not None} == others, (name, heard)
            assert group[name] not in heard, f"{name} hears itself"
            assert tone_since(tab.program, judged) is None, f"{name} still hears the floor"
        # The interpreter is heard in its group (a1 chose es), not in the other nor in the
        # plenary (es falls back to the floor there).
        assert tone_since(members["a1"].channel_audio, judged) == INTERPRETER_HZ
        assert tone_since(members["b1"].channel_audio, judged) is None
        assert tone_since(members["a2"].channel_audio, judged) is None  # en: the originals
        assert tone_since(plenary.channel_audio, judged) == FLOOR_HZ
        assert tone_since(plenary.program, judged) == FLOOR_HZ
        # The interpreter hears the four members of its group.
        assert {tone_since(h, judged) for h in interpreter.members} == set(GROUP_A.values())
        # Moving was a server-side move: no renegotiation.
        assert sfu._sessions["a1"].pc.localDescription.sdp == sdp_before
        assert sfu.room_of("a1") == "a"

        # Move b2 into group a: a's members now hear b2 (a1's three slots: a2, a3, a4 still),
        # b2 hears a1..a3 on its three slots, b1 hears nobody.
        sfu.set_rooms(
            {
                "a": RoomMedia(
                    members=(*(member_key(n) for n in GROUP_A), member_key("b2")),
                    routes={"es": "interpreter:x"},
                ),
                "b": RoomMedia(members=(member_key("b1"),)),
            }
        )
        sfu.place("b2", "a")
        judged = time.monotonic() + 0.5
        await hearing([*members["a1"].members, *members["b2"].members], judged)
        heard_a1 = {tone_since(h, judged) for h in members["a1"].members}
        assert heard_a1 == {GROUP_A["a2"], GROUP_A["a3"], GROUP_A["a4"]}
        heard_b2 = {tone_since(h, judged) for h in members["b2"].members}
        assert heard_b2 == {GROUP_A["a1"], GROUP_A["a2"], GROUP_A["a3"]}
        assert all(tone_since(h, judged) is None for h in members["b1"].members)

        # Closing: everyone back in the plenary on the channel they chose (en and es both
        # carry the floor now).
        sfu.set_rooms({})
        for name in [*members, "interp"]:
            sfu.place(name, None)
        judged = time.monotonic() + 0.5
        await hearing([h for m in members.values() for h in (m.program, m.channel_audio)], judged)
        for name, tab in members.items():
            assert tone_since(tab.program, judged) == FLOOR_HZ, name
            assert tone_since(tab.channel_audio, judged) == FLOOR_HZ, name
            assert all(tone_since(h, judged) is None for h in tab.members), name
    finally:
        await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)


async def test_members_see_each_other(sfu: EmbeddedSfu) -> None:
    tabs = [
        Tab(
            sfu,
            name,
            publish=member_key(name),
            audio=LoopedTone(hz),
            video=TestPatternTrack(),
            member_slots=1,
            member_video=True,
            decode_audio=False,
        )
        for name, hz in GROUP_B.items()
    ]
    try:
        await asyncio.gather(*(t.connect() for t in tabs))
        sfu.set_rooms({"b": RoomMedia(members=tuple(member_key(n) for n in GROUP_B))})
        for name in GROUP_B:
            sfu.place(name, "b")
        await wait_until(
            lambda: all(
                t.member_videos[0].keyframes > 0 and t.members[0].packets > 20 for t in tabs
            ),
            timeout=30,
        )
        assert all(t.video.packets == 0 for t in tabs)  # no floor video in a group
    finally:
        await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)
