"""Token buckets with explicit time: how often a connection, an address or a mailbox may act.

A bucket holds up to ``burst`` tokens and refills at ``per_second``; every action takes one.
An action that finds the bucket empty is refused with the number of seconds until a token is
back (the ``retry_after`` a client is told). Pure: the caller passes ``now`` (seconds on any
monotonic clock) and keeps the returned bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """``burst`` actions at once, then ``per_second`` on average."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")

    @classmethod
    def per_minute(cls, count: float, burst: int | None = None) -> Rate:
        return cls(count / 60.0, burst if burst is not None else max(1, math.ceil(count)))

    @classmethod
    def per_hour(cls, count: float, burst: int | None = None) -> Rate:
        return cls(count / 3600.0, burst if burst is not None else max(1, math.ceil(count)))


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float  # when ``tokens`` was counted


def full(rate: Rate, now: float) -> Bucket:
    return Bucket(float(rate.burst), now)


def level(bucket: Bucket, rate: Rate, now: float) -> float:
    """The tokens in ``bucket`` at ``now`` (a clock that went backwards refills nothing)."""
    elapsed = max(0.0, now - bucket.at)
    return min(float(rate.burst), bucket.tokens + elapsed * rate.per_second)


def take(bucket: Bucket | None, rate: Rate, now: float) -> tuple[Bucket, float]:
    """Take one token: (the new bucket, 0.0) when admitted, else (bucket, seconds to wait)."""
    tokens = float(rate.burst) if bucket is None else level(bucket, rate, now)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now), 0.0
    return Bucket(tokens, now), (1.0 - tokens) / rate.per_second


def is_full(bucket: Bucket, rate: Rate, now: float) -> bool:
    """A full bucket says nothing a fresh one would not: it may be forgotten."""
    return level(bucket, rate, now) >= rate.burst
