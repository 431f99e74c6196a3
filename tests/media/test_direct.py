"""The direct send path without a network: header rewrite, continuity, NACK cache, drops."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from simultan.media.fanout import RTP_CACHE, DownTrack, Feed, Switchboard
from simultan.media.passthrough import ntp_from_ms, vp8_rtp_starts_keyframe
from tests.media.test_fanout import QueueTrack

# RFC 7741 payloads: descriptor with X and a 15-bit picture id, then the VP8 frame tag.
KEY_START = b"\x90\x80\x80\x01" + b"\x00" + b"k" * 20  # S=1, PID 0, P bit 0: keyframe
INTER_START = b"\x90\x80\x80\x02" + b"\x01" + b"i" * 20  # P bit 1: inter frame
CONTINUATION = b"\x80\x80\x80\x01" + b"c" * 20  # S=0


@dataclass
class Rtp:
    sequence_number: int
    timestamp: int
    payload: bytes = b"opus"
    marker: int = 0


class FakeWire:
    """Records what would go out; ``refuse`` makes sends fail (a full socket)."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int, bytes, int]] = []
        self.resent: list[tuple[int, int, bytes]] = []
        self.refuse = False

    def send(self, payload: bytes, marker: int, seq: int, ts: int, ntp: int) -> bool:
        if self.refuse:
            return False
        self.sent.append((seq, ts, payload, ntp))
        return True

    def resend(self, payload: bytes, marker: int, seq: int, ts: int) -> bool:
        self.resent.append((seq, ts, payload))
        return True


def wired(kind: str, board: Switchboard, key: str | None) -> tuple[DownTrack, FakeWire]:
    down = DownTrack(kind, board, queue_size=4, direct=True)
    wire = FakeWire()
    down.bind_wire(wire)
    board.attach(down, key)
    return down, wire


def feed(board: Switchboard, key: str, kind: str = "audio") -> Feed:
    f = Feed(
        key,
        kind,
        QueueTrack(kind),
        board,
        request_keyframe=lambda: True,
        keyframe_start=vp8_rtp_starts_keyframe,
        ntp_from_ms=ntp_from_ms,
    )
    board.set_feed(f)
    return f


def seqs(wire: FakeWire) -> list[int]:
    return [s for s, _, _, _ in wire.sent]


def steps(values: list[int], modulo: int) -> list[int]:
    return [(b - a) % modulo for a, b in itertools.pairwise(values)]


def test_vp8_rtp_keyframe_start() -> None:
    assert vp8_rtp_starts_keyframe(KEY_START)
    assert not vp8_rtp_starts_keyframe(INTER_START)
    assert not vp8_rtp_starts_keyframe(CONTINUATION)
    assert vp8_rtp_starts_keyframe(b"\x10\x00")  # no extension byte
    assert not vp8_rtp_starts_keyframe(b"\x10")


def test_ntp_from_wall_ms() -> None:
    assert ntp_from_ms(3_000_000_500) == (3_000_000 << 32) | (1 << 31)


def test_sequence_numbers_and_timestamps_continue_across_source_switches() -> None:
    board = Switchboard()
    a, b = feed(board, "a"), feed(board, "b")
    down, wire = wired("audio", board, "a")
    other, other_wire = wired("audio", board, "a")
    t = 1_000_000
    for i in range(5):
        a.on_rtp(Rtp(65533 + i, 1000 + 960 * i), t + 20 * i)  # wraps 65535 -> 0
    board.attach(down, "b")  # channel change: b's numbering is unrelated to a's
    for i in range(5):
        b.on_rtp(Rtp(40000 + i, 7_777_777 + 960 * i), t + 100 + 20 * i)
    board.attach(down, "a")  # and back (a handover to the same booth again)
    for i in range(5, 8):
        a.on_rtp(Rtp(65533 + i, 1000 + 960 * i), t + 300 + 20 * (i - 5))
    out = seqs(wire)
    assert len(out) == 13
    assert steps(out, 1 << 16) == [1] * 12  # no gap, no repeat, across two switches
    ts = [x for _, x, _, _ in wire.sent]
    gaps = steps(ts, 1 << 32)
    assert gaps[:4] == [960] * 4 and gaps[5:9] == [960] * 4
    # Across a switch the timestamp moves as far as wall-clock time did (20 ms, 120 ms).
    assert gaps[4] == 20 * 48 and gaps[9] == 120 * 48
    assert down.counters.reanchors == 3
    # A subscriber that never switched sees a's own spacing, lost packets as gaps.
    assert steps(seqs(other_wire), 1 << 16) == [1] * 4 + [1, 1, 1]
    assert wire.sent[0][3] == ntp_from_ms(t)  # the packet's NTP time is its arrival


def test_a_lost_input_packet_stays_a_gap_and_duplicates_are_dropped() -> None:
    board = Switchboard()
    a = feed(board, "a")
    _, wire = wired("audio", board, "a")
    for seq in (10, 11, 13, 13, 12, 14):  # 12 late (reordered) and 13 twice
        a.on_rtp(Rtp(seq, seq * 960), 5000 + seq * 20)
    assert steps(seqs(wire), 1 << 16) == [1, 2, 1]


