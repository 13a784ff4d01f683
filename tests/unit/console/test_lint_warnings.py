"""Each warning rule of `graygate lint`, on the smallest spec that triggers it and on its nearest valid neighbours;
and the rules left out on purpose, shown not to fire (the operator does the expected thing there)."""

from __future__ import annotations

from typing import Any

import pytest

from graygate.api.spec import CanaryReleaseSpec
from graygate.console.lint_warnings import RULES, Warning, no_traffic_before_full, success_rate_min_ratio, warnings_of

BASE: dict[str, Any] = {
    "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
    "stable": {"host": "checkout", "subset": "stable"},
    "canary": {"host": "checkout", "subset": "canary"},
    "canaryWorkload": {"name": "checkout-canary"},
    "stableWorkload": {"name": "checkout"},
    "steps": [{"setWeight": 10}, {"pause": {}}],
}


def spec(**fields: Any) -> CanaryReleaseSpec:
    return CanaryReleaseSpec.model_validate({**BASE, **fields})


PROBE = {"name": "ok", "httpProbe": {"url": "http://checkout-canary:8080/healthz"}}


def rate(**values: Any) -> dict[str, Any]:
    return {"gates": [PROBE, {"name": "errors", "prometheus": {"requestSuccessRate": values}}]}


def test_every_rule_is_in_the_table_once() -> None:
    names = [name for name, _ in RULES]
    assert len(names) == len(set(names))
    assert [rule for _, rule in RULES] == [success_rate_min_ratio, no_traffic_before_full]


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        (rate(min=0.99), ["spec.analysis.gates[1].prometheus.requestSuccessRate.min"]),
        (rate(min=0.5, maxIncreasePoints=1), ["spec.analysis.gates[1].prometheus.requestSuccessRate.min"]),
        (rate(min=99), []),
        (rate(min=1), []),
        (rate(min=0, maxIncreasePoints=1), []),
        (rate(maxIncreasePoints=0.5), []),
    ],
)
def test_a_success_rate_min_below_1_reads_as_a_ratio(analysis: dict[str, Any], expected: list[str]) -> None:
    found = success_rate_min_ratio(spec(analysis=analysis))
    assert [warning.path for warning in found] == expected
    if found:
        assert "is a percentage here" in found[0].message
        assert f"write {analysis['gates'][1]['prometheus']['requestSuccessRate']['min'] * 100:g}" in found[0].message


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ({"steps": [{"pause": {"duration": "5m"}}]}, ["spec.steps"]),
        ({"steps": [{"setWeight": 0}, {"pause": {}}]}, ["spec.steps"]),
        ({"steps": None, "stepWeights": [0]}, ["spec.stepWeights"]),
        ({"steps": [{"setWeight": 1}]}, []),
        ({"steps": [{"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "1"}}}]}}]}, []),
    ],
)
def test_a_plan_that_never_sends_the_canary_traffic(plan: dict[str, Any], expected: list[str]) -> None:
    raw = {**BASE, **plan}
    raw = {key: value for key, value in raw.items() if value is not None}
    found = no_traffic_before_full(CanaryReleaseSpec.model_validate(raw))
    assert [warning.path for warning in found] == expected


def test_a_timed_pause_longer_than_the_progress_deadline_is_not_a_warning() -> None:
    """deadline.overdue counts a timed pause as progress until its time is up: the deadline never fires for it."""
    long_pause = spec(progressDeadline="5m", steps=[{"setWeight": 10}, {"pause": {"duration": "2h"}}])
    intervals = spec(progressDeadline="5m", steps=None, stepWeights=[10, 50], stepInterval="1h")
    assert warnings_of(long_pause) == warnings_of(intervals) == []


def test_weights_that_stop_below_100_are_not_a_warning() -> None:
    """When the plan is done the release completes with the canary at 100 % (plan.FULL), as Argo Rollouts does."""
    assert warnings_of(spec(steps=[{"setWeight": 5}, {"pause": {}}, {"setWeight": 50}])) == []


def test_warnings_of_runs_every_rule_in_table_order() -> None:
    both = spec(steps=[{"pause": {}}], analysis=rate(min=0.9))
    assert warnings_of(both) == [
        *success_rate_min_ratio(both),
        Warning("spec.steps", no_traffic_before_full(both)[0].message),
    ]
