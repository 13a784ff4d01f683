"""The conditions every status ends with: kstatus' Ready / Reconciling / Stalled, and graygate's GatesPassing and
TrafficInSync, per phase, with honest transition times."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import at, available, observe, passing, probe, spec, status

from graygate.api import CanaryReleaseStatus, InvalidSpec, PauseReason, Phase
from graygate.domain.release.decide import decide

P = Phase


def conditions(decision_status: CanaryReleaseStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status.value, c.reason) for c in decision_status.conditions}


def settled(phase: Phase, **fields: Any) -> CanaryReleaseStatus:
    weight = {P.SUCCEEDED: 100, P.PROGRESSING: 10, P.PAUSED: 10}.get(phase, 0)
    before = status(phase, canary_weight=weight, **fields)
    waiting = available(False) if phase is P.PENDING else None  # so that Pending stays Pending
    return decide(spec(), before, observe(weight, workload=waiting), at(5)).status


@pytest.mark.parametrize(
    ("phase", "fields", "ready", "reconciling", "stalled"),
    [
        (P.PENDING, {}, ("False", "Pending"), ("True", "Pending"), ("False", "Pending")),
        (P.PROGRESSING, {}, ("False", "Progressing"), ("True", "Progressing"), ("False", "Progressing")),
        (
            P.PAUSED,
            {"pause_reason": PauseReason.MANUAL},
            ("False", "Manual"),
            ("True", "Manual"),
            ("False", "Manual"),
        ),
        (
            P.PAUSED,
            {"pause_reason": PauseReason.INCONCLUSIVE},
            ("False", "Inconclusive"),
            ("True", "Inconclusive"),
            ("True", "Inconclusive"),
        ),
        (P.SUCCEEDED, {}, ("True", "Succeeded"), ("False", "Succeeded"), ("False", "Succeeded")),
        (P.FAILED, {}, ("False", "RolledBack"), ("False", "RolledBack"), ("True", "RolledBack")),
        (P.ABORTED, {}, ("False", "Aborted"), ("False", "Aborted"), ("True", "Aborted")),
    ],
)
def test_kstatus_conditions_per_phase(
    phase: Phase, fields: dict[str, Any], ready: Any, reconciling: Any, stalled: Any
) -> None:
    found = conditions(settled(phase, **fields))
    assert (found["Ready"], found["Reconciling"], found["Stalled"]) == (ready, reconciling, stalled)


def test_invalid() -> None:
    found = conditions(decide(InvalidSpec(("spec: broken",)), status(), observe(), at(5)).status)
    assert found["Ready"] == ("False", "InvalidSpec")
    assert found["Stalled"] == ("True", "InvalidSpec")
    assert found["TrafficInSync"] == ("Unknown", "InvalidSpec")


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        (None, ("Unknown", "NotAnalyzed")),
        (passing(), ("True", "Pass")),
        ((probe("health"), probe("latency", latency_ms=999)), ("False", "Fail")),
        ((probe("health"),), ("Unknown", "Error")),
    ],
)
def test_gates_passing(analysis: Any, expected: tuple[str, str]) -> None:
    after = decide(spec(), status(canary_weight=10), observe(10, analysis=analysis), at(30)).status
    assert conditions(after)["GatesPassing"] == expected


@pytest.mark.parametrize(
    ("weight", "expected"),
    [(10, ("True", "InSync")), (5, ("False", "DriftCorrected")), (None, ("False", "RouteUnavailable"))],
)
def test_traffic_in_sync(weight: int | None, expected: tuple[str, str]) -> None:
    after = decide(spec(), status(canary_weight=10), observe(weight), at(5)).status
    assert conditions(after)["TrafficInSync"] == expected


def test_transition_times_move_only_on_a_flip() -> None:
    first = decide(spec(), status(canary_weight=10), observe(10), at(5)).status
    second = decide(spec(), first, observe(10), at(10)).status
    assert [c.last_transition_time for c in second.conditions] == [c.last_transition_time for c in first.conditions]
    assert all(c.observed_generation == 1 for c in second.conditions)
    rolled = decide(spec(), second, observe(10, analysis=(probe("health", 500), probe("latency"))), at(30)).status
    times = {c.type: c.last_transition_time for c in rolled.conditions}
    assert times["Stalled"] == at(30)
    assert times["Ready"] == at(5)
