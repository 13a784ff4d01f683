"""The release loop of a followed workload, rule by rule: first sight (adoption), a missing Deployment, a new
revision from every phase, the plan's end promoting to the primary, and the canary scaled to what its phase needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from release_builders import T0, at, available, deployments, follow_spec, observe, probe, status

from graygate.api import PauseReason, Phase
from graygate.api.status import CanaryReleaseStatus
from graygate.api.validation import InvalidSpec
from graygate.domain.release.bookkeeping import Tick
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import (
    Advance,
    Complete,
    Decision,
    Hold,
    MarkInvalid,
    Reason,
    Reassert,
    Restart,
    Rollback,
    StartPromotion,
    WorkloadMove,
)
from graygate.domain.release.following import wanted_replicas
from graygate.domain.release.observations import FollowedState
from graygate.domain.release.plan import plan_of

P = Phase
SPEC = follow_spec()
DELAY = timedelta(seconds=30)
"""`scaleDownDelay`'s default."""


def run(phase: Phase = P.PROGRESSING, **fields: Any) -> CanaryReleaseStatus:
    """A run of revision rev-2 over the stable rev-1, at 30 % (step 2/3) unless `fields` say otherwise."""
    values: dict[str, Any] = {
        "revision": "rev-2",
        "stable_revision": "rev-1",
        "canary_weight": 30,
        "current_step_index": 1,
        "progress_at": T0,
    }
    values.update(fields)
    return status(phase, **values)


def fresh() -> CanaryReleaseStatus:
    """A release just initialized (routes recorded), which has never seen its workload."""
    return status(P.PENDING, canary_weight=0, current_step_index=0, step_started_at=None, next_check_at=None)


def tick(before: CanaryReleaseStatus, seen: FollowedState, weight: int | None = None, **kw: Any) -> Decision:
    return decide(SPEC, before, observe(before.canary_weight if weight is None else weight, followed=seen, **kw), at(5))


def notes(decision: Decision) -> list[Reason]:
    return [note.reason for note in decision.notes]


# first sight: the followed Deployment's current revision is the stable one


@pytest.mark.parametrize(
    ("seen", "kind", "phase", "reason", "stable", "revision", "workload"),
    [
        pytest.param(
            deployments("rev-1", None),
            Hold,
            P.PENDING,
            Reason.ADOPTED,
            None,
            None,
            WorkloadMove(promote="rev-1"),
            id="primary-missing-is-created",
        ),
        pytest.param(
            deployments("rev-1", "rev-1", primary_ready=False),
            Hold,
            P.PENDING,
            Reason.WAITING_FOR_WORKLOAD,
            "rev-1",
            "rev-1",
            None,
            id="primary-adopted-waits-for-its-rollout",
        ),
        pytest.param(
            deployments("rev-1", "rev-1"),
            Complete,
            P.SUCCEEDED,
            Reason.ADOPTED,
            "rev-1",
            "rev-1",
            WorkloadMove(canary_replicas=0),
            id="primary-adopted-ready-succeeds-and-scales-the-canary-down-at-once",
        ),
        pytest.param(
            deployments("rev-2", "rev-1", replicas=0),
            Restart,
            P.PENDING,
            Reason.NEW_REVISION,
            "rev-1",
            "rev-2",
            WorkloadMove(canary_replicas=3),
            id="primary-adopted-older-starts-a-run",
        ),
        pytest.param(
            deployments("rev-1", None, primary_exists=True),
            Hold,
            P.PENDING,
            Reason.PRIMARY_NOT_OURS,
            None,
            None,
            None,
            id="primary-not-made-by-graygate-is-refused",
        ),
    ],
)
def test_first_sight(
    seen: FollowedState,
    kind: type[Decision],
    phase: Phase,
    reason: Reason,
    stable: str | None,
    revision: str | None,
    workload: WorkloadMove | None,
) -> None:
    decision = tick(fresh(), seen)
    assert type(decision) is kind, decision.message
    assert (decision.status.phase, decision.reason) == (phase, reason)
    assert (decision.status.stable_revision, decision.status.revision) == (stable, revision)
    assert decision.workload == workload
    assert decision.target_weight is None or kind is Restart
    assert not decision.restore_routes


