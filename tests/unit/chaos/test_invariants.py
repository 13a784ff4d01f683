"""The chaos bench's invariants, on hand-made sequences of stored versions: each rule caught, each excuse honoured."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.chaos.invariants import (
    FinalState,
    InvariantChecker,
    ReleaseVersion,
    RouteVersion,
    final_violations,
    weight_violations,
)

RV = iter(range(1, 10_000))


def release(
    phase: str = "Progressing",
    step: int = 0,
    weight: int = 10,
    *,
    started: str | None = "t1",
    command: str | None = None,
    uid: str = "u1",
    deleting: bool = False,
) -> ReleaseVersion:
    body: dict[str, Any] = {
        "metadata": {"name": "r", "namespace": "ns", "uid": uid, "resourceVersion": str(next(RV))},
        "spec": {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "app", "routes": ["primary"]}]}},
            "canary": {"host": "app", "subset": "canary"},
        },
        "status": {"phase": phase, "currentStepIndex": step, "canaryWeight": weight, "startedAt": started},
    }
    if command is not None:
        body["status"]["lastCommand"] = {"value": command}
    if deleting:
        body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return ReleaseVersion.of(body)


def routes(canary: Any, stable: Any = None) -> RouteVersion:
    stable = 100 - canary if stable is None and type(canary) is int else stable
    body = {
        "metadata": {"name": "app", "namespace": "ns", "resourceVersion": str(next(RV))},
        "spec": {
            "http": [
                {
                    "name": "primary",
                    "route": [
                        {"destination": {"host": "app", "subset": "stable"}, "weight": stable},
                        {"destination": {"host": "app", "subset": "canary"}, "weight": canary},
                    ],
                },
                {"name": "header", "route": [{"destination": {"host": "app", "subset": "canary"}}]},
            ]
        },
    }
    return RouteVersion.of(body)


def rules(*versions: ReleaseVersion | RouteVersion) -> list[str]:
    checker = InvariantChecker()
    for version in versions:
        checker.observe(version)
    return [violation.rule for violation in checker.violations]


@pytest.mark.parametrize(
    ("canary", "stable", "problem"),
    [
        (10, 90, None),
        (0, 100, None),
        (10, 80, "sum to 90"),
        (10.5, 89.5, "not all integers"),
        ("10", 90, "not all integers"),
        (True, 99, "not all integers"),
        (-10, 110, "negative"),
        (None, 100, "not all integers"),
    ],
)
def test_weights_are_integers_summing_to_100(canary: Any, stable: Any, problem: str | None) -> None:
    found = weight_violations(routes(canary, stable))
    assert (found == []) if problem is None else (len(found) == 1 and problem in found[0]), found


SEQUENCES: list[tuple[str, list[Any], list[str]]] = [
    ("a clean run", [release(step=0), routes(10), release(step=1, weight=20), routes(20),
                     release("Succeeded", 1, 100), routes(100)], []),
    ("a step skipped", [release(step=0), release(step=2, weight=30)], ["steps"]),
    ("a step back", [release(step=1, weight=20), release(step=0, weight=10)], ["steps"]),
    ("promote --full jumps, recorded", [release(step=0), release("Succeeded", 3, 100, command="promote-full/1")], []),
    ("a command recorded, then its jump", [release(step=0), release(step=0, command="promote-full/1"),
                                           release("Succeeded", 4, 100, command="promote-full/1")], []),
    ("a command excuses one jump only", [release(step=0), release(step=0, command="promote-full/1"),
                                         release(step=2, weight=30, command="promote-full/1"),
                                         release(step=4, weight=50, command="promote-full/1")], ["steps"]),
    ("a new run starts at 0", [release(step=2, weight=30), release("Pending", 0, 0, started=None),
                               release(step=0, weight=10, started="t2")], []),
    ("a rise after the rollback", [release(step=1, weight=20), routes(20), release("Failed", 1, 0), routes(0),
                                   routes(5)], ["no rise after failure"]),
    ("a rollback then the route held", [release(step=1, weight=20), routes(20), release("Aborted", 1, 0),
                                        routes(0)], []),
    ("a new run may rise again", [release(step=1, weight=20), routes(20), release("Failed", 1, 0), routes(0),
                                  release(step=0, weight=10, started="t2"), routes(10)], []),
    ("a stale weight written back", [release(step=0), routes(10), release(step=1, weight=20), routes(20),
                                     routes(10)], ["stale write"]),
    ("a step's weight written twice", [release(step=0), routes(10), release(step=1, weight=20), routes(20),
                                       routes(10), routes(20)], ["stale write", "step written twice"]),
    ("a withdrawn pause, resumed", [release(step=1, weight=20), routes(20), release("Paused", 1, 0), routes(0),
                                    release(step=1, weight=20), routes(20)], []),
    ("a drift corrected", [release(step=1, weight=20), routes(20), routes(37), routes(20)], []),
    ("a command rewrites", [release(step=1, weight=20), routes(20), routes(37), release(step=1, weight=20,
                            command="resume/1"), routes(20)], []),
    ("the deletion restores", [release(step=1, weight=20), routes(20), release(step=1, weight=20, deleting=True),
                               routes(0)], []),
    ("a bad sum is flagged on a managed object", [release(step=0), routes(10, 80)], ["weights"]),
]  # fmt: skip


@pytest.mark.parametrize(("what", "versions", "expected"), SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_sequences(what: str, versions: list[Any], expected: list[str]) -> None:
    assert rules(*versions) == expected, what


def test_versions_are_checked_in_resource_version_order() -> None:
    """The status (intent) is written before the route; delivered the other way round, the order is restored."""
    start, moved = release(step=0), routes(10)
    checker = InvariantChecker()
    assert checker.observe_all([moved, start]) == []
    assert checker.versions_checked == 2


def test_a_version_delivered_again_is_not_checked_again() -> None:
    """A relist after a watch fell out of its window delivers versions already seen: not a new write."""
    checker = InvariantChecker()
    start, moved, advanced = release(step=0), routes(10), release(step=1, weight=20)
    for version in (start, moved, advanced, moved):
        checker.observe(version)
    assert checker.violations == []
    assert checker.versions_checked == 3


def test_routes_nobody_manages_are_not_checked() -> None:
    assert rules(routes(10, 80)) == []


@pytest.mark.parametrize(
    ("final", "problems"),
    [
        (FinalState("Succeeded", {"app/primary": 100}, 100), 0),
        (FinalState("Failed", {"app/primary": 0}, 0), 0),
        (FinalState("Failed", {"app/primary": 20}, 0), 2),
        (FinalState("Aborted", {"app/primary": 0}, 0, canary_replicas=1, expected_replicas=0), 1),
        (FinalState("Succeeded", {"app/primary": 100}, 100, config_values={"k": "v2"}, expected_config={"k": "v2"}), 0),
        (FinalState("Failed", {"app/primary": 0}, 0, config_values={"k": "v2"}, expected_config={"k": "v1"}), 1),
    ],
)
def test_final_state(final: FinalState, problems: int) -> None:
    assert len(final_violations("r", final)) == problems
