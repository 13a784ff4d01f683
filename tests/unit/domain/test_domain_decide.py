"""`decide`, rule by rule: each row is one situation a release can be in, and the move it must make."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import SNAPSHOT, T0, at, available, check, observe, passing, probe, routes, spec, status

from graygate.api import CanaryReleaseStatus, InvalidSpec, OriginalRoute, Outcome, Phase
from graygate.domain.release.bookkeeping import needs_snapshot
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Advance, Decision, Hold, MarkInvalid, Reason, Reassert, Restart, Rollback
from graygate.domain.release.observations import RouteReading

P = Phase
BROKEN = InvalidSpec(("spec.steps[0]: a step needs exactly one of setWeight or pause",))
FRESH = CanaryReleaseStatus()


# ---- 1. invalid spec: nothing touches traffic ----


@pytest.mark.parametrize(
    "before",
    [FRESH, status(P.PROGRESSING, canary_weight=50), status(P.SUCCEEDED, canary_weight=100)],
    ids=["fresh", "mid-release", "succeeded"],
)
def test_an_invalid_spec_marks_invalid_and_leaves_traffic_alone(before: CanaryReleaseStatus) -> None:
    decision = decide(BROKEN, before, observe(), T0)
    check(decision, MarkInvalid, P.INVALID, None, Reason.INVALID_SPEC)
    assert not decision.restore_routes
    assert not decision.touches_traffic
    assert decision.status.canary_weight == before.canary_weight
    assert decision.status.step_display == "-"
    assert "spec.steps[0]" in decision.status.message
    assert decision.event == "Warning"


def test_a_still_invalid_spec_is_quiet() -> None:
    invalid = decide(BROKEN, status(P.PROGRESSING), observe(), T0).status
    decision = decide(BROKEN, invalid, observe(), at(5))
    assert type(decision) is Hold
    assert decision.event is None
    assert decision.status == invalid


def test_a_new_invalid_generation_is_recorded() -> None:
    invalid = decide(BROKEN, status(P.PROGRESSING), observe(), T0).status
    decision = decide(BROKEN, invalid, observe(generation=2), at(5))
    check(decision, MarkInvalid, P.INVALID, None, Reason.INVALID_SPEC)
    assert decision.status.observed_generation == 2


def test_a_command_is_not_kept_for_later_while_invalid() -> None:
    decision = decide(BROKEN, status(P.PROGRESSING), observe(command="abort"), T0)
    assert decision.status.last_command is not None
    assert (decision.status.last_command.value, decision.status.last_command.result) == ("abort", "Ignored")
    assert decision.target_weight is None


def test_a_spec_valid_again_starts_over() -> None:
    invalid = decide(BROKEN, status(P.PROGRESSING, canary_weight=50), observe(), T0).status
    decision = decide(spec(), invalid, observe(50), at(5))
    check(decision, Restart, P.PENDING, 0, Reason.SPEC_CHANGED)
    assert decision.restore_routes


# ---- 2. first sight: record the original routes, touch nothing ----


def test_first_sight_records_the_routes() -> None:
    decision = decide(spec(), FRESH, observe(0, snapshots=(SNAPSHOT,)), T0)
    check(decision, Hold, P.PENDING, None, Reason.INITIALIZED)
    assert decision.status.original_routes == (SNAPSHOT,)
    assert (decision.status.observed_generation, decision.status.step_display) == (1, "0/4")
    assert decision.event == "Normal"


@pytest.mark.parametrize(
    ("seen", "words"),
    [
        (observe(None, snapshots=(SNAPSHOT,)), "VirtualServiceNotFound"),
        (observe(0, snapshots=None), "snapshot"),
        (observe(20, snapshots=(SNAPSHOT,)), "already carries traffic (checkout/primary at 20%)"),
        (observe(readings=(), snapshots=(SNAPSHOT,)), "no managed route"),
    ],
    ids=["route-missing", "no-snapshot", "canary-has-traffic", "no-routes"],
)
def test_first_sight_without_a_clean_snapshot_records_nothing(seen: Any, words: str) -> None:
    decision = decide(spec(), FRESH, seen, T0)
    check(decision, Hold, P.PENDING, None, Reason.INITIALIZED)
    assert decision.status.original_routes == ()
    assert words in decision.message


def test_pending_records_the_routes_once_it_can() -> None:
    waiting = status(P.PENDING, original_routes=())
    assert needs_snapshot(spec(), waiting)
    decision = decide(spec(), waiting, observe(0, snapshots=(SNAPSHOT,)), T0)
    check(decision, Hold, P.PENDING, None, Reason.ROUTES_RECORDED)
    assert not needs_snapshot(spec(), decision.status)


@pytest.mark.parametrize(
    ("seen", "reason"),
    [(observe(None), Reason.ROUTE_UNAVAILABLE), (observe(30, snapshots=(SNAPSHOT,)), Reason.CANARY_HAS_TRAFFIC)],
)
def test_pending_without_a_snapshot_waits(seen: Any, reason: Reason) -> None:
    decision = decide(spec(), status(P.PENDING, original_routes=()), seen, T0)
    check(decision, Hold, P.PENDING, None, reason)
    assert decision.event == "Warning"


# ---- 3. a new generation starts over ----


@pytest.mark.parametrize("phase", [P.PENDING, P.PROGRESSING, P.PAUSED, P.SUCCEEDED, P.FAILED, P.ABORTED])
def test_a_spec_change_starts_over(phase: Phase) -> None:
    before = status(phase, canary_weight=50, current_step_index=2, failure_count=1, inconclusive_count=1)
    decision = decide(spec(), before, observe(50, generation=2), at(5))
    check(decision, Restart, P.PENDING, 0, Reason.SPEC_CHANGED)
    assert decision.restore_routes
    after = decision.status
    assert (after.current_step_index, after.canary_weight, after.failure_count, after.inconclusive_count) == (
        0,
        0,
        0,
        0,
    )
    assert (after.observed_generation, after.original_routes, after.history[-1].reason) == (
        2,
        (SNAPSHOT,),
        "SpecChanged",
    )


# ---- 5. finished releases keep their routes where they left them ----


@pytest.mark.parametrize(
    ("phase", "wanted", "actual", "frozen", "kind", "target", "restore"),
    [
        (P.SUCCEEDED, 100, 100, False, Hold, None, False),
        (P.SUCCEEDED, 100, 40, False, Reassert, 100, False),
        (P.SUCCEEDED, 100, 40, True, Hold, None, False),
        (P.FAILED, 0, 0, False, Hold, None, False),
        (P.FAILED, 0, 30, False, Reassert, 0, True),
        (P.FAILED, 0, 30, True, Reassert, 0, True),
        (P.ABORTED, 0, 5, False, Reassert, 0, True),
        (P.FAILED, 0, None, False, Hold, None, False),
    ],
)
def test_finished_releases_settle(
    phase: Phase, wanted: int, actual: int | None, frozen: bool, kind: type[Decision], target: int | None, restore: bool
) -> None:
    before = status(phase, canary_weight=wanted, message="the end")
    decision = decide(spec(), before, observe(actual, frozen=frozen), T0)
    assert type(decision) is kind
    assert (decision.target_weight, decision.restore_routes, decision.status.phase) == (target, restore, phase)
    assert decision.status.message == "the end"
    assert decision.event == ("Warning" if kind is Reassert else None)


# ---- 6a. analysis: critical failures and failure limits roll back ----


@pytest.mark.parametrize("phase", [P.PROGRESSING, P.PAUSED])
def test_a_critical_failure_rolls_back_at_once(phase: Phase) -> None:
    before = status(phase, canary_weight=50, current_step_index=2)
    decision = decide(spec(), before, observe(50, analysis=(probe("health", 503), probe("latency"))), at(30))
    check(decision, Rollback, P.FAILED, 0, Reason.ROLLED_BACK)
    assert decision.restore_routes
    assert decision.event == "Warning"
    assert "critical gate health failed: status 503" in decision.message
    assert decision.status.last_outcome is Outcome.FAIL
    assert decision.status.recent_results[-2].outcome is Outcome.FAIL


def test_a_critical_failure_rolls_back_even_when_a_route_is_unreadable() -> None:
    readings = routes(50, None)
    decision = decide(
        spec(), status(canary_weight=50), observe(analysis=(probe("health", error="reset"),), readings=readings), at(30)
    )
    assert type(decision) is Rollback


@pytest.mark.parametrize(
    ("count", "kind", "after"),
    [(0, Hold, 1), (1, Rollback, 2)],
    ids=["within-the-limit", "beyond-the-limit"],
)
def test_non_critical_failures_roll_back_beyond_the_limit(count: int, kind: type[Decision], after: int) -> None:
    before = status(canary_weight=10, failure_count=count)  # failureLimit is 1
    decision = decide(spec(), before, observe(10, analysis=(probe("health"), probe("latency", latency_ms=999))), at(30))
    assert type(decision) is kind
    assert decision.status.failure_count == after
    if kind is Rollback:
        assert "2 failed checks, more than failureLimit 1; last: latency: took 999ms" in decision.message


def test_an_unavailable_canary_with_traffic_counts_as_a_failed_check() -> None:
    seen = observe(10, analysis=passing(), workload=available(False))
    first = decide(spec(), status(canary_weight=10), seen, at(30))
    check(first, Hold, P.PROGRESSING, None, Reason.WAITING_FOR_WORKLOAD)
    assert first.status.failure_count == 1
    second = decide(spec(), first.status, seen, at(60))
    check(second, Rollback, P.FAILED, 0, Reason.ROLLED_BACK)
    assert "canaryWorkload" in second.message


def test_an_unavailable_canary_without_traffic_only_holds() -> None:
    zero = spec(steps=[{"setWeight": 0}, {"setWeight": 10}])
    decision = decide(zero, status(canary_weight=0), observe(0, analysis=passing(), workload=available(False)), at(30))
    check(decision, Hold, P.PROGRESSING, None, Reason.WAITING_FOR_WORKLOAD)
    assert decision.status.failure_count == 0


# ---- 6b/6c. unreadable routes hold; drift is re-asserted ----


def test_unreadable_routes_hold_and_stall() -> None:
    decision = decide(spec(), status(canary_weight=10), observe(readings=routes(10, None)), T0)
    check(decision, Hold, P.PROGRESSING, None, Reason.ROUTE_UNAVAILABLE)
    assert decision.event == "Warning"
    stalled = {c.type: c for c in decision.status.conditions}["Stalled"]
    assert (stalled.status, stalled.reason) == ("True", "RouteUnavailable")


@pytest.mark.parametrize(
    ("phase", "wanted", "actual", "frozen", "kind", "target", "restore"),
    [
        (P.PROGRESSING, 10, 5, False, Reassert, 10, False),
        (P.PROGRESSING, 10, 20, False, Reassert, 10, False),
        (P.PROGRESSING, 10, 5, True, Hold, None, False),
        (P.PROGRESSING, 10, 20, True, Reassert, 10, False),
        (P.PAUSED, 50, 0, False, Reassert, 50, False),
        (P.PENDING, 0, 30, False, Reassert, 0, True),
    ],
)
def test_drift_is_reasserted(
    phase: Phase, wanted: int, actual: int, frozen: bool, kind: type[Decision], target: int | None, restore: bool
) -> None:
    decision = decide(spec(), status(phase, canary_weight=wanted), observe(actual, frozen=frozen), T0)
    assert type(decision) is kind
    assert (decision.target_weight, decision.restore_routes, decision.status.phase) == (target, restore, phase)
    if kind is Reassert:
        assert decision.reason is Reason.DRIFT
        assert f"wanted {wanted}% on the canary, found checkout/primary at {actual}%" in decision.message


def test_drift_on_one_route_of_two() -> None:
    decision = decide(spec(), status(canary_weight=10), observe(readings=routes(10, 0)), T0)
    assert type(decision) is Reassert
    assert "checkout/secondary at 0%" in decision.message
    assert "primary" not in decision.message


# ---- the managed routes change with the spec ----

TWO_VS = {"istio": {"virtualServices": [{"name": "checkout", "routes": ["primary"]}, {"name": "edge"}]}}
EDGE = OriginalRoute(virtual_service="edge", route=None, route_json='{"route":[]}')
# The same object and route names as the VirtualService's, now an HTTPRoute's.
SAME_NAMES = {
    "trafficRouting": {"gatewayAPI": {"httpRoutes": [{"name": "checkout", "rules": ["primary"]}]}},
    "stable": {"host": "checkout"},
    "canary": {"host": "checkout-v2"},
}
HTTP_SNAPSHOT = OriginalRoute(virtual_service="checkout", route="primary", kind="HTTPRoute", route_json='{"n":1}')


@pytest.mark.parametrize(
    ("changes", "recorded", "needed"),
    [
        ({}, (SNAPSHOT,), False),
        ({}, (), True),
        ({"trafficRouting": TWO_VS}, (SNAPSHOT,), True),
        ({"trafficRouting": TWO_VS}, (SNAPSHOT, EDGE), False),
        (
            {"trafficRouting": {"istio": {"virtualServices": [{"name": "checkout", "routes": ["primary", "b"]}]}}},
            (SNAPSHOT,),
            True,
        ),
        (SAME_NAMES, (SNAPSHOT,), True),
        (SAME_NAMES, (SNAPSHOT, HTTP_SNAPSHOT), False),
        ({}, (HTTP_SNAPSHOT,), True),
    ],
    ids=[
        "recorded",
        "nothing-yet",
        "a-new-virtual-service",
        "both-recorded",
        "a-new-route",
        "moved-to-gateway-api-same-names",
        "moved-to-gateway-api-recorded",
        "moved-to-istio-same-names",
    ],
)
def test_needs_snapshot(changes: dict[str, Any], recorded: tuple[OriginalRoute, ...], needed: bool) -> None:
    assert needs_snapshot(spec(**changes), status(P.PENDING, original_routes=recorded)) is needed
    assert needs_snapshot(spec(**changes), status(P.INVALID, original_routes=recorded)) is False


def test_a_virtual_service_added_by_a_spec_change_is_recorded_before_the_start() -> None:
    grown = spec(trafficRouting=TWO_VS)
    restarted = decide(grown, status(P.SUCCEEDED, canary_weight=100), observe(100, generation=2), at(5))
    assert type(restarted) is Restart
    assert restarted.status.original_routes == (SNAPSHOT,)  # restored by this decision
    readings = (*routes(0), RouteReading(virtual_service="edge", canary_weight=0))
    seen = observe(generation=2, readings=readings, snapshots=(SNAPSHOT, EDGE))
    recorded = decide(grown, restarted.status, seen, at(10))
    check(recorded, Hold, P.PENDING, None, Reason.ROUTES_RECORDED)
    assert recorded.status.original_routes == (SNAPSHOT, EDGE)
    started = decide(grown, recorded.status, observe(generation=2, readings=readings), at(15))
    assert type(started) is Advance


def test_an_http_route_named_as_the_virtual_service_was_is_recorded_and_kept_alone() -> None:
    moved = spec(**SAME_NAMES)
    restarted = decide(moved, status(P.SUCCEEDED, canary_weight=100), observe(100, generation=2), at(5))
    assert type(restarted) is Restart
    recorded = decide(moved, restarted.status, observe(generation=2, snapshots=(HTTP_SNAPSHOT,)), at(10))
    check(recorded, Hold, P.PENDING, None, Reason.ROUTES_RECORDED)
    assert recorded.status.original_routes == (SNAPSHOT, HTTP_SNAPSHOT)
    started = decide(moved, recorded.status, observe(generation=2), at(15))
    assert type(started) is Advance
    assert started.status.original_routes == (HTTP_SNAPSHOT,)


def test_a_virtual_service_dropped_by_a_spec_change_is_restored_then_forgotten() -> None:
    before = status(P.PROGRESSING, canary_weight=10, original_routes=(SNAPSHOT, EDGE))
    restarted = decide(spec(), before, observe(10, generation=2), at(5))
    assert restarted.restore_routes
    assert restarted.status.original_routes == (SNAPSHOT, EDGE)
    started = decide(spec(), restarted.status, observe(0, generation=2), at(10))
    assert type(started) is Advance
    assert started.status.original_routes == (SNAPSHOT,)
