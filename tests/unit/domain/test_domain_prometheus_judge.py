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


def step(
    canary: QueryReading,
    stable: QueryReading,
    *,
    recent: tuple[QueryReading, QueryReading] | None = None,
    served: tuple[QueryReading, QueryReading] | None = None,
) -> PrometheusMeasurement:
    """Counts since the step began; the last window's the same unless given; no pods' view unless given."""
    latest = recent or (canary, stable)
    pods = {"canary_served": served[0], "stable_served": served[1]} if served else {}
    return seen(canary=canary, stable=stable, canary_recent=latest[0], stable_recent=latest[1], span="95s", **pods)


@pytest.mark.parametrize(
    ("check", "measurement", "outcome", "reason"),
    [
        # absolute, over the last window, stable's rate beside it
        (rate(min=99), step(codes(995, 5), codes(990, 10)), V.PASS, "99.50% is at least min 99% (stable 99.00% in"),
        (rate(min=99), step(codes(980, 20), codes(990, 10)), V.FAIL, "98.00% is below min 99% (stable 99.00% in the"),
        (rate(min=99), step(codes(977, 23), codes(975, 25)), V.FAIL, "(stable 97.50% in the last 30s), no better"),
        (rate(min=99, unlessStableBelow=True), step(codes(977, 23), codes(975, 25)), V.INCONCLUSIVE, "so is the"),
        (rate(min=99, unlessStableBelow=True), step(codes(977, 23), codes(995, 5)), V.FAIL, "below min 99%"),
        (rate(min=99), step(codes(900, 100, code="404"), EMPTY), V.PASS, "100.00% is at least"),
        (rate(min=99), step(codes(40), codes(990)), V.INCONCLUSIVE, "served 40 requests in the last 30s, fewer than"),
        (rate(min=99, minRequests=10), step(codes(40), EMPTY), V.PASS, "100.00%"),
        # relative, anytime-valid, on every request since the step began
        (rate(maxIncreasePoints=0), step(codes(900, 100), codes(990, 10)), V.FAIL, "so worse than allowed"),
        (rate(maxIncreasePoints=0), step(codes(97, 3), codes(98, 2)), V.WAITING, "not enough requests to tell"),
        (rate(maxIncreasePoints=1), step(codes(2990, 10), codes(9000, 1000)), V.PASS, "so within the allowance"),
        (rate(maxIncreasePoints=1), step(codes(300), codes(2997, 3)), V.PASS, "at most +0.80 pts at 0.95 confidence"),
        (rate(maxIncreasePoints=1), step(codes(100), codes(2997, 3)), V.WAITING, "up to +2.53 so far"),
        (rate(maxIncreasePoints=1), step(codes(600), codes(5994, 6)), V.PASS, "canary 0 of 600 (0.00%)"),
        (rate(maxIncreasePoints=1), step(codes(270, 30), codes(2990, 10)), V.FAIL, "+9.67 pts, allowed +1.00"),
        (rate(maxIncreasePoints=1), step(codes(45, 5), codes(449, 1)), V.WAITING, "canary 5 of 50 (10.00%)"),
        (rate(maxIncreasePoints=1), step(codes(90, 10), codes(899, 1)), V.FAIL, "canary 10 of 100"),
        (rate(maxIncreasePoints=1), step(EMPTY, codes(990)), V.INCONCLUSIVE, "no data: the canary query found no"),
        (rate(maxIncreasePoints=1), step(codes(970, 30), EMPTY), V.INCONCLUSIVE, "the stable side recorded no"),
        # a pass needs the last window to agree: a canary getting worse waits
        (
            rate(maxIncreasePoints=1),
            step(codes(600), codes(5994, 6), recent=(codes(90, 10), codes(999, 1))),
            V.WAITING,
            "but in the last 30s canary 90.00% success",
        ),
        (rate(min=99, maxIncreasePoints=5), step(codes(970, 30), codes(980, 20)), V.FAIL, "97.00% is below min 99%"),
        (rate(min=99), step(EMPTY, codes(990)), V.INCONCLUSIVE, "no data: the canary query found no series"),
        (rate(min=99, onNoData="fail"), step(EMPTY, codes(990)), V.FAIL, "(onNoData: fail)"),
        (rate(min=99, onNoData="pass"), step(NAN, codes(990)), V.PASS, "(onNoData: pass)"),
        (rate(min=99), step(DOWN, codes(990)), V.ERROR, "the canary query failed: Unreachable"),
        (rate(min=99), step(codes(990), DOWN), V.ERROR, "the stable query failed"),
        (rate(min=99), seen(error="no Prometheus address"), V.ERROR, "could not query Prometheus: no Prometheus"),
    ],
)  # fmt: skip
def test_request_success_rate(
    check: Prometheus, measurement: PrometheusMeasurement, outcome: Outcome, reason: str
) -> None:
    verdict = judge_prometheus(check, measurement, 10)
    assert verdict.outcome is outcome, verdict.reason
    assert reason in verdict.reason, verdict.reason
    assert (verdict.gate, verdict.kind, verdict.at) == ("g", "prometheus", T0)