def test_adoption_tick_by_tick() -> None:
    """Created, rolled out, Succeeded: the canary (the user's Deployment) keeps its pods until the primary runs."""
    first = tick(fresh(), deployments("rev-1", None))
    assert first.workload == WorkloadMove(promote="rev-1")
    assert first.event == "Normal"
    rolling = tick(first.status, deployments("rev-1", "rev-1", primary_ready=False))
    assert type(rolling) is Hold
    assert rolling.workload is None
    assert rolling.status.stable_revision == "rev-1"
    done = tick(rolling.status, deployments("rev-1", "rev-1"))
    assert type(done) is Complete
    assert done.status.phase is P.SUCCEEDED
    assert done.status.history[-1].reason == Reason.ADOPTED.value
    assert done.workload == WorkloadMove(canary_replicas=0)
    assert Reason.SCALED_DOWN in notes(done)
    settled = tick(done.status, deployments("rev-1", "rev-1", replicas=0))
    assert settled.status.phase is P.SUCCEEDED
    assert settled.workload is None


def test_refused_primary_writes_nothing() -> None:
    decision = tick(fresh(), deployments("rev-1", None, primary_exists=True))
    assert "did not make it" in decision.message
    assert decision.status.stable_revision is None
    assert decision.workload is None
    assert not decision.touches_traffic


# rule 1: the followed Deployment is missing


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(run(P.PENDING, canary_weight=0, current_step_index=0), id="pending"),
        pytest.param(run(P.PAUSED, pause_reason=PauseReason.INCONCLUSIVE_WITHDRAWN, canary_weight=0), id="paused-0"),
        pytest.param(run(P.SUCCEEDED, canary_weight=0, stable_revision="rev-2"), id="succeeded"),
        pytest.param(fresh(), id="first-sight"),
    ],
)
@pytest.mark.parametrize("seen", [deployments(exists=False), deployments(None)], ids=["gone", "no-revision"])
def test_followed_deployment_missing(before: CanaryReleaseStatus, seen: FollowedState) -> None:
    decision = tick(before, seen)
    assert type(decision) is Hold, decision.message
    assert decision.reason is Reason.WORKLOAD_MISSING
    assert decision.status.phase is before.phase
    assert decision.status.canary_weight == before.canary_weight
    assert not decision.touches_traffic
    assert decision.workload is None


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(run(), id="progressing-30"),
        pytest.param(run(P.PAUSED, pause_reason=PauseReason.MANUAL), id="paused-30"),
    ],
)
def test_a_canary_carrying_traffic_whose_deployment_is_gone_is_rolled_back(before: CanaryReleaseStatus) -> None:
    decision = tick(before, deployments(exists=False))
    assert type(decision) is Rollback, decision.message
    assert decision.status.phase is P.FAILED
    assert decision.restore_routes
    assert decision.target_weight == 0
    assert "is gone" in decision.message


def test_a_promotion_whose_canary_is_gone_sends_everything_to_the_primary_and_finishes() -> None:
    promoting = run(P.PROMOTING, canary_weight=100, stable_revision="rev-2")
    withdrawn = tick(promoting, deployments(exists=False, primary="rev-2", primary_ready=False))
    assert type(withdrawn) is Reassert
    assert withdrawn.target_weight == 0
    assert withdrawn.status.phase is P.PROMOTING
    assert withdrawn.status.canary_weight == 0
    done = tick(withdrawn.status, deployments(exists=False, primary="rev-2"), weight=0)
    assert type(done) is Complete
    assert done.status.phase is P.SUCCEEDED
    stuck = tick(withdrawn.status, deployments(exists=False, primary="rev-1"), weight=0)
    assert type(stuck) is Hold
    assert stuck.workload is None, "nothing left to copy the revision from"


# rule 3: a new revision starts over from every phase but Invalid

NEW = deployments("rev-3", "rev-1", replicas=0)


