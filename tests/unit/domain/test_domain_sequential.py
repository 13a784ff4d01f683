"""The anytime-valid comparison: its bound holds however often it is looked at, and bad evidence only adds up."""

from __future__ import annotations

import random

import pytest

from graygate.domain.analysis.sequential import Counts, Excess, bounds, compare


def test_the_bounds_hold_the_observed_rate_and_narrow_with_requests() -> None:
    previous = (0.0, 1.0)
    for n in (10, 100, 1000, 10000):
        low, high = bounds(Counts(n / 20, n), 0.05)
        assert low < 0.05 < high
        assert previous[0] <= low
        assert high <= previous[1]
        previous = (low, high)
    assert bounds(Counts(0, 0), 0.05) == (0.0, 1.0)
    assert bounds(Counts(0, 500), 0.05)[0] == 0.0
    assert bounds(Counts(500, 500), 0.05)[1] == 1.0


@pytest.mark.parametrize("alpha", [0, 1, -0.1])
def test_alpha_must_be_a_probability(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        bounds(Counts(1, 10), alpha)


def test_counts_must_make_sense() -> None:
    with pytest.raises(ValueError, match="errors <= requests"):
        Counts(11, 10)


def test_the_figures_the_docs_give() -> None:
    """10 % errors against 0.1 % at 1 point, canary at a tenth of the traffic: Fail within about 75 requests;
    a clean canary passes after about 530."""

    def first(excess: Excess, errors: float) -> int:
        return next(
            n
            for n in range(5, 5000)
            if compare(Counts(round(errors * n), n), Counts(round(0.009 * n), 9 * n), allowance=0.01, alpha=0.05).excess
            is excess
        )

    assert 70 <= first(Excess.ABOVE, 0.1) <= 80
    assert 500 <= first(Excess.WITHIN, 0.0) <= 560


def test_the_false_detection_bound_holds_under_optional_stopping() -> None:
    """Identical versions (1 % errors), looked at after every 20 canary requests up to 2000, stopped at the first
    Fail: over many seeded releases the share that ever fails stays below alpha."""
    alpha, releases, failed = 0.05, 200, 0
    for seed in range(releases):
        rng = random.Random(seed)
        canary = stable = Counts(0, 0)
        for _ in range(100):
            canary = Counts(canary.errors + sum(rng.random() < 0.01 for _ in range(20)), canary.requests + 20)
            stable = Counts(stable.errors + sum(rng.random() < 0.01 for _ in range(60)), stable.requests + 60)
            if compare(canary, stable, allowance=0.0, alpha=alpha).excess is Excess.ABOVE:
                failed += 1
                break
    assert failed / releases <= alpha


@pytest.mark.parametrize("stable", [Counts(1, 900), Counts(30, 3000)])
def test_more_bad_evidence_never_turns_a_fail_into_a_pass(stable: Counts) -> None:
    for requests in range(20, 400, 20):
        for errors in range(0, requests + 1, max(1, requests // 10)):
            seen = compare(Counts(errors, requests), stable, allowance=0.01, alpha=0.05).excess
            if seen is not Excess.ABOVE:
                continue
            for more in (1, 5, 50):
                worse = compare(Counts(errors + more, requests + more), stable, allowance=0.01, alpha=0.05)
                assert worse.excess is Excess.ABOVE, (errors, requests, more)
            if errors < requests:
                heavier = compare(Counts(errors + 1, requests), stable, allowance=0.01, alpha=0.05)
                assert heavier.excess is Excess.ABOVE


def test_a_comparison_shows_its_working() -> None:
    comparison = compare(Counts(9, 50), Counts(1, 450), allowance=0.01, alpha=0.05)
    assert comparison.describe() == (
        "errors since the step began: canary 9 of 50 (18.00%), stable 1 of 450 (0.22%): +17.78 pts, allowed +1.00; "
        "anytime-valid bounds at alpha 0.05: +2.15 to +43.24 pts, so worse than allowed"
    )
    assert comparison.evidence()["bound"] == "+2.15..+43.24 pts"
