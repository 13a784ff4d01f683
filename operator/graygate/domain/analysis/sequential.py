"""Anytime-valid bounds on error rates: check after every scrape, and the chance of a false alarm stays below alpha.

Why not a fixed-sample interval: a release looks at its canary again and again (every analysis, for as long as a
step lasts), and a 95 % interval checked a hundred times is wrong far more often than 5 % of the time. Netflix
moved its canaries to sequential tests for this reason (Lindon, Sanden, Shirikian, "Rapid Regression Detection in
Software Deployments through Sequential Testing", KDD 2022; Lindon and Malek, "Anytime-Valid Inference for
Multinomial Count Data", NeurIPS 2022). Here each side's error rate gets a confidence sequence: an interval that
holds the true rate at every request count at once, with probability at least 1 - alpha.

The method is Robbins' beta-binomial mixture (Robbins 1970; the "conjugate mixture" of Howard, Ramdas, McAuliffe
and Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Annals of Statistics 2021). For n
requests of which S failed, each failing with probability p, and a prior Beta(a, b) over the failure rate:

    M_n(p) = ∫ q^S (1-q)^(n-S) dBeta(q; a, b) / (p^S (1-p)^(n-S))  =  B(a + S, b + n - S) / (B(a, b) p^S (1-p)^(n-S))

Under the true p, M_n(p) is a likelihood ratio averaged over the alternatives, so it is a non-negative martingale
starting at 1, and Ville's inequality gives P(M_n(p) ≥ 1/alpha for some n) ≤ alpha. The confidence sequence is
{p : M_n(p) < 1/alpha}. As a function of p, -S·log p - (n-S)·log(1-p) is convex with its minimum at S/n, and
M_n(S/n) ≤ 1, so the set is an interval around S/n: `bounds` finds its two ends by bisection. The prior changes
how fast the interval narrows, never its validity; Beta(1/2, 20) puts its mass on error rates of a few percent,
where the regressions a release must catch lie.

The comparison of canary and stable takes each side's sequence at alpha/2. With d the allowance (maxIncreasePoints):

    ABOVE   lower_canary - upper_stable > d     → Fail: wrongly, only if a side left its sequence (≤ alpha/2 + alpha/2)
    WITHIN  upper_canary - lower_stable ≤ d     → Pass: wrongly, with the same bound
    UNSURE  otherwise                          → keep counting (the step holds)

Counts are what the callers' proxies recorded since the step began: every new request narrows the interval, so
a large regression is caught within a few dozen canary requests (10 % errors against 0.1 % at d = 1 point and
alpha = 0.05, the canary at 10 % of the traffic: about 75), while clearing a canary this way takes more (about
530 clean requests), which is why a pass may also come from the fixed-sample interval of `proportions`. Counts may be
fractional (Prometheus's arithmetic); the formulas hold for real S and n through the gamma function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["PRIOR", "Comparison", "Counts", "Excess", "bounds", "compare", "count_text"]

PRIOR = (0.5, 20.0)
"""The Beta(a, b) prior of the mixture over the error rate."""

_STEPS = 60
"""Bisection steps: the bounds to about 1e-18, far below any difference a percentage can show."""


class Excess(StrEnum):
    """What the bounds say about the canary's error rate against the stable's plus the allowance."""

    ABOVE = "above"
    WITHIN = "within"
    UNSURE = "unsure"


@dataclass(frozen=True, slots=True)
class Counts:
    """Errors out of requests on one side."""

    errors: float
    requests: float

    def __post_init__(self) -> None:
        if not 0 <= self.errors <= self.requests:
            raise ValueError(f"need 0 <= errors <= requests, got {self.errors}/{self.requests}")

    @property
    def rate(self) -> float:
        """The observed error rate; 0 for no requests."""
        return self.errors / self.requests if self.requests else 0.0

    def describe(self) -> str:
        """e.g. `4 of 100 (4.00%)`."""
        return f"{count_text(self.errors)} of {count_text(self.requests)} ({100 * self.rate:.2f}%)"


def count_text(value: float) -> str:
    """A count as it is: whole numbers without decimals, extrapolated ones to 2 decimals (`0.4`, not `0`)."""
    return f"{value + 0.0:.2f}".rstrip("0").rstrip(".")


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _log_martingale(p: float, side: Counts, prior: tuple[float, float]) -> float:
    a, b = prior
    s, n = side.errors, side.requests
    fails = s * math.log(p) if s else 0.0
    passes = (n - s) * math.log1p(-p) if n - s else 0.0
    return _log_beta(a + s, b + n - s) - _log_beta(a, b) - fails - passes


def bounds(side: Counts, alpha: float, prior: tuple[float, float] = PRIOR) -> tuple[float, float]:
    """The confidence sequence's (lower, upper) bounds on the side's error rate at level `alpha`: both hold at
    every request count at once with probability at least 1 - alpha. (0, 1) for no requests."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if side.requests <= 0:
        return 0.0, 1.0
    limit = math.log(1 / alpha)
    centre = side.rate

    def outside(p: float) -> bool:
        return _log_martingale(p, side, prior) >= limit

    lower = 0.0
    if side.errors > 0:
        low, high = 0.0, centre  # outside at 0 (log p → -∞), inside at the centre
        for _ in range(_STEPS):
            middle = (low + high) / 2
            low, high = (middle, high) if middle <= 0 or outside(middle) else (low, middle)
        lower = low
    upper = 1.0
    if side.errors < side.requests:
        low, high = centre, 1.0
        for _ in range(_STEPS):
            middle = (low + high) / 2
            low, high = (low, middle) if middle >= 1 or outside(middle) else (middle, high)
        upper = high
    return lower, upper


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """The comparison's answer with every number it used, so a verdict can show its working."""

    excess: Excess
    canary: Counts
    stable: Counts
    allowance: float
    alpha: float
    lower: float
    """The lower bound of canary - stable: the canary's lower bound minus the stable's upper one."""
    upper: float
    """The upper bound of canary - stable: the canary's upper bound minus the stable's lower one."""

    @property
    def difference(self) -> float:
        """Canary error rate minus stable error rate, as observed."""
        return self.canary.rate - self.stable.rate

    def describe(self) -> str:
        """e.g. `errors since the step began: canary 9 of 50 (18.00%), stable 1 of 450 (0.22%): +17.78 pts,
        allowed +1.00; anytime-valid bounds at alpha 0.05: +2.15 to +43.24 pts, so worse than allowed`."""
        verdict = {
            Excess.ABOVE: "so worse than allowed",
            Excess.WITHIN: "so within the allowance",
            Excess.UNSURE: "which holds the allowance: not enough requests to tell yet",
        }[self.excess]
        return (
            f"errors since the step began: canary {self.canary.describe()}, stable {self.stable.describe()}: "
            f"{_pts(self.difference)} pts, allowed +{self.allowance * 100:.2f}; anytime-valid bounds at "
            f"alpha {self.alpha:g}: {_pts(self.lower)} to {_pts(self.upper)} pts, {verdict}"
        )

    def evidence(self) -> dict[str, str]:
        """The numbers, by name, for the status and the Events."""
        return {
            "canaryErrors": count_text(self.canary.errors),
            "canaryRequests": count_text(self.canary.requests),
            "stableErrors": count_text(self.stable.errors),
            "stableRequests": count_text(self.stable.requests),
            "bound": f"{_pts(self.lower)}..{_pts(self.upper)} pts",
            "alpha": f"{self.alpha:g}",
            "allowance": f"+{self.allowance * 100:g} pts",
            "test": "anytime-valid (beta-binomial mixture)",
        }


def _pts(fraction: float) -> str:
    return f"{fraction * 100:+.2f}"


def compare(canary: Counts, stable: Counts, *, allowance: float, alpha: float) -> Comparison:
    """Apply the rule in the module docstring, each side's sequence at alpha / 2."""
    if allowance < 0:
        raise ValueError(f"the allowance cannot be negative, got {allowance}")
    c_low, c_high = bounds(canary, alpha / 2)
    s_low, s_high = bounds(stable, alpha / 2)
    lower, upper = c_low - s_high, c_high - s_low
    if lower > allowance:
        excess = Excess.ABOVE
    elif upper <= allowance:
        excess = Excess.WITHIN
    else:
        excess = Excess.UNSURE
    return Comparison(
        excess=excess, canary=canary, stable=stable, allowance=allowance, alpha=alpha, lower=lower, upper=upper
    )
