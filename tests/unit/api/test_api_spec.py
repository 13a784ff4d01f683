"""The spec model: defaults, the stepWeights shorthand, gates as a one-of, and round trips to the manifest form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from graygate.api import CanaryReleaseSpec, Gate, HttpProbe, PauseSpec, Step

BASE: dict[str, Any] = {
    "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
    "stable": {"host": "checkout", "subset": "stable"},
    "canary": {"host": "checkout", "subset": "canary"},
}


def spec(**fields: Any) -> CanaryReleaseSpec:
    return CanaryReleaseSpec.model_validate(BASE | fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"stepWeights": [10, 50]}, [Step(set_weight=10), Step(set_weight=50)]),
        (
            {"stepWeights": [10, 50], "stepInterval": "1m"},
            [
                Step(set_weight=10),
                Step(pause=PauseSpec(duration=timedelta(minutes=1))),
                Step(set_weight=50),
                Step(pause=PauseSpec(duration=timedelta(minutes=1))),
            ],
        ),
        ({"steps": [{"setWeight": 5}, {"pause": {}}]}, [Step(set_weight=5), Step(pause=PauseSpec())]),
        ({"stepWeights": [0, 0, 100]}, [Step(set_weight=0), Step(set_weight=0), Step(set_weight=100)]),
    ],
    ids=["weights", "weights-with-interval", "steps-as-written", "equal-weights-allowed"],
)
def test_plan_steps(fields: dict[str, Any], expected: list[Step]) -> None:
    assert list(spec(**fields).plan_steps()) == expected


def test_defaults() -> None:
    release = spec(steps=[{"setWeight": 100}])
    assert release.analysis.interval == timedelta(seconds=30)
    assert (release.analysis.failure_limit, release.analysis.inconclusive_limit) == (2, 3)
    assert release.analysis.gates == ()
    assert release.canary_workload is None


def test_probe_defaults() -> None:
    gate = Gate.model_validate({"name": "health", "httpProbe": {"url": "http://x/healthz"}})
    assert gate.check == HttpProbe(url="http://x/healthz")
    assert gate.check.kind == "httpProbe"
    assert (gate.critical, gate.success_threshold, gate.failure_threshold) == (False, 1, 1)
    probe = gate.check
    assert (probe.method, probe.expect_status, probe.timeout, probe.latency_budget) == (
        "GET",
        (200,),
        timedelta(seconds=2),
        None,
    )


def test_snake_case_names_work_in_python_and_camel_case_on_the_wire() -> None:
    release = CanaryReleaseSpec(
        traffic_routing=spec(steps=[{"setWeight": 1}]).traffic_routing,
        stable=spec(steps=[{"setWeight": 1}]).stable,
        canary=spec(steps=[{"setWeight": 1}]).canary,
        step_weights=(10, 20),
        step_interval=timedelta(seconds=90),
    )
    dumped = release.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["stepWeights"] == [10, 20]
    assert dumped["stepInterval"] == "1m30s"
    assert dumped["analysis"]["interval"] == "30s"
    assert CanaryReleaseSpec.model_validate(dumped) == release


def test_models_are_frozen() -> None:
    release = spec(steps=[{"setWeight": 100}])
    with pytest.raises(ValueError, match="frozen"):
        release.stable = release.canary  # type: ignore[misc]


def test_gate_kind_fields_are_every_field_but_the_common_ones() -> None:
    common = {"name", "critical", "pre_check", "success_threshold", "failure_threshold"}
    kinds = set(Gate.model_fields) - common - {"dry_run", "initial_delay", "success_condition", "failure_condition"}
    expected = {
        "http_probe",
        "prometheus",
        "metric_parity",
        "api_compat",
        "hot_reload",
        "etcd_config",
        "routing_check",
        "webhook",
    }
    assert kinds == expected, "a new gate kind needs its line in graygate.gates.kinds: see graygate.gates"
