"""The prometheus judge: answers from canary and stable in, one verdict with its working out. No Prometheus."""

from __future__ import annotations

import math
from typing import Any

import pytest
from release_builders import T0

from graygate.api import Gate, Outcome, Prometheus
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.prometheus import PrometheusMeasurement, QueryReading, SeriesValue, judge_prometheus

V = Outcome


def codes(ok: float, errors: float = 0, *, code: str = "503") -> QueryReading:
    """A `sum by (response_code)` answer: `ok` 200s and `errors` answers with `code`."""
    series = [SeriesValue(labels=(("response_code", "200"),), value=ok)]
    if errors:
        series.append(SeriesValue(labels=(("response_code", code),), value=errors))
    return QueryReading(query=f"codes {ok}/{errors}", series=tuple(series))


def one(value: float) -> QueryReading:
    return QueryReading(query=f"one {value}", series=(SeriesValue(value=value),))


EMPTY = QueryReading(query="empty")
NAN = one(math.nan)
DOWN = QueryReading(query="down", error="Unreachable: cannot connect to http://prometheus:9090: Connection refused")


def seen(**readings: QueryReading | str | None) -> PrometheusMeasurement:
    error = readings.pop("error", None)
    assert error is None or isinstance(error, str)
    values: dict[str, Any] = readings
    return PrometheusMeasurement(gate="g", observed_at=T0, window="30s", error=error, **values)


def both(canary: QueryReading, stable: QueryReading) -> PrometheusMeasurement:
    return seen(canary=canary, stable=stable)


def rate(**fields: Any) -> Prometheus:
    on_no_data = fields.pop("onNoData", "inconclusive")
    return Prometheus.model_validate({"requestSuccessRate": fields, "onNoData": on_no_data})


@pytest.mark.parametrize(
    ("check", "measurement", "outcome", "reason"),
    [
        (rate(min=99), both(codes(995, 5), codes(990, 10)), V.PASS, "99.50% is at least min 99%"),
        (rate(min=99), both(codes(980, 20), codes(990, 10)), V.FAIL, "98.00% is below min 99%"),
        (rate(min=99), both(codes(900, 100, code="404"), EMPTY), V.PASS, "100.00% is at least"),
        (rate(min=99), both(codes(40), codes(990)), V.INCONCLUSIVE, "served 40 requests in the last 30s, fewer than"),
        (rate(min=99, minRequests=10), both(codes(40), EMPTY), V.PASS, "100.00%"),
        (rate(maxIncreasePoints=0), both(codes(900, 100), codes(990, 10)), V.FAIL, "+9.00 pts over stable"),
        (rate(maxIncreasePoints=0), both(codes(97, 3), codes(98, 2)), V.INCONCLUSIVE, "not enough requests to tell"),
        (rate(maxIncreasePoints=1), both(codes(990, 10), codes(900, 100)), V.PASS, "-9.00 pts over stable"),
        (rate(maxIncreasePoints=0), both(codes(97, 3), codes(100)), V.INCONCLUSIVE, "+3.00 pts over stable"),
        (rate(maxIncreasePoints=2), both(codes(960, 40), codes(980, 20)), V.INCONCLUSIVE, "allowed +2.00 pts"),
        (rate(maxIncreasePoints=4), both(codes(960, 40), codes(980, 20)), V.PASS, "so within the allowance"),
        # a regression hidden by noise: not failed, and not cleared either
        (rate(maxIncreasePoints=0), both(codes(96, 4), codes(99, 1)), V.INCONCLUSIVE, "between -1.01 and +7.68 pts"),
        (rate(maxIncreasePoints=0), both(codes(190, 10), codes(195, 5)), V.INCONCLUSIVE, "canary 10 of 200 (5.00%)"),
        (rate(maxIncreasePoints=0, minRequests=20), both(codes(90, 10), codes(19, 1)), V.INCONCLUSIVE, "-10.12 and"),
        # a healthy canary on a realistic sample, and a real regression
        (rate(maxIncreasePoints=1), both(codes(300), codes(2997, 3)), V.PASS, "between -0.25 and +0.80 pts, so within"),
        (rate(maxIncreasePoints=1), both(codes(270, 30), codes(2990, 10)), V.FAIL, "+7.16 and +12.89 pts, so worse"),
        (rate(maxIncreasePoints=1), both(codes(970, 30), codes(50)), V.INCONCLUSIVE, "stable served 50"),
        (rate(maxIncreasePoints=1), both(codes(970, 30), EMPTY), V.INCONCLUSIVE, "the stable query found no series"),
        (rate(min=99, maxIncreasePoints=5), both(codes(970, 30), codes(980, 20)), V.FAIL, "97.00% is below min 99%"),
        (rate(min=90, maxIncreasePoints=0), both(codes(900, 100), codes(990, 10)), V.FAIL, "between +7.40 and +10.72"),
        (rate(min=99), both(EMPTY, codes(990)), V.INCONCLUSIVE, "no data: the canary query found no series"),
        (rate(min=99, onNoData="fail"), both(EMPTY, codes(990)), V.FAIL, "(onNoData: fail)"),
        (rate(min=99, onNoData="pass"), both(NAN, codes(990)), V.PASS, "(onNoData: pass)"),
        (rate(min=99), both(DOWN, codes(990)), V.ERROR, "the canary query failed: Unreachable"),
        (rate(min=99), both(codes(990), DOWN), V.ERROR, "the stable query failed"),
        (rate(min=99), seen(error="no Prometheus address"), V.ERROR, "could not query Prometheus: no Prometheus"),
    ],
)  # fmt: skip
def test_request_success_rate(
    check: Prometheus, measurement: PrometheusMeasurement, outcome: Outcome, reason: str
) -> None:
    verdict = judge_prometheus(check, measurement)
    assert verdict.outcome is outcome, verdict.reason
    assert reason in verdict.reason
    assert (verdict.gate, verdict.kind, verdict.at, verdict.inputs) == ("g", "prometheus", T0, {"window": "30s"})


