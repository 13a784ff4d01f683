"""The judges under test, each behind the same small seam: the check it is tuned to, and what it would measure of
a simulated release at one moment, ready to be judged under any check.

Why a seam: the lab compares judges on the same traffic, and a judge here is two things that change together, the
readings (which Prometheus answers it asks for) and the rules. The rules are always graygate's own, never a
re-implementation:

    today   the judge as it was before the sequential test (`judge_before`, a kept copy of graygate 54cfd2b):
            sliding-window `increase()` answers from the pods' side (reporter="destination"), the Newcombe
            interval for `maxIncreasePoints`, `histogram_quantile` ratios for `maxRatio`
    new     main's `judge_prometheus`: counts since the step began (`clamp_min(x - x offset span, 0) or x`), the
            callers' side (reporter="source") for the success rate with the pods' side for what they served, the
            anytime-valid test of `analysis.sequential`, and latency on bucket counts
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from e2e.verdicts.judge_before import WindowMeasurement, judge_before
from e2e.verdicts.prometheus_answers import Series, histogram_quantile, since, span_ms
from e2e.verdicts.simulate import BUCKETS, CANARY, REQUESTS, STABLE, Traffic
from graygate.api.gates.prometheus import Prometheus
from graygate.domain.analysis.prometheus import PrometheusMeasurement, judge_prometheus
from graygate.domain.analysis.readings import QueryReading, SeriesValue
from graygate.domain.analysis.verdicts import Verdict

__all__ = ["EPOCH", "Judge", "Judged", "Metric", "NewJudge", "TodayJudge", "Tuning"]

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
GATE = "verdict-lab"
OUTAGE = "Prometheus answered 503 Service Unavailable"
SIDES = (("canary", CANARY), ("stable", STABLE))
Metric = Literal["errors", "latency"]
Judged = Callable[[Prometheus], Verdict]
"""One moment's measurement, judged under a check."""


@dataclass(frozen=True, slots=True)
class Tuning:
    """The settings both judges share; the confidence is what calibration searches."""

    max_increase_points: float = 1.0
    min_requests: int = 100
    window_s: int = 60
    max_ratio: float = 1.1
    quantile: float = 0.99


class Judge(Protocol):
    """What the lab needs of a judge."""

    name: str

    def check(self, metric: Metric, confidence: float) -> Prometheus:
        """The gate's check at this confidence."""
        ...

    def measured(self, traffic: Traffic, metric: Metric, at_ms: int, step_start_ms: int) -> Judged:
        """What the gate would observe at `at_ms` (ms since the release began) in a step that began at
        `step_start_ms`, as a function of the check to judge it by."""
        ...


def _check(tuning: Tuning, metric: Metric, confidence: float) -> Prometheus:
    window = f"{tuning.window_s}s"
    if metric == "errors":
        rule: dict[str, object] = {
            "maxIncreasePoints": tuning.max_increase_points,
            "confidence": confidence,
            "minRequests": tuning.min_requests,
        }
        return Prometheus.model_validate({"window": window, "requestSuccessRate": rule})
    rule = {
        "quantile": tuning.quantile,
        "maxRatio": tuning.max_ratio,
        "minRequests": tuning.min_requests,
        "confidence": confidence,  # the new judge's latency test; the judge before ignores it
    }
    return Prometheus.model_validate({"window": window, "requestDuration": rule})


def _selector(reporter: str, workload: str) -> str:
    return f'reporter="{reporter}", destination_workload_namespace="shop", destination_workload="{workload}"'


def _codes(values: Mapping[str, float], label: str = "response_code") -> tuple[SeriesValue, ...]:
    return tuple(SeriesValue(labels=((label, key),), value=v) for key, v in sorted(values.items()))


def _total(values: Mapping[str, float]) -> tuple[SeriesValue, ...]:
    """`sum(...)`: one series, or none when nothing matched."""
    return (SeriesValue(value=math.fsum(values.values())),) if values else ()


def _increases(group: Mapping[str, Series], at_ms: int, range_ms: int) -> dict[str, float]:
    """`increase(x[range])` per series, the series Prometheus leaves out (fewer than two samples) left out."""
    found = {key: series.increase(at_ms, range_ms) for key, series in group.items()}
    return {key: value for key, value in found.items() if value is not None}


def _since(group: Mapping[str, Series], start_ms: int, at_ms: int) -> dict[str, float]:
    found = {key: since(series, start_ms, at_ms) for key, series in group.items()}
    return {key: value for key, value in found.items() if value is not None}


