"""The httpProbe judge and the small JSONPath it uses: a measurement in, a sample verdict with its evidence out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from release_builders import T0, probe

from graygate.api import Gate, HttpProbe, Outcome
from graygate.domain.analysis.http_probe import HttpProbeMeasurement, judge_http_probe
from graygate.domain.analysis.judge import judge
from graygate.domain.compare.jsonpath import Found, Missing, lookup
from graygate.domain.errors import MeasurementMismatch

V = Outcome
OK_JSON = '{"status": "ok", "checks": [{"state": "up"}, {"state": 7}], "ready": true, "gone": null}'


def check(**fields: Any) -> HttpProbe:
    return HttpProbe.model_validate({"url": "http://checkout-canary:8080/healthz", **fields})


@pytest.mark.parametrize(
    ("fields", "seen", "outcome", "reason", "value", "threshold"),
    [
        ({}, probe(code=200), V.PASS, "200 as expected", "200", "status in [200]"),
        ({}, probe(code=503), V.FAIL, "status 503, expected one in [200]", "503", "in [200]"),
        ({"expectStatus": [200, 204]}, probe(code=204), V.PASS, "204 as expected", "204", "status in [200, 204]"),
        ({}, probe(error="connection refused"), V.FAIL, "no answer from GET", None, "in [200]"),
        ({}, probe(code=None), V.ERROR, "neither a status code nor an error", None, "in [200]"),
        (
            {"latencyBudget": "300ms"},
            probe(latency_ms=412),
            V.FAIL,
            "took 412ms, over the budget <= 300ms",
            "412ms",
            "<= 300ms",
        ),
        (
            {"latencyBudget": "300ms"},
            probe(latency_ms=300),
            V.PASS,
            "200, 300ms as expected",
            "200, 300ms",
            "status in [200], latency <= 300ms",
        ),
        (
            {"jsonPath": {"path": "$.status", "equals": "ok"}},
            probe(body=OK_JSON),
            V.PASS,
            "$.status=ok as expected",
            "200, $.status=ok",
            "status in [200], $.status == ok",
        ),
        (
            {"jsonPath": {"path": "$.status", "equals": "ok"}},
            probe(body='{"status": "degraded"}'),
            V.FAIL,
            "$.status is 'degraded', expected 'ok'",
            "degraded",
            "$.status == ok",
        ),
        (
            {"jsonPath": {"path": "$.checks[1].state", "equals": "7"}},
            probe(body=OK_JSON),
            V.PASS,
            "$.checks[1].state=7",
            "200, $.checks[1].state=7",
            "status in [200], $.checks[1].state == 7",
        ),
        (
            {"jsonPath": {"path": "$.ready", "equals": "true"}},
            probe(body=OK_JSON),
            V.PASS,
            "$.ready=true",
            "200, $.ready=true",
            "status in [200], $.ready == true",
        ),
        ({"jsonPath": {"path": "$.ready"}}, probe(body=OK_JSON), V.PASS, "$.ready=true", "200, $.ready=true", None),
        ({"jsonPath": {"path": "$.gone"}}, probe(body=OK_JSON), V.FAIL, "$.gone is null", "null", "$.gone exists"),
        (
            {"jsonPath": {"path": "$.gone", "equals": "null"}},
            probe(body=OK_JSON),
            V.PASS,
            "$.gone=null",
            "200, $.gone=null",
            None,
        ),
        (
            {"jsonPath": {"path": "$.checks[5].state"}},
            probe(body=OK_JSON),
            V.FAIL,
            "$.checks[5].state: no such index at $.checks[5]",
            None,
            "$.checks[5].state exists",
        ),
        (
            {"jsonPath": {"path": "$.status"}},
            probe(body="<html>ok</html>"),
            V.FAIL,
            "the body is not JSON",
            None,
            "$.status exists",
        ),
        ({"jsonPath": {"path": "$.status"}}, probe(body=None), V.FAIL, "no body to check $.status in", None, None),
        (
            {"jsonPath": {"path": "$.status", "equals": "ok"}},
            probe(code=500, body='{"status": "ok"}'),
            V.FAIL,
            "status 500",
            "500",
            "in [200]",
        ),
    ],
)
def test_http_probe(
    fields: dict[str, Any],
    seen: HttpProbeMeasurement,
    outcome: Outcome,
    reason: str,
    value: str | None,
    threshold: str | None,
) -> None:
    verdict = judge_http_probe(check(**fields), seen)
    assert verdict.outcome is outcome
    assert reason in verdict.reason
    assert verdict.value == value
    if threshold is not None:
        assert verdict.threshold == threshold
    assert (verdict.gate, verdict.kind, verdict.at) == (seen.gate, "httpProbe", T0)
    assert verdict.inputs == {"url": seen.url, "method": "GET"}


def test_a_body_the_gate_already_parsed_is_used_as_is() -> None:
    seen = HttpProbeMeasurement(
        gate="health",
        observed_at=T0,
        url="http://x/",
        status_code=200,
        latency=timedelta(milliseconds=5),
        body='{"status": "trunc',
        body_is_json=True,
        body_json={"status": "ok"},
    )
    assert judge_http_probe(check(jsonPath={"path": "$.status", "equals": "ok"}), seen).outcome is V.PASS


def test_a_missing_latency_cannot_be_compared_with_a_budget() -> None:
    seen = HttpProbeMeasurement(gate="health", observed_at=T0, url="http://x/", status_code=200)
    assert judge_http_probe(check(latencyBudget="1s"), seen).outcome is V.ERROR


def test_judge_dispatches_on_the_gates_kind() -> None:
    gate = Gate.model_validate({"name": "health", "httpProbe": {"url": "http://x/"}})
    assert judge(gate, probe("health")).outcome is V.PASS


def test_judge_refuses_a_measurement_of_another_gate() -> None:
    gate = Gate.model_validate({"name": "health", "httpProbe": {"url": "http://x/"}})
    with pytest.raises(MeasurementMismatch, match="cannot judge"):
        judge(gate, probe("latency"))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", Found({"a": {"b": [1, {"c": None}]}})),
        ("$.a.b[0]", Found(1)),
        ("$.a.b[1].c", Found(None)),
        ("$.a.x", Missing("$.a.x", "no such key")),
        ("$.a.b[2]", Missing("$.a.b[2]", "no such index")),
        ("$.a[0]", Missing("$.a[0]", "no such index")),
        ("$.a.b.c", Missing("$.a.b.c", "no such key")),
    ],
)
def test_lookup(path: str, expected: Found | Missing) -> None:
    assert lookup({"a": {"b": [1, {"c": None}]}}, path) == expected
