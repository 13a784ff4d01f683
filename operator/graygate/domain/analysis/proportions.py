"""A fixed-sample confidence interval for the canary's error rate minus the stable's: is the canary surely within the
allowance, surely worse, or is it too soon to tell?

Where graygate uses it: to PASS a `maxIncreasePoints` check, on the counts since the step began (`success_rate`),
never to fail one. Failing is the anytime-valid test's job (`sequential`): looked at after every scrape, a fixed
interval would fail a good canary far more often than 1 - confidence. Passing with this interval instead of the
anytime-valid bound clears a healthy canary about four times sooner (about 410 canary requests at 1 point where
both versions fail 0.5 % and the canary has a tenth of the traffic, against about 1,690); its chance of passing
a canary worse than allowed is bounded at each look, not over all of them, and a canary must also be clear over
the last window (`success_rate`). The verdict lab measures what that costs (`make bench-verdicts`).

Why three answers: at 5 % weight a canary serves a few dozen requests per window, and the check must do two things
at once: a handful of unlucky requests must not fail a release by chance, AND a real regression must not be hidden
by noise. A test that only asks "is the canary significantly worse?" gives the first and not the second: canary
4 errors / 100 against stable 1 / 100 is not significant, yet nothing shows the canary is fine either. So graygate
asks for evidence in both directions and waits when there is none.

The evidence is a confidence interval for the difference of the two error rates (canary - stable), Newcombe's
hybrid score interval (method 10 of Newcombe 1998): a Wilson score interval for each rate, combined. Unlike the
textbook "rate ± z·se" interval it stays honest at 0 errors and on small samples, so no minimum event count is
needed. With c = confidence and z = NormalDist().inv_cdf(c) (1.645 at c = 0.95):

    p, n                                                   one side's errors / requests
    wilson(p, n) = (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)           that rate's bounds l, u
    lower = (p_c - p_s) - sqrt((p_c - l_c)² + (u_s - p_s)²)
    upper = (p_c - p_s) + sqrt((u_c - p_c)² + (p_s - l_s)²)

Each bound is one-sided at c: "the true difference is at least `lower`" is wrong about 1 - c of the time (5 %
at 0.95; about, because the interval is an approximation), and so is "at most `upper`". With d = allowance
(maxIncreasePoints / 100), first match wins:

    1. ABOVE   lower > d: the canary is worse than stable + d, and chance explains it about 1 - c of the time
                                                                                               → Fail
    2. WITHIN  upper ≤ d: the canary is no worse than stable + d, with the same confidence    → Pass
    3. UNSURE  otherwise: the interval holds d, so the requests so far cannot tell             → wait

Two consequences to plan for: with no errors at all, the upper bound is about
z²/n_c, so clearing a canary needs about 2.7 / d canary requests at 0.95 (270 at 1 point, 135 at
2, 540 at 0.5); and with an allowance of 0 only a canary clearly better than stable passes (an interval never
shows "exactly no worse"), so a canary as good as stable waits: use `min` for an absolute floor and
a small positive allowance for the comparison.

Worked examples, c = 0.95 (bounds rounded to 0.01 points):

    canary 4 / 100, stable 1 / 100, d = 0:          +3.00 pts, -1.01 to +7.68 → UNSURE (not enough to tell)
    canary 10 / 200, stable 5 / 200, d = 0:         +2.50 pts, -0.73 to +5.94 → UNSURE
    canary 0 / 300, stable 3 / 3000, d = 1 pt:      -0.10 pts, at most +0.80  → WITHIN (pass)
    canary 30 / 300, stable 10 / 3000, d = 1 pt:    +9.67 pts, at least +7.16 → ABOVE (fail)
    canary 100 / 1000, stable 10 / 1000, d = 0:     +9.00 pts, at least +7.40 → ABOVE (fail)
    canary 3 / 100, stable 0 / 100, d = 0:          +3.00 pts, -0.19 to +7.27 → UNSURE (3 errors prove nothing)
    canary 0 / 1000, stable 100 / 1000, d = 0:      -10.00 pts, at most -8.52 → WITHIN (clearly better: pass)

Pure arithmetic on floats (request counts from PromQL `increase()` are extrapolated, so rarely whole numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

from graygate.domain.analysis.sequential import Counts

__all__ = ["Comparison", "Excess", "compare_error_rates", "critical_z", "wilson"]


class Excess(StrEnum):
    """What the interval says about the canary's error rate against the stable's plus the allowance."""

    ABOVE = "above"
    WITHIN = "within"
    UNSURE = "unsure"


_VERDICT_TEXT = {
    Excess.ABOVE: "so worse than allowed",
    Excess.WITHIN: "so within the allowance",
    Excess.UNSURE: "which holds the allowance: not enough requests to tell yet",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """The interval's verdict with every number it used, so a verdict can show its working."""

    excess: Excess
    canary: Counts
    stable: Counts
    allowance: float
    lower: float
    """The one-sided lower bound of canary - stable at `confidence` (0.02 is 2 percentage points)."""
    upper: float
    """The one-sided upper bound of canary - stable at `confidence`."""
    confidence: float

    @property
    def difference(self) -> float:
        """Canary error rate minus stable error rate, as observed."""
        return self.canary.rate - self.stable.rate

    def describe(self) -> str:
        """e.g. `errors: canary 4 of 100 (4.00%), stable 1 of 100 (1.00%): +3.00 pts over stable, allowed +0.00
        pts; at 0.95 confidence between -1.01 and +7.68 pts, which holds the allowance: not enough requests to tell
        yet`."""
        return (
            f"errors: canary {self.canary.describe()}, stable {self.stable.describe()}: "
            f"{_pts(self.difference)} pts over stable, allowed +{self.allowance * 100:.2f} pts; "
            f"at {self.confidence:g} confidence between {_pts(self.lower)} and {_pts(self.upper)} pts, "
            f"{_VERDICT_TEXT[self.excess]}"
        )


