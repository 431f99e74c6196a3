"""The pure token bucket, with explicit times (no event loop, no sleeping)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simultan.core.ratelimit import Bucket, Rate, full, is_full, level, take

RATE = Rate(per_second=2.0, burst=3)


def test_burst_then_refusal_with_the_wait_until_a_token() -> None:
    bucket = None
    for _ in range(3):
        bucket, wait = take(bucket, RATE, 100.0)
        assert wait == 0.0
    bucket, wait = take(bucket, RATE, 100.0)
    assert wait == pytest.approx(0.5)  # one token at 2 per second
    bucket, wait = take(bucket, RATE, 100.25)
    assert wait == pytest.approx(0.25)  # a refusal does not cost a token
    bucket, wait = take(bucket, RATE, 100.5)
    assert wait == 0.0


def test_refill_caps_at_burst_and_a_clock_going_back_refills_nothing() -> None:
    assert level(Bucket(0.0, 10.0), RATE, 1000.0) == 3.0
    assert level(Bucket(1.0, 10.0), RATE, 5.0) == 1.0
    assert is_full(full(RATE, 0.0), RATE, 0.0)
    assert not is_full(Bucket(2.5, 0.0), RATE, 0.0)


def test_rates_per_minute_and_hour() -> None:
    assert Rate.per_minute(12, 6) == Rate(0.2, 6)
    assert Rate.per_hour(3) == Rate(3 / 3600, 3)
    with pytest.raises(ValueError):
        Rate(0.0, 1)


@given(
    per_second=st.floats(0.1, 50.0),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=200),
)
def test_never_more_than_burst_plus_refill(
    per_second: float, burst: int, gaps: list[float]
) -> None:
    rate = Rate(per_second, burst)
    bucket, now, admitted = None, 0.0, 0
    for gap in gaps:
        now += gap
        bucket, wait = take(bucket, rate, now)
        admitted += wait == 0.0
        assert 0.0 <= bucket.tokens <= burst
        assert wait >= 0.0
    assert admitted <= burst + per_second * now + 1e-6
