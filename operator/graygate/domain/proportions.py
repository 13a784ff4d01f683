"""Is the canary's error rate worse than the stable's by more than the allowance, or is that just chance?

Why a test and not a comparison: at 5 % weight a canary serves a few dozen requests per interval, and three
unlucky 503s out of 100 against two out of 100 on stable say nothing about the release. Comparing the two rates
directly would roll back good releases; ignoring small samples would wave bad ones through. So graygate asks the
question statistics answers: one-sided, pooled two-proportion z-test of "canary error rate - stable error rate >
allowance".

The rule (`compare_error_rates`), with c = confidence, d = allowance (maxIncreasePoints / 100):

    p_c = e_c / n_c,  p_s = e_s / n_s                      the two error rates
    p   = (e_c + e_s) / (n_c + n_s)                        pooled rate
    se  = sqrt(p (1 - p) (1/n_c + 1/n_s))                  standard error of the difference
    z   = (p_c - p_s - d) / se                             how many standard errors above the allowance
    z*  = NormalDist().inv_cdf(c)                          1.645 at c = 0.95

    1. ABOVE   when z ≥ z* and the samples hold enough events: the excess is real          → Fail
    2. WITHIN  when p_c - p_s ≤ d: the canary is no worse than allowed                    → Pass
    3. WITHIN  when the samples hold enough events but z < z*: above the allowance by less
               than noise explains, measured on samples large enough to have shown it     → Pass
    4. UNSURE  otherwise: above the allowance, on too few events to tell                   → Inconclusive

"Enough events" is the usual condition for the normal approximation behind a z-test: at least 5 errors and 5
successes in the two samples together (`MIN_EVENTS`). Below it the z-value is unreliable (three errors out of 100
against none out of 100 gives z = 1.74, "significant", while Fisher's exact test puts the chance at 12 %), so it
can neither fail nor clear a canary that looks worse. Pooling the variance with a non-zero allowance is the usual
simplification; it makes the test a little more cautious about failing, which is the side to err on.

Worked example, c = 0.95, d = 0 (no allowance):

    canary 100 errors / 1000, stable 10 / 1000:  p = 0.055, se = 0.0102, z = (0.10 - 0.01) / 0.0102 = 8.8
                                                  ≥ 1.645 → ABOVE (fail)
    canary 30 / 1000, stable 20 / 1000:          p = 0.025, se = 0.0070, z = 1.43 < 1.645, 50 errors → WITHIN
    canary 3 / 100, stable 2 / 100:               5 errors, 195 successes, z = 0.45 → WITHIN (pass)
    canary 3 / 100, stable 0 / 100:               3 errors < 5 → UNSURE (inconclusive)
    canary 10 / 1000, stable 100 / 1000:         the canary is better → WITHIN (pass)

Pure arithmetic on floats (request counts from PromQL `increase()` are extrapolated, so rarely whole numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

__all__ = ["MIN_EVENTS", "Comparison", "ErrorRates", "Excess", "compare_error_rates", "critical_z"]

MIN_EVENTS = 5.0
"""Errors, and successes, the two samples must hold together before the z-test is trusted."""


class Excess(StrEnum):
    """What the test concluded about the canary's error rate against the stable's plus the allowance."""

    ABOVE = "above"
    WITHIN = "within"
    UNSURE = "unsure"


@dataclass(frozen=True, slots=True)
class ErrorRates:
    """Errors out of requests on one side."""

    errors: float
    requests: float

    def __post_init__(self) -> None:
        if not 0 <= self.errors <= self.requests or self.requests <= 0:
            raise ValueError(f"need 0 <= errors <= requests and requests > 0, got {self.errors}/{self.requests}")

    @property
    def rate(self) -> float:
        return self.errors / self.requests


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """The test's result with every number it used, so a verdict can show its working."""

    excess: Excess
    difference: float
    """Canary error rate minus stable error rate (0.02 is 2 percentage points)."""
    allowance: float
    z: float
    """Standard errors by which the difference exceeds the allowance (±inf when the standard error is 0)."""
    critical_z: float
    enough_events: bool

    def describe(self) -> str:
        """e.g. `+2.00 pts over stable, allowed +1.00 pts, z = 0.45 < 1.64`."""
        z = f"{self.z}" if math.isinf(self.z) else f"{self.z:.2f}"
        relation = ">=" if self.z >= self.critical_z else "<"
        return (
            f"{self.difference * 100:+.2f} pts over stable, allowed +{self.allowance * 100:.2f} pts, "
            f"z = {z} {relation} {self.critical_z:.2f}"
        )


def critical_z(confidence: float) -> float:
    """The one-sided critical value: 1.645 at 0.95, 2.326 at 0.99."""
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    return NormalDist().inv_cdf(confidence)


def compare_error_rates(canary: ErrorRates, stable: ErrorRates, *, allowance: float, confidence: float) -> Comparison:
    """Apply the rule in the module docstring."""
    if allowance < 0:
        raise ValueError(f"the allowance cannot be negative, got {allowance}")
    threshold = critical_z(confidence)
    difference = canary.rate - stable.rate
    errors = canary.errors + stable.errors
    requests = canary.requests + stable.requests
    pooled = errors / requests
    enough = errors >= MIN_EVENTS and requests - errors >= MIN_EVENTS
    se = math.sqrt(pooled * (1 - pooled) * (1 / canary.requests + 1 / stable.requests))
    excess = difference - allowance
    z = excess / se if se > 0 else math.copysign(math.inf, excess) if excess else 0.0
    if enough and z >= threshold:
        verdict = Excess.ABOVE
    elif excess <= 0 or enough:
        verdict = Excess.WITHIN
    else:
        verdict = Excess.UNSURE
    return Comparison(
        excess=verdict, difference=difference, allowance=allowance, z=z, critical_z=threshold, enough_events=enough
    )
