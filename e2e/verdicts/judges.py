"""The judges under test, each behind the same small seam: the checks it can be tuned to, and the measurement it
would take of a simulated release at one moment.

Why a seam: the lab compares judges on the same traffic, and a judge here is two things that change together, the
readings (which Prometheus answers it asks for) and the check (its thresholds). The verdict itself always comes
from graygate's own `judge_prometheus`, never from a copy of it.

    today   sliding-window `increase()` readings from the destination side (domain/analysis/promql.py), judged by
            the Newcombe interval (requestSuccessRate maxIncreasePoints) or the p99 ratio (requestDuration maxRatio)
    new     counts since the step began (see `NewJudge`)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from e2e.verdicts.prometheus_answers import Series, histogram_quantile, since
from e2e.verdicts.simulate import BUCKETS, CANARY, REQUESTS, STABLE, Traffic
from graygate.api.gates.prometheus import Prometheus
from graygate.domain.analysis.prometheus import PrometheusMeasurement, QueryReading, SeriesValue

__all__ = ["EPOCH", "Judge", "Metric", "NewJudge", "TodayJudge", "Tuning"]

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
GATE = "verdict-lab"
Metric = Literal["errors", "latency"]


@dataclass(frozen=True, slots=True)
class Tuning:
    """The settings shared by both judges; only the confidence is searched."""

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

    def measure(self, traffic: Traffic, metric: Metric, at_ms: int, step_start_ms: int) -> PrometheusMeasurement:
        """What the gate would observe at `at_ms` (ms since the release began) in a step that began at
        `step_start_ms`."""
        ...


def _selector(reporter: str, workload: str) -> str:
    return f'reporter="{reporter}", destination_workload_namespace="shop", destination_workload="{workload}"'


def _requests(window: str, workload: str) -> str:
    return f"istio_requests_total{{{_selector('destination', workload)}}}[{window}]"


def _quantile_query(q: float, window: str, workload: str) -> str:
    buckets = f"{BUCKETS}{{{_selector('destination', workload)}}}[{window}]"
    return f"histogram_quantile({q:g}, sum by (le) (rate({buckets})))"


def _codes(values: Mapping[str, float]) -> tuple[SeriesValue, ...]:
    return tuple(SeriesValue(labels=(("response_code", code),), value=v) for code, v in sorted(values.items()))


def _increases(group: Mapping[str, Series], at_ms: int, range_ms: int) -> dict[str, float]:
    """`increase(x[range])` per series, the series Prometheus leaves out (fewer than two samples) left out."""
    found = {key: series.increase(at_ms, range_ms) for key, series in group.items()}
    return {key: value for key, value in found.items() if value is not None}


def _since(group: Mapping[str, Series], start_ms: int, at_ms: int) -> dict[str, float]:
    found = {key: since(series, start_ms, at_ms) for key, series in group.items()}
    return {key: value for key, value in found.items() if value is not None}


def _failed(queries: Mapping[str, str], observed_at: datetime) -> PrometheusMeasurement:
    why = "Prometheus answered 503 Service Unavailable"
    readings = {role: QueryReading(query=query, error=why) for role, query in queries.items()}
    return PrometheusMeasurement(gate=GATE, observed_at=observed_at, window="", **readings)  # type: ignore[arg-type]


class TodayJudge:
    """The judge on main before the sequential test: a window of `increase()` answers, checked every second."""

    name = "today"

    def __init__(self, tuning: Tuning) -> None:
        self.tuning = tuning
        self._window = f"{tuning.window_s}s"
        w = self._window
        sides = (("canary", CANARY), ("stable", STABLE))
        self._errors = {side: f"sum by (response_code) (increase({_requests(w, wl)}))" for side, wl in sides}
        self._latency = {side: _quantile_query(tuning.quantile, w, wl) for side, wl in sides}
        self._requests = {f"{side}_requests": f"sum(increase({_requests(w, wl)}))" for side, wl in sides}

    def check(self, metric: Metric, confidence: float) -> Prometheus:
        t = self.tuning
        if metric == "errors":
            rule = {
                "maxIncreasePoints": t.max_increase_points,
                "confidence": confidence,
                "minRequests": t.min_requests,
            }
            return Prometheus.model_validate({"window": self._window, "requestSuccessRate": rule})
        rule = {"quantile": t.quantile, "maxRatio": t.max_ratio, "minRequests": t.min_requests}
        return Prometheus.model_validate({"window": self._window, "requestDuration": rule})

    def measure(self, traffic: Traffic, metric: Metric, at_ms: int, step_start_ms: int) -> PrometheusMeasurement:
        observed_at = EPOCH + timedelta(milliseconds=at_ms)
        range_ms = self.tuning.window_s * 1000
        if metric == "errors":
            if traffic.queries_fail(at_ms):
                return _failed(self._errors, observed_at)
            readings = {
                side: QueryReading(
                    query=self._errors[side],
                    series=_codes(
                        _increases(traffic.scraped.group(REQUESTS, "destination", workload), at_ms, range_ms)
                    ),
                )
                for side, workload in (("canary", CANARY), ("stable", STABLE))
            }
            return PrometheusMeasurement(
                gate=GATE,
                observed_at=observed_at,
                window=self._window,
                canary=readings["canary"],
                stable=readings["stable"],
            )
        if traffic.queries_fail(at_ms):
            return _failed({**self._latency, **self._requests}, observed_at)
        sides: dict[str, QueryReading] = {}
        for side, workload in (("canary", CANARY), ("stable", STABLE)):
            buckets = _increases(traffic.scraped.group(BUCKETS, "destination", workload), at_ms, range_ms)
            quantile = _quantile(self.tuning.quantile, buckets, self.tuning.window_s)
            sides[side] = QueryReading(query=self._latency[side], series=quantile)
            counts = _increases(traffic.scraped.group(REQUESTS, "destination", workload), at_ms, range_ms)
            total = (SeriesValue(value=math.fsum(counts.values())),) if counts else ()
            sides[f"{side}_requests"] = QueryReading(query=self._requests[f"{side}_requests"], series=total)
        return PrometheusMeasurement(gate=GATE, observed_at=observed_at, window=self._window, **sides)  # type: ignore[arg-type]


def _quantile(q: float, increases: Mapping[str, float], window_s: int) -> tuple[SeriesValue, ...]:
    """`histogram_quantile(q, sum by (le) (rate(...)))`: no bucket series gives an empty vector."""
    if not increases:
        return ()
    rates = {math.inf if le == "+Inf" else float(le): value / window_s for le, value in increases.items()}
    return (SeriesValue(value=histogram_quantile(q, rates)),)


class NewJudge:
    """UNFINISHED until graygate/domain/analysis/sequential.py lands on main: the sequential judge's readings.

    Planned: for requestSuccessRate, `canary`/`stable` = caller-side (reporter="source") counts by response_code
    since the step began (the raw counter's difference, a new series from zero); `canary_served`/`stable_served` =
    destination-side totals since the step began; `canary_recent` = caller-side counts over the last window. The
    readings are computed here already; `measure` hands them to `PrometheusMeasurement` once it has the fields.
    """

    name = "new"
    ready = False
    """Set once `measure` is wired to the sequential judge's measurement fields."""

    def __init__(self, tuning: Tuning) -> None:
        self.tuning = tuning
        self._today = TodayJudge(tuning)

    def check(self, metric: Metric, confidence: float) -> Prometheus:
        return self._today.check(metric, confidence)

    def readings(self, traffic: Traffic, at_ms: int, step_start_ms: int) -> dict[str, QueryReading]:
        """Every reading the sequential judge is planned to take, by measurement field."""
        range_ms = self.tuning.window_s * 1000
        out: dict[str, QueryReading] = {}
        for side, workload in (("canary", CANARY), ("stable", STABLE)):
            caller = traffic.scraped.group(REQUESTS, "source", workload)
            served = traffic.scraped.group(REQUESTS, "destination", workload)
            out[side] = QueryReading(
                query=_since_query("source", workload, step_start_ms, by_code=True),
                series=_codes(_since(caller, step_start_ms, at_ms)),
            )
            total = _since(served, step_start_ms, at_ms)
            out[f"{side}_served"] = QueryReading(
                query=_since_query("destination", workload, step_start_ms, by_code=False),
                series=(SeriesValue(value=math.fsum(total.values())),) if total else (),
            )
            if side == "canary":
                out["canary_recent"] = QueryReading(
                    query=f"sum by (response_code) (increase(istio_requests_total{{{_selector('source', workload)}}}"
                    f"[{self.tuning.window_s}s]))",
                    series=_codes(_increases(caller, at_ms, range_ms)),
                )
        return out

    def measure(self, traffic: Traffic, metric: Metric, at_ms: int, step_start_ms: int) -> PrometheusMeasurement:
        raise NotImplementedError("the sequential judge has not landed on main yet")


def _since_query(reporter: str, workload: str, start_ms: int, *, by_code: bool) -> str:
    """The PromQL that answers the raw difference since the step began; `or ... * 0` counts a series absent
    then from zero."""
    selector = f"istio_requests_total{{{_selector(reporter, workload)}}}"
    start = (EPOCH + timedelta(milliseconds=start_ms)).timestamp()
    difference = f"{selector} - ({selector} @ {start:.3f} or {selector} * 0)"
    return f"sum by (response_code) ({difference})" if by_code else f"sum({difference})"
