"""Traffic colouring in the domain: which header routes a plan wants at each step, and how `decide` carries them."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import SNAPSHOT, VS, observe, passing, probe, spec, status

from graygate.api import Phase
from graygate.api.header_routes import HeaderRouteMatch
from graygate.domain.release.decide import decide, wanted_header_routes
from graygate.domain.release.decision import Advance, Complete, Decision, Hold, Reason, Reassert, Rollback
from graygate.domain.release.observations import RouteReading
from graygate.domain.release.plan import plan_of

P = Phase
COLOUR = {"match": [{"headers": {"x-canary": {"exact": "always"}}}]}
OTHER = {"match": [{"headers": {"x-team": {"prefix": "qa-"}}}]}
ALWAYS = (HeaderRouteMatch.model_validate({"headers": {"x-canary": {"exact": "always"}}}),)
QA = (HeaderRouteMatch.model_validate({"headers": {"x-team": {"prefix": "qa-"}}}),)
STEPS: list[dict[str, Any]] = [
    {"setWeight": 0},
    {"setHeaderRoute": COLOUR},
    {"pause": {}},
    {"setWeight": 20},
    {"setHeaderRoute": OTHER},
    {"setWeight": 50},
]
COLOURED = spec(steps=[{"setHeaderRoute": COLOUR}, {"pause": {}}], analysis={"interval": "30s"})


@pytest.mark.parametrize(
    ("index", "wanted", "weight"),
    [(0, (), 0), (1, ALWAYS, 0), (2, ALWAYS, 0), (3, ALWAYS, 20), (4, QA, 20), (5, QA, 50), (6, (), 100)],
)
def test_the_latest_header_route_step_is_wanted_until_the_end(
    index: int, wanted: tuple[HeaderRouteMatch, ...], weight: int
) -> None:
    plan = plan_of(spec(steps=STEPS))
    assert plan.header_routes_at(index) == wanted
    assert plan.weight_at(index) == weight


@pytest.mark.parametrize(
    ("phase", "wanted"),
    [
        (P.PENDING, ()),
        (P.PROGRESSING, ALWAYS),
        (P.PAUSED, ALWAYS),
        (P.SUCCEEDED, ()),
        (P.FAILED, ()),
        (P.ABORTED, ()),
    ],
)
def test_header_routes_are_wanted_only_while_the_release_runs(phase: Phase, wanted: tuple[Any, ...]) -> None:
    assert wanted_header_routes(COLOURED, status(phase, current_step_index=1)) == wanted


def seen(weight: int, header_route: bool, **changes: Any) -> Any:
    reading = RouteReading(virtual_service=VS, route="primary", canary_weight=weight, header_route=header_route)
    return observe(weight, readings=(reading,), **changes)


def check(decision: Decision, kind: type[Decision], phase: Phase, target: int | None, header: tuple[Any, ...]) -> None:
    assert type(decision) is kind, decision.message
    assert decision.status.phase is phase
    assert decision.target_weight == target
    assert decision.header_routes == header
    assert decision.status.header_routes is (phase in (P.PROGRESSING, P.PAUSED))


@pytest.mark.parametrize(
    ("before", "observed", "kind", "phase", "target", "header"),
    [
        # starting on a setHeaderRoute step: the weight stays 0, the route is wanted from now on
        (status(P.PENDING, current_step_index=0), seen(0, False), Advance, P.PROGRESSING, 0, ALWAYS),
        # the colouring step is done (no gates): the pause step is entered, the route stays
        (status(P.PROGRESSING, current_step_index=0), seen(0, True), Advance, P.PAUSED, 0, ALWAYS),
        # holding in the pause with the route in place: nothing to write
        (
            status(P.PAUSED, current_step_index=1, pause_reason="AwaitingPromotion"),
            seen(0, True),
            Hold,
            P.PAUSED,
            None,
            (),
        ),
        # someone deleted the route while paused: re-assert it at the same weight
        (
            status(P.PAUSED, current_step_index=1, pause_reason="AwaitingPromotion"),
            seen(0, False),
            Reassert,
            P.PAUSED,
            0,
            ALWAYS,
        ),
        # promoted past the last step: 100 % and the route goes
        (
            status(P.PAUSED, current_step_index=1, pause_reason="AwaitingPromotion"),
            seen(0, True, command="promote"),
            Complete,
            P.SUCCEEDED,
            100,
            (),
        ),
        # a finished release that still has the route (a crash before its removal): remove it
        (status(P.SUCCEEDED, canary_weight=100, current_step_index=1), seen(100, True), Reassert, P.SUCCEEDED, 100, ()),
        (status(P.SUCCEEDED, canary_weight=100, current_step_index=1), seen(100, False), Hold, P.SUCCEEDED, None, ()),
        (status(P.FAILED, current_step_index=1), seen(0, True), Reassert, P.FAILED, 0, ()),
        (status(P.ABORTED, current_step_index=1), seen(0, True), Reassert, P.ABORTED, 0, ()),
    ],
)
def test_decide_carries_the_header_routes(
    before: Any, observed: Any, kind: type[Decision], phase: Phase, target: int | None, header: tuple[Any, ...]
) -> None:
    decision = decide(COLOURED, before, observed, SNAPSHOT_TIME)
    check(decision, kind, phase, target, header)


SNAPSHOT_TIME = status().step_started_at
assert SNAPSHOT_TIME is not None


def test_the_pause_entered_after_colouring_keeps_the_route() -> None:
    decision = decide(COLOURED, status(P.PROGRESSING, current_step_index=0), seen(0, True), SNAPSHOT_TIME)
    assert wanted_header_routes(COLOURED, decision.status) == ALWAYS


@pytest.mark.parametrize("phase", [P.FAILED, P.ABORTED])
def test_a_finished_release_at_zero_removes_the_route_by_restoring(phase: Phase) -> None:
    decision = decide(COLOURED, status(phase, current_step_index=1), seen(0, True), SNAPSHOT_TIME)
    assert decision.restore_routes
    assert decision.status.original_routes == (SNAPSHOT,)


def test_a_rollback_drops_the_header_route() -> None:
    gated = spec(steps=[{"setHeaderRoute": COLOUR}, {"pause": {}}])
    failing = (probe("health", 500), probe("latency"))
    decision = decide(gated, status(P.PAUSED, current_step_index=1), seen(0, True, analysis=failing), SNAPSHOT_TIME)
    assert isinstance(decision, Rollback)
    assert decision.restore_routes
    assert decision.header_routes == ()


def test_a_colouring_step_waits_for_its_gates_with_the_route_in_place() -> None:
    gated = spec(steps=[{"setHeaderRoute": COLOUR}, {"pause": {}}])
    waiting = decide(gated, status(P.PROGRESSING, current_step_index=0), seen(0, True), SNAPSHOT_TIME)
    assert isinstance(waiting, Hold)
    assert "coloured requests to the canary, 0% of the rest" in waiting.message
    done = decide(gated, status(P.PROGRESSING, current_step_index=0), seen(0, True, analysis=passing()), SNAPSHOT_TIME)
    assert done.status.phase is P.PAUSED
    assert done.reason is Reason.STEP_ADVANCED
    assert done.header_routes == ALWAYS