def test_video_waits_for_a_keyframe_and_numbers_stay_continuous() -> None:
    board = Switchboard()
    cam1, cam2 = feed(board, "c1", "video"), feed(board, "c2", "video")
    down, wire = wired("video", board, "c1")
    t = 2_000_000
    cam1.on_rtp(Rtp(100, 0, CONTINUATION), t)
    cam1.on_rtp(Rtp(101, 3000, INTER_START, 1), t + 33)
    assert wire.sent == [] and down.counters.drops == 2
    cam1.on_rtp(Rtp(102, 6000, KEY_START), t + 66)
    cam1.on_rtp(Rtp(103, 6000, CONTINUATION, 1), t + 66)
    cam1.on_rtp(Rtp(104, 9000, INTER_START, 1), t + 99)
    board.attach(down, "c2")  # switch mid-stream: wait for c2's keyframe
    cam2.on_rtp(Rtp(5000, 50, INTER_START, 1), t + 120)
    cam2.on_rtp(Rtp(5001, 3050, KEY_START), t + 150)
    cam2.on_rtp(Rtp(5002, 3050, CONTINUATION, 1), t + 150)
    assert [p for _, _, p, _ in wire.sent] == [
        KEY_START,
        CONTINUATION,
        INTER_START,
        KEY_START,
        CONTINUATION,
    ]
    assert steps(seqs(wire), 1 << 16) == [1, 1, 1, 1]
    assert down.counters.drops == 3


def test_nack_is_answered_from_the_feed_cache() -> None:
    board = Switchboard()
    cam = feed(board, "cam", "video")
    down, wire = wired("video", board, "cam")
    cam.on_rtp(Rtp(1000, 90000, KEY_START), 1)
    for i in range(1, 20):
        cam.on_rtp(Rtp(1000 + i, 90000 + 3000 * i, bytes([i]) * 10, 1), 1 + 33 * i)
    out = {seq: (ts, payload) for seq, ts, payload, _ in wire.sent}
    lost = seqs(wire)[7]
    assert down.retransmit(lost)
    assert wire.resent == [(lost, *out[lost])]
    assert down.counters.retransmits == 1
    # Something we never sent (ahead of the newest), or from before this source: no answer.
    assert not down.retransmit((seqs(wire)[-1] + 1) & 0xFFFF)
    assert not down.retransmit((seqs(wire)[0] - 1) & 0xFFFF)
    # Past the cache's size the packet is gone.
    for i in range(20, 20 + RTP_CACHE):
        cam.on_rtp(Rtp(1000 + i, 90000 + 3000 * i, b"z", 1), 1 + 33 * i)
    assert not down.retransmit(lost)
    assert len(wire.resent) == 1


def test_a_slow_subscriber_loses_packets_and_nobody_else_does() -> None:
    board = Switchboard()
    a = feed(board, "a")
    slow, slow_wire = wired("audio", board, "a")
    fast, fast_wire = wired("audio", board, "a")
    for i in range(50):
        slow_wire.refuse = 10 <= i < 30  # its socket takes nothing for 400 ms
        a.on_rtp(Rtp(i, i * 960), 100 + i * 20)
    assert len(fast_wire.sent) == 50 and fast.counters.drops == 0
    assert len(slow_wire.sent) == 30 and slow.counters.drops == 20
    # Its numbering shows the loss as a gap (the listener conceals it), not as a jump later.
    assert steps(seqs(slow_wire), 1 << 16) == [1] * 9 + [21] + [1] * 19


def test_a_slow_video_subscriber_waits_for_the_next_keyframe() -> None:
    board = Switchboard()
    cam = feed(board, "cam", "video")
    slow, wire = wired("video", board, "cam")
    cam.on_rtp(Rtp(1, 0, KEY_START, 1), 0)
    wire.refuse = True
    cam.on_rtp(Rtp(2, 3000, INTER_START, 1), 33)
    wire.refuse = False
    cam.on_rtp(Rtp(3, 6000, INTER_START, 1), 66)  # cannot be decoded without 2: dropped
    cam.on_rtp(Rtp(4, 9000, KEY_START, 1), 99)
    assert [p for _, _, p, _ in wire.sent] == [KEY_START, KEY_START]
    assert steps(seqs(wire), 1 << 16) == [1]
    assert cam.counters.keyframe_requests >= 0 and slow.counters.drops == 2


def test_queued_subscribers_still_get_frames_and_direct_ones_none() -> None:
    board = Switchboard()
    direct, _ = wired("audio", board, "a")
    queued = DownTrack("audio", board, queue_size=4)
    queued.start()
    board.attach(queued, "a")
    assert board.rtp_subscribers("a", "audio") == [direct]
    assert board.frame_subscribers("a", "audio") == [queued]
    assert board.subscribers("a", "audio") == [direct, queued]