@pytest.mark.parametrize(
    ("before", "withdraw"),
    [
        pytest.param(run(P.PENDING, canary_weight=0, current_step_index=0), False, id="pending"),
        pytest.param(run(), True, id="progressing-30"),
        pytest.param(run(P.PAUSED, pause_reason=PauseReason.MANUAL), True, id="paused-30"),
        pytest.param(run(P.PROMOTING, canary_weight=100, current_step_index=2), True, id="promoting-100"),
        pytest.param(run(P.SUCCEEDED, canary_weight=0, stable_revision="rev-2"), False, id="succeeded"),
        pytest.param(run(P.FAILED, canary_weight=0, scale_down_at=at(-60)), False, id="failed"),
        pytest.param(run(P.ABORTED, canary_weight=0, scale_down_at=at(-60)), False, id="aborted"),
    ],
)
def test_new_revision(before: CanaryReleaseStatus, withdraw: bool) -> None:
    decision = tick(before, NEW)
    assert type(decision) is Restart, decision.message
    assert decision.reason is Reason.NEW_REVISION
    assert decision.event == "Normal"
    after = decision.status
    assert (after.phase, after.revision, after.canary_weight, after.current_step_index) == (P.PENDING, "rev-3", 0, 0)
    assert after.history[-1].reason == Reason.NEW_REVISION.value
    assert after.progress_at == at(5)
    assert after.scale_down_at is None
    assert after.run_cause == decision.message
    assert decision.restore_routes is withdraw
    assert decision.target_weight == (0 if withdraw else None)
    assert decision.workload == WorkloadMove(canary_replicas=3)


def test_back_to_the_stable_revision_is_adopted() -> None:
    """A revert to the stable revision after a failed run: nothing to release, the canary goes to 0 at once."""
    failed = run(P.FAILED, canary_weight=0, scale_down_at=at(60))
    back = tick(failed, deployments("rev-1", "rev-1", replicas=3))
    assert type(back) is Restart
    assert (back.status.phase, back.status.revision) == (P.PENDING, "rev-1")
    assert "stable revision" in back.message
    assert back.workload is None
    done = tick(back.status, deployments("rev-1", "rev-1", replicas=3))
    assert type(done) is Complete
    assert (done.status.phase, done.reason) == (P.SUCCEEDED, Reason.ADOPTED)
    assert done.workload == WorkloadMove(canary_replicas=0)


def test_invalid_is_not_moved_by_a_new_revision() -> None:
    before = run(P.INVALID, canary_weight=30)
    decision = decide(InvalidSpec(("spec: broken",)), before, observe(30, followed=NEW), at(5))
    assert type(decision) in (Hold, MarkInvalid)
    assert decision.status.phase is P.INVALID
    assert decision.status.revision == "rev-2"
    assert not decision.touches_traffic
    assert decision.workload is None


def test_the_old_runs_weight_never_rises_again() -> None:
    """Ticks after a new revision, the restore not applied yet and the canary not ready: 0 % until the new start."""
    restarted = tick(run(), NEW).status
    waiting = deployments("rev-3", "rev-1", replicas=3)
    now = restarted
    for seconds in (10, 20, 30):
        decision = decide(SPEC, now, observe(30, followed=waiting, workload=available(False)), at(seconds))
        assert type(decision) is Reassert, decision.message
        assert (decision.status.canary_weight, decision.target_weight, decision.restore_routes) == (0, 0, True)
        assert decision.status.phase is P.PENDING
        now = decision.status
    decision = decide(SPEC, now, observe(0, followed=waiting, workload=available(False)), at(40))
    assert type(decision) is Hold
    assert decision.status.canary_weight == 0
    started = decide(SPEC, decision.status, observe(0, followed=waiting), at(50))
    assert type(started) is Advance
    assert (started.target_weight, started.status.revision) == (10, "rev-3")


# the plan's end promotes the revision to the primary


def test_the_plans_end_starts_the_promotion() -> None:
    last = run(canary_weight=60, current_step_index=2, next_check_at=at(-1))
    decision = tick(last, deployments("rev-2", "rev-1"))
    assert type(decision) is StartPromotion, decision.message
    assert (decision.status.phase, decision.reason, decision.target_weight) == (P.PROMOTING, Reason.PROMOTING, 100)
    assert decision.status.canary_weight == 100
    assert decision.status.stable_revision == "rev-2"
    assert decision.workload == WorkloadMove(promote="rev-2")
    assert decision.status.progress_at == at(5)


PROMOTING = run(P.PROMOTING, canary_weight=100, current_step_index=2, stable_revision="rev-2")


