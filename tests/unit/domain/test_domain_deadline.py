"""`progressDeadline`: when a run is overdue, and what `onProgressDeadline` does then, phase by phase."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import T0, at, available, deployments, follow_spec, no_gates, observe, spec, status

from graygate.api import Outcome, PauseReason, Phase
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus
from graygate.domain.release.bookkeeping import move
from graygate.domain.release.deadline import overdue
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Decision, Hold, Pause, Reason, Resume, Rollback, WorkloadMove
from graygate.domain.release.phases import TABLE, Trigger

P = Phase
DEADLINE = 600
"""`progressDeadline`'s default, in seconds."""
PAUSE_POLICY = {"onProgressDeadline": "pause"}


def stalled(decision: Decision) -> tuple[str, str]:
    found = {c.type: c for c in decision.status.conditions}["Stalled"]
    return found.status.value, found.reason


def late(phase: Phase, **fields: Any) -> CanaryReleaseStatus:
    """A run whose last progress was at T0 (on step 1/4 at 10 % unless `fields` say otherwise)."""
    values: dict[str, Any] = {"progress_at": T0, "canary_weight": 10, "current_step_index": 0}
    if phase is P.PENDING:
        values |= {"canary_weight": 0, "step_started_at": None, "next_check_at": None}
    return status(phase, **{**values, **fields})


@pytest.mark.parametrize(
    ("before", "seconds", "said"),
    [
        pytest.param(late(P.PENDING), DEADLINE, None, id="pending-exactly-at-the-deadline"),
        pytest.param(late(P.PENDING), DEADLINE + 1, "before step 1", id="pending-past"),
        pytest.param(late(P.PROGRESSING), DEADLINE, None, id="progressing-exactly-at-the-deadline"),
        pytest.param(late(P.PROGRESSING), DEADLINE + 1, "at step 1/4 (10% to the canary)", id="progressing-past"),
        pytest.param(
            late(P.PROGRESSING, current_step_index=1), 120 + DEADLINE, None, id="timed-pause-counts-after-its-2m"
        ),
        pytest.param(
            late(P.PROGRESSING, current_step_index=1), 120 + DEADLINE + 1, "at step 2/4", id="timed-pause-past"
        ),
        pytest.param(
            late(P.PROGRESSING, current_step_index=1, step_started_at=at(300)),
            300 + 120 + DEADLINE,
            None,
            id="timed-pause-counts-from-its-start",
        ),
        pytest.param(
            late(P.PROGRESSING, current_step_index=3, canary_weight=50),
            DEADLINE + 1,
            "at step 4/4 (50% to the canary)",
            id="indefinite-pause-step-while-progressing",
        ),
        pytest.param(late(P.PROMOTING, canary_weight=100), DEADLINE, None, id="promoting-exactly-at-the-deadline"),
        pytest.param(late(P.PROMOTING, canary_weight=100), DEADLINE + 1, "promoting", id="promoting-past"),
        pytest.param(late(P.PAUSED, pause_reason=PauseReason.MANUAL), 36_000, None, id="paused-never"),
        pytest.param(
            late(P.PAUSED, pause_reason=PauseReason.PROGRESS_DEADLINE), 36_000, None, id="paused-for-the-deadline"
        ),
        pytest.param(late(P.SUCCEEDED, canary_weight=0), 36_000, None, id="succeeded"),
        pytest.param(late(P.FAILED, canary_weight=0), 36_000, None, id="failed"),
        pytest.param(late(P.ABORTED, canary_weight=0), 36_000, None, id="aborted"),
        pytest.param(late(P.INVALID), 36_000, None, id="invalid"),
        pytest.param(late(P.PROGRESSING, progress_at=None), 36_000, None, id="no-progress-recorded"),
    ],
)
def test_overdue(before: CanaryReleaseStatus, seconds: int, said: str | None) -> None:
    found = overdue(no_gates(), before, at(seconds))
    if said is None:
        assert found is None
    else:
        assert found is not None
        assert said in found
        assert "past progressDeadline 10m" in found


def test_the_deadline_is_the_specs() -> None:
    short = no_gates(progressDeadline="1m")
    assert overdue(short, late(P.PROGRESSING), at(60)) is None
    assert overdue(short, late(P.PROGRESSING), at(61)) is not None


# what onProgressDeadline does


GATED_STEP: dict[str, Any] = {"next_check_at": at(DEADLINE + 30)}
"""On step 1 with gates, its next analysis not due: a step that waits, and no analysis this tick."""
FAILED_PAUSE: dict[str, Any] = {"current_step_index": 1, "last_outcome": Outcome.FAIL, "next_check_at": at(10_000)}
"""The 2m pause step with a failed analysis (within failureLimit): its end waits for a passing one."""