def test_a_success_rate_verdict_shows_its_working() -> None:
    check = rate(min=99, maxIncreasePoints=0.5, minRequests=200)
    verdict = judge_prometheus(check, both(codes(970, 30), codes(1990, 10)))
    assert verdict.value == "canary 97.00% success (30 of 1000 failed), stable 99.50% success (10 of 2000 failed)"
    assert verdict.threshold == "success >= 99%, error rate <= stable + 0.5 pts at 0.95 confidence, >= 200 requests"
    assert verdict.query == "canary: codes 970/30\nstable: codes 1990/10"


def duration(**fields: Any) -> Prometheus:
    return Prometheus.model_validate({"requestDuration": fields})


def latency(canary: QueryReading, stable: QueryReading, c_requests: float = 1000, s_requests: float = 1000) -> Any:
    return seen(canary=canary, stable=stable, canary_requests=one(c_requests), stable_requests=one(s_requests))


@pytest.mark.parametrize(
    ("check", "measurement", "outcome", "reason"),
    [
        (duration(max="500ms"), latency(one(412), one(300)), V.PASS, "canary p99 412ms within max 500ms"),
        (duration(max="500ms"), latency(one(612), one(300)), V.FAIL, "canary p99 612ms over max 500ms"),
        (duration(maxRatio=1.2), latency(one(300), one(200)), V.FAIL, "p99 300ms is 1.50x stable's 200ms, over 1.2x"),
        (duration(maxRatio=1.2), latency(one(220), one(200)), V.PASS, "1.10x stable's 200ms, within 1.2x"),
        (duration(maxRatio=1.2, quantile=0.5), latency(one(4.5), one(4)), V.PASS, "canary p50 4.5ms is 1.12x"),
        (duration(max="1s"), latency(one(300), one(200), c_requests=12), V.INCONCLUSIVE, "canary served 12"),
        (duration(maxRatio=2), latency(one(300), one(200), s_requests=12), V.INCONCLUSIVE, "stable served 12"),
        (duration(max="1s"), latency(NAN, one(200)), V.INCONCLUSIVE, "no data: the canary p99 query"),
        (duration(max="1s"), latency(one(300), EMPTY), V.PASS, "within max 1000ms"),
        (duration(maxRatio=2), latency(one(300), EMPTY), V.INCONCLUSIVE, "no data: the stable p99 query"),
        (duration(max="1s"), latency(one(300), one(200), c_requests=math.nan), V.INCONCLUSIVE, "request count"),
        (duration(max="1s"), seen(canary=one(3), canary_requests=DOWN), V.ERROR, "the canaryRequests query failed"),
    ],
)  # fmt: skip
def test_request_duration(check: Prometheus, measurement: PrometheusMeasurement, outcome: Outcome, reason: str) -> None:
    verdict = judge_prometheus(check, measurement)
    assert verdict.outcome is outcome, verdict.reason
    assert reason in verdict.reason


