"""The thin driver of :mod:`simultan.core.ratelimit`: buckets on the monotonic clock.

``Throttle`` is one bucket (a websocket connection's commands, its offers); ``Limiter`` keeps
one bucket per key (a client address, a mailbox) and forgets full ones, so its memory is
bounded by the keys active within one refill. Both raise :class:`RateLimited`, which the web
layer turns into an ``error`` with code ``rate_limited`` (websocket) or a 429 with
``Retry-After`` (HTTP).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from simultan.core.ratelimit import Bucket, Rate, is_full, take
from simultan.errors import RateLimited

Clock = Callable[[], float]


class Throttle:
    def __init__(self, rate: Rate, what: str, *, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.what = what
        self._clock = clock
        self._bucket: Bucket | None = None

    def check(self) -> None:
        self._bucket, wait = take(self._bucket, self.rate, self._clock())
        if wait:
            raise RateLimited(f"too many {self.what}: try again in {wait:.1f} s", wait)


class Limiter:
    def __init__(
        self, rate: Rate, what: str, *, clock: Clock = time.monotonic, max_keys: int = 50_000
    ) -> None:
        self.rate = rate
        self.what = what
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, Bucket] = {}

    def check(self, key: str) -> None:
        now = self._clock()
        if len(self._buckets) >= self._max_keys:
            self._forget_full(now)
        bucket, wait = take(self._buckets.get(key), self.rate, now)
        self._buckets[key] = bucket
        if wait:
            raise RateLimited(f"too many {self.what}: try again in {wait:.0f} s", wait)

    def _forget_full(self, now: float) -> None:
        self._buckets = {k: b for k, b in self._buckets.items() if not is_full(b, self.rate, now)}
        if len(self._buckets) >= self._max_keys:
            # still crowded: forget the oldest half rather than grow without bound
            keep = sorted(self._buckets.items(), key=lambda kv: kv[1].at)[self._max_keys // 2 :]
            self._buckets = dict(keep)
