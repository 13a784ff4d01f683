"""The `prometheus` gate's contract: one metric per gate, thresholds that make sense, sources that keep credentials
in Secrets, templates whose variables exist and have a value for this release."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from graygate.api import CanaryReleaseSpec, Gate, InvalidSpec, Prometheus, parse_spec
from graygate.api.crd import build_crd

RATE = {"requestSuccessRate": {"maxIncreasePoints": 1}}
SPEC: dict[str, Any] = {
    "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
    "stable": {"host": "checkout", "subset": "stable"},
    "canary": {"host": "checkout", "subset": "canary"},
    "canaryWorkload": {"name": "checkout-canary"},
    "stableWorkload": {"name": "checkout-stable"},
    "stepWeights": [10, 50],
    "analysis": {"interval": "30s", "gates": [{"name": "errors", "prometheus": RATE}]},
}


def prometheus(**fields: Any) -> Prometheus:
    return Prometheus.model_validate(fields)


def problems(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        prometheus(**fields)
    return str(caught.value)


def test_defaults() -> None:
    check = prometheus(**RATE)
    rate = check.request_success_rate
    assert rate is not None
    assert (rate.min, rate.max_increase_points, rate.confidence, rate.min_requests) == (None, 1, 0.95, 100)
    assert (check.source, check.window, check.on_no_data, check.builtin) == (None, None, "inconclusive", True)
    duration = prometheus(requestDuration={"maxRatio": 1.5}).request_duration
    assert duration is not None
    assert (duration.quantile, duration.max, duration.min_requests) == (0.99, None, 100)


def test_a_gate_may_be_a_prometheus_gate() -> None:
    gate = Gate.model_validate({"name": "errors", "prometheus": RATE})
    assert isinstance(gate.check, Prometheus)
    assert gate.check.kind == "prometheus"


def test_a_gate_cannot_be_two_kinds() -> None:
    with pytest.raises(ValidationError, match=r"exactly one gate kind .*found httpProbe, prometheus"):
        Gate.model_validate({"name": "g", "prometheus": RATE, "httpProbe": {"url": "http://x/"}})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "give exactly one of requestSuccessRate, requestDuration or query"),
        ({**RATE, "requestDuration": {"max": "1s"}}, "give exactly one of requestSuccessRate"),
        ({"requestSuccessRate": {}}, "give min, maxIncreasePoints or both"),
        ({"requestSuccessRate": {"min": 101}}, "less than or equal to 100"),
        ({"requestSuccessRate": {"min": 99, "confidence": 1}}, "less than or equal to 0.999"),
        ({"requestSuccessRate": {"min": 99, "minRequests": 0}}, "greater than or equal to 1"),
        ({"requestDuration": {"quantile": 0.9}}, "give max, maxRatio or both"),
        ({"requestDuration": {"max": "1s", "quantile": 1}}, "less than 1"),
        ({"requestDuration": {"maxRatio": 0}}, "greater than 0"),
        ({"query": {"expr": "up", "maxRatio": 2}}, "maxRatio compares with stableExpr, which is missing"),
        ({"query": {"expr": "", "max": 1}}, "at least 1 character"),
        ({"query": {"expr": "up{job='{{ nmespace }}'}", "max": 1}}, "unknown template variable {{ nmespace }}"),
        ({"query": {"expr": "up{job='{{ namespace }'}", "max": 1}}, "malformed placeholder"),
        ({**RATE, "onNoData": "ignore"}, "'fail', 'inconclusive' or 'pass'"),
        ({**RATE, "window": "500ms"}, "must be at least 1s"),
        ({**RATE, "source": {"address": "prometheus:9090"}}, "should match pattern '^https?://'"),
        ({**RATE, "source": {"headers": {"Bad Header": "x"}}}, "not valid HTTP header names: Bad Header"),
        ({**RATE, "source": {"headers": {"authorization": "Bearer x"}}}, "must not set Authorization"),
        (
            {
                **RATE,
                "source": {"bearerToken": {"secretRef": {"name": "t"}}, "basicAuth": {"secretRef": {"name": "b"}}},
            },
            "give at most one of bearerToken or basicAuth",
        ),
        ({**RATE, "source": {"ca": {"key": "ca.crt"}}}, "give exactly one of secretRef or configMapRef"),
        (
            {**RATE, "source": {"ca": {"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}}},
            "give exactly one of secretRef or configMapRef",
        ),
        ({**RATE, "source": {"bearerToken": {"secretRef": {"name": "Not_A_Name"}}}}, "should match pattern"),
        ({**RATE, "source": {"timeout": "0s"}}, "must be at least 1ms"),
        ({**RATE, "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_checks(fields: dict[str, Any], message: str) -> None:
    assert message in problems(**fields)


def test_a_full_source() -> None:
    check = prometheus(
        **RATE,
        source={
            "address": "https://prometheus.monitoring:9090",
            "bearerToken": {"secretRef": {"name": "prom-reader"}},
            "ca": {"configMapRef": {"name": "prom-ca"}},
            "headers": {"X-Scope-OrgID": "shop"},
            "timeout": "2s",
        },
    )
    source = check.source
    assert source is not None
    assert source.bearer_token is not None
    assert source.ca is not None
    assert (source.bearer_token.key, source.ca.key, source.timeout) == ("token", "ca.crt", timedelta(seconds=2))


def query(expr: str, **thresholds: Any) -> dict[str, Any]:
    return {"query": {"expr": expr, **(thresholds or {"max": 1})}}


NO_SUBSET = {"host": "checkout-x"}


@pytest.mark.parametrize(
    ("change", "gate", "message"),
    [
        ({"stableWorkload": None}, None, "gate errors: the built-in Prometheus metrics need canaryWorkload and"),
        ({"canaryWorkload": None}, {"requestDuration": {"max": "1s"}}, "need canaryWorkload and stableWorkload"),
        ({"canary": NO_SUBSET}, query("x{s='{{ canarySubset }}'}"), "{{ canarySubset }} but canary has no subset"),
        (
            {"stable": NO_SUBSET},
            query("x", stableExpr="{{ stableSubset }}", maxRatio=2),
            "{{ stableSubset }} but stable has no subset",
        ),
        ({"stableWorkload": None}, query("{{ stableWorkload }}"), "the spec has no stableWorkload"),
        ({"canaryWorkload": None}, query("{{ canaryWorkload }}"), "the spec has no canaryWorkload"),
        ({}, {**RATE, "source": {"timeout": "30s"}}, "prometheus source timeout 30s must be shorter than the analysis"),
    ],
)
def test_the_spec_must_name_what_the_gate_uses(
    change: dict[str, Any], gate: dict[str, Any] | None, message: str
) -> None:
    body = {key: value for key, value in (copy.deepcopy(SPEC) | change).items() if value is not None}
    if gate is not None:
        body["analysis"] = {"interval": "30s", "gates": [{"name": "g", "prometheus": gate}]}
    result = parse_spec(body)
    assert isinstance(result, InvalidSpec)
    assert message in result.message


def test_a_custom_query_needs_no_workloads() -> None:
    body = {key: value for key, value in SPEC.items() if key not in ("canaryWorkload", "stableWorkload")}
    body["analysis"] = {
        "gates": [{"name": "g", "prometheus": {"query": {"expr": 'x{ns="{{ namespace }}"}[{{ interval }}]', "max": 1}}}]
    }
    assert isinstance(parse_spec(body), CanaryReleaseSpec)


def test_the_manifest_round_trips() -> None:
    release = CanaryReleaseSpec.model_validate(SPEC)
    dumped = release.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["analysis"]["gates"][0]["prometheus"]["requestSuccessRate"]["maxIncreasePoints"] == 1
    assert dumped["stableWorkload"] == {"kind": "Deployment", "name": "checkout-stable"}
    assert CanaryReleaseSpec.model_validate(dumped) == release


GATE_SCHEMA = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
    "analysis"
]["properties"]["gates"]["items"]


def _rules(node: dict[str, Any]) -> list[str]:
    return [rule["rule"] for rule in node.get("x-kubernetes-validations", [])]


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ((), "(has(self.httpProbe) ? 1 : 0) + (has(self.prometheus) ? 1 : 0) + (has(self.metricParity) ? 1 : 0)"),
        (("prometheus",), "(has(self.requestSuccessRate) ? 1 : 0) + (has(self.requestDuration) ? 1 : 0)"),
        (("prometheus", "source"), "!has(self.bearerToken) || !has(self.basicAuth)"),
        (("prometheus", "source", "ca"), "(has(self.secretRef) ? 1 : 0) + (has(self.configMapRef) ? 1 : 0) == 1"),
        (("prometheus", "requestSuccessRate"), "has(self.min) || has(self.maxIncreasePoints)"),
        (("prometheus", "requestDuration"), "has(self.max) || has(self.maxRatio)"),
        (("prometheus", "query"), "!has(self.maxRatio) || has(self.stableExpr)"),
    ],
)
def test_the_crd_carries_the_same_rules(path: tuple[str, ...], rule: str) -> None:
    node = GATE_SCHEMA
    for name in path:
        node = node["properties"][name]
    assert any(rule in written for written in _rules(node)), f"{path} lacks {rule!r}"


def test_exclusive_bounds_are_written_the_openapi_3_0_way() -> None:
    quantile = GATE_SCHEMA["properties"]["prometheus"]["properties"]["requestDuration"]["properties"]["quantile"]
    assert {key: quantile[key] for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")} == {
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 1,
        "exclusiveMaximum": True,
    }