def test_a_duration_verdict_shows_its_working() -> None:
    verdict = judge_prometheus(duration(max="800ms", maxRatio=1.25), latency(one(412), one(300), 1000, 3000))
    assert verdict.value == "canary p99 412ms of 1000 requests, stable p99 300ms of 3000 requests"
    assert verdict.threshold == "p99 <= 800ms, p99 <= 1.25x stable, >= 100 requests"
    assert verdict.query is not None
    assert [line.split(":")[0] for line in verdict.query.splitlines()] == [
        "canary",
        "stable",
        "canaryRequests",
        "stableRequests",
    ]


def custom(**fields: Any) -> Prometheus:
    on_no_data = fields.pop("onNoData", "inconclusive")
    return Prometheus.model_validate({"query": {"expr": "x", **fields}, "onNoData": on_no_data})


RATIO = custom(stableExpr="y", maxRatio=2)
TWO = QueryReading(query="two", series=(SeriesValue(value=1), SeriesValue(value=2)))


@pytest.mark.parametrize(
    ("check", "measurement", "outcome", "reason"),
    [
        (custom(max=100), seen(canary=one(50)), V.PASS, "50 is within max 100"),
        (custom(max=100), seen(canary=one(150)), V.FAIL, "150 is over max 100"),
        (custom(min=1), seen(canary=one(0)), V.FAIL, "0 is below min 1"),
        (custom(min=1, max=2), seen(canary=one(1.5)), V.PASS, "1.5 is at least min 1; 1.5 is within max 2"),
        (custom(max=1), seen(canary=TWO), V.ERROR, "the canary query returned 2 series; aggregate it to one"),
        (RATIO, both(one(30), one(10)), V.FAIL, "30 is 3.00x stable's 10, over 2x"),
        (RATIO, both(one(15), one(10)), V.PASS, "1.50x"),
        (RATIO, both(one(0), one(0)), V.PASS, "0 is not above stable's 0"),
        (RATIO, both(one(5), one(0)), V.INCONCLUSIVE, "no ratio can be taken"),
        (RATIO, both(one(5), EMPTY), V.INCONCLUSIVE, "the stable query"),
        (custom(max=1, onNoData="pass"), seen(canary=EMPTY), V.PASS, "no data: the canary query found no series"),
        (custom(max=1, onNoData="fail"), seen(canary=NAN), V.FAIL, "(onNoData: fail)"),
        (custom(max=1), seen(canary=one(math.inf)), V.FAIL, "inf is over max 1"),
    ],
)  # fmt: skip
def test_custom_query(check: Prometheus, measurement: PrometheusMeasurement, outcome: Outcome, reason: str) -> None:
    verdict = judge_prometheus(check, measurement)
    assert verdict.outcome is outcome, verdict.reason
    assert reason in verdict.reason


def test_an_error_measurement_has_no_query_but_says_why() -> None:
    verdict = judge_prometheus(custom(max=1), seen(error="cannot read key token of Secret shop/prom: not found"))
    assert verdict.outcome is V.ERROR
    assert verdict.query is None
    assert verdict.threshold == "<= 1"


def test_judge_dispatches_prometheus_gates() -> None:
    gate = Gate.model_validate({"name": "g", "prometheus": {"query": {"expr": "x", "max": 1}}})
    assert judge(gate, seen(canary=one(0.5))).outcome is V.PASS
