"""The notifiers' rate limit: a token bucket per (release, channel), in the notifier's memory."""

from __future__ import annotations

from graygate.notifiers.rate_limit import RateLimiter


def test_a_burst_goes_out_then_one_per_refill() -> None:
    limiter = RateLimiter()
    admitted = [limiter.admit("k", 0.0, burst=3, per_minute=1).allowed for _ in range(5)]
    assert admitted == [True, True, True, False, False]
    assert not limiter.admit("k", 59.0, burst=3, per_minute=1).allowed
    after = limiter.admit("k", 61.0, burst=3, per_minute=1)
    assert (after.allowed, after.suppressed) == (True, 3)
    assert limiter.admit("k", 200.0, burst=3, per_minute=1).suppressed == 0


def test_keys_are_limited_apart() -> None:
    limiter = RateLimiter()
    assert limiter.admit("a", 0.0, burst=1, per_minute=1).allowed
    assert not limiter.admit("a", 0.0, burst=1, per_minute=1).allowed
    assert limiter.admit("b", 0.0, burst=1, per_minute=1).allowed


def test_a_flapping_release_never_exceeds_burst_plus_refill() -> None:
    limiter = RateLimiter()
    sent = sum(limiter.admit("k", second, burst=5, per_minute=2).allowed for second in range(601))  # 1 a second
    assert sent == 5 + 20  # the burst, then 2 a minute for 10 minutes


def test_idle_buckets_are_forgotten_when_the_map_is_full() -> None:
    limiter = RateLimiter(max_keys=2)
    limiter.admit("a", 0.0, burst=1, per_minute=60)
    limiter.admit("b", 0.0, burst=1, per_minute=60)
    limiter.admit("c", 10.0, burst=1, per_minute=60)
    assert list(limiter._buckets) == ["c"]  # a and b were full again after 1s: forgotten
