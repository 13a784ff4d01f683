"""The judges of `metricParity` and `apiCompat`, one measurement per row: what fails (naming the family and label,
or the JSON pointer), what waits for traffic, what could not be measured, and what passes with a summary."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from graygate.api import Gate, Outcome
from graygate.domain.analysis.api_compat import ApiCompatMeasurement
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.measurements import DocumentReading
from graygate.domain.analysis.metric_parity import MetricParityMeasurement
from graygate.domain.analysis.reasons import MAX_REASON, bounded_list
from graygate.domain.compare.exposition import parse_exposition

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CANARY, STABLE = "http://app-canary:8080/metrics", "http://app-stable:8080/metrics"

EXPOSITION = """\
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200",route="/"} 7
# HELP app_build_info Build information.
# TYPE app_build_info gauge
app_build_info{version="1.2.0",service="app"} 1
# HELP http_request_duration_seconds Latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="+Inf",route="/"} 7
http_request_duration_seconds_count{route="/"} 7
http_request_duration_seconds_sum{route="/"} 0.4
"""
NO_VERSION_LABEL = EXPOSITION.replace('version="1.2.0",', "")
UNUSED_HISTOGRAM = EXPOSITION.replace('_count{route="/"} 7', '_count{route="/"} 0').replace(
    'le="+Inf",route="/"} 7', 'le="+Inf",route="/"} 0'
)
ADDED_BADLY = EXPOSITION + "# TYPE cache_hits counter\ncache_hits 3\n"


def parity_gate(**check: Any) -> Gate:
    return Gate.model_validate({"name": "metrics", "metricParity": {"canaryUrl": CANARY, "stableUrl": STABLE} | check})


def exposed(text: str | None, url: str, error: str | None = None) -> DocumentReading[Any]:
    return DocumentReading(url=url, content=parse_exposition(text) if text is not None else None, error=error)


def parity(canary: str | None, stable: str | None = EXPOSITION, *, canary_error: str | None = None) -> Any:
    return MetricParityMeasurement(
        gate="metrics",
        observed_at=NOW,
        canary=exposed(canary, CANARY, canary_error),
        stable=exposed(stable, STABLE, None if stable is not None else "answered status 503"),
    )


@pytest.mark.parametrize(
    ("check", "measurement", "weight", "outcome", "words"),
    [
        ({}, parity(EXPOSITION), 10, Outcome.PASS, ["metric parity: 0 errors"]),
        ({}, parity(NO_VERSION_LABEL), 0, Outcome.FAIL, ["LabelDropped", "app_build_info lost label 'version'"]),
        ({}, parity(EXPOSITION.split("# HELP app_build_info")[0]), 0, Outcome.FAIL, ["FamilyMissing", "app_build"]),
        ({}, parity(UNUSED_HISTOGRAM), 10, Outcome.WAITING, ["no traffic yet", "http_request_duration_seconds"]),
        ({}, parity(UNUSED_HISTOGRAM), None, Outcome.WAITING, ["no traffic yet"]),
        ({}, parity(UNUSED_HISTOGRAM), 0, Outcome.PASS, ["not used yet at 0%", "http_request_duration_seconds"]),
        ({}, parity(ADDED_BADLY), 0, Outcome.PASS, ["1 warning", "counter cache_hits should end in _total"]),
        ({"lintSeverity": "error"}, parity(ADDED_BADLY), 0, Outcome.FAIL, ["CounterWithoutTotal", "cache_hits"]),
        ({"lintSeverity": "off"}, parity(ADDED_BADLY), 0, Outcome.PASS, ["0 warnings"]),
        ({"ignore": ["app_*"]}, parity(NO_VERSION_LABEL), 0, Outcome.PASS, ["0 errors"]),
        ({"required": ["jobs_total"]}, parity(EXPOSITION), 0, Outcome.FAIL, ["jobs_total is required"]),
        ({}, parity(None, canary_error="connection failed: refused"), 0, Outcome.FAIL, [CANARY, "refused"]),
        ({}, parity(EXPOSITION, None), 0, Outcome.ERROR, ["stable's metrics", "status 503"]),
    ],
    ids=[
        "same",
        "label-dropped",
        "family-missing",
        "no-traffic-yet",
        "no-traffic-weight-unknown",
        "no-traffic-at-0",
        "lint-warning",
        "lint-error",
        "lint-off",
        "ignored",
        "required-missing",
        "canary-unreadable",
        "stable-unreadable",
    ],
)
def test_metric_parity(
    check: dict[str, Any], measurement: MetricParityMeasurement, weight: int | None, outcome: Outcome, words: list[str]
) -> None:
    verdict = judge(parity_gate(**check), measurement, weight=weight)
    assert verdict.outcome is outcome, verdict.reason
    for word in words:
        assert word in verdict.reason
    assert verdict.inputs == {"canary": CANARY, "stable": STABLE}
    assert len(verdict.reason) < MAX_REASON + 200


def test_a_dropped_label_names_the_family_and_label_in_the_value() -> None:
    verdict = judge(parity_gate(), parity(NO_VERSION_LABEL), weight=0)
    assert verdict.value == "app_build_info{version}"
    assert verdict.threshold == "no family, label or type lost"


def test_without_a_stable_url_only_required_families_and_lint_count() -> None:
    gate = Gate.model_validate({"name": "metrics", "metricParity": {"canaryUrl": CANARY, "required": ["up"]}})
    seen = MetricParityMeasurement(gate="metrics", observed_at=NOW, canary=exposed(EXPOSITION, CANARY))
    verdict = judge(gate, seen, weight=0)
    assert verdict.outcome is Outcome.FAIL
    assert "up is required" in verdict.reason


def test_a_measurement_without_an_observation_is_an_error() -> None:
    seen = MetricParityMeasurement(gate="metrics", observed_at=NOW, error="the gate failed: boom")
    assert judge(parity_gate(), seen).outcome is Outcome.ERROR


def test_many_failures_are_bounded_and_counted() -> None:
    stable = "".join(f'# TYPE family_{i}_total counter\nfamily_{i}_total{{a="x"}} 1\n' for i in range(40))
    verdict = judge(parity_gate(), parity("# TYPE other gauge\nother 1\n", stable), weight=0)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.endswith("; and 37 more")
    assert len(verdict.reason) < MAX_REASON + 20


def test_bounded_list_cuts_long_items() -> None:
    assert bounded_list(["a", "b"]) == "a; b"
    assert bounded_list(["a", "b", "c", "d"], limit=2) == "a; b; and 2 more"
    assert bounded_list(["x" * 50], budget=10) == "x" * 9 + "…"


# ---- apiCompat ----

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "app", "version": "1.2.0"},
    "paths": {
        "/orders/{id}": {
            "get": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "an order",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["id", "total"],
                                    "properties": {"id": {"type": "string"}, "total": {"type": "number"}},
                                }
                            }
                        },
                    }
                },
            }
        }
    },
}
TOTAL = "/paths/~1orders~1{id}/get/responses/200/content/application~1json/schema/properties/total"


def without_total() -> dict[str, Any]:
    changed = copy.deepcopy(OPENAPI)
    schema = changed["paths"]["/orders/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    del schema["properties"]["total"]
    schema["required"] = ["id"]
    return changed


def with_extra_path() -> dict[str, Any]:
    changed = copy.deepcopy(OPENAPI)
    changed["paths"]["/health"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    return changed


def api_gate(version: dict[str, Any] | None = None) -> Gate:
    check: dict[str, Any] = {"stableUrl": "http://s/openapi.json", "canaryUrl": "http://c/openapi.json"}
    if version is not None:
        check["version"] = {"url": "http://c/version"} | version
    return Gate.model_validate({"name": "api", "apiCompat": check})


def api(
    canary: dict[str, Any] | None,
    stable: dict[str, Any] | None = OPENAPI,
    version: object = None,
    version_error: str | None = None,
) -> ApiCompatMeasurement:
    return ApiCompatMeasurement(
        gate="api",
        observed_at=NOW,
        stable=DocumentReading(
            url="http://s/openapi.json", content=stable, error=None if stable else "answered status 404"
        ),
        canary=DocumentReading(
            url="http://c/openapi.json", content=canary, error=None if canary else "neither JSON nor YAML"
        ),
        version=DocumentReading(url="http://c/version", content=version, error=version_error)
        if version is not None or version_error
        else None,
    )


VERSION_RANGE = {"range": "^1.2"}


@pytest.mark.parametrize(
    ("gate", "measurement", "outcome", "words"),
    [
        (api_gate(), api(OPENAPI), Outcome.PASS, ["API compatibility: 0 errors"]),
        (api_gate(), api(with_extra_path()), Outcome.PASS, ["1 info"]),
        (api_gate(), api(without_total()), Outcome.FAIL, ["1 breaking change", "ResponsePropertyRemoved", TOTAL]),
        (api_gate(), api(OPENAPI, with_extra_path()), Outcome.FAIL, ["PathRemoved at /paths/~1health"]),
        (api_gate(), api(None), Outcome.FAIL, ["canary's OpenAPI document", "neither JSON nor YAML"]),
        (api_gate(), api(OPENAPI, None), Outcome.ERROR, ["stable's OpenAPI document", "status 404"]),
        (api_gate(VERSION_RANGE), api(OPENAPI, version={"version": "1.4.0"}), Outcome.PASS, ["version 1.4.0 in ^1.2"]),
        (api_gate(VERSION_RANGE), api(OPENAPI, version={"version": "2.0.0"}), Outcome.FAIL, ["2.0.0, outside"]),
        (api_gate(VERSION_RANGE), api(OPENAPI, version={"version": "two"}), Outcome.FAIL, ["not a semantic version"]),
        (api_gate(VERSION_RANGE), api(OPENAPI, version={"v": "1.4.0"}), Outcome.FAIL, ["no $.version"]),
        (api_gate(VERSION_RANGE), api(OPENAPI, version_error="answered status 404"), Outcome.FAIL, ["status 404"]),
        (api_gate({"range": "^^1"}), api(OPENAPI, version={"version": "1.4.0"}), Outcome.ERROR, ["not a semver"]),
        (
            api_gate({"range": ">=1", "jsonPath": "$.api.version"}),
            api(without_total(), version={"api": {"version": "1.0.0"}}),
            Outcome.FAIL,
            ["ResponsePropertyRemoved"],
        ),
    ],
    ids=[
        "same",
        "path-added",
        "response-field-dropped",
        "path-removed",
        "canary-unreadable",
        "stable-unreadable",
        "version-in-range",
        "version-out-of-range",
        "version-not-semver",
        "version-missing",
        "version-unreachable",
        "range-invalid",
        "version-ok-but-breaking",
    ],
)
def test_api_compat(gate: Gate, measurement: ApiCompatMeasurement, outcome: Outcome, words: list[str]) -> None:
    verdict = judge(gate, measurement)
    assert verdict.outcome is outcome, verdict.reason
    for word in words:
        assert word in verdict.reason


def test_a_breaking_change_puts_the_pointers_in_the_value() -> None:
    verdict = judge(api_gate(), api(without_total()))
    assert verdict.value == TOTAL
    assert verdict.threshold == "no breaking change"
