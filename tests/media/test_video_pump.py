"""Video to a large audience goes out a slice per loop turn: audio is never held behind a
keyframe, and every subscriber still gets every packet in order (fanout.VideoPump)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from simultan.media import fanout
from simultan.media.fanout import Feed, Switchboard


@dataclass
class _Rtp:
    sequence_number: int
    timestamp: int
    marker: int
    payload: bytes


@dataclass
class _Listener:
    """A direct subscriber without a configured route: forward() hands every packet to
    push_rtp (the slow path), which records what arrived, and after which audio."""

    kind: str
    log: list[tuple[str, int]]
    name: str
    direct: bool = True
    route: Any = None
    got: list[int] = field(default_factory=list)

    def push(self, packet: Any, feed_id: int, arrival: float) -> None:
        raise AssertionError("a direct subscriber gets RTP, not frames")

    def push_rtp(self, packet: Any, feed: Feed, arrival_ms: int, ntp: int, keyframe: bool) -> None:
        self.got.append(packet.sequence_number)
        self.log.append((self.kind, packet.sequence_number))

    def send_failed(self) -> None:
        raise AssertionError("nothing fails here")


def _feed(board: Switchboard, kind: str) -> Feed:
    feed = Feed("floor", kind, track=None, board=board)  # type: ignore[arg-type]
    board.set_feed(feed)
    return feed


async def test_a_keyframe_to_many_goes_out_in_slices_and_audio_does_not_wait() -> None:
    board = Switchboard()
    video, audio = _feed(board, "video"), _feed(board, "audio")
    log: list[tuple[str, int]] = []
    viewers = [_Listener("video", log, f"v{i}") for i in range(200)]
    hearers = [_Listener("audio", log, f"a{i}") for i in range(3)]
    for sub in (*viewers, *hearers):
        board.attach(sub, "floor")  # type: ignore[arg-type]
    slices = fanout.VIDEO_PUMP.slices

    keyframe = [_Rtp(1000 + i, 90000, int(i == 9), b"\x10vp8") for i in range(10)]
    for packet in keyframe:
        video.on_rtp(packet, 0)
    # Nothing waits on the caller's stack beyond the first slice's worth (none here: queued).
    assert sum(len(v.got) for v in viewers) <= fanout.VideoPump.CHUNK
    await asyncio.sleep(0)  # one turn: one slice
    audio.on_rtp(_Rtp(7, 960, 0, b"opus"), 0)  # an audio packet arrives mid-keyframe
    assert [h.got for h in hearers] == [[7]] * 3  # forwarded at once, not after the keyframe
    assert sum(len(v.got) for v in viewers) < len(viewers) * len(keyframe)

    for _ in range(100):
        await asyncio.sleep(0)
    assert all(v.got == [p.sequence_number for p in keyframe] for v in viewers)
    # 10 packets x 200 viewers in slices of 64: 4 slices a packet.
    assert fanout.VIDEO_PUMP.slices - slices == 10 * 4
    first_audio = log.index(("audio", 7))
    assert 0 < first_audio <= 2 * fanout.VideoPump.CHUNK  # after a slice or two, not 2000


async def test_small_audiences_are_sent_at_once() -> None:
    board = Switchboard()
    video = _feed(board, "video")
    log: list[tuple[str, int]] = []
    viewers = [_Listener("video", log, f"v{i}") for i in range(fanout.VideoPump.CHUNK)]
    for sub in viewers:
        board.attach(sub, "floor")  # type: ignore[arg-type]
    video.on_rtp(_Rtp(5, 0, 1, b"\x10vp8"), 0)
    assert all(v.got == [5] for v in viewers)  # no loop turn needed


async def test_a_keyframe_takes_the_pump_even_to_few_and_the_rest_follows_in_order() -> None:
    board = Switchboard()
    video = Feed(
        "floor",
        "video",
        track=None,
        board=board,
        keyframe_start=lambda p: p == b"key",  # type: ignore[arg-type]
    )
    board.set_feed(video)
    log: list[tuple[str, int]] = []
    viewers = [_Listener("video", log, f"v{i}") for i in range(3)]
    for sub in viewers:
        board.attach(sub, "floor")  # type: ignore[arg-type]
    video.on_rtp(_Rtp(1, 0, 0, b"key"), 0)  # the burst starts: queued, not sent on the spot
    video.on_rtp(_Rtp(2, 0, 1, b"\x00rest"), 0)  # behind it, in order
    assert all(v.got == [] for v in viewers)
    for _ in range(5):
        await asyncio.sleep(0)
    assert all(v.got == [1, 2] for v in viewers)
    video.on_rtp(_Rtp(3, 3000, 1, b"\x00next"), 0)  # the pump is idle again: at once
    assert all(v.got == [1, 2, 3] for v in viewers)
