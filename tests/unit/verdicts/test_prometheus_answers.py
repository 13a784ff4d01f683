"""The verdict lab's Prometheus arithmetic, worked by hand: what `increase()`, `histogram_quantile()` and the
raw difference since the step began answer for a few samples, so the lab's judges are fed what Prometheus
would really say."""

from __future__ import annotations

import math

import pytest

from e2e.verdicts.judges import NewJudge, TodayJudge, Tuning
from e2e.verdicts.prometheus_answers import LOOKBACK_MS, Series, histogram_quantile, increase, since, span_ms
from e2e.verdicts.simulate import Scenario, Version, simulate

EVERY_SECOND = [(1000 * k, 100.0 + 10 * (k - 1)) for k in range(1, 11)]
"""100 at 1 s, 110 at 2 s, ... 190 at 10 s: 10 requests a second."""


@pytest.mark.parametrize(
    ("samples", "end", "range_ms", "expected"),
    [
        # 10 samples in (0.5 s, 10.5 s]: 90 counted over 9 s, extrapolated 0.5 s to each edge: 90 * 10 / 9.
        (EVERY_SECOND, 10_500, 10_000, 100.0),
        # Ending on a sample: 0.5 s to extrapolate at the start, none at the end: 90 * 9.5 / 9.
        (EVERY_SECOND, 10_000, 9_500, 90 * 9.5 / 9),
        # The range is left-open: the sample at exactly 1 s is out, leaving 8 s of samples: 80 * (8 + 1 + 0) / 8.
        (EVERY_SECOND, 10_000, 9_000, 90.0),
        # The zero point binds: 1 → 21 over 2 s would extrapolate 1 s back to 11 below zero; it goes 0.1 s.
        ([(1000, 1.0), (2000, 11.0), (3000, 21.0)], 3000, 3000, 20 * 2.1 / 2),
        # A reset: 8 → 2 adds the 8 before the drop (4 - 8 + 8 = 4), then 1 s back to the edge: 4 * 3 / 2.
        ([(1000, 5.0), (2000, 8.0), (3000, 2.0), (4000, 4.0)], 4000, 3000, 6.0),
    ],
)
def test_increase_extrapolates_as_prometheus_does(
    samples: list[tuple[int, float]], end: int, range_ms: int, expected: float
) -> None:
    assert increase(samples, end, range_ms) == pytest.approx(expected)


def test_a_series_that_appears_mid_window_loses_its_first_value() -> None:
    # The canary's first 503 at 6 s creates the series with value 1: nothing before it is known, so the 5.5 s to
    # the range's start are cut to half an interval and the first error is mostly lost: 2 * (4 + 0.5 + 0.5) / 4.
    samples = [(6000, 1.0), (7000, 1.0), (8000, 2.0), (9000, 2.0), (10_000, 3.0)]
    assert increase(samples, 10_500, 10_000) == pytest.approx(2.5)
    # With no second error the series answers 0: three users saw a 503 and the window shows none.
    assert increase([(6000, 1.0), (7000, 1.0), (8000, 1.0)], 10_500, 10_000) == 0.0


def test_fewer_than_two_samples_answer_nothing() -> None:
    assert increase([(9000, 5.0)], 10_000, 10_000) is None
    assert increase(EVERY_SECOND, 20_000, 5_000) is None


def test_since_counts_a_series_absent_at_the_step_start_from_zero() -> None:
    appeared = Series.of([(6000, 1.0), (7000, 1.0), (8000, 2.0)])
    assert since(appeared, 5000, 8500) == 2.0


def test_since_is_the_raw_difference_of_a_series_present_at_the_start() -> None:
    series = Series.of([(4000, 10.0), (5000, 12.0), (9000, 20.0)])
    assert since(series, 5000, 9500) == 8.0
    assert since(series, 4500, 9500) == 10.0  # the value at 4.5 s is the sample at 4 s


def test_since_clamps_a_reset_to_zero() -> None:
    # clamp_min(x - x offset span, 0): a restarted pod's counter loses what it counted, never goes negative.
    assert since(Series.of([(4000, 10.0), (5000, 12.0), (9000, 3.0)]), 5000, 9500) == 0.0


@pytest.mark.parametrize(
    ("step_start", "end", "expected"),
    [(0, 1000, 1000), (0, 1500, 2000), (1000, 1000, 1000), (600_000, 605_000, 5000)],
)
def test_the_span_is_whole_seconds_and_at_least_one(step_start: int, end: int, expected: int) -> None:
    assert span_ms(step_start, end) == expected


def test_a_series_silent_for_longer_than_the_lookback_has_no_value() -> None:
    series = Series.of([(1000, 3.0)])
    assert series.at(1000 + LOOKBACK_MS - 1) == 3.0
    assert series.at(1000 + LOOKBACK_MS) is None
    assert since(series, 0, 1000 + LOOKBACK_MS) is None


def test_samples_must_come_in_time_order() -> None:
    with pytest.raises(ValueError, match="time order"):
        Series.of([(2000, 1.0), (2000, 2.0)])


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, {10: 50, 20: 90, 50: 100, math.inf: 100}, 10.0),  # rank 50 ends the first bucket
        (0.9, {10: 50, 20: 90, 50: 100, math.inf: 100}, 20.0),
        (0.95, {10: 50, 20: 90, 50: 100, math.inf: 100}, 35.0),  # halfway through (20, 50]
        (0.99, {10: 50, 20: 90, math.inf: 100}, 20.0),  # in +Inf: the highest finite bound
        (0.5, {10: 60, 20: 50, math.inf: 100}, 10 * 50 / 60),  # a dip is lifted to keep the counts monotonic
    ],
)
def test_histogram_quantile_interpolates_inside_the_bucket(
    q: float, buckets: dict[float, float], expected: float
) -> None:
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_histogram_quantile_of_nothing_is_nan() -> None:
    assert math.isnan(histogram_quantile(0.99, {10: 0, math.inf: 0}))
    assert math.isnan(histogram_quantile(0.99, {10: 5, 20: 5}))  # no +Inf bucket


def test_the_new_readings_keep_every_error_of_the_step() -> None:
    traffic = simulate(Scenario("bad", canary=Version(error_rate=0.2), step_s=60, weights=(10, 25)), seed=3)
    readings = NewJudge(Tuning()).readings(traffic, "errors", at_ms=60_000, start_ms=0)
    codes = {dict(s.labels)["response_code"]: s.value for s in readings["canary"].series}
    # The last scrape at or before 60 s is second 59's: the whole first step, every failure, no extrapolation.
    assert codes["503"] == sum(traffic.canary_failures[:60])
    assert codes["503"] + codes["200"] == sum(traffic.canary_requests[:60])


def test_today_finds_no_canary_data_before_its_first_requests_are_scraped_twice() -> None:
    traffic = simulate(Scenario("bad", canary=Version(error_rate=0.2), step_s=60, weights=(10,)), seed=3)
    seen = TodayJudge(Tuning()).measure(traffic, "errors", at_ms=0)
    assert seen.canary is not None
    assert seen.canary.series == ()
