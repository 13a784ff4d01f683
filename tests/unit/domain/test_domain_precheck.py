"""Pre-checks, rule by rule: which gates a tick runs, and what a Pending release with `preCheck` gates does with
their verdicts. The canary never gets traffic before every pre-check has passed, and a failing one fails the
release at 0 %."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from release_builders import BASE, SNAPSHOT, T0, at, available, check, observe, probe, spec, status

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus, GateState, Outcome, Phase
from graygate.domain.analysis.measurements import WorkloadReading
from graygate.domain.analysis.metric_parity import MetricParityMeasurement
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Advance, Decision, Hold, Reason, Rollback
from graygate.domain.release.observations import Observations
from graygate.domain.release.precheck import gates_due, pre_check_gates, pre_checks_passed

P = Phase
HEALTH, LATENCY = BASE["analysis"]["gates"]
API = {"name": "api", "preCheck": True, "httpProbe": {"url": "http://checkout-canary:8080/openapi.json"}}
PARITY = {"name": "metrics", "preCheck": True, "metricParity": {"canaryUrl": "http://checkout-canary:8080/metrics"}}


def with_pre_checks(*extra: dict[str, Any], **gate: Any) -> CanaryReleaseSpec:
    """The base spec with `api` (plus `extra`) as pre-check gates, in front of the base gates."""
    gates = [API | gate, *extra, HEALTH, LATENCY]
    return spec(analysis={"interval": "30s", "failureLimit": 1, "inconclusiveLimit": 2, "gates": gates})


PRE = with_pre_checks()
PENDING = status(P.PENDING, next_check_at=None, step_started_at=None)
PASSED = status(P.PENDING, next_check_at=at(30), gates=(GateState(name="api", last_outcome=Outcome.PASS),))


# ---- which gates a tick runs ----


@pytest.mark.parametrize(
    ("release", "before", "workload", "now", "due"),
    [
        (PRE, PENDING, None, T0, ("api",)),
        (PRE, PENDING, available(), T0, ("api",)),
        (PRE, PENDING, available(False), T0, None),
        (PRE, PENDING.model_copy(update={"next_check_at": at(10)}), None, T0, None),
        (PRE, PENDING.model_copy(update={"next_check_at": at(10)}), None, at(10), ("api",)),
        (PRE, PENDING.model_copy(update={"original_routes": ()}), None, T0, None),
        (PRE, CanaryReleaseStatus(), None, T0, None),
        (spec(), PENDING, None, T0, None),
        (PRE, status(P.PROGRESSING), None, T0, ("api", "health", "latency")),
        (PRE, status(P.PAUSED, next_check_at=at(5)), None, T0, None),
        (PRE, status(P.FAILED), None, T0, None),
        (PRE, status(P.SUCCEEDED), None, T0, None),
    ],
    ids=[
        "pending-pre-checks",
        "pending-workload-available",
        "pending-workload-starting",
        "pending-not-yet-due",
        "pending-due-again",
        "pending-routes-not-recorded",
        "first-sight",
        "pending-no-pre-checks",
        "progressing-every-gate",
        "paused-not-due",
        "failed",
        "succeeded",
    ],
)
def test_gates_due(
    release: CanaryReleaseSpec,
    before: CanaryReleaseStatus,
    workload: WorkloadReading | None,
    now: datetime,
    due: tuple[str, ...] | None,
) -> None:
    gates = gates_due(release, before, now, workload)
    assert (tuple(gate.name for gate in gates) if gates is not None else None) == due


def test_pre_check_gates_and_passed() -> None:
    assert [gate.name for gate in pre_check_gates(PRE)] == ["api"]
    assert pre_check_gates(spec()) == ()
    assert pre_checks_passed(spec(), PENDING)
    assert not pre_checks_passed(PRE, PENDING)
    assert pre_checks_passed(PRE, PASSED)
    waiting = PASSED.model_copy(update={"gates": (GateState(name="api", last_outcome=Outcome.WAITING),)})
    assert not pre_checks_passed(PRE, waiting)


# ---- what a Pending release does with them ----


def parity_error() -> MetricParityMeasurement:
    return MetricParityMeasurement(gate="metrics", observed_at=T0, error="the gate failed: boom")


@pytest.mark.parametrize(
    ("release", "before", "seen", "kind", "phase", "target", "reason"),
    [
        (PRE, PENDING, observe(0, analysis=(probe("api"),)), Advance, P.PROGRESSING, 10, Reason.STARTED),
        (PRE, PENDING, observe(0, analysis=(probe("api", 503),)), Rollback, P.FAILED, 0, Reason.PRE_CHECK_FAILED),
        (
            with_pre_checks(critical=True),
            PENDING,
            observe(0, analysis=(probe("api", error="connection refused"),)),
            Rollback,
            P.FAILED,
            0,
            Reason.PRE_CHECK_FAILED,
        ),
        (
            with_pre_checks(failureThreshold=2),
            PENDING,
            observe(0, analysis=(probe("api", 503),)),
            Hold,
            P.PENDING,
            None,
            Reason.PRE_CHECKING,
        ),
        (
            with_pre_checks(successThreshold=2),
            PENDING,
            observe(0, analysis=(probe("api"),)),
            Hold,
            P.PENDING,
            None,
            Reason.PRE_CHECKING,
        ),
        (
            with_pre_checks(PARITY),
            PENDING,
            observe(0, analysis=(probe("api"), parity_error())),
            Hold,
            P.PENDING,
            None,
            Reason.PRE_CHECKING,
        ),
        (PRE, PENDING, observe(0), Hold, P.PENDING, None, Reason.PRE_CHECKING),
        (PRE, PASSED, observe(0), Advance, P.PROGRESSING, 10, Reason.STARTED),
        (PRE, PASSED, observe(0, frozen=True), Hold, P.PENDING, None, Reason.FROZEN),
        (
            PRE,
            PENDING,
            observe(0, analysis=(probe("api", 503),), workload=available(False)),
            Hold,
            P.PENDING,
            None,
            Reason.WAITING_FOR_WORKLOAD,
        ),
        (
            PRE,
            PENDING,
            observe(0, analysis=(probe("api"), probe("health", 503)), workload=available()),
            Advance,
            P.PROGRESSING,
            10,
            Reason.STARTED,
        ),
        (PRE, PENDING, observe(10, analysis=(probe("api", 503),)), Rollback, P.FAILED, 0, Reason.PRE_CHECK_FAILED),
        (spec(), PENDING, observe(0), Advance, P.PROGRESSING, 10, Reason.STARTED),
    ],
    ids=[
        "passes-then-starts",
        "fails-the-release",
        "no-answer-fails",
        "below-failure-threshold-waits",
        "below-success-threshold-waits",
        "an-error-holds",
        "not-measured-yet-holds",
        "passed-earlier-starts",
        "passed-but-frozen",
        "workload-starting-is-not-judged",
        "only-pre-check-gates-count",
        "fails-even-with-drift",
        "no-pre-checks-starts-at-once",
    ],
)
def test_a_pending_release_with_pre_checks(
    release: CanaryReleaseSpec,
    before: CanaryReleaseStatus,
    seen: Observations,
    kind: type[Decision],
    phase: Phase,
    target: int | None,
    reason: Reason,
) -> None:
    check(decide(release, before, seen, T0), kind, phase, target, reason)


def test_a_failing_pre_check_names_the_gate_and_the_finding_and_moves_nothing() -> None:
    decision = decide(PRE, PENDING, observe(0, analysis=(probe("api", 503),)), T0)
    assert isinstance(decision, Rollback)
    said = "pre-check api failed: status 503, expected one in [200]; the canary never got traffic"
    assert decision.status.message == said
    assert decision.message == f"{said}. Evidence: gate api; value: 503; threshold: in [200]"  # its Event's note
    assert decision.notes == ()  # not a GateFailed as well
    assert decision.restore_routes  # the routes as recorded: canary at 0 %, exactly as before
    assert decision.status.canary_weight == 0
    assert decision.status.started_at is None
    assert decision.event == "Warning"
    last = decision.status.history[-1]
    assert (last.from_, last.to, last.reason, last.weight) == (P.PENDING, P.FAILED, "PreCheckFailed", 0)
    assert [(r.gate, r.outcome, r.weight) for r in decision.status.recent_results] == [("api", Outcome.FAIL, 0)]
    conditions = {c.type: c for c in decision.status.conditions}
    assert conditions["GatesPassing"].status == "False"
    assert conditions["Ready"].status == "False"


def test_waiting_for_the_pre_checks_says_which_and_why() -> None:
    decision = decide(with_pre_checks(PARITY), PENDING, observe(0, analysis=(probe("api"), parity_error())), T0)
    assert decision.message == (
        "0% to the canary; waiting for the pre-checks (api, metrics) to pass (next at 12:00:30Z); "
        "latest: metrics: the gate failed: boom"
    )
    assert not decision.touches_traffic
    # a gate that could not measure counts apart from inconclusive analyses
    assert (decision.status.inconclusive_count, decision.status.consecutive_errors) == (0, 1)


def test_starting_after_the_pre_checks_keeps_their_counters_and_clears_the_inconclusive_run() -> None:
    unsure = PENDING.model_copy(update={"inconclusive_count": 1})
    decision = decide(PRE, unsure, observe(0, analysis=(probe("api"),)), T0)
    assert isinstance(decision, Advance)
    assert decision.status.inconclusive_count == 0
    assert [(g.name, g.consecutive_successes) for g in decision.status.gates] == [("api", 1)]
    assert decision.status.next_check_at == at(30)
    assert decision.status.history[-1].reason == "Started"


def test_a_release_whose_pre_check_fails_never_sends_traffic_and_a_retry_starts_clean() -> None:
    weight, now, before = 0, T0, CanaryReleaseStatus()
    answers = iter([503, 200, 200])
    kinds = []
    for tick in range(6):
        now = at(30 * tick)
        command = "retry/1" if tick == 3 else None
        due = gates_due(PRE, before, now)
        analysis = tuple(probe(g.name, next(answers) if g.name == "api" else 200, when=now) for g in due or ())
        snapshots = (SNAPSHOT,) if not before.original_routes else None
        seen = observe(weight, analysis=analysis if due is not None else None, snapshots=snapshots, command=command)
        decision = decide(PRE, before, seen, now)
        kinds.append((type(decision).__name__, decision.status.phase.value))
        if decision.target_weight is not None:
            weight = decision.target_weight
        before = decision.status
        if tick < 3:
            assert weight == 0
    assert kinds == [
        ("Hold", "Pending"),  # first sight: routes recorded
        ("Rollback", "Failed"),  # the pre-check fails at once
        ("Hold", "Failed"),  # and stays failed, at 0 %
        ("Restart", "Pending"),  # retry
        ("Advance", "Progressing"),  # the pre-check passes now: step 1
        ("Advance", "Progressing"),
    ]
    assert weight == 10
