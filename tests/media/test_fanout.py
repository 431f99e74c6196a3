"""Fan-out without a network: bounded queues, pts continuity, keyframe gating, routing."""

from __future__ import annotations

import asyncio
import fractions

import av
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from simultan.media.fanout import DownTrack, Feed, LagGate, Switchboard


def packet(
    pts: int, *, keyframe: bool = False, kind: str = "audio", data: bytes = b"x"
) -> av.Packet:
    p = av.Packet(data)
    p.pts = pts
    p.time_base = fractions.Fraction(1, 48000 if kind == "audio" else 90000)
    p.is_keyframe = keyframe
    return p


def started(down: DownTrack) -> DownTrack:
    down.start()
    return down


class QueueTrack(MediaStreamTrack):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()

    async def recv(self) -> av.Packet:
        item = await self.queue.get()
        if item is None:
            self.stop()
            raise MediaStreamError
        return item


def test_audio_queue_is_bounded_and_drops_the_oldest() -> None:
    board = Switchboard()
    down = started(DownTrack("audio", board, queue_size=3))
    for i in range(5):
        down.push(packet(i * 960, data=bytes([i])), feed_id=1, arrival=i * 0.02)
    assert down.queued() == 3
    assert down.counters.drops == 2
    out = [down.recv_nowait() for _ in range(3)]
    assert [bytes(p) for p in out if p is not None] == [b"\x02", b"\x03", b"\x04"]
    assert down.recv_nowait() is None


def test_pts_stay_continuous_across_a_source_switch() -> None:
    board = Switchboard()
    down = started(DownTrack("audio", board, queue_size=100))
    # Source A: pts from 0, 20 ms apart.
    for i in range(3):
        down.push(packet(i * 960), feed_id=1, arrival=1.0 + i * 0.02)
    # Source B: a different timeline altogether, arriving 20 ms after A's last.
    for i in range(3):
        down.push(packet(5_000_000 + i * 960), feed_id=2, arrival=1.06 + i * 0.02)
    # A gap of 1 s (a silent route), then source A again.
    down.push(packet(123), feed_id=1, arrival=2.1)
    pts = [p.pts for p in iter(down.recv_nowait, None)]
    assert pts == [0, 960, 1920, 2880, 3840, 4800, 4800 + 48000]
    assert down.counters.reanchors == 3
    # The shared source packet is untouched: every subscriber gets its own copy.
    shared = packet(777)
    down.push(shared, feed_id=3, arrival=3.0)
    out = down.recv_nowait()
    assert out is not None and out.pts != 777 and shared.pts == 777
    assert out.time_base == fractions.Fraction(1, 48000)


def test_a_restarted_source_is_reanchored() -> None:
    down = started(DownTrack("audio", Switchboard(), queue_size=100))
    down.push(packet(96000), feed_id=1, arrival=0.0)
    down.push(packet(96960), feed_id=1, arrival=0.02)
    down.push(packet(0), feed_id=1, arrival=0.04)  # went backwards: publisher restarted
    assert [p.pts for p in iter(down.recv_nowait, None)] == [0, 960, 1920]


def test_video_waits_for_a_keyframe_and_asks_for_one() -> None:
    board = Switchboard()
    asked: list[str] = []
    track = QueueTrack("video")
    feed = Feed(
        "floor", "video", track, board, request_keyframe=lambda: asked.append("pli") or True
    )
    board.set_feed(feed)
    down = started(DownTrack("video", board, queue_size=4))
    board.attach(down, "floor")
    assert asked == ["pli"]  # a new subscriber asks at once
    down.push(packet(0, kind="video"), feed_id=feed.id, arrival=0.0)
    assert down.queued() == 0 and down.counters.drops == 1
    down.push(packet(3000, kind="video", keyframe=True), feed_id=feed.id, arrival=0.03)
    down.push(packet(6000, kind="video"), feed_id=feed.id, arrival=0.06)
    assert down.queued() == 2
    # Overflow: a decoder cannot skip frames, so drop everything up to the next keyframe.
    for i in range(3, 6):
        down.push(packet(i * 3000, kind="video"), feed_id=feed.id, arrival=i * 0.03)
    assert down.queued() == 0
    down.push(packet(30000, kind="video"), feed_id=feed.id, arrival=1.0)
    assert down.queued() == 0
    assert feed.counters.keyframe_requests >= 1


def test_keyframe_requests_are_throttled() -> None:
    clock = [0.0]
    asked: list[float] = []
    board = Switchboard()
    feed = Feed(
        "floor",
        "video",
        QueueTrack("video"),
        board,
        request_keyframe=lambda: asked.append(clock[0]) or True,
        clock=lambda: clock[0],
    )
    for t in (0.0, 0.1, 0.2, 0.3, 0.4, 0.6):
        clock[0] = t
        feed.request_keyframe()
    assert asked == [0.0, 0.3, 0.6]
    audio = Feed("floor", "audio", QueueTrack("audio"), board, request_keyframe=lambda: True)
    audio.request_keyframe()
    assert audio.counters.keyframe_requests == 0


def test_switchboard_moves_subscribers() -> None:
    board = Switchboard()
    down = started(DownTrack("audio", board, queue_size=4))
    board.attach(down, "a")
    board.attach(down, "a")  # idempotent
    assert board.subscribers("a", "audio") == [down]
    board.attach(down, "b")
    assert board.subscribers("a", "audio") == []
    assert board.subscribers("b", "audio") == [down]
    assert down.source == "b"
    board.attach(down, None)
    assert down.source is None and board.subscribers("b", "audio") == []
    board.attach(down, "b")
    down.stop()
    assert board.subscribers("b", "audio") == []


