"""The rate limit of notifications: a token bucket per (release, channel), time given by the caller.

Why a token bucket: a release that works normally sends a handful of messages over minutes (started, a few steps,
succeeded) and must get all of them at once if it wants (`burst`), while one that flaps (a spec changed in a loop,
a gate that fails and is retried) settles to `perMinute`. Excess messages are dropped and counted; the next one
that goes out carries how many were suppressed before it, so a channel learns that it missed something without
being flooded.

Why here and not in the domain: the buckets are state the notifier keeps in memory across ticks and releases (one
limiter per operator process, mutated by every `admit`), not a pure function of a release's status and the time;
only the notifiers use it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Admission", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    suppressed: int = 0
    """With `allowed`: messages dropped for this key since the last one that went out."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    suppressed: int = 0


class RateLimiter:
    """Buckets by key; `now` is any monotonic clock in seconds. Buckets idle long enough to be full again are
    forgotten on the next `admit`, so the map follows the releases that are sending."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self._buckets: dict[Hashable, _Bucket] = {}
        self._max_keys = max_keys

    def admit(self, key: Hashable, now: float, *, burst: int, per_minute: float) -> Admission:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_full(now, burst, per_minute)
            bucket = self._buckets[key] = _Bucket(tokens=float(burst), at=now)
        bucket.tokens = min(float(burst), bucket.tokens + max(now - bucket.at, 0.0) * per_minute / 60.0)
        bucket.at = max(now, bucket.at)
        if bucket.tokens < 1.0 - 1e-9:  # refills add up in floats: 30 times 1/30 is a whole token
            bucket.suppressed += 1
            return Admission(allowed=False)
        bucket.tokens -= 1.0
        suppressed, bucket.suppressed = bucket.suppressed, 0
        return Admission(allowed=True, suppressed=suppressed)

    def _forget_full(self, now: float, burst: int, per_minute: float) -> None:
        refill = 60.0 * burst / per_minute
        for key in [key for key, bucket in self._buckets.items() if now - bucket.at >= refill]:
            del self._buckets[key]
