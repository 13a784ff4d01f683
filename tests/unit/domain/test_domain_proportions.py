"""The interval behind `maxIncreasePoints`: concrete counts in, above / within / unsure out, with the bounds."""

from __future__ import annotations

import pytest

from graygate.domain.analysis.proportions import Excess, compare_error_rates, critical_z, wilson
from graygate.domain.analysis.sequential import Counts

A, W, U = Excess.ABOVE, Excess.WITHIN, Excess.UNSURE


@pytest.mark.parametrize(
    ("canary", "stable", "points", "confidence", "excess", "bounds"),
    [
        # a regression hidden by noise under a one-sided test alone: not enough to clear the canary
        ((4, 100), (1, 100), 0, 0.95, U, (-1.01, 7.68)),
        ((4, 100), (1, 100), 1, 0.95, U, (-1.01, 7.68)),
        ((10, 200), (5, 200), 0, 0.95, U, (-0.73, 5.94)),
        ((10, 100), (1, 20), 0, 0.95, U, (-10.12, 12.17)),
        ((3, 100), (0, 100), 0, 0.95, U, (-0.19, 7.27)),  # three errors prove nothing either way
        # a healthy canary on a realistic sample: a few hundred requests against thousands
        ((0, 300), (3, 3000), 1, 0.95, W, (-0.25, 0.80)),
        ((0, 250), (3, 3000), 1, 0.95, W, (-0.25, 0.97)),
        ((0, 200), (0, 2000), 1, 0.95, U, (-0.14, 1.33)),  # about 2.7 / 1 % = 270 requests are needed
        ((1, 1000), (1, 1000), 1, 0.95, W, (-0.36, 0.36)),
        ((10, 1000), (100, 1000), 0, 0.95, W, (-10.72, -7.40)),  # the canary is clearly better
        ((0, 1000), (100, 1000), 0, 0.95, W, (-11.67, -8.52)),  # clearly better passes even at an allowance of 0
        # a real regression
        ((30, 300), (10, 3000), 1, 0.95, A, (7.16, 12.89)),
        ((100, 1000), (10, 1000), 0, 0.95, A, (7.40, 10.72)),
        ((5, 100), (0, 100), 0, 0.95, A, (1.34, 9.92)),
        ((20, 100), (0, 5000), 0, 0.95, A, (14.25, 27.33)),  # a broken canary next to a huge healthy stable
        ((2, 20), (0, 2000), 0, 0.95, A, (3.36, 26.17)),  # two errors, but stable has none in 2000
        # the allowance and the confidence
        ((40, 1000), (20, 1000), 0, 0.95, A, (0.75, 3.30)),
        ((40, 1000), (20, 1000), 1, 0.95, U, (0.75, 3.30)),  # +2 pts, but +1 pt is not ruled out
        ((40, 1000), (20, 1000), 4, 0.95, W, (0.75, 3.30)),
        ((40, 1000), (20, 1000), 0, 0.999, U, (-0.42, 4.58)),  # stricter: a wider interval
        # at an allowance of 0 a canary only as good as stable is never cleared: it waits Inconclusive
        ((0, 50), (0, 50), 0, 0.95, U, (-5.13, 5.13)),
        ((100, 100), (100, 100), 0, 0.95, U, (-2.63, 2.63)),
        # extrapolated counts from increase() are not whole numbers
        ((99.6, 1000.4), (10.2, 999.8), 0, 0.95, A, (7.34, 10.65)),
    ],
)
def test_compare_error_rates(
    canary: tuple[float, float],
    stable: tuple[float, float],
    points: float,
    confidence: float,
    excess: Excess,
    bounds: tuple[float, float],
) -> None:
    result = compare_error_rates(Counts(*canary), Counts(*stable), allowance=points / 100, confidence=confidence)
    assert result.excess is excess, result.describe()
    assert (result.lower * 100, result.upper * 100) == pytest.approx(bounds, abs=0.01)
    assert result.lower <= result.difference <= result.upper


