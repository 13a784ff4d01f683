"""Analysis: thresholds debounce samples, and one analysis folds into release-level counts."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import T0, available, judged, probe, spec

from graygate.api import Gate, GateState, Outcome
from graygate.domain.analysis.assessment import WORKLOAD_GATE, Assessment, assess, debounce
from graygate.domain.analysis.measurements import WorkloadReading
from graygate.domain.analysis.verdicts import Verdict
from graygate.domain.errors import UnknownGate

V = Outcome
ANALYSIS = spec().analysis  # health (critical), latency (non-critical, 300ms budget)


def gate(success: int = 1, failure: int = 1) -> Gate:
    return Gate.model_validate(
        {"name": "g", "successThreshold": success, "failureThreshold": failure, "httpProbe": {"url": "http://x/"}}
    )


def sample(outcome: Outcome) -> Verdict:
    return Verdict(gate="g", kind="httpProbe", outcome=outcome, reason="sample", at=T0)


@pytest.mark.parametrize(
    ("thresholds", "counters", "seen", "outcome", "after"),
    [
        ((1, 1), (0, 0), V.PASS, V.PASS, (1, 0)),
        ((1, 1), (0, 0), V.FAIL, V.FAIL, (0, 1)),
        ((3, 1), (0, 0), V.PASS, V.WAITING, (1, 0)),
        ((3, 1), (2, 0), V.PASS, V.PASS, (3, 0)),
        ((3, 1), (5, 0), V.PASS, V.PASS, (6, 0)),
        ((1, 3), (0, 0), V.FAIL, V.WAITING, (0, 1)),
        ((1, 3), (0, 2), V.FAIL, V.FAIL, (0, 3)),
        ((1, 3), (4, 0), V.FAIL, V.WAITING, (0, 1)),
        ((2, 3), (0, 2), V.PASS, V.WAITING, (1, 0)),
        ((1, 1), (2, 0), V.ERROR, V.ERROR, (2, 0)),
        ((1, 1), (0, 2), V.INCONCLUSIVE, V.INCONCLUSIVE, (0, 2)),
    ],
)
def test_debounce(
    thresholds: tuple[int, int],
    counters: tuple[int, int],
    seen: Outcome,
    outcome: Outcome,
    after: tuple[int, int],
) -> None:
    state = GateState(name="g", consecutive_successes=counters[0], consecutive_failures=counters[1], failures=4)
    verdict, updated = debounce(sample(seen), state, gate(*thresholds))
    assert verdict.outcome is outcome
    assert (updated.consecutive_successes, updated.consecutive_failures) == after
    assert updated.failures == 4 + (outcome is V.FAIL)
    assert updated.last_outcome is outcome
    if outcome is V.WAITING:
        assert "in a row" in verdict.reason


def run(measurements: tuple[Any, ...], **fields: Any) -> Assessment:
    values: dict[str, Any] = {
        "measurements": measurements,
        "states": (),
        "workload": None,
        "weight": 10,
        "failure_count": 0,
        "inconclusive_count": 0,
        "error_count": 0,
        "now": T0,
    }
    values.update(fields)
    return assess(ANALYSIS, **values)


def test_all_pass() -> None:
    result = run((probe("health"), probe("latency")))
    assert result.worst is V.PASS
    assert [v.gate for v in result.verdicts] == ["health", "latency"]
    assert (result.failure_count, result.inconclusive_count) == (0, 0)
    assert [s.name for s in result.gate_states] == ["health", "latency"]


def test_a_critical_failure_is_reported_apart() -> None:
    result = run((probe("health", 503), probe("latency")))
    assert [v.gate for v in result.critical_failures] == ["health"]
    assert result.failures == ()
    assert result.failure_count == 0


@pytest.mark.parametrize(("before", "after"), [(0, 1), (2, 3)])
def test_non_critical_failures_add_up(before: int, after: int) -> None:
    result = run((probe("health"), probe("latency", latency_ms=900)), failure_count=before)
    assert [v.gate for v in result.failures] == ["latency"]
    assert result.failure_count == after
    assert result.worst is V.FAIL


@pytest.mark.parametrize(
    ("measurements", "before", "after"),
    [
        # (inconclusive analyses in a row, analyses in a row with an Error) before and after this analysis
        ((probe("health"), judged("latency", V.INCONCLUSIVE)), (0, 0), (1, 0)),
        ((probe("health"), judged("latency", V.INCONCLUSIVE)), (4, 2), (5, 0)),
        # a gate that could not measure counts apart and leaves the inconclusive streak as it is
        ((probe("health"),), (0, 0), (0, 1)),
        ((probe("health"),), (2, 4), (2, 5)),
        ((probe("health"), probe("latency", None)), (1, 0), (1, 1)),
        ((judged("health", V.ERROR), judged("latency", V.INCONCLUSIVE)), (1, 1), (2, 2)),
        # a conclusive analysis ends both
        ((probe("health"), probe("latency")), (4, 3), (0, 0)),
        ((probe("health"), probe("latency", latency_ms=900)), (4, 3), (0, 0)),
    ],
    ids=[
        "inconclusive",
        "inconclusive-again",
        "missing",
        "missing-again",
        "error",
        "both",
        "clean-resets",
        "failure-resets",
    ],
)
def test_inconclusive_and_error_analyses_count_apart_in_a_row(
    measurements: tuple[Any, ...], before: tuple[int, int], after: tuple[int, int]
) -> None:
    result = run(measurements, inconclusive_count=before[0], error_count=before[1])
    assert (result.inconclusive_count, result.error_count) == after


def test_a_missing_measurement_is_an_error_verdict() -> None:
    [health, latency] = run((probe("health"),)).verdicts
    assert (latency.outcome, latency.reason, latency.at) == (V.ERROR, "no measurement was taken", T0)
    assert health.outcome is V.PASS


@pytest.mark.parametrize(
    "measurements",
    [(probe("nope"),), (probe("health"), probe("health"))],
    ids=["unknown-gate", "measured-twice"],
)
def test_measurements_must_match_the_gates(measurements: tuple[Any, ...]) -> None:
    with pytest.raises(UnknownGate):
        run(measurements)


def test_counters_carry_over_and_dropped_gates_are_forgotten() -> None:
    states = (GateState(name="latency", consecutive_successes=2), GateState(name="removed", failures=9))
    result = run((probe("health"), probe("latency")), states=states)
    assert [(s.name, s.consecutive_successes) for s in result.gate_states] == [("health", 1), ("latency", 3)]


@pytest.mark.parametrize(
    ("workload", "weight", "outcome", "counted"),
    [
        (available(), 10, V.PASS, 0),
        (available(False), 10, V.FAIL, 1),
        (available(False), 0, V.WAITING, 0),
    ],
)
def test_the_workload_is_a_pseudo_gate(workload: WorkloadReading, weight: int, outcome: Outcome, counted: int) -> None:
    result = run((probe("health"), probe("latency")), workload=workload, weight=weight)
    [pseudo] = [v for v in result.verdicts if v.gate == WORKLOAD_GATE]
    assert pseudo.outcome is outcome
    assert result.failure_count == counted
    assert "Deployment/checkout-canary" in pseudo.reason
