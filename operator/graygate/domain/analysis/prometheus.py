"""The `prometheus` gate's judge: query answers in, one sample verdict with its evidence out.

Why the order of questions: a verdict must never blame a release for the plumbing or for too little traffic, and
never call users failing "no data".

1. Could Prometheus be asked at all, and did every query get an answer? If not: `Error` (unreachable, timeout,
   5xx, a query it rejected, an unreadable Secret). Errors are counted apart (`consecutiveErrorLimit`), hold the
   step, and never count as evidence about the canary.
2. Then the metric's own rules: `success_rate` (is the canary's share answered at all; relative, on every request
   since the step began, with an anytime-valid test; absolute over the last window, stable's rate beside it),
   `latency` (on bucket counts, saying the bucket resolution), or a custom query here: one value per side,
   absolute thresholds and a ratio to stable's.
3. A query that finds nothing (no series, an empty vector, NaN) is "no data", judged by `onNoData`.

Each part gives an outcome; the verdict is the worst of them, its reason the worst parts' reasons, its value what
was seen on both sides, its threshold every threshold, its query every resolved query, its evidence the numbers
of the parts that decided, and its harm the first sign of users failing on the canary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from graygate.api.gates import GateCheck
from graygate.api.gates.prometheus import Prometheus, PromQuery
from graygate.api.status import Outcome
from graygate.domain.analysis.latency import judge_duration
from graygate.domain.analysis.measurements import Measurement, checked
from graygate.domain.analysis.readings import (
    Part,
    Problem,
    QueryReading,
    Reader,
    SeriesValue,
    millis,
    number,
    outcome_of,
    quantile_label,
    ratio,
    seconds,
    total,
)
from graygate.domain.analysis.success_rate import judge_success_rate
from graygate.domain.analysis.verdicts import Verdict, worst

__all__ = ["PrometheusMeasurement", "QueryReading", "SeriesValue", "judge_prometheus"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PrometheusMeasurement(Measurement):
    """The queries of one `prometheus` gate, sent together at one instant (roles in `analysis.promql`).

    `requestSuccessRate` fills all six readings: `canary`/`stable` (counts by response code since the step
    began), `canary_served`/`stable_served` (requests the pods served since then) and `canary_recent`/
    `stable_recent` (counts by response code over the last window); `requestDuration` fills `canary`/`stable`
    (histogram bucket counts by `le` since the step began); `query` fills `canary` and, with `stableExpr`,
    `stable`. `error` is set, and no reading, when the gate could not query at all (no address, an unreadable
    Secret, a variable without a value).
    """

    kind: ClassVar[str] = "prometheus"

    window: str = ""
    span: str = ""
    """How far back "since the step began" reached, e.g. `95s`."""
    canary: QueryReading | None = None
    stable: QueryReading | None = None
    canary_served: QueryReading | None = None
    stable_served: QueryReading | None = None
    canary_recent: QueryReading | None = None
    stable_recent: QueryReading | None = None

    @property
    def readings(self) -> dict[str, QueryReading]:
        """The readings that were taken, by role (`canary`, `stable`, `canaryServed`, ...)."""
        roles = {
            "canary": self.canary,
            "stable": self.stable,
            "canaryServed": self.canary_served,
            "stableServed": self.stable_served,
            "canaryRecent": self.canary_recent,
            "stableRecent": self.stable_recent,
        }
        return {role: reading for role, reading in roles.items() if reading is not None}

    def numbers(self) -> Mapping[str, float]:
        return {role: total(reading.series) for role, reading in self.readings.items()}

    def result(self) -> Mapping[str, object] | None:
        """The canary query's instant vector (`series`: `{labels, value}` each, NaN ones left out) and its first
        value (`value`), the same of the stable query (`stableSeries`, `stableValue`, NaN and empty without one);
        None when the canary query found no data, which `onNoData` judges as always."""
        canary = _vector(self.canary)
        if not canary:
            return None
        stable = _vector(self.stable)
        first = stable[0]["value"] if stable else math.nan
        return {"value": canary[0]["value"], "series": canary, "stableValue": first, "stableSeries": stable}

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        return judge_prometheus(checked(check, Prometheus, self), self, weight)


def _vector(reading: QueryReading | None) -> list[dict[str, object]]:
    series = reading.series if reading is not None else ()
    return [{"labels": dict(one.labels), "value": one.value} for one in series if not math.isnan(one.value)]


def judge_prometheus(check: Prometheus, seen: PrometheusMeasurement, weight: int | None = None) -> Verdict:
    """The sample verdict of one `prometheus` gate (see the module docstring for the order of questions), taken
    while the canary had `weight` percent of the traffic (None: unknown)."""
    query = "\n".join(f"{role}: {reading.query}" for role, reading in seen.readings.items()) or None
    threshold = _thresholds(check)

    def verdict(parts: Sequence[Part], value: str | None) -> Verdict:
        outcome = worst(part.outcome for part in parts)
        deciding = [part for part in parts if part.outcome is outcome or outcome is Outcome.PASS]
        evidence: dict[str, str] = {}
        for part in deciding:
            evidence |= part.evidence
        return Verdict(
            gate=seen.gate,
            kind=seen.kind,
            outcome=outcome,
            reason="; ".join(part.reason for part in deciding),
            value=value or None,
            threshold=threshold,
            at=seen.observed_at,
            inputs={"window": seen.window, **({"since": seen.span} if seen.span else {})},
            query=query,
            evidence=evidence,
            harm=next((part.harm for part in parts if part.harm is not None), None),
        )

    if seen.error is not None:
        return verdict([Part(Outcome.ERROR, f"could not query Prometheus: {seen.error}")], None)
    failed = [f"the {role} query failed: {r.error}" for role, r in seen.readings.items() if r.error is not None]
    if failed or seen.canary is None:
        return verdict([Part(Outcome.ERROR, "; ".join(failed) or "no canary query was sent")], None)
    step = Reader(check.on_no_data, f"since the step began ({seen.span})" if seen.span else "in the window")
    recent = Reader(check.on_no_data, f"in the last {seen.window}" if seen.window else "in the window")
    readings: dict[str, QueryReading | None] = {
        "canary": seen.canary,
        "stable": seen.stable,
        "canary_served": seen.canary_served,
        "stable_served": seen.stable_served,
        "canary_recent": seen.canary_recent,
        "stable_recent": seen.stable_recent,
    }
    try:
        if check.request_success_rate is not None:
            settled = seconds(seen.span) >= seconds(seen.window)
            rule = check.request_success_rate
            return verdict(*judge_success_rate(rule, step, recent, readings, weight, settled=settled))
        if check.request_duration is not None:
            return verdict(*judge_duration(check.request_duration, step, readings))
        if check.query is not None:
            return verdict(*_custom(check.query, recent, seen.canary, seen.stable))
    except Problem as problem:
        return verdict([problem.part], None)
    except (ValueError, ArithmeticError) as error:  # an answer shaped unlike the query: an Error, never a raise
        return verdict([Part(Outcome.ERROR, f"could not read Prometheus's answer: {error}")], None)
    raise AssertionError("unreachable: the model requires exactly one metric")  # pragma: no cover


def _custom(
    rule: PromQuery, reader: Reader, canary: QueryReading, stable: QueryReading | None
) -> tuple[list[Part], str]:
    value = reader.value(canary, "canary")
    shown = [f"canary {number(value)}"]
    parts: list[Part] = []
    if rule.min is not None:
        ok = value >= rule.min
        parts.append(
            Part(outcome_of(ok), f"{number(value)} {'is at least' if ok else 'is below'} min {number(rule.min)}")
        )
    if rule.max is not None:
        ok = value <= rule.max
        parts.append(Part(outcome_of(ok), f"{number(value)} {'is within' if ok else 'is over'} max {number(rule.max)}"))
    if rule.max_ratio is not None:
        try:
            reference = reader.value(stable, "stable")
        except Problem as problem:
            return [*parts, problem.part], shown[0]
        shown.append(f"stable {number(reference)}")
        parts.append(ratio("canary", value, reference, rule.max_ratio, number))
    return parts, ", ".join(shown)


def _thresholds(check: Prometheus) -> str:
    """Every threshold of the check, as people read them."""
    wanted: list[str] = []
    if (rate := check.request_success_rate) is not None:
        if rate.min is not None:
            wanted.append(f"success >= {rate.min:g}%")
        if rate.max_increase_points is not None:
            alpha = round(1 - rate.confidence, 6)
            wanted.append(f"error rate <= stable + {rate.max_increase_points:g} pts, anytime-valid at alpha {alpha:g}")
        if rate.min is not None:
            wanted.append(f">= {rate.min_requests} requests for min")
    elif (duration := check.request_duration) is not None:
        label = quantile_label(duration.quantile)
        if duration.max is not None:
            wanted.append(f"{label} <= {millis(duration.max.total_seconds() * 1000)}")
        if duration.max_ratio is not None:
            wanted.append(f"{label} <= {duration.max_ratio:g}x stable")
        wanted.append(f">= {duration.min_requests} requests, at bucket resolution")
    elif (query := check.query) is not None:
        if query.min is not None:
            wanted.append(f">= {number(query.min)}")
        if query.max is not None:
            wanted.append(f"<= {number(query.max)}")
        if query.max_ratio is not None:
            wanted.append(f"<= {query.max_ratio:g}x stable")
    return ", ".join(wanted)