@pytest.mark.parametrize(
    ("canary", "served", "outcome"),
    [
        (codes(0, 100), EMPTY, V.FAIL),  # the callers sent 100, all failed, no pod answered
        (codes(1, 99), one(9), V.FAIL),
        (codes(0, 100), one(11), V.PASS),  # a tenth reached the pods: not this rule (min judges the rest)
        (codes(60, 40), EMPTY, V.PASS),  # most of what the callers sent succeeded: the pods' count lags
        (codes(0, 19), EMPTY, V.PASS),  # within the grace
        (EMPTY, EMPTY, V.PASS),  # the callers sent the canary nothing (a header route, weight 0): no one fails
    ],
)
def test_with_the_callers_view_a_share_that_reaches_no_pod_fails_with_users_failing(
    canary: QueryReading, served: QueryReading, outcome: Outcome
) -> None:
    check = rate(min=50, minRequests=1)
    seen = step(canary, codes(900), recent=(codes(90), codes(900)), served=(served, one(900)))
    verdict = judge_prometheus(check, seen, 10)
    assert verdict.outcome is outcome, verdict.reason
    if outcome is V.FAIL:
        assert (
            "users are failing: the callers sent the canary 100 requests since the step began (95s)" in verdict.reason
        )
        assert verdict.harm is not None
        assert "reaches no pod" in verdict.harm


@pytest.mark.parametrize(
    ("served", "weight", "window", "outcome"),
    [
        ((EMPTY, one(900)), 10, "30s", V.INCONCLUSIVE),  # 100 expected, none served
        ((one(9), one(900)), 10, "30s", V.INCONCLUSIVE),  # under a tenth of its share
        ((one(11), one(900)), 10, "30s", V.PASS),
        ((EMPTY, one(150)), 10, "30s", V.PASS),  # 17 expected: still within the grace
        ((EMPTY, one(900)), 0, "30s", V.PASS),  # no weight, no share to miss
        ((EMPTY, EMPTY), 10, "30s", V.PASS),  # no pods' view either: nothing to say
        ((EMPTY, one(900)), 10, "120s", V.PASS),  # the step (95s) is younger than the window: not yet
    ],
)
def test_without_the_callers_view_the_weight_says_what_the_pods_should_serve(
    served: tuple[QueryReading, QueryReading], weight: int, window: str, outcome: Outcome
) -> None:
    check = rate(min=90, minRequests=10)
    seen = PrometheusMeasurement(
        gate="g",
        observed_at=T0,
        window=window,
        span="95s",
        canary=EMPTY,
        stable=EMPTY,
        canary_recent=codes(90),
        stable_recent=codes(900),
        canary_served=served[0],
        stable_served=served[1],
    )
    verdict = judge_prometheus(check, seen, weight)
    assert verdict.outcome is outcome, verdict.reason
    if outcome is V.INCONCLUSIVE:  # the weight is no proof (unmanaged routes), but users may be failing
        assert "users may be failing: the canary carries 10% of the traffic, but its pods served" in verdict.reason
        assert verdict.harm is not None
        assert "may reach no pod" in verdict.harm


def test_harm_is_set_when_the_callers_see_the_canary_failing_more_than_stable() -> None:
    check = rate(maxIncreasePoints=1)
    waiting = judge_prometheus(check, step(codes(45, 5), codes(449, 1)), 10)
    assert waiting.outcome is V.WAITING
    assert (
        waiting.harm
        == "users are failing on the canary: 5 of 50 (10.00%) of its requests failed since the step began (95s)"
    )
    assert judge_prometheus(check, step(codes(49, 1), codes(441, 9)), 10).harm is None


@pytest.mark.parametrize(
    ("since", "latest", "outcome", "reason"),
    [
        (codes(930, 70), codes(340, 60), V.FAIL, "rising within the step: in the last 30s 60 of 400 (15.00%) failed"),
        (codes(990, 10), codes(198, 2), V.PASS, "not rising"),
        (codes(950, 50), codes(190, 10), V.PASS, "not rising"),  # 5 % now, 5 % before
        (codes(950, 50), EMPTY, V.INCONCLUSIVE, "no data: the canary query"),  # nothing rising; min has no data
        # The window's extrapolated count nearly covers the step, its error not: the rest of the step is 1 error
        # of 0.84 requests, clamped to 0.84 of 0.84 rather than refused.
        (codes(9, 1), codes(9.16), V.PASS, "not rising"),
    ],
)
def test_fail_on_rise_compares_the_last_window_with_the_rest_of_the_step(
    since: QueryReading, latest: QueryReading, outcome: Outcome, reason: str
) -> None:
    check = rate(min=1, minRequests=1, failOnRise=True)
    verdict = judge_prometheus(check, step(since, codes(9000), recent=(latest, codes(900))), 10)
    assert verdict.outcome is outcome, verdict.reason
    assert reason in verdict.reason


