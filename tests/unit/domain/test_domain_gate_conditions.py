"""A gate's `successCondition` / `failureCondition` decide its sample verdict in Argo Rollouts' order, over the
`result` its kind measured, instead of the kind's thresholds."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from release_builders import T0, probe

from graygate.api import Gate, Outcome
from graygate.api.gates import HttpProbe, Prometheus
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.prometheus import PrometheusMeasurement, QueryReading, SeriesValue

V = Outcome
OK, SERVER_ERROR = "result.statusCode == 200", "result.statusCode >= 500"


def probe_gate(**conditions: str | None) -> Gate:
    given = {key: value for key, value in conditions.items() if value is not None}
    return Gate.model_validate({"name": "health", "httpProbe": {"url": "http://x/", "expectStatus": [204]}, **given})


@pytest.mark.parametrize(
    ("success", "failure", "code", "outcome", "reason"),
    [
        (OK, None, 200, V.PASS, "successCondition is true"),
        (OK, None, 404, V.FAIL, "successCondition is false"),
        (OK, None, 503, V.FAIL, "successCondition is false"),
        (None, SERVER_ERROR, 200, V.PASS, "failureCondition is false"),
        (None, SERVER_ERROR, 404, V.PASS, "failureCondition is false"),
        (None, SERVER_ERROR, 503, V.FAIL, "failureCondition is true"),
        (OK, SERVER_ERROR, 200, V.PASS, "successCondition is true"),
        (OK, SERVER_ERROR, 404, V.INCONCLUSIVE, "successCondition is false and failureCondition is false"),
        (OK, SERVER_ERROR, 503, V.FAIL, "failureCondition is true"),
        ("true", "true", 200, V.FAIL, "failureCondition is true"),  # the failure condition is asked first
    ],
)
def test_argo_rollouts_order(
    success: str | None, failure: str | None, code: int, outcome: Outcome, reason: str
) -> None:
    verdict = judge(probe_gate(successCondition=success, failureCondition=failure), probe("health", code))
    assert verdict.outcome is outcome
    assert verdict.reason.startswith(reason)
    expected = "; ".join(
        f"{name}: {text}" for name, text in (("failureCondition", failure), ("successCondition", success)) if text
    )
    assert verdict.threshold == expected
    assert verdict.value is not None
    assert f'"statusCode":{code}' in verdict.value


@pytest.mark.parametrize("field", ["successCondition", "failureCondition"])
@pytest.mark.parametrize(
    ("measured", "outcome", "reason"),
    [
        (probe("health", error="connection refused"), V.FAIL, "no answer"),  # the kind's verdict stands
        (probe("health", None), V.ERROR, "neither a status code nor an error"),
        (probe("health", 200, body='{"ready": true}'), V.ERROR, "a condition could not be evaluated: no such key"),
    ],
)
def test_what_the_conditions_cannot_judge(field: str, measured: Any, outcome: Outcome, reason: str) -> None:
    gate = probe_gate(**{field: "result.body.status == 'ok'"})
    verdict = judge(gate, measured)
    assert verdict.outcome is outcome
    assert reason in verdict.reason


@pytest.mark.parametrize(
    ("body", "outcome"),
    [('{"status": "ok", "queue": 3}', V.PASS), ('{"status": "ok", "queue": 30}', V.FAIL), ("not json", V.ERROR)],
)
def test_a_probe_condition_reads_the_json_body(body: str, outcome: Outcome) -> None:
    gate = probe_gate(successCondition="result.body.status == 'ok' && result.body.queue < 10")
    assert judge(gate, probe("health", 200, body=body)).outcome is outcome


def series(*values: tuple[str, float]) -> QueryReading:
    return QueryReading(
        query="sum by (pod) (rate(errors_total[1m]))",
        series=tuple(SeriesValue(labels=(("pod", pod),), value=value) for pod, value in values),
    )


def query_gate(**conditions: str) -> Gate:
    return Gate.model_validate({"name": "g", "prometheus": {"query": {"expr": "errors"}}, **conditions})


@pytest.mark.parametrize(
    ("values", "outcome"),
    [
        ((("a", 0.01), ("b", 0.02)), V.PASS),
        ((("a", 0.01), ("b", 0.2)), V.FAIL),
        ((("a", 0.01), ("b", math.nan)), V.PASS),  # a NaN series is left out of the vector
        ((("a", math.nan),), V.INCONCLUSIVE),  # no data: the kind's onNoData (inconclusive) stands
        ((), V.INCONCLUSIVE),
    ],
)
def test_a_prometheus_condition_judges_a_whole_vector(values: tuple[tuple[str, float], ...], outcome: Outcome) -> None:
    """The kind's own judge calls several series an Error; a condition can judge them all."""
    measured = PrometheusMeasurement(gate="g", observed_at=T0, window="30s", canary=series(*values))
    verdict = judge(query_gate(successCondition="result.series.all(s, s.value < 0.05)"), measured)
    assert verdict.outcome is outcome
    assert verdict.query == "canary: sum by (pod) (rate(errors_total[1m]))"


def test_a_prometheus_condition_compares_with_the_stable_query() -> None:
    measured = PrometheusMeasurement(
        gate="g", observed_at=T0, window="30s", canary=series(("a", 1.3)), stable=series(("a", 1.0))
    )
    assert judge(query_gate(failureCondition="result.value > result.stableValue * 1.2"), measured).outcome is V.FAIL
    assert judge(query_gate(failureCondition="result.value > result.stableValue * 1.5"), measured).outcome is V.PASS


@pytest.mark.parametrize(
    ("check", "measured"),
    [
        (
            HttpProbe(url="http://x/"),
            probe("health", 200, latency_ms=20, body='{"a": 1}'),
        ),
        (
            Prometheus.model_validate({"query": {"expr": "errors", "stableExpr": "errors"}}),
            PrometheusMeasurement(
                gate="g", observed_at=T0, window="30s", canary=series(("a", 1.0)), stable=series(("a", 2.0))
            ),
        ),
    ],
    ids=["httpProbe", "prometheus"],
)
def test_a_measured_result_is_shaped_as_its_kind_declares(check: Any, measured: Any) -> None:
    result = measured.result()
    sample = check.result_sample()
    assert set(result) == set(sample)
    for key, value in sample.items():
        assert type(result[key]) is type(value) or (value == {} and result[key] is not None), key


def test_a_probe_result_has_its_latency_in_seconds() -> None:
    result = probe("health", 503, latency_ms=250).result()
    assert result is not None
    assert (result["statusCode"], result["latencySeconds"], result["body"]) == (503, 0.25, None)
    assert timedelta(seconds=float(str(result["latencySeconds"]))) == timedelta(milliseconds=250)
