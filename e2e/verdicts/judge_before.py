"""The `prometheus` judge as it was before the sequential test (graygate commit 54cfd2b), kept so the verdict lab
can replay it beside main's sequential judge on the same releases.

Why a copy and not an import: main's `judge_prometheus` now judges counts since the step began; the judge it
replaced, a sliding window of `increase()` answers with Newcombe's interval (`proportions`, moved here with it)
for error rates and interpolated quantiles for latency, exists nowhere else. Its rules are unchanged here,
only its measurement is a local type (the four window-based readings it took), and the custom-query rule, which
the lab does not replay and main keeps, is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from graygate.api.gates.prometheus import NoDataPolicy, Prometheus, RequestDuration, RequestSuccessRate
from graygate.api.status import Outcome
from graygate.domain.analysis.proportions import Excess, compare_error_rates
from graygate.domain.analysis.readings import (
    Part,
    Problem,
    QueryReading,
    Reader,
    millis,
    outcome_of,
    quantile_label,
    ratio,
)
from graygate.domain.analysis.sequential import Counts
from graygate.domain.analysis.verdicts import Verdict, worst

__all__ = ["WindowMeasurement", "judge_before"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowMeasurement:
    """The window-based readings the judge took: counts by response code (`requestSuccessRate`), or quantiles and
    request counts (`requestDuration`), each over the same `window`."""

    kind: ClassVar[str] = "prometheus"

    gate: str
    observed_at: datetime
    error: str | None = None
    window: str = ""
    canary: QueryReading | None = None
    stable: QueryReading | None = None
    canary_requests: QueryReading | None = None
    stable_requests: QueryReading | None = None

    @property
    def readings(self) -> dict[str, QueryReading]:
        roles = {
            "canary": self.canary,
            "stable": self.stable,
            "canaryRequests": self.canary_requests,
            "stableRequests": self.stable_requests,
        }
        return {role: reading for role, reading in roles.items() if reading is not None}


_Show = Callable[[float], str]
_EXCESS = {Excess.ABOVE: Outcome.FAIL, Excess.WITHIN: Outcome.PASS, Excess.UNSURE: Outcome.INCONCLUSIVE}


def judge_before(check: Prometheus, seen: WindowMeasurement) -> Verdict:
    """The sample verdict of one `prometheus` gate (see the module docstring for the order of questions)."""
    query = "\n".join(f"{role}: {reading.query}" for role, reading in seen.readings.items()) or None
    threshold = _thresholds(check)

    def verdict(parts: Sequence[Part], value: str | None) -> Verdict:
        outcome = worst(part.outcome for part in parts)
        reasons = [part.reason for part in parts if part.outcome is outcome or outcome is Outcome.PASS]
        return Verdict(
            gate=seen.gate,
            kind=seen.kind,
            outcome=outcome,
            reason="; ".join(reasons),
            value=value,
            threshold=threshold,
            at=seen.observed_at,
            inputs={"window": seen.window},
            query=query,
        )

    if seen.error is not None:
        return verdict([Part(Outcome.ERROR, f"could not query Prometheus: {seen.error}")], None)
    failed = [f"the {role} query failed: {r.error}" for role, r in seen.readings.items() if r.error is not None]
    if failed or seen.canary is None:
        return verdict([Part(Outcome.ERROR, "; ".join(failed) or "no canary query was sent")], None)
    judged = _Judged(check.on_no_data, seen.window)
    try:
        if check.request_success_rate is not None:
            return verdict(*judged.success_rate(check.request_success_rate, seen.canary, seen.stable))
        if check.request_duration is not None:
            return verdict(*judged.duration(check.request_duration, seen))
    except Problem as problem:
        return verdict([problem.part], None)
    raise ValueError("the verdict lab replays the built-in metrics only, not a custom query")


class _Judged(Reader):
    """The per-metric rules, reading answers as graygate's `Reader` does, over the window."""

    def __init__(self, on_no_data: NoDataPolicy, window: str) -> None:
        super().__init__(on_no_data, f"in the last {window}" if window else "in the window")

    def too_few(self, role: str, requests: float, minimum: int) -> Part:
        return Part(
            Outcome.INCONCLUSIVE,
            f"the {role} served {requests:.0f} requests {self.within}, fewer than minRequests {minimum}",
        )

    def error_rates(self, reading: QueryReading | None, role: str) -> tuple[float, float]:
        """(5xx responses, all responses) from a `sum by (response_code)` reading."""
        if reading is None or not reading.series:
            raise self.no_data(role)
        counted = [(dict(series.labels), series.value) for series in reading.series if not math.isnan(series.value)]
        if not counted:
            raise self.no_data(role)
        total = sum(value for _, value in counted)
        errors = sum(value for labels, value in counted if labels.get("response_code", "").startswith("5"))
        return errors, total

    def success_rate(
        self, rule: RequestSuccessRate, canary: QueryReading, stable: QueryReading | None
    ) -> tuple[list[Part], str]:
        c_errors, c_total = self.error_rates(canary, "canary")
        seen = [_rate_text("canary", c_errors, c_total)]
        if c_total < rule.min_requests:
            return [self.too_few("canary", c_total, rule.min_requests)], seen[0]
        parts: list[Part] = []
        success = 100 * (1 - c_errors / c_total)
        if rule.min is not None:
            ok = success >= rule.min
            relation = "at least" if ok else "below"
            parts.append(Part(outcome_of(ok), f"canary success rate {success:.2f}% is {relation} min {rule.min:g}%"))
        if rule.max_increase_points is not None:
            try:
                s_errors, s_total = self.error_rates(stable, "stable")
            except Problem as problem:
                return [*parts, problem.part], seen[0]
            seen.append(_rate_text("stable", s_errors, s_total))
            if s_total < rule.min_requests:
                parts.append(self.too_few("stable", s_total, rule.min_requests))
            else:
                comparison = compare_error_rates(
                    Counts(c_errors, c_total),
                    Counts(s_errors, s_total),
                    allowance=rule.max_increase_points / 100,
                    confidence=rule.confidence,
                )
                parts.append(Part(_EXCESS[comparison.excess], comparison.describe()))
        return parts, ", ".join(seen)

    def duration(self, rule: RequestDuration, seen: WindowMeasurement) -> tuple[list[Part], str]:
        label = quantile_label(rule.quantile)
        c_requests = self.value(seen.canary_requests, "canary request count")
        if c_requests < rule.min_requests:
            return [self.too_few("canary", c_requests, rule.min_requests)], f"canary {c_requests:.0f} requests"
        c_latency = self.value(seen.canary, f"canary {label}")
        shown = [f"canary {label} {millis(c_latency)} of {c_requests:.0f} requests"]
        parts: list[Part] = []
        if rule.max is not None:
            limit = rule.max.total_seconds() * 1000
            ok = c_latency <= limit
            parts.append(
                Part(
                    outcome_of(ok),
                    f"canary {label} {millis(c_latency)} {'within' if ok else 'over'} max {millis(limit)}",
                )
            )
        if rule.max_ratio is not None:
            try:
                s_requests = self.value(seen.stable_requests, "stable request count")
                if s_requests < rule.min_requests:
                    parts.append(self.too_few("stable", s_requests, rule.min_requests))
                    return parts, ", ".join(shown)
                s_latency = self.value(seen.stable, f"stable {label}")
            except Problem as problem:
                return [*parts, problem.part], ", ".join(shown)
            shown.append(f"stable {label} {millis(s_latency)} of {s_requests:.0f} requests")
            parts.append(ratio(f"canary {label}", c_latency, s_latency, rule.max_ratio, millis))
        return parts, ", ".join(shown)


def _rate_text(role: str, errors: float, total: float) -> str:
    if total <= 0:
        return f"{role} 0 requests"
    return f"{role} {100 * (1 - errors / total):.2f}% success ({errors:.0f} of {total:.0f} failed)"


def _thresholds(check: Prometheus) -> str:
    """Every threshold of the check, as people read them."""
    wanted: list[str] = []
    if (rate := check.request_success_rate) is not None:
        if rate.min is not None:
            wanted.append(f"success >= {rate.min:g}%")
        if rate.max_increase_points is not None:
            wanted.append(f"error rate <= stable + {rate.max_increase_points:g} pts at {rate.confidence:g} confidence")
        wanted.append(f">= {rate.min_requests} requests")
    elif (duration := check.request_duration) is not None:
        label = quantile_label(duration.quantile)
        if duration.max is not None:
            wanted.append(f"{label} <= {millis(duration.max.total_seconds() * 1000)}")
        if duration.max_ratio is not None:
            wanted.append(f"{label} <= {duration.max_ratio:g}x stable")
        wanted.append(f">= {duration.min_requests} requests")
    return ", ".join(wanted)