async def test_feed_fans_out_and_reports_its_end() -> None:
    board = Switchboard()
    track = QueueTrack("audio")
    ended: list[Feed] = []
    feed = Feed("floor", "audio", track, board, on_ended=ended.append)
    downs = [started(DownTrack("audio", board, queue_size=8)) for _ in range(3)]
    for d in downs:
        board.attach(d, "floor")
    board.set_feed(feed)
    feed.start()
    for i in range(4):
        await track.queue.put(packet(i * 960))
    got = [await asyncio.wait_for(d.recv(), 1) for d in downs for _ in range(4)]
    assert len(got) == 12
    assert feed.counters.frames_in == 4 and feed.counters.frames_out == 12
    await track.queue.put(None)
    await asyncio.sleep(0.05)
    assert ended == [feed]
    assert board.clear_feed(feed)


async def test_a_superseded_feed_only_drains() -> None:
    board = Switchboard()
    old_track, new_track = QueueTrack("audio"), QueueTrack("audio")
    old = Feed("floor", "audio", old_track, board)
    new = Feed("floor", "audio", new_track, board)
    down = started(DownTrack("audio", board, queue_size=8))
    board.attach(down, "floor")
    board.set_feed(old)
    old.start()
    assert board.set_feed(new) is old
    new.start()
    await old_track.queue.put(packet(0, data=b"old"))
    await new_track.queue.put(packet(0, data=b"new"))
    out = await asyncio.wait_for(down.recv(), 1)
    assert bytes(out) == b"new"
    assert old_track.queue.empty()  # read and dropped, not left to pile up
    assert not board.clear_feed(old)
    await old.stop()
    await new.stop()


async def test_recv_ends_when_stopped() -> None:
    down = started(DownTrack("audio", Switchboard(), queue_size=2))
    task = asyncio.ensure_future(down.recv())
    await asyncio.sleep(0)
    down.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(task, 1)


def test_down_track_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        DownTrack("data", Switchboard(), queue_size=2)


def test_nothing_is_queued_before_the_consumer_starts() -> None:
    down = DownTrack("audio", Switchboard(), queue_size=4)
    down.push(packet(0), feed_id=1, arrival=0.0)
    assert down.queued() == 0 and down.counters.drops == 0
    down.start()
    down.push(packet(960), feed_id=1, arrival=0.02)
    assert down.queued() == 1


def test_lag_gate_drops_audio_that_arrives_behind_its_stream() -> None:
    gate = LagGate(max_lag=0.25)
    # On time: 20 ms of media every 20 ms, with a little jitter.
    assert not any(
        gate.late(i * 0.02, 10.0 + i * 0.02 + (0.005 if i % 3 else 0)) for i in range(50)
    )
    # A stall: the next packets arrive 0.6 s late, then in a burst (1 ms apart): the ones
    # still more than 0.25 s behind are late, the rest of the burst is forwarded.
    late = [gate.late((50 + i) * 0.02, 11.6 + i * 0.001) for i in range(40)]
    assert late[:18] == [True] * 18 and not any(late[20:])
    assert not gate.late(90 * 0.02, 11.8 + 0.001)  # back in step
    # A restarted stream (timestamps from zero again) is a new baseline, not lag.
    assert not gate.late(0.0, 30.0)
    assert not gate.late(0.02, 30.02)


def test_lag_gate_hears_a_stream_that_stays_behind_after_a_stall() -> None:
    gate = LagGate(max_lag=0.25)
    assert not any(gate.late(i * 0.02, 10.0 + i * 0.02) for i in range(50))
    # The publisher stalls for 0.6 s, then goes on at its pace, 0.6 s behind for good: a
    # second of it is dropped as late, then it is the stream's new baseline and heard.
    late = [gate.late((50 + i) * 0.02, 11.6 + i * 0.02) for i in range(200)]
    assert late[:50] == [True] * 50
    assert not any(late[51:])
    # ... and a later burst is still trimmed against that new baseline.
    burst = [gate.late((250 + i) * 0.02, 16.2 + i * 0.001) for i in range(40)]
    assert burst[:5] == [True] * 5


def test_lag_gate_follows_a_slow_publisher_clock() -> None:
    gate = LagGate(max_lag=0.25)
    # The publisher's clock runs 500 ppm slow: over 10 minutes, 0.3 s of drift.
    assert not any(gate.late(i * 0.02 * (1 - 5e-4), i * 0.02) for i in range(30_000))


async def test_feed_drops_late_audio_and_counts_it() -> None:
    clock = [100.0]
    board = Switchboard()
    track = QueueTrack("audio")
    feed = Feed("floor", "audio", track, board, clock=lambda: clock[0])
    down = started(DownTrack("audio", board, queue_size=64))
    board.attach(down, "floor")
    board.set_feed(feed)
    feed.start()
    for i in range(5):
        clock[0] = 100.0 + i * 0.02
        await track.queue.put(packet(i * 960))
        await asyncio.sleep(0.01)
    clock[0] = 101.0  # 0.9 s behind
    await track.queue.put(packet(5 * 960))
    await asyncio.sleep(0.01)
    assert feed.counters.late_drops == 1
    assert down.queued() == 5
    await feed.stop()
