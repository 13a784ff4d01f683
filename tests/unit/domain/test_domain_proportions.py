"""The two-proportion test behind `maxIncreasePoints`: concrete counts in, above / within / unsure out."""

from __future__ import annotations

import math

import pytest

from graygate.domain import Comparison, ErrorRates, Excess, compare_error_rates
from graygate.domain.proportions import MIN_EVENTS, critical_z

A, W, U = Excess.ABOVE, Excess.WITHIN, Excess.UNSURE


@pytest.mark.parametrize(
    ("canary", "stable", "points", "confidence", "excess", "z"),
    [
        # the module docstring's worked examples
        ((100, 1000), (10, 1000), 0, 0.95, A, 8.83),
        ((30, 1000), (20, 1000), 0, 0.95, W, 1.43),
        ((3, 100), (2, 100), 0, 0.95, W, 0.45),
        ((3, 100), (0, 100), 0, 0.95, U, 1.75),  # "significant" on 3 errors: not trusted
        ((10, 1000), (100, 1000), 0, 0.95, W, -8.83),  # the canary is better
        # the allowance
        ((3, 100), (2, 100), 1, 0.95, W, 0.0),  # exactly at the allowance
        ((40, 1000), (20, 1000), 0, 0.95, A, 2.62),
        ((40, 1000), (20, 1000), 1, 0.95, W, 1.31),  # +2 pts is within noise of +1 pt
        ((60, 1000), (20, 1000), 1, 0.95, A, 3.42),
        ((40, 1000), (20, 1000), 0, 0.999, W, 2.62),  # stricter confidence: not sure enough to fail
        # small samples
        ((1, 10), (0, 10), 0, 0.95, U, 1.03),
        ((0, 50), (0, 50), 0, 0.95, W, 0.0),  # no errors anywhere
        ((0, 50), (3, 50), 0, 0.95, W, -1.76),
        ((2, 20), (0, 2000), 0, 0.95, U, 14.15),  # 2 errors: too few to be sure, however it looks
        ((20, 100), (0, 5000), 0, 0.95, A, 31.68),  # a clearly broken canary next to a huge healthy stable
        # everything failing: no variance, no excess
        ((100, 100), (100, 100), 0, 0.95, W, 0.0),
        # extrapolated counts from increase() are not whole numbers
        ((99.6, 1000.4), (10.2, 999.8), 0, 0.95, A, 8.78),
    ],
)
def test_compare_error_rates(
    canary: tuple[float, float],
    stable: tuple[float, float],
    points: float,
    confidence: float,
    excess: Excess,
    z: float,
) -> None:
    result = compare_error_rates(
        ErrorRates(*canary), ErrorRates(*stable), allowance=points / 100, confidence=confidence
    )
    assert result.excess is excess
    assert result.z == pytest.approx(z, abs=0.01)


def test_fewer_than_min_events_can_neither_fail_nor_clear_a_worse_looking_canary() -> None:
    assert MIN_EVENTS == 5
    assert compare_error_rates(ErrorRates(4, 100), ErrorRates(0, 100), allowance=0, confidence=0.95).excess is U
    assert compare_error_rates(ErrorRates(5, 100), ErrorRates(0, 100), allowance=0, confidence=0.95).excess is A


@pytest.mark.parametrize(("confidence", "z"), [(0.5, 0.0), (0.9, 1.2816), (0.95, 1.6449), (0.99, 2.3263)])
def test_critical_z(confidence: float, z: float) -> None:
    assert critical_z(confidence) == pytest.approx(z, abs=1e-4)


@pytest.mark.parametrize("confidence", [0.4, 1.0, 1.5])
def test_confidence_out_of_range(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        critical_z(confidence)


@pytest.mark.parametrize(("errors", "requests"), [(-1, 10), (11, 10), (0, 0)])
def test_impossible_counts(errors: float, requests: float) -> None:
    with pytest.raises(ValueError, match="errors <= requests"):
        ErrorRates(errors, requests)


def test_a_negative_allowance_is_refused() -> None:
    with pytest.raises(ValueError, match="allowance"):
        compare_error_rates(ErrorRates(1, 10), ErrorRates(1, 10), allowance=-0.01, confidence=0.95)


def test_describe_shows_the_working() -> None:
    result = compare_error_rates(ErrorRates(3, 100), ErrorRates(2, 100), allowance=0, confidence=0.95)
    assert result.describe() == "+1.00 pts over stable, allowed +0.00 pts, z = 0.45 < 1.64"
    infinite = Comparison(excess=A, difference=0.5, allowance=0.0, z=math.inf, critical_z=1.6449, enough_events=True)
    assert "z = inf >= 1.64" in infinite.describe()
    clean = compare_error_rates(ErrorRates(0, 100), ErrorRates(0, 100), allowance=0.01, confidence=0.95)
    assert clean.describe().endswith("z = -inf < 1.64")
