"""The `routingCheck` judge: did the mesh route as the VirtualService says?

Why a binomial tolerance: at weight w each uncoloured request reaches the canary with probability w/100, so the
count of n is Binomial(n, w/100). Demanding the exact share would fail a healthy mesh by chance; the judge accepts a
count within `tolerance` standard deviations of n·w/100 (plus one request, so tiny samples are not judged on
rounding). At 0 % and 100 % there is no chance involved: none, respectively all, must reach the canary. Coloured
requests are never a matter of chance either: every one must reach the canary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from graygate.api.gates import GateCheck
from graygate.api.gates.routing_check import RoutingCheck
from graygate.api.status import Outcome
from graygate.domain.analysis.measurements import Measurement, checked
from graygate.domain.analysis.verdicts import Verdict, VerdictFor

__all__ = ["RoutingCheckMeasurement", "judge_routing_check", "plausible_range"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingCheckMeasurement(Measurement):
    """One `routingCheck`: which version answered each coloured and each uncoloured request sent through `url`.

    `colored` and `uncolored` hold one entry per request: the value of the version header, "" when the answer had
    none, None when no answer came (`failure` then keeps the first reason). `error` is set, and nothing was sent,
    when the check could not run at all.
    """

    kind: ClassVar[str] = "routingCheck"

    url: str
    colored: tuple[str | None, ...] = ()
    uncolored: tuple[str | None, ...] = ()
    failure: str | None = None

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        return judge_routing_check(checked(check, RoutingCheck, self), self, weight)

    @classmethod
    def unmeasured(cls, gate: str, check: GateCheck, now: datetime, why: str) -> Self:
        url = check.url if isinstance(check, RoutingCheck) else ""
        return cls(gate=gate, observed_at=now, url=url, error=why)


def plausible_range(requests: int, weight: int, tolerance: float) -> tuple[int, int]:
    """The canary counts of `requests` uncoloured requests that are plausible at `weight` %."""
    if weight <= 0:
        return 0, 0
    if weight >= 100:
        return requests, requests
    p = weight / 100
    expected = requests * p
    slack = tolerance * math.sqrt(requests * p * (1 - p)) + 1
    return max(0, math.ceil(expected - slack)), min(requests, math.floor(expected + slack))


def judge_routing_check(check: RoutingCheck, seen: RoutingCheckMeasurement, weight: int | None) -> Verdict:
    """Pass when every coloured request reached the canary and the uncoloured ones' canary count is plausible at
    `weight` (None: unknown, then the uncoloured split cannot be judged and the verdict is Inconclusive)."""
    inputs = {"url": seen.url, "versionHeader": check.version_header, "canaryValue": check.canary_value}

    verdict = VerdictFor(seen.gate, seen.kind, seen.observed_at, inputs)

    if seen.error is not None:
        return verdict(Outcome.ERROR, f"the routing check could not run: {seen.error}")
    answers = (*seen.colored, *seen.uncolored)
    if unanswered := sum(answer is None for answer in answers):
        why = f": {seen.failure}" if seen.failure else ""
        return verdict(Outcome.FAIL, f"{unanswered} of {len(answers)} requests through {seen.url} got no answer{why}")
    if unnamed := sum(answer == "" for answer in answers):
        return verdict(
            Outcome.FAIL,
            f"{unnamed} of {len(answers)} answers carried no {check.version_header} header: their version is unknown",
        )
    colored = sum(answer == check.canary_value for answer in seen.colored)
    if colored != len(seen.colored):
        others = sorted({str(answer) for answer in seen.colored if answer != check.canary_value})
        return verdict(
            Outcome.FAIL,
            f"only {colored} of {len(seen.colored)} coloured requests reached the canary "
            f"(others: {', '.join(others)}); the header route is not in effect",
            f"{colored}/{len(seen.colored)}",
            f"{len(seen.colored)}/{len(seen.colored)}",
        )
    summary = f"{colored}/{len(seen.colored)} coloured requests reached the canary"
    if not seen.uncolored:
        return verdict(Outcome.PASS, summary, f"{colored}/{len(seen.colored)}")
    if weight is None:
        return verdict(Outcome.INCONCLUSIVE, f"{summary}; the canary weight is unknown, so the rest cannot be judged")
    canary = sum(answer == check.canary_value for answer in seen.uncolored)
    total = len(seen.uncolored)
    low, high = plausible_range(total, weight, check.tolerance)
    value = f"{canary}/{total} uncoloured to the canary"
    threshold = f"{low}..{high} at weight {weight}%"
    if not low <= canary <= high:
        return verdict(
            Outcome.FAIL,
            f"{summary}, but {canary} of {total} uncoloured ones did, outside {threshold}: "
            "the weights are not in effect",
            value,
            threshold,
        )
    return verdict(Outcome.PASS, f"{summary}; {canary}/{total} uncoloured ones ({threshold})", value, threshold)