def _pts(fraction: float) -> str:
    return f"{fraction * 100:+.2f}"


def critical_z(confidence: float) -> float:
    """The one-sided critical value: 1.645 at 0.95, 2.326 at 0.99."""
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    return NormalDist().inv_cdf(confidence)


def wilson(side: Counts, z: float) -> tuple[float, float]:
    """The Wilson score bounds (lower, upper) of one side's error rate, each one-sided at the z given; the side
    must have requests."""
    if side.requests <= 0:
        raise ValueError(f"an interval needs requests > 0, got {side.errors}/{side.requests}")
    n, p = side.requests, side.rate
    spread = z * z / n
    centre = (p + spread / 2) / (1 + spread)
    half = z * math.sqrt(p * (1 - p) / n + spread / (4 * n)) / (1 + spread)
    return max(0.0, centre - half), min(1.0, centre + half)


def compare_error_rates(canary: Counts, stable: Counts, *, allowance: float, confidence: float) -> Comparison:
    """Apply the rule in the module docstring."""
    if allowance < 0:
        raise ValueError(f"the allowance cannot be negative, got {allowance}")
    z = critical_z(confidence)
    (c_low, c_high), (s_low, s_high) = wilson(canary, z), wilson(stable, z)
    difference = canary.rate - stable.rate
    lower = difference - math.hypot(canary.rate - c_low, s_high - stable.rate)
    upper = difference + math.hypot(c_high - canary.rate, stable.rate - s_low)
    if lower > allowance:
        excess = Excess.ABOVE
    elif upper <= allowance:
        excess = Excess.WITHIN
    else:
        excess = Excess.UNSURE
    return Comparison(
        excess=excess,
        canary=canary,
        stable=stable,
        allowance=allowance,
        lower=lower,
        upper=upper,
        confidence=confidence,
    )
