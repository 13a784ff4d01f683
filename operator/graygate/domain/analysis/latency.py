"""The `requestDuration` rules of the `prometheus` gate, on histogram bucket counts rather than quantiles.

Why buckets: Prometheus keeps a latency histogram as counts of requests at or under each bucket bound, and
`histogram_quantile` interpolates linearly inside a bucket, so with Istio's default bounds (…, 25, 50, 100,
250 ms) a canary 20 % slower than a 50 ms stable can read as nearly twice as slow. The counts themselves say only
which bucket a quantile lies in; these rules never claim more than that, and every verdict names the bucket.

For the quantile q and a limit L in milliseconds (`max`, or `maxRatio` times the upper bound of the stable's
quantile bucket), with B the first bucket bound at or above L:

    Fail          the share of canary requests slower than B is surely above 1 - q: its anytime-valid lower
                  bound (`sequential.bounds`, at alpha = 1 - confidence) exceeds 1 - q, so the canary's quantile is
                  above B ≥ L
    Pass          the canary's quantile bucket ends at or under L (as observed: a point estimate at the buckets'
                  resolution, as an interpolated quantile was)
    Inconclusive  the quantile's bucket straddles L: no number of requests can place it (the limit is not a
                  bucket bound)
    Waiting       otherwise: the quantile is in a bucket above L, not surely yet

The alpha covers the canary's side only: for `maxRatio` the limit comes from the stable's observed bucket.

Counts are those since the step began (`analysis.promql`), so a `Waiting` check gets more requests at every
analysis. Too few canary requests (`minRequests`) wait too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from graygate.api.gates.prometheus import RequestDuration
from graygate.api.status import Outcome
from graygate.domain.analysis.readings import Part, QueryReading, Reader
from graygate.domain.analysis.sequential import Counts, bounds

__all__ = ["Histogram", "judge_duration"]


@dataclass(frozen=True, slots=True)
class Histogram:
    """Cumulative bucket counts: `counts[i]` requests took at most `bounds[i]` ms (the last bound may be inf)."""

    bounds: tuple[float, ...]
    counts: tuple[float, ...]

    @classmethod
    def of(cls, reading: QueryReading | None) -> Histogram | None:
        """From a `sum by (le)` reading; None when it found nothing. Counts are made non-decreasing."""
        by_le = Reader.by_label(reading, "le")
        if not by_le:
            return None
        pairs = sorted((bound, value) for le, value in by_le.items() if (bound := _bound(le)) is not None)
        if not pairs:
            return None
        counts: list[float] = []
        for _, value in pairs:
            counts.append(max(value, counts[-1] if counts else 0.0, 0.0))
        return cls(tuple(bound for bound, _ in pairs), tuple(counts))

    @property
    def total(self) -> float:
        return self.counts[-1]

    def bucket(self, quantile: float) -> tuple[float, float]:
        """The bucket (lower, upper] holding the quantile."""
        rank = quantile * self.total
        for index, count in enumerate(self.counts):
            if count >= rank:
                return (self.bounds[index - 1] if index else 0.0), self.bounds[index]
        return self.bounds[-2] if len(self.bounds) > 1 else 0.0, math.inf

    def slower_than(self, bound: float) -> Counts:
        """Requests slower than `bound` (a bucket bound) out of all."""
        at_most = next(count for b, count in zip(self.bounds, self.counts, strict=True) if b >= bound)
        return Counts(max(0.0, self.total - at_most), self.total)

    def bound_at_or_above(self, limit: float) -> float | None:
        """The first finite bucket bound at or above `limit`, if any."""
        return next((b for b in self.bounds if b >= limit and math.isfinite(b)), None)


def _bound(le: str) -> float | None:
    """A bucket's `le` as a number (`+Inf` included); None for one that is not."""
    try:
        return float(le)
    except ValueError:
        return None