@pytest.mark.parametrize(
    ("manifest", "before", "seconds", "kind", "phase", "reason", "stall"),
    [
        pytest.param({}, late(P.PROGRESSING, **GATED_STEP), DEADLINE, Hold, P.PROGRESSING, Reason.WAITING,
                     ("False", "Progressing"), id="progressing-in-time"),
        pytest.param({}, late(P.PROGRESSING, **GATED_STEP), DEADLINE + 1, Rollback, P.FAILED,
                     Reason.PROGRESS_DEADLINE, ("True", "RolledBack"), id="progressing-rollback"),
        pytest.param(PAUSE_POLICY, late(P.PROGRESSING, **GATED_STEP), DEADLINE + 1, Pause, P.PAUSED,
                     Reason.PROGRESS_DEADLINE, ("True", "ProgressDeadline"), id="progressing-pause"),
        pytest.param({}, late(P.PROGRESSING, **FAILED_PAUSE), 120 + DEADLINE, Hold, P.PROGRESSING, Reason.WAITING,
                     ("False", "Progressing"), id="timed-pause-in-time"),
        pytest.param({}, late(P.PROGRESSING, **FAILED_PAUSE), 120 + DEADLINE + 1, Rollback, P.FAILED,
                     Reason.PROGRESS_DEADLINE, ("True", "RolledBack"), id="timed-pause-rollback"),
        pytest.param({}, late(P.PAUSED, pause_reason=PauseReason.MANUAL), 36_000, Hold, P.PAUSED, Reason.WAITING,
                     ("False", "Manual"), id="paused-never"),
        pytest.param({}, late(P.PENDING), DEADLINE + 1, Rollback, P.FAILED, Reason.PROGRESS_DEADLINE,
                     ("True", "RolledBack"), id="pending-rollback"),
        pytest.param(PAUSE_POLICY, late(P.PENDING), DEADLINE + 1, Hold, P.PENDING, Reason.WAITING_FOR_WORKLOAD,
                     ("True", "ProgressDeadlineExceeded"), id="pending-pause-holds-stalled"),
        pytest.param(PAUSE_POLICY, late(P.PENDING), DEADLINE, Hold, P.PENDING, Reason.WAITING_FOR_WORKLOAD,
                     ("False", "Pending"), id="pending-in-time"),
    ],
)  # fmt: skip
def test_on_progress_deadline(
    manifest: dict[str, Any],
    before: CanaryReleaseStatus,
    seconds: int,
    kind: type[Decision],
    phase: Phase,
    reason: Reason,
    stall: tuple[str, str],
) -> None:
    seen = observe(before.canary_weight, workload=available(False) if before.phase is P.PENDING else None)
    decision = decide(spec(**manifest), before, seen, at(seconds))
    assert type(decision) is kind, decision.message
    assert (decision.status.phase, decision.reason) == (phase, reason)
    assert stalled(decision) == stall
    if kind is Rollback:
        assert (decision.target_weight, decision.restore_routes) == (0, True)
        assert "rolled back" in decision.message
        assert ("before step 1" if before.phase is P.PENDING else f"at step {before.current_step_index + 1}/4") in (
            decision.message
        )
    if kind is Pause:
        assert decision.status.pause_reason is PauseReason.PROGRESS_DEADLINE
        assert decision.target_weight is None
        assert decision.status.canary_weight == before.canary_weight
        assert "at step 1/4" in decision.message


def test_resume_after_a_deadline_pause_starts_a_fresh_deadline() -> None:
    paused = late(P.PAUSED, pause_reason=PauseReason.PROGRESS_DEADLINE, next_check_at=at(10_000))
    resumed = decide(spec(), paused, observe(10, command="resume"), at(3600))
    assert type(resumed) is Resume, resumed.message
    assert resumed.status.phase is P.PROGRESSING
    assert resumed.status.progress_at == at(3600)
    assert stalled(resumed) == ("False", "Progressing")
    assert overdue(spec(), resumed.status, at(3600 + DEADLINE)) is None
    assert overdue(spec(), resumed.status, at(3600 + DEADLINE + 1)) is not None


# a promotion past its deadline is reported, never rolled back

PROMOTING = late(P.PROMOTING, canary_weight=100, current_step_index=2, revision="rev-2", stable_revision="rev-2")


@pytest.mark.parametrize("manifest", [{}, PAUSE_POLICY], ids=["rollback-policy", "pause-policy"])
@pytest.mark.parametrize(
    ("primary", "workload"),
    [("rev-2", None), ("rev-1", WorkloadMove(promote="rev-2"))],
    ids=["rolling-out", "not-promoted-yet"],
)
def test_promoting_past_the_deadline_holds_stalled(
    manifest: dict[str, Any], primary: str, workload: WorkloadMove | None
) -> None:
    released: CanaryReleaseSpec = follow_spec(**manifest)
    seen = observe(100, followed=deployments("rev-2", primary, primary_ready=False))
    decision = decide(released, PROMOTING, seen, at(DEADLINE + 1))
    assert type(decision) is Hold, decision.message
    assert (decision.status.phase, decision.reason) == (P.PROMOTING, Reason.PROMOTING)
    assert not decision.touches_traffic
    assert decision.status.canary_weight == 100
    assert decision.workload == workload
    assert stalled(decision) == ("True", "ProgressDeadlineExceeded")
    if primary == "rev-2":
        assert "not rolled back" in decision.message
    in_time = decide(released, PROMOTING, seen, at(DEADLINE))
    assert stalled(in_time) == ("False", "Promoting")


# every transition is progress


@pytest.mark.parametrize(("phase", "trigger"), list(TABLE), ids=[f"{p.value}-{t.value}" for p, t in TABLE])
def test_every_transition_stamps_progress(phase: Phase, trigger: Trigger) -> None:
    moved = move(status(phase, progress_at=None), trigger, Reason.STARTED, "moved", at(42))
    assert moved.phase is TABLE[(phase, trigger)]
    assert moved.progress_at == at(42)
