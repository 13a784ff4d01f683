"""A gate's `successCondition` / `failureCondition` and `initialDelay` are checked by the spec's validation: a bad one
makes the release `Invalid` (and `graygate lint` fail) with its field path, before any traffic moves."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from graygate.api import InvalidSpec, parse_spec
from graygate.api.expressions import ConditionError, check_condition, evaluate_condition
from graygate.api.gates import CHECK_MODELS, CheckModel
from graygate.console.lint import STOPPED, lint_text
from graygate.gates.kinds import KINDS

PROBE = {"httpProbe": {"url": "http://checkout-canary:8080/healthz"}}
QUERY = {"prometheus": {"query": {"expr": "sum by (pod) (rate(errors_total[1m]))"}}}
PARITY = {"metricParity": {"canaryUrl": "http://checkout-canary:8080/metrics"}}
SPEC: dict[str, Any] = {
    "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
    "stable": {"host": "checkout", "subset": "stable"},
    "canary": {"host": "checkout", "subset": "canary"},
    "stepWeights": [10, 50],
    "analysis": {
        "interval": "30s",
        "gates": [{"name": "health", **PROBE}, {"name": "parity", **PARITY}],
    },
}


def with_third_gate(**gate: Any) -> dict[str, Any]:
    body = copy.deepcopy(SPEC)
    body["analysis"]["gates"].append({"name": "third", **gate})
    return body


def problems(body: dict[str, Any]) -> tuple[str, ...]:
    parsed = parse_spec(body)
    return parsed.problems if isinstance(parsed, InvalidSpec) else ()


@pytest.mark.parametrize("field", ["successCondition", "failureCondition"])
@pytest.mark.parametrize(
    ("kind", "expression", "why"),
    [
        (PROBE, "result.statusCode ==", "does not parse: Failed to parse expression"),
        (PROBE, "result.statuscode == 200", "result has no field 'statuscode'; the httpProbe gate's result has: body"),
        (PROBE, "result.latencySeconds * 1000 < 300", "Unsupported operation: float * int"),
        (PROBE, "result.latencySeconds", "must evaluate to a bool, not float"),
        (PROBE, "latency < 0.3", "Undefined variable or function: 'latency'"),
        (PROBE, "result.statusCode < 'ok'", "No such overload"),
        (QUERY, "result.vlaue > 0.5", "result has no field 'vlaue'; the prometheus gate's result has: series"),
        (QUERY, "result.series.all(s, s.value > 'x')", "No such overload"),
        (QUERY, "size(result.series) > 0.5 && result.value", "No such overload"),
        (PARITY, "result.value > 1", "result has no field 'value'; the metricParity gate's result has no fields"),
    ],
)
def test_a_bad_condition_is_invalid_with_its_field_path(
    field: str, kind: dict[str, Any], expression: str, why: str
) -> None:
    found = problems(with_third_gate(**kind, **{field: expression}))
    assert len(found) == 1, found
    assert found[0].startswith(f"spec.analysis.gates[2].{field}: {why}"), found[0]


@pytest.mark.parametrize("field", ["successCondition", "failureCondition"])
@pytest.mark.parametrize(
    ("kind", "expression"),
    [
        (PROBE, "result.statusCode == 200 && result.latencySeconds < 0.3"),
        (PROBE, "result.body.status == 'ok'"),  # the body's keys are known only at run time
        (PROBE, "has(result.body.checks) && result.body.checks.all(c, c.ok)"),
        (PROBE, "result.bodyText.contains('ready')"),
        (QUERY, "result.series.all(s, s.value < 0.05)"),
        (QUERY, "result.series.exists(s, s.labels.pod == 'checkout-0' && s.value > 0.1)"),
        (QUERY, "result.value <= result.stableValue * 1.2"),
        (QUERY, "size(result.series) == 3"),
    ],
)
def test_a_good_condition_is_valid(field: str, kind: dict[str, Any], expression: str) -> None:
    assert problems(with_third_gate(**kind, **{field: expression})) == ()


def test_a_query_needs_a_threshold_or_a_condition() -> None:
    assert problems(with_third_gate(**QUERY)) == (
        "spec.analysis.gates[2].prometheus.query: give min, max, maxRatio or a combination, or a successCondition "
        "or failureCondition",
    )
    assert problems(with_third_gate(**QUERY, failureCondition="result.value > 0.1")) == ()


@pytest.mark.parametrize(("delay", "deadline"), [("10m", None), ("11m", None), ("5m", "5m"), ("1h", "30m")])
def test_an_initial_delay_not_shorter_than_the_deadline_is_invalid(delay: str, deadline: str | None) -> None:
    body = with_third_gate(**PROBE, initialDelay=delay)
    if deadline is not None:
        body["progressDeadline"] = deadline
    shown = deadline or "10m"
    assert problems(body) == (
        f"spec.analysis.gates[2].initialDelay: must be shorter than progressDeadline ({shown}): the step would be "
        "past its deadline first",
    )


@pytest.mark.parametrize("delay", ["1s", "45s", "9m59s"])
def test_an_initial_delay_shorter_than_the_deadline_is_valid(delay: str) -> None:
    assert problems(with_third_gate(**PROBE, initialDelay=delay, dryRun=True)) == ()


def test_lint_reports_a_bad_condition() -> None:
    manifest = {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": "CanaryRelease",
        "metadata": {"name": "checkout"},
        "spec": with_third_gate(**QUERY, successCondition="result.series.all(s, s.value < '5')"),
    }
    found, releases = lint_text(yaml.safe_dump(manifest), "release.yaml")
    assert releases == 1
    (problem, note) = [str(problem) for problem in found]
    assert note.endswith(f"spec: {STOPPED}"), note
    assert re.match(
        r"release\.yaml:\d+:\d+: spec\.analysis\.gates\[2\]\.successCondition: No such overload: the operation is "
        r"not defined for the given operand types\.",
        problem,
    ), problem


@pytest.mark.parametrize(
    ("expression", "result", "expected"),
    [
        ("result.value > 0.5", {"value": 0.7}, True),
        ("result.series.all(s, s.value < 1.0)", {"series": [{"labels": {}, "value": 0.5}]}, True),
        ("result.series.exists(s, s.labels.pod == 'b')", {"series": [{"labels": {"pod": "a"}, "value": 1.0}]}, False),
    ],
)
def test_evaluate(expression: str, result: dict[str, Any], expected: bool) -> None:
    assert evaluate_condition(expression, result) is expected


@pytest.mark.parametrize(
    ("expression", "result", "why"),
    [
        ("result.body.status == 'ok'", {"body": {}}, "no such key: status"),
        ("result.series[1].value > 0.5", {"series": [{"value": 1.0}]}, "index out of range"),
        ("result.value", {"value": 1.0}, "must evaluate to a bool, not float"),
    ],
)
def test_evaluate_fails_with_the_librarys_words(expression: str, result: dict[str, Any], why: str) -> None:
    with pytest.raises(ConditionError, match=why):
        evaluate_condition(expression, result)


def test_a_string_literal_naming_a_field_is_not_a_field() -> None:
    sample = {"value": 1.0}
    assert check_condition("'result.nothing' != string(result.value)", sample, open_keys=False) is None


@pytest.mark.parametrize("model", CHECK_MODELS, ids=[model.kind for model in CHECK_MODELS])
def test_a_kind_that_declares_no_result_measures_none(model: type[CheckModel]) -> None:
    """A check model's `result_sample` and its measurement's `result()` are overridden together (the values are
    compared kind by kind in test_domain_gate_conditions)."""
    (kind,) = [kind for kind in KINDS if kind.model is model]
    declares = model.result_sample is not CheckModel.result_sample
    from graygate.domain.analysis.measurements import Measurement

    measures = kind.measurement.result is not Measurement.result or kind.measurement.numbers is not Measurement.numbers
    assert declares == measures
