"""`decide` moving a healthy release forward: starting, steps, pauses, inconclusive analyses, completion, freeze;
and a whole release walked tick by tick, with a crash in the middle."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from release_builders import (
    SNAPSHOT,
    T0,
    at,
    available,
    check,
    judged,
    no_gates,
    observe,
    passing,
    probe,
    spec,
    status,
)

from graygate.api import (
    MAX_HISTORY,
    MAX_RESULTS,
    CanaryReleaseSpec,
    CanaryReleaseStatus,
    Outcome,
    PauseReason,
    Phase,
    Transition,
)
from graygate.domain.errors import UnknownGate
from graygate.domain.release.bookkeeping import needs_snapshot
from graygate.domain.release.decide import analysis_due, decide
from graygate.domain.release.decision import Advance, Complete, Decision, Hold, Pause, Reason, Reassert, Rollback
from graygate.domain.release.observations import Observations

P = Phase


# ---- 6e. Pending starts once it may ----


@pytest.mark.parametrize(
    ("workload", "frozen", "kind", "target", "reason"),
    [
        (None, False, Advance, 10, Reason.STARTED),
        (available(), False, Advance, 10, Reason.STARTED),
        (available(False), False, Hold, None, Reason.WAITING_FOR_WORKLOAD),
        (None, True, Hold, None, Reason.FROZEN),
    ],
)
def test_pending_starts(workload: Any, frozen: bool, kind: type[Decision], target: int | None, reason: Reason) -> None:
    decision = decide(spec(), status(P.PENDING), observe(0, workload=workload, frozen=frozen), T0)
    assert type(decision) is kind
    assert decision.target_weight == target
    assert decision.reason is reason
    if kind is Advance:
        after = decision.status
        assert after.phase is P.PROGRESSING
        assert (after.started_at, after.step_started_at, after.next_check_at) == (T0, T0, at(30))
        assert (after.current_step_index, after.canary_weight, after.step_display) == (0, 10, "1/4")
        assert [(t.from_, t.to, t.reason) for t in after.history] == [(P.PENDING, P.PROGRESSING, "Started")]
    if reason is Reason.WAITING_FOR_WORKLOAD:
        assert decision.message == "waiting for Deployment/checkout-canary to be Available: 0/2 ready"


def test_a_plan_that_opens_with_an_indefinite_pause_starts_paused() -> None:
    decision = decide(spec(steps=[{"pause": {}}, {"setWeight": 50}]), status(P.PENDING), observe(0), T0)
    check(decision, Advance, P.PAUSED, 0, Reason.STARTED)
    assert decision.status.pause_reason is PauseReason.AWAITING_PROMOTION
    assert [t.to for t in decision.status.history] == [P.PROGRESSING, P.PAUSED]


def test_a_frozen_release_may_still_start_at_zero() -> None:
    zero = spec(steps=[{"setWeight": 0}, {"setWeight": 10}])
    check(decide(zero, status(P.PENDING), observe(0, frozen=True), T0), Advance, P.PROGRESSING, 0, Reason.STARTED)


# ---- 6g. setWeight steps: one passing analysis at the weight ----


@pytest.mark.parametrize(
    ("analysis", "kind", "reason"),
    [
        (None, Hold, Reason.WAITING),
        (passing(), Advance, Reason.STEP_ADVANCED),
        ((probe("health"), probe("latency", latency_ms=301)), Hold, Reason.WAITING),
    ],
    ids=["not-due", "passed", "failed-within-limit"],
)
def test_a_weight_step_waits_for_a_passing_analysis(analysis: Any, kind: type[Decision], reason: Reason) -> None:
    decision = decide(spec(), status(canary_weight=10), observe(10, analysis=analysis), at(30))
    assert type(decision) is kind
    assert decision.reason is reason
    if kind is Advance:
        assert (decision.status.current_step_index, decision.target_weight) == (1, 10)
        assert decision.message == "step 2/4: pause 2m at 10%, until 12:02:30Z"
        assert decision.status.next_check_at == at(60)
    else:
        assert "waiting for the gates to pass" in decision.message


def test_a_gate_below_its_success_threshold_holds_without_counting_as_inconclusive() -> None:
    patient = spec(analysis={"gates": [{"name": "health", "successThreshold": 3, "httpProbe": {"url": "http://x/"}}]})
    decision = decide(patient, status(canary_weight=10), observe(10, analysis=(probe("health"),)), at(30))
    check(decision, Hold, P.PROGRESSING, None, Reason.WAITING)
    assert decision.status.last_outcome is Outcome.WAITING
    assert decision.status.inconclusive_count == 0


def test_without_gates_a_weight_step_is_done_once_the_weight_is_in_place() -> None:
    decision = decide(no_gates(), status(canary_weight=10), observe(10), T0)
    check(decision, Advance, P.PROGRESSING, 10, Reason.STEP_ADVANCED)


def test_an_unavailable_workload_holds_the_step_between_analyses() -> None:
    decision = decide(no_gates(), status(canary_weight=10), observe(10, workload=available(False)), T0)
    check(decision, Hold, P.PROGRESSING, None, Reason.WAITING_FOR_WORKLOAD)
    assert decision.event == "Normal"


# ---- 6g. timed pauses count from stepStartedAt, across restarts ----


@pytest.mark.parametrize(
    ("started", "now", "kind"),
    [
        (T0, at(119), Hold),
        (T0, at(120), Advance),
        (T0 - timedelta(minutes=10), at(0), Advance),
    ],
    ids=["one-second-left", "time-is-up", "operator-was-down-for-ten-minutes"],
)
def test_a_timed_pause_honours_time_already_spent(started: datetime, now: datetime, kind: type[Decision]) -> None:
    before = status(canary_weight=10, current_step_index=1, step_started_at=started)
    decision = decide(spec(), before, observe(10), now)
    assert type(decision) is kind
    if kind is Advance:
        assert (decision.target_weight, decision.status.current_step_index) == (50, 2)
        assert decision.status.step_started_at == now
    else:
        assert decision.message == "step 2/4: pause 2m at 10%, until 12:02:00Z"


# ---- 6f / 6g. indefinite pauses wait for promote ----


def test_reaching_an_indefinite_pause_pauses() -> None:
    decision = decide(spec(), status(canary_weight=50, current_step_index=2), observe(50, analysis=passing()), at(30))
    check(decision, Advance, P.PAUSED, 50, Reason.STEP_ADVANCED)
    assert decision.status.pause_reason is PauseReason.AWAITING_PROMOTION
    assert decision.message == "step 4/4: wait for promote at 50%"


@pytest.mark.parametrize("now", [at(60), at(86400)])
def test_a_paused_release_waits_however_long(now: datetime) -> None:
    paused = status(P.PAUSED, canary_weight=50, current_step_index=3, pause_reason=PauseReason.AWAITING_PROMOTION)
    decision = decide(spec(), paused.model_copy(update={"message": "waiting"}), observe(50, analysis=passing()), now)
    check(decision, Hold, P.PAUSED, None, Reason.WAITING)
    assert decision.status.message == "waiting"


def test_progressing_on_an_indefinite_pause_step_pauses() -> None:
    decision = decide(spec(), status(canary_weight=50, current_step_index=3), observe(50), T0)
    check(decision, Pause, P.PAUSED, None, Reason.AWAITING_PROMOTION)


# ---- 6d. inconclusive analyses pause and ask a human ----


@pytest.mark.parametrize(
    ("phase", "before", "kind"),
    [(P.PROGRESSING, 0, Hold), (P.PROGRESSING, 1, Pause), (P.PAUSED, 5, Hold)],
    ids=["first", "limit-reached", "already-paused"],
)
def test_inconclusive_analyses_pause(phase: Phase, before: int, kind: type[Decision]) -> None:
    reason = PauseReason.MANUAL if phase is P.PAUSED else None
    release = status(phase, canary_weight=10, inconclusive_count=before, pause_reason=reason)
    unsure = (judged("health", Outcome.INCONCLUSIVE, "too few requests"), probe("latency"))
    decision = decide(spec(), release, observe(10, analysis=unsure), at(30))  # inconclusiveLimit is 2
    assert type(decision) is kind
    assert decision.status.inconclusive_count == before + 1
    if kind is Pause:
        assert decision.status.pause_reason is PauseReason.INCONCLUSIVE
        assert decision.event == "Warning"
        assert decision.message.startswith("2 analyses in a row could not decide (latest: health: too few requests")
        stalled = {c.type: c for c in decision.status.conditions}["Stalled"]
        assert (stalled.status, stalled.reason) == ("True", "Inconclusive")


# ---- 6g. after the last step: 100 % and Succeeded ----


@pytest.mark.parametrize(
    ("frozen", "kind", "target"),
    [(False, Complete, 100), (True, Hold, None)],
)
def test_after_the_last_step_the_canary_gets_everything(frozen: bool, kind: type[Decision], target: int | None) -> None:
    decision = decide(no_gates(steps=[{"setWeight": 60}]), status(canary_weight=60), observe(60, frozen=frozen), T0)
    assert type(decision) is kind
    assert decision.target_weight == target
    if kind is Complete:
        assert decision.reason is Reason.SUCCEEDED, "the Event and history say Succeeded, not another step"
        assert (decision.status.phase, decision.status.canary_weight, decision.status.step_display) == (
            P.SUCCEEDED,
            100,
            "1/1",
        )
        ready = {c.type: c for c in decision.status.conditions}["Ready"]
        assert (ready.status, ready.reason) == ("True", "Succeeded")


@pytest.mark.parametrize(
    ("index", "weight", "kind"),
    [(0, 10, Advance), (2, 50, Hold)],
    ids=["into-a-pause-at-the-same-weight", "up-to-a-higher-weight"],
)
def test_a_frozen_release_never_raises_the_weight(index: int, weight: int, kind: type[Decision]) -> None:
    steps = [{"setWeight": 10}, {"pause": {"duration": "1m"}}, {"setWeight": 50}, {"setWeight": 80}]
    release = no_gates(steps=steps)
    decision = decide(release, status(canary_weight=weight, current_step_index=index), observe(weight, frozen=True), T0)
    assert type(decision) is kind
    if kind is Hold:
        assert decision.reason is Reason.FROZEN


# ---- bookkeeping ----


@pytest.mark.parametrize(
    ("phase", "next_check", "due"),
    [
        (P.PROGRESSING, None, True),
        (P.PROGRESSING, at(-1), True),
        (P.PROGRESSING, at(0), True),
        (P.PROGRESSING, at(1), False),
        (P.PAUSED, at(0), True),
        (P.PENDING, None, False),
        (P.SUCCEEDED, None, False),
        (P.FAILED, at(-5), False),
        (P.INVALID, None, False),
    ],
)
def test_analysis_due(phase: Phase, next_check: datetime | None, due: bool) -> None:
    assert analysis_due(status(phase, next_check_at=next_check), T0) is due


def test_history_and_results_stay_bounded() -> None:
    old = Transition.model_validate({"from": "Progressing", "to": "Progressing", "reason": "StepAdvanced", "at": T0})
    full = status(canary_weight=10, history=(old,) * MAX_HISTORY)
    decision = decide(spec(), full, observe(10, analysis=passing()), at(30))
    assert len(decision.status.history) == MAX_HISTORY
    assert decision.status.history[-1].reason == "StepAdvanced"
    assert decision.status.history[-1].at == at(30)
    assert len(decision.status.recent_results) == 2
    crowded = status(canary_weight=10, recent_results=decision.status.recent_results * (MAX_RESULTS // 2))
    again = decide(spec(), crowded, observe(10, analysis=passing()), at(60))
    assert len(again.status.recent_results) == MAX_RESULTS


def test_a_measurement_for_a_gate_the_spec_lacks_is_a_bug() -> None:
    with pytest.raises(UnknownGate):
        decide(spec(), status(canary_weight=10), observe(10, analysis=(probe("nope"),)), at(30))


# ---- a whole release, tick by tick, with a crash ----


class Cluster:
    """The world around `decide`: a route whose weight changes only when the service acts."""

    def __init__(self, release: CanaryReleaseSpec) -> None:
        self.spec, self.status, self.weight, self.now = release, CanaryReleaseStatus(), 0, T0
        self.kinds: list[str] = []

    def tick(self, *, command: str | None = None, act: bool = True, seconds: int = 10) -> Decision:
        self.now += timedelta(seconds=seconds)
        due = analysis_due(self.status, self.now)
        seen = Observations(
            generation=1,
            routes=observe(self.weight).routes,
            snapshots=(SNAPSHOT,) if needs_snapshot(self.spec, self.status) else None,
            analysis=passing(self.now) if due else None,
            command=command,
        )
        decision = decide(self.spec, self.status, seen, self.now)
        assert decide(self.spec, self.status, seen, self.now) == decision, "decide must be deterministic"
        self.status = decision.status  # written first: the intent
        if act and decision.restore_routes:  # then the router
            self.weight = 0
        elif act and decision.target_weight is not None:
            self.weight = decision.target_weight
        self.kinds.append(type(decision).__name__)
        return decision


def test_a_release_walks_to_success_and_survives_a_crash() -> None:
    cluster = Cluster(spec())
    cluster.tick()  # first sight
    assert cluster.status.original_routes == (SNAPSHOT,)
    started = cluster.tick(act=False)  # status written, then the operator dies before the router call
    assert isinstance(started, Advance)
    assert cluster.weight == 0
    repaired = cluster.tick()
    assert isinstance(repaired, Reassert)
    assert cluster.weight == 10
    while cluster.status.phase is P.PROGRESSING:
        cluster.tick()
    assert (cluster.status.phase, cluster.weight, cluster.status.current_step_index) == (P.PAUSED, 50, 3)
    cluster.tick(command="promote/1")
    assert (cluster.status.phase, cluster.weight) == (P.SUCCEEDED, 100)
    cluster.tick(command="promote/1")
    assert cluster.kinds[-1] == "Hold"
    assert cluster.weight == 100
    moves = [(t.from_.value, t.to.value, t.reason, t.weight) for t in cluster.status.history]
    assert moves == [
        ("Pending", "Progressing", "Started", 10),
        ("Progressing", "Progressing", "StepAdvanced", 10),
        ("Progressing", "Progressing", "StepAdvanced", 50),
        ("Progressing", "Progressing", "StepAdvanced", 50),
        ("Progressing", "Paused", "AwaitingPromotion", 50),
        ("Paused", "Succeeded", "Promoted", 100),
    ]


def test_a_failing_gate_mid_release_puts_everything_back() -> None:
    cluster = Cluster(spec())
    for _ in range(8):
        cluster.tick()
    assert cluster.status.phase is P.PROGRESSING
    assert cluster.weight == 10
    cluster.now += timedelta(seconds=60)
    seen = Observations(generation=1, routes=observe(10).routes, analysis=(probe("health", 500), probe("latency")))
    decision = decide(cluster.spec, cluster.status, seen, cluster.now)
    assert isinstance(decision, Rollback)
    assert decision.restore_routes


def test_the_frozen_condition_shows_while_frozen_and_says_when_thawed() -> None:
    never = decide(spec(), status(P.PROGRESSING), observe(10), T0).status
    assert "Frozen" not in {c.type for c in never.conditions}

    frozen = decide(spec(), status(P.PROGRESSING), observe(10, frozen=True), T0).status
    condition = {c.type: c for c in frozen.conditions}["Frozen"]
    assert (condition.status, condition.reason) == ("True", "Frozen")

    thawed = decide(spec(), frozen, observe(10), at(1)).status
    condition = {c.type: c for c in thawed.conditions}["Frozen"]
    assert (condition.status, condition.reason) == ("False", "Thawed")


@pytest.mark.parametrize(
    ("latest", "kind"),
    [
        (None, Advance),
        (Outcome.PASS, Advance),
        (Outcome.INCONCLUSIVE, Hold),
        (Outcome.ERROR, Hold),
        (Outcome.WAITING, Hold),  # a comparison that cannot tell yet, or a failure below its threshold
        (Outcome.FAIL, Hold),  # a non-critical failure within failureLimit
    ],
)
def test_a_pause_that_is_over_never_raises_the_weight_blind(latest: Outcome | None, kind: type[Decision]) -> None:
    before = status(canary_weight=10, current_step_index=1, step_started_at=T0, last_outcome=latest)
    decision = decide(spec(), before, observe(10), at(121))
    assert type(decision) is kind
    if kind is Hold:
        assert decision.target_weight is None
        assert f"waiting for a passing analysis (latest: {latest})" in decision.message