@pytest.mark.parametrize(
    ("seen", "kind", "phase", "workload"),
    [
        pytest.param(deployments("rev-2", "rev-1"), Hold, P.PROMOTING, WorkloadMove(promote="rev-2"), id="again"),
        pytest.param(deployments("rev-2", None), Hold, P.PROMOTING, WorkloadMove(promote="rev-2"), id="primary-gone"),
        pytest.param(deployments("rev-2", "rev-2", primary_ready=False), Hold, P.PROMOTING, None, id="rolling-out"),
        pytest.param(deployments("rev-2", "rev-2"), Complete, P.SUCCEEDED, None, id="rolled-out"),
    ],
)
def test_promoting(seen: FollowedState, kind: type[Decision], phase: Phase, workload: WorkloadMove | None) -> None:
    decision = tick(PROMOTING, seen)
    assert type(decision) is kind, decision.message
    assert decision.status.phase is phase
    assert decision.workload == workload
    if kind is Complete:
        assert (decision.reason, decision.target_weight, decision.restore_routes) == (Reason.SUCCEEDED, 0, True)
        assert decision.status.canary_weight == 0
        assert decision.status.scale_down_at == at(5) + DELAY
    else:
        assert not decision.touches_traffic
        assert decision.status.canary_weight == 100


@pytest.mark.parametrize(
    ("when", "replicas", "workload"),
    [
        pytest.param(at(5) + DELAY - timedelta(seconds=1), 3, None, id="before-the-delay"),
        pytest.param(at(5) + DELAY, 3, WorkloadMove(canary_replicas=0), id="at-the-delay"),
        pytest.param(at(5) + 10 * DELAY, 3, WorkloadMove(canary_replicas=0), id="long-after"),
        pytest.param(at(5) + 10 * DELAY, 0, None, id="already-down"),
    ],
)
def test_scaled_down_after_the_delay(when: Any, replicas: int, workload: WorkloadMove | None) -> None:
    done = tick(PROMOTING, deployments("rev-2", "rev-2")).status
    seen = observe(0, followed=deployments("rev-2", "rev-2", replicas=replicas))
    decision = decide(SPEC, done, seen, when)
    assert decision.status.phase is P.SUCCEEDED
    assert decision.workload == workload
    assert (Reason.SCALED_DOWN in notes(decision)) is (workload is not None)
    assert not decision.touches_traffic


def test_promote_full_starts_the_promotion() -> None:
    decision = tick(run(), deployments("rev-2", "rev-1"), command="promote-full")
    assert type(decision) is StartPromotion, decision.message
    assert (decision.status.phase, decision.target_weight) == (P.PROMOTING, 100)
    assert decision.workload == WorkloadMove(promote="rev-2")
    assert decision.status.last_command is not None
    assert decision.status.last_command.result == "Applied"


@pytest.mark.parametrize("command", ["abort", "pause", "resume", "promote", "promote-full", "retry"])
@pytest.mark.parametrize(
    "seen",
    [deployments("rev-2", "rev-2", primary_ready=False), deployments("rev-2", "rev-1"), deployments("rev-2", "rev-2")],
    ids=["rolling-out", "not-promoted-yet", "rolled-out"],
)
def test_commands_are_ignored_while_promoting(command: str, seen: FollowedState) -> None:
    decision = tick(PROMOTING, seen, command=command)
    assert type(decision) is Hold, decision.message
    assert decision.reason is Reason.COMMAND_IGNORED
    assert decision.status.phase is P.PROMOTING
    assert not decision.touches_traffic
    record = decision.status.last_command
    assert record is not None
    assert (record.value, record.result) == (command, "Ignored")


def test_abort_typed_while_promoting_never_aborts_the_next_run() -> None:
    rolling = tick(PROMOTING, deployments("rev-2", "rev-2", primary_ready=False), command="abort")
    done = tick(rolling.status, deployments("rev-2", "rev-2"), command="abort")
    assert done.status.phase is P.SUCCEEDED
    restarted = tick(done.status, deployments("rev-3", "rev-2", replicas=0), command="abort")
    assert restarted.status.phase is P.PENDING
    later = tick(restarted.status, deployments("rev-3", "rev-2"), command="abort")
    assert later.status.phase is not P.ABORTED, later.message


# a rollback, and a retry


FAILING = follow_spec(
    analysis={
        "interval": "30s",
        "gates": [{"name": "health", "critical": True, "httpProbe": {"url": "http://checkout:8080/"}}],
    }
)