def _ms(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return f"{value:g}ms"


def _bucket(edges: tuple[float, float]) -> str:
    return f"({_ms(edges[0])}, {_ms(edges[1])}]"


def judge_duration(
    rule: RequestDuration, step: Reader, readings: dict[str, QueryReading | None]
) -> tuple[list[Part], str]:
    """The parts and the shown value of one `requestDuration` check (see the module docstring)."""
    label = f"p{rule.quantile * 100:g}"
    alpha = round(1 - rule.confidence, 6)
    canary = Histogram.of(readings["canary"])
    if canary is None:
        return [step.no_data("canary").part], ""
    edges = canary.bucket(rule.quantile)
    shown = [f"canary {label} in {_bucket(edges)} of {canary.total:.0f} requests {step.within}"]
    if canary.total < rule.min_requests:
        why = f"the canary served {canary.total:.0f} requests {step.within}, fewer than minRequests {rule.min_requests}"
        return [Part(Outcome.WAITING, why)], shown[0]
    parts: list[Part] = []
    if rule.max is not None:
        limit = rule.max.total_seconds() * 1000
        parts.append(_against(canary, rule.quantile, limit, alpha, f"max {_ms(limit)}", label))
    if rule.max_ratio is not None:
        stable = Histogram.of(readings["stable"])
        if stable is None:
            parts.append(step.no_data("stable").part)
        elif stable.total < rule.min_requests:
            served = f"the stable served {stable.total:.0f} requests {step.within}"
            why = f"{served}, fewer than minRequests {rule.min_requests}"
            parts.append(Part(Outcome.WAITING, why))
        else:
            stable_edges = stable.bucket(rule.quantile)
            shown.append(f"stable {label} in {_bucket(stable_edges)} of {stable.total:.0f} requests")
            limit = rule.max_ratio * stable_edges[1]
            what = f"{rule.max_ratio:g}x the stable's {label} bucket bound {_ms(stable_edges[1])} = {_ms(limit)}"
            parts.append(_against(canary, rule.quantile, limit, alpha, what, label))
    return parts, ", ".join(shown)


def _against(canary: Histogram, quantile: float, limit: float, alpha: float, what: str, label: str) -> Part:
    tail = 1 - quantile
    low, high = canary.bucket(quantile)
    evidence = {
        "canaryBucket": _bucket((low, high)),
        "resolution": f"bucket {_bucket((low, high))}",
        "alpha": f"{alpha:g}",
    }
    bound = canary.bound_at_or_above(limit)
    if math.isinf(limit):
        return Part(Outcome.WAITING, f"the stable's {label} is in the +Inf bucket: no limit can be taken", evidence)
    if bound is not None:
        slower = canary.slower_than(bound)
        lowest, _ = bounds(slower, alpha)
        evidence |= {
            "slower": f"{slower.errors:.0f} of {slower.requests:.0f} over {_ms(bound)}",
            "bound": f">= {100 * lowest:.2f}%",
        }
        if lowest > tail:
            why = (
                f"canary {label} is above {what}: {slower.describe()} of its requests took over {_ms(bound)}, at "
                f"least {100 * lowest:.2f}% at alpha {alpha:g}, more than {100 * tail:g}%"
            )
            return Part(Outcome.FAIL, why, evidence)
    if high <= limit:
        return Part(Outcome.PASS, f"canary {label} is in {_bucket((low, high))}, within {what}", evidence)
    if bound is not None and low < bound:
        # the quantile's bucket straddles the limit: no number of requests can place it on either side
        why = (
            f"canary {label} is in {_bucket((low, high))}, which straddles {what}: the buckets cannot tell "
            "(add a bucket bound at the limit, or choose a limit at a bound)"
        )
        return Part(Outcome.INCONCLUSIVE, why, evidence)
    why = f"canary {label} is in {_bucket((low, high))}, over {what} but not surely yet; waiting for more requests"
    return Part(Outcome.WAITING, why, evidence)
