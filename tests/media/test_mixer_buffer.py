"""The floor mix's per-speaker jitter buffer (``media.mixer._Input``), tick by tick: a late
frame costs one tick of silence, and the extra depth it leaves is trimmed again, so the
latency the mix adds does not creep up with every late packet."""

from __future__ import annotations

from typing import Any

import numpy as np

from simultan.media.mixer import DRIFT_TICKS, FRAME, MAX_BUFFER, PRIME, _Input


def frame(n: int) -> np.ndarray:
    return np.full(FRAME, float(n), dtype=np.float32)


def speaker() -> _Input:
    track: Any = None  # the buffer never touches its down track
    return _Input(key="speaker:a", track=track)


def test_steady_arrivals_keep_the_primed_depth_and_drop_nothing() -> None:
    inp = speaker()
    inp.add(frame(0))
    assert inp.take() is None  # not primed: one frame is not PRIME
    inp.add(frame(1))
    taken = []
    for n in range(2, 60):
        out = inp.take()
        assert out is not None
        taken.append(int(out[0]))
        inp.add(frame(n))
        assert inp.buffer.size == PRIME  # two frames waiting: 40 ms, always
    assert taken == list(range(58)) and inp.trimmed == 0 and inp.underruns == 0


def test_a_late_frame_costs_one_tick_and_its_extra_depth_is_trimmed() -> None:
    inp = speaker()
    inp.add(frame(0))
    inp.add(frame(1))
    n = 2
    for _ in range(5):
        assert inp.take() is not None
        inp.add(frame(n))
        n += 1
    # three frames come late: the buffer runs dry (silence for one tick), then all three
    # arrive at once and the buffer is a frame deeper than primed
    for _ in range(2):
        assert inp.take() is not None
    assert inp.take() is None and inp.underruns == 1
    for k in range(3):
        inp.add(frame(n + k))
    n += 3
    depths = []
    for _ in range(DRIFT_TICKS + 3):
        assert inp.take() is not None
        inp.add(frame(n))
        n += 1
        depths.append(inp.buffer.size)
    # one frame deeper than primed until the trim, then back to PRIME and staying there
    assert depths[0] == PRIME + FRAME
    assert inp.trimmed == 1
    assert depths[-3:] == [PRIME] * 3


def test_a_burst_after_a_stall_keeps_only_the_newest() -> None:
    inp = speaker()
    for n in range(12):  # a stall: 12 frames arrive at once
        inp.add(frame(n))
    assert inp.buffer.size <= MAX_BUFFER
    out = inp.take()
    assert out is not None and int(out[0]) >= 8  # the oldest went, not the newest