def test_rollback_scales_down_after_the_delay_only() -> None:
    seen = deployments("rev-2", "rev-1")
    failed = decide(FAILING, run(), observe(30, followed=seen, analysis=(probe("health", 500),)), at(5))
    assert type(failed) is Rollback, failed.message
    assert failed.status.phase is P.FAILED
    assert failed.status.scale_down_at == at(5) + DELAY
    assert failed.workload is None
    early = decide(FAILING, failed.status, observe(0, followed=seen), at(5) + DELAY - timedelta(seconds=1))
    assert early.workload is None
    due = decide(FAILING, failed.status, observe(0, followed=seen), at(5) + DELAY)
    assert due.workload == WorkloadMove(canary_replicas=0)
    assert Reason.SCALED_DOWN in notes(due)


@pytest.mark.parametrize(
    ("minimum", "primary", "replicas"),
    [pytest.param(1, 4, 4, id="as-many-as-the-primary"), pytest.param(5, 4, 5, id="min")],
)
def test_retry_scales_up_again(minimum: int, primary: int, replicas: int) -> None:
    spec = follow_spec(workload={"replicas": {"min": minimum}})
    failed = run(P.FAILED, canary_weight=0, scale_down_at=at(-60))
    seen = deployments("rev-2", "rev-1", replicas=0, primary_replicas=primary)
    decision = decide(spec, failed, observe(0, followed=seen, command="retry"), at(5))
    assert type(decision) is Restart, decision.message
    assert decision.status.phase is P.PENDING
    assert decision.workload == WorkloadMove(canary_replicas=replicas)


def test_a_retried_run_that_fails_again_waits_the_delay_again() -> None:
    failed = run(P.FAILED, canary_weight=0, scale_down_at=at(-60))
    seen = deployments("rev-2", "rev-1")
    retried = decide(FAILING, failed, observe(0, followed=seen, command="retry"), at(5)).status
    running = retried.model_copy(update={"phase": P.PROGRESSING, "canary_weight": 10, "next_check_at": at(5)})
    again = decide(FAILING, running, observe(10, followed=seen, analysis=(probe("health", 500),)), at(60))
    assert type(again) is Rollback
    assert again.status.scale_down_at == at(60) + DELAY
    assert again.workload is None


# how many replicas the canary runs


def _wanted(spec: Any, before: CanaryReleaseStatus, seen: FollowedState) -> int | None:
    observed = observe(before.canary_weight, followed=seen)
    return wanted_replicas(spec, Tick(spec=spec, plan=plan_of(spec), status=before, seen=observed, now=at(5)), before)


TEN = deployments("rev-2", "rev-1", primary_replicas=10)


@pytest.mark.parametrize(
    ("follow", "minimum", "before", "replicas"),
    [
        pytest.param(True, 1, run(P.PENDING, canary_weight=0, current_step_index=0), 1, id="follow-pending"),
        pytest.param(True, 3, run(P.PENDING, canary_weight=0, current_step_index=0), 3, id="follow-pending-min"),
        pytest.param(True, 1, run(canary_weight=10, current_step_index=0), 5, id="follow-step-1-ahead-50"),
        pytest.param(
            True,
            1,
            run(P.PAUSED, canary_weight=10, current_step_index=0, pause_reason=PauseReason.MANUAL),
            5,
            id="follow-paused-step-1",
        ),
        pytest.param(True, 1, run(canary_weight=50, current_step_index=1), 10, id="follow-step-2"),
        pytest.param(True, 1, run(P.PROMOTING, canary_weight=100, current_step_index=1), 10, id="follow-promoting"),
        pytest.param(False, 1, run(P.PENDING, canary_weight=0, current_step_index=0), 10, id="pending"),
        pytest.param(False, 1, run(canary_weight=10, current_step_index=0), 10, id="step-1"),
        pytest.param(False, 12, run(canary_weight=10, current_step_index=0), 12, id="step-1-min"),
        pytest.param(False, 1, run(P.PENDING, revision="rev-1", canary_weight=0), None, id="pending-on-stable"),
        pytest.param(False, 1, run(P.INVALID), None, id="invalid"),
        pytest.param(False, 1, run(P.FAILED, canary_weight=0, scale_down_at=at(6)), None, id="failed-not-yet"),
        pytest.param(False, 1, run(P.FAILED, canary_weight=0, scale_down_at=at(5)), 0, id="failed-due"),
        pytest.param(False, 1, run(P.SUCCEEDED, canary_weight=0, scale_down_at=at(0)), 0, id="succeeded-due"),
    ],
)
def test_wanted_replicas(follow: bool, minimum: int, before: CanaryReleaseStatus, replicas: int | None) -> None:
    spec = follow_spec(10, 50, workload={"replicas": {"followTraffic": follow, "min": minimum}})
    assert _wanted(spec, before, TEN) == replicas