def test_a_success_rate_verdict_shows_its_working() -> None:
    check = rate(min=99, maxIncreasePoints=0.5, minRequests=200)
    verdict = judge_prometheus(check, step(codes(970, 30), codes(1990, 10), served=(one(1000), one(2000))), 30)
    assert verdict.value == (
        "callers since the step began (95s): canary 97.00% success (30 of 1000 (3.00%) failed), stable 99.50% "
        "success (10 of 2000 (0.50%) failed); pods served since the step began (95s): canary 1000, stable 2000; "
        "in the last 30s: canary 97.00% success (30 of 1000 (3.00%) failed), stable 99.50% success (10 of 2000 "
        "(0.50%) failed)"
    )
    assert verdict.threshold == (
        "success >= 99%, error rate <= stable + 0.5 pts, anytime-valid at alpha 0.05, >= 200 requests for min"
    )
    assert verdict.query is not None
    assert verdict.query.splitlines()[0] == "canary: codes 970/30"
    assert verdict.inputs == {"window": "30s", "since": "95s"}
    assert verdict.evidence["windowCanaryErrors"] == "30"
    assert verdict.evidence["min"] == "99%", "the evidence of the part that decided"
    assert verdict.harm is not None


def duration(**fields: Any) -> Prometheus:
    return Prometheus.model_validate({"requestDuration": fields})


BOUNDS = ("5", "10", "25", "50", "100", "250", "500", "1000", "+Inf")


def buckets(*counts: float) -> QueryReading:
    """A `sum by (le)` answer: cumulative counts at Istio's bounds from 5 ms to +Inf."""
    assert len(counts) == len(BOUNDS)
    series = tuple(SeriesValue(labels=(("le", le),), value=n) for le, n in zip(BOUNDS, counts, strict=True))
    return QueryReading(query="buckets", series=series)


ODD = QueryReading(query="odd", series=(SeriesValue(labels=(("le", "x"),), value=1),))
# 1000 requests: 99 % at or under 50 ms, the rest under 100 ms
FAST = buckets(0, 100, 600, 990, 1000, 1000, 1000, 1000, 1000)
# the same 20 % slower: the tail crosses into (50, 100]
SLOWER = buckets(0, 80, 500, 900, 1000, 1000, 1000, 1000, 1000)
# three times slower: 5 % over 250 ms
SLOW = buckets(0, 0, 100, 400, 800, 950, 1000, 1000, 1000)


@pytest.mark.parametrize(
    ("check", "measurement", "outcome", "reason"),
    [
        (duration(max="100ms"), both(FAST, FAST), V.PASS, "canary p99 is in (25ms, 50ms], within max 100ms"),
        (duration(max="200ms"), both(SLOW, FAST), V.FAIL, "50 of 1000 (5.00%) of its requests took over 250ms"),
        (duration(maxRatio=2), both(SLOWER, FAST), V.PASS, "within 2x the stable's p99 bucket bound 50ms = 100ms"),
        (duration(maxRatio=1.2), both(SLOWER, FAST), V.INCONCLUSIVE, "which straddles 1.2x the stable's p99 bucket"),
        (duration(max="200ms"), both(SLOWER, FAST), V.PASS, "within max 200ms"),
        (duration(max="100ms"), both(buckets(0, 0, 50, 90, 98, 100, 100, 100, 100), FAST), V.WAITING, "not surely yet"),
        (duration(maxRatio=1.2), both(SLOW, FAST), V.FAIL, "canary p99 is above 1.2x the stable's p99 bucket"),
        (duration(maxRatio=1.2), both(FAST, FAST), V.PASS, "in (25ms, 50ms], within 1.2x"),
        (duration(max="1s"), both(buckets(0, 0, 0, 0, 0, 0, 0, 12, 12), FAST), V.WAITING, "canary served 12"),
        (duration(maxRatio=2), both(FAST, buckets(0, 0, 0, 0, 12, 12, 12, 12, 12)), V.WAITING, "stable served 12"),
        (duration(max="1s"), both(NAN, FAST), V.INCONCLUSIVE, "no data: the canary query"),
        (duration(max="1s"), both(ODD, FAST), V.INCONCLUSIVE, "no data"),  # no bucket bound it can read
        (duration(max="1s"), both(FAST, EMPTY), V.PASS, "within max 1000ms"),
        (duration(maxRatio=2), both(FAST, EMPTY), V.INCONCLUSIVE, "no data: the stable query"),
        (duration(max="1s"), seen(canary=FAST, stable=DOWN), V.ERROR, "the stable query failed"),
    ],
)  # fmt: skip
def test_request_duration(check: Prometheus, measurement: PrometheusMeasurement, outcome: Outcome, reason: str) -> None:
    verdict = judge_prometheus(check, measurement)
    assert verdict.outcome is outcome, verdict.reason
    assert reason in verdict.reason, verdict.reason


def test_a_duration_verdict_shows_its_working_and_its_resolution() -> None:
    verdict = judge_prometheus(duration(max="800ms", maxRatio=1.25), both(SLOWER, FAST))
    assert verdict.value == (
        "canary p99 in (50ms, 100ms] of 1000 requests in the window, stable p99 in (25ms, 50ms] of 1000 requests"
    )
    assert verdict.threshold == "p99 <= 800ms, p99 <= 1.25x stable, >= 100 requests, at bucket resolution"
    assert verdict.evidence["resolution"] == "bucket (50ms, 100ms]"


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
