"""The load generator: its summaries as tables, then real bounded runs against an in-process backend."""

from __future__ import annotations

import asyncio
import time

import pytest

from e2e.lab.backend import Backend, BackendIdentity
from e2e.lab.loadgen import LoadGenerator, LoadResult, Sample

pytestmark = pytest.mark.timeout(30)


def result(*served: tuple[float, str | None, int | None]) -> LoadResult:
    return LoadResult(tuple(Sample(t, v, code, 0.01 * (i + 1)) for i, (t, v, code) in enumerate(served)))


RUN = result(
    (0.0, "stable", 200),
    (0.5, "canary", 200),
    (1.0, "stable", 200),
    (1.5, "canary", 500),
    (2.0, "stable", 200),
    (2.5, None, None),
    (3.0, "stable", 200),
    (3.5, "stable", 503),
)


def test_counts_failures_and_share() -> None:
    assert RUN.counts() == {"stable": 5, "canary": 2, None: 1}
    assert [s.sent_at for s in RUN.failures()] == [1.5, 2.5, 3.5]
    assert RUN.statuses() == {200: 5, 500: 1, None: 1, 503: 1}
    assert RUN.share("canary") == 2 / 8
    assert RUN.between(1.0, 2.0).counts() == {"stable": 1, "canary": 1}
    assert result().share("canary") is None


def test_sliding_windows() -> None:
    windows = RUN.windows(width_s=2.0, step_s=1.0)
    assert [(w.start, w.share("canary")) for w in windows] == [(0.0, 0.5), (1.0, 0.25), (2.0, 0.0), (3.0, 0.0)]
    assert [w.start for w in RUN.windows(width_s=2.0)] == [0.0, 2.0]


@pytest.mark.parametrize(
    ("after", "since"),
    [
        (0.0, 2.0),  # the canary served at 1.5 for the last time: zero from the next request on
        (1.6, 2.0),  # no canary after the instant: zero from the first request after it
        (4.0, None),  # nothing sent after it
    ],
)
def test_zero_share_since(after: float, since: float | None) -> None:
    assert RUN.zero_share_since("canary", after) == since


def test_zero_share_since_is_none_while_the_version_still_serves() -> None:
    assert result((0.0, "stable", 200), (1.0, "canary", 200)).zero_share_since("canary", 0.0) is None


def test_latency_quantile() -> None:
    assert RUN.latency_quantile(0.5) == pytest.approx(0.04)
    assert RUN.latency_quantile(1.0, "canary") == pytest.approx(0.04)
    assert RUN.latency_quantile(0.99, "nobody") is None


async def test_a_run_is_bounded_by_count() -> None:
    async with Backend(BackendIdentity("stable")) as b:
        r = await LoadGenerator(b.url, rate_per_s=200, max_requests=40, max_duration_s=10).run()
    assert r.counts() == {"stable": 40}
    assert r.samples[-1].sent_at - r.samples[0].sent_at == pytest.approx(39 / 200, abs=0.1)


async def test_a_run_is_bounded_by_time_and_records_slow_answers() -> None:
    async with Backend(BackendIdentity("stable")) as b:
        b.set_knobs(latency_ms=100)
        start = time.monotonic()
        r = await LoadGenerator(b.url, rate_per_s=20, max_requests=1000, max_duration_s=0.5).run()
    assert 9 <= len(r.samples) <= 11
    assert time.monotonic() - start < 2.0
    median = r.latency_quantile(0.5)
    assert median is not None
    assert median >= 0.1


async def test_transport_errors_are_samples_not_exceptions() -> None:
    async with Backend(BackendIdentity("gone")) as b:
        url = b.url
    r = await LoadGenerator(url, rate_per_s=50, max_requests=3, max_duration_s=1, timeout_s=1).run()
    assert len(r.failures()) == 3
    assert all(s.status is None and s.version is None and s.error for s in r.samples)


async def test_start_and_stop_in_the_background() -> None:
    async with Backend(BackendIdentity("stable")) as b:
        gen = LoadGenerator(b.url, rate_per_s=100, max_requests=10_000, max_duration_s=30)
        gen.start()
        await asyncio.sleep(0.3)
        r = await gen.stop()
    assert 10 <= len(r.samples) <= 60