@pytest.mark.parametrize(
    ("before", "seen"),
    [
        pytest.param(run(), deployments(exists=False), id="followed-missing"),
        pytest.param(run(), deployments(primary=None), id="primary-missing"),
        pytest.param(run(P.PROMOTING, canary_weight=100), deployments(primary=None), id="primary-missing-promoting"),
    ],
)
def test_replicas_left_alone_without_a_reference(before: CanaryReleaseStatus, seen: FollowedState) -> None:
    assert _wanted(SPEC, before, seen) is None


# what a promotion is never interrupted by, and what a run never shrinks


def test_a_spec_change_during_a_promotion_lets_it_finish() -> None:
    promoting = run(P.PROMOTING, canary_weight=100, stable_revision="rev-2")
    waiting = tick(promoting, deployments("rev-2", "rev-2", primary_ready=False), generation=2)
    assert type(waiting) is Hold
    assert waiting.status.phase is P.PROMOTING
    assert not waiting.touches_traffic, "no restart: the primary is still rolling out"
    done = tick(waiting.status, deployments("rev-2", "rev-2"), generation=2)
    assert type(done) is Complete
    assert done.status.phase is P.SUCCEEDED


def test_frozen_a_promotion_does_not_raise_a_drifted_weight() -> None:
    promoting = run(P.PROMOTING, canary_weight=100, stable_revision="rev-2")
    decision = tick(promoting, deployments("rev-2", "rev-2", primary_ready=False), weight=60, frozen=True)
    assert not decision.touches_traffic
    unfrozen = tick(promoting, deployments("rev-2", "rev-2", primary_ready=False), weight=60)
    assert type(unfrozen) is Reassert
    assert unfrozen.target_weight == 100


def test_a_new_revision_before_the_primary_got_the_promoted_one_keeps_the_stable_revision() -> None:
    promoting = run(P.PROMOTING, canary_weight=100, stable_revision="rev-2")
    decision = tick(promoting, deployments("rev-3", "rev-1"))
    assert decision.status.stable_revision == "rev-1"
    given = tick(promoting, deployments("rev-3", "rev-2", primary_ready=False))
    assert given.status.stable_revision == "rev-2"


@pytest.mark.parametrize("phase", [P.PROGRESSING, P.PAUSED, P.PROMOTING])
def test_a_canary_carrying_traffic_is_never_scaled_below_what_it_runs(phase: Phase) -> None:
    before = run(phase, canary_weight=100 if phase is P.PROMOTING else 30, stable_revision="rev-2")
    primary = "rev-2" if phase is P.PROMOTING else "rev-1"
    # the primary's autoscaler took it from 3 to 1 as the canary took its load
    seen = deployments("rev-2", primary, replicas=3, primary_replicas=1, primary_ready=False)
    assert wanted_replicas(SPEC, Tick(SPEC, plan_of(SPEC), before, observe(followed=seen), at(5)), before) == 3


def test_a_freeze_does_not_count_against_the_deadline() -> None:
    late = T0 + timedelta(minutes=11)
    seen = deployments("rev-2", "rev-1")
    frozen = decide(SPEC, run(), observe(30, followed=seen, frozen=True), late)
    assert frozen.status.phase is P.PROGRESSING
    thawed = decide(SPEC, run(), observe(30, followed=seen), late)
    assert type(thawed) is Rollback
    assert thawed.reason is Reason.PROGRESS_DEADLINE


def test_a_primary_lost_after_a_promotion_is_given_the_stable_revision_again() -> None:
    succeeded = run(P.SUCCEEDED, canary_weight=0, revision="rev-2", stable_revision="rev-2")
    gone = tick(succeeded, deployments("rev-2", None, replicas=0))
    assert gone.reason is Reason.PRIMARY_LOST
    assert gone.event == "Warning"
    assert gone.workload == WorkloadMove(promote="rev-2")
    failed = run(P.FAILED, canary_weight=0, revision="rev-3", stable_revision="rev-2")
    cannot = tick(failed, deployments("rev-3", "rev-1", replicas=0))
    assert cannot.reason is Reason.PRIMARY_LOST
    assert cannot.workload is None, "the followed Deployment holds the failed revision, not the stable one"