class TodayJudge:
    """The judge before the sequential test: a window of `increase()` answers, checked every second."""

    name = "today"

    def __init__(self, tuning: Tuning) -> None:
        self.tuning = tuning
        self._window = f"{tuning.window_s}s"
        w = self._window

        def requests(workload: str) -> str:
            return f"istio_requests_total{{{_selector('destination', workload)}}}[{w}]"

        def quantile(workload: str) -> str:
            buckets = f"{BUCKETS}{{{_selector('destination', workload)}}}[{w}]"
            return f"histogram_quantile({tuning.quantile:g}, sum by (le) (rate({buckets})))"

        self._errors = {side: f"sum by (response_code) (increase({requests(wl)}))" for side, wl in SIDES}
        self._latency = {side: quantile(wl) for side, wl in SIDES}
        self._requests = {f"{side}_requests": f"sum(increase({requests(wl)}))" for side, wl in SIDES}

    def check(self, metric: Metric, confidence: float) -> Prometheus:
        return _check(self.tuning, metric, confidence)

    def measured(self, traffic: Traffic, metric: Metric, at_ms: int, step_start_ms: int) -> Judged:
        seen = self.measure(traffic, metric, at_ms)
        return lambda check: judge_before(check, seen)

    def measure(self, traffic: Traffic, metric: Metric, at_ms: int) -> WindowMeasurement:
        observed_at = EPOCH + timedelta(milliseconds=at_ms)
        range_ms = self.tuning.window_s * 1000
        queries = self._errors if metric == "errors" else {**self._latency, **self._requests}
        if traffic.queries_fail(at_ms):
            failed = {role: QueryReading(query=query, error=OUTAGE) for role, query in queries.items()}
            return WindowMeasurement(gate=GATE, observed_at=observed_at, **failed)  # type: ignore[arg-type]
        readings: dict[str, QueryReading] = {}
        for side, workload in SIDES:
            counts = _increases(traffic.scraped.group(REQUESTS, "destination", workload), at_ms, range_ms)
            if metric == "errors":
                readings[side] = QueryReading(query=queries[side], series=_codes(counts))
                continue
            buckets = _increases(traffic.scraped.group(BUCKETS, "destination", workload), at_ms, range_ms)
            value = _quantile(self.tuning.quantile, buckets, self.tuning.window_s)
            readings[side] = QueryReading(query=queries[side], series=value)
            readings[f"{side}_requests"] = QueryReading(query=queries[f"{side}_requests"], series=_total(counts))
        return WindowMeasurement(gate=GATE, observed_at=observed_at, window=self._window, **readings)  # type: ignore[arg-type]


def _quantile(q: float, increases: Mapping[str, float], window_s: int) -> tuple[SeriesValue, ...]:
    """`histogram_quantile(q, sum by (le) (rate(...)))`: no bucket series gives an empty vector."""
    if not increases:
        return ()
    rates = {math.inf if le == "+Inf" else float(le): value / window_s for le, value in increases.items()}
    return (SeriesValue(value=histogram_quantile(q, rates)),)


class NewJudge:
    """Main's judge, with the readings its measurement documents (`PrometheusMeasurement`, `analysis.promql`)."""

    name = "new"

    def __init__(self, tuning: Tuning) -> None:
        self.tuning = tuning
        self._window = f"{tuning.window_s}s"

    def check(self, metric: Metric, confidence: float) -> Prometheus:
        return _check(self.tuning, metric, confidence)

    def measured(self, traffic: Traffic, metric: Metric, at_ms: int, step_start_ms: int) -> Judged:
        seen = self.measure(traffic, metric, at_ms, step_start_ms)
        weight = traffic.scenario.weight_at(at_ms / 1000)
        return lambda check: judge_prometheus(check, seen, weight)

    def measure(self, traffic: Traffic, metric: Metric, at_ms: int, step_start_ms: int) -> PrometheusMeasurement:
        observed_at = EPOCH + timedelta(milliseconds=at_ms)
        span = span_ms(step_start_ms, at_ms)
        readings = self.readings(traffic, metric, at_ms, at_ms - span)
        if traffic.queries_fail(at_ms):
            readings = {role: QueryReading(query=r.query, error=OUTAGE) for role, r in readings.items()}
        return PrometheusMeasurement(
            gate=GATE,
            observed_at=observed_at,
            window=self._window,
            span=f"{span // 1000}s",
            **readings,  # type: ignore[arg-type]
        )

    def readings(self, traffic: Traffic, metric: Metric, at_ms: int, start_ms: int) -> dict[str, QueryReading]:
        """Every reading the new judge takes for `metric`, by measurement field, counting from `start_ms`."""
        offset = f"{(at_ms - start_ms) // 1000}s"
        out: dict[str, QueryReading] = {}
        for side, workload in SIDES:
            if metric == "latency":
                buckets = _since(traffic.scraped.group(BUCKETS, "destination", workload), start_ms, at_ms)
                out[side] = QueryReading(
                    query=_since_query("sum by (le)", BUCKETS, "destination", workload, offset),
                    series=_codes(buckets, "le"),
                )
                continue
            callers = traffic.scraped.group(REQUESTS, "source", workload)
            served = traffic.scraped.group(REQUESTS, "destination", workload)
            out[side] = QueryReading(
                query=_since_query("sum by (response_code)", REQUESTS, "source", workload, offset),
                series=_codes(_since(callers, start_ms, at_ms)),
            )
            out[f"{side}_served"] = QueryReading(
                query=_since_query("sum", REQUESTS, "destination", workload, offset),
                series=_total(_since(served, start_ms, at_ms)),
            )
            out[f"{side}_recent"] = QueryReading(
                query=f"sum by (response_code) (increase({REQUESTS}{{{_selector('source', workload)}}}"
                f"[{self._window}]))",
                series=_codes(_increases(callers, at_ms, self.tuning.window_s * 1000)),
            )
        return out


def _since_query(by: str, metric: str, reporter: str, workload: str, offset: str) -> str:
    """The query of `analysis.promql` for counts since the step began."""
    x = f"{metric}{{{_selector(reporter, workload)}}}"
    return f"{by} (clamp_min({x} - {x} offset {offset}, 0) or {x})"