@pytest.mark.parametrize(
    ("errors", "requests", "bounds"),
    [
        (0, 100, (0.0, 0.0263)),  # z² / (n + z²): the "rule of three" of the score interval
        (1, 100, (0.0022, 0.0436)),
        (50, 100, (0.4188, 0.5812)),
        (100, 100, (0.9737, 1.0)),
    ],
)
def test_wilson_bounds(errors: float, requests: float, bounds: tuple[float, float]) -> None:
    assert wilson(Counts(errors, requests), critical_z(0.95)) == pytest.approx(bounds, abs=1e-4)


def test_more_requests_with_the_same_rates_turn_unsure_into_sure() -> None:
    def verdict(scale: int) -> Excess:
        canary, stable = Counts(3 * scale, 100 * scale), Counts(scale, 100 * scale)
        return compare_error_rates(canary, stable, allowance=0.005, confidence=0.95).excess

    assert [verdict(scale) for scale in (1, 3, 10)] == [U, U, A]


@pytest.mark.parametrize(("confidence", "z"), [(0.5, 0.0), (0.9, 1.2816), (0.95, 1.6449), (0.99, 2.3263)])
def test_critical_z(confidence: float, z: float) -> None:
    assert critical_z(confidence) == pytest.approx(z, abs=1e-4)


@pytest.mark.parametrize("confidence", [0.4, 1.0, 1.5])
def test_confidence_out_of_range(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        critical_z(confidence)


@pytest.mark.parametrize(("errors", "requests"), [(-1, 10), (11, 10)])
def test_impossible_counts(errors: float, requests: float) -> None:
    with pytest.raises(ValueError, match="errors <= requests"):
        Counts(errors, requests)


def test_an_interval_needs_requests() -> None:
    with pytest.raises(ValueError, match="requests > 0"):
        compare_error_rates(Counts(0, 0), Counts(1, 10), allowance=0.01, confidence=0.95)


def test_a_negative_allowance_is_refused() -> None:
    with pytest.raises(ValueError, match="allowance"):
        compare_error_rates(Counts(1, 10), Counts(1, 10), allowance=-0.01, confidence=0.95)


@pytest.mark.parametrize(
    ("canary", "stable", "points", "text"),
    [
        (
            (4, 100),
            (1, 100),
            0,
            "errors: canary 4 of 100 (4.00%), stable 1 of 100 (1.00%): +3.00 pts over stable, allowed +0.00 pts; "
            "at 0.95 confidence between -1.01 and +7.68 pts, which holds the allowance: "
            "not enough requests to tell yet",
        ),
        (
            (0, 300),
            (3, 3000),
            1,
            "errors: canary 0 of 300 (0.00%), stable 3 of 3000 (0.10%): -0.10 pts over stable, allowed +1.00 pts; "
            "at 0.95 confidence between -0.25 and +0.80 pts, so within the allowance",
        ),
        (
            (30, 300),
            (10, 3000),
            1,
            "errors: canary 30 of 300 (10.00%), stable 10 of 3000 (0.33%): +9.67 pts over stable, allowed +1.00 pts; "
            "at 0.95 confidence between +7.16 and +12.89 pts, so worse than allowed",
        ),
        (
            # counts extrapolated by increase() are shown as they are, not rounded to whole requests
            (0.4, 1),
            (2.5, 1000.25),
            0,
            "errors: canary 0.4 of 1 (40.00%), stable 2.5 of 1000.25 (0.25%): +39.75 pts over stable, allowed +0.00 "
            "pts; at 0.95 confidence between +4.56 and +89.54 pts, so worse than allowed",
        ),
    ],
)
def test_describe_shows_the_counts_rates_bounds_and_allowance(
    canary: tuple[float, float], stable: tuple[float, float], points: float, text: str
) -> None:
    result = compare_error_rates(Counts(*canary), Counts(*stable), allowance=points / 100, confidence=0.95)
    assert result.describe() == text
