"""The moves a rule can make, each building a complete decision: hold, go to a step, complete, roll back, pause,
start over.

Why: the rules in `decide` and in `manual` ask for the same few moves; building each move in one place keeps
their bookkeeping identical (a promote and an automatic advance enter a step the same way) and keeps the rules
short enough to read as rules.
"""

from __future__ import annotations

from datetime import datetime

from graygate.api.durations import format_duration
from graygate.api.status import CanaryReleaseStatus, PauseReason
from graygate.domain.analysis.assessment import Assessment
from graygate.domain.release.bookkeeping import Tick, enter_step, move, seal, start_over
from graygate.domain.release.decision import (
    Advance,
    Complete,
    Decision,
    EventType,
    Hold,
    Pause,
    Promote,
    Reason,
    Restart,
    Rollback,
    StartPromotion,
    WorkloadMove,
)
from graygate.domain.release.phases import Trigger
from graygate.domain.release.plan import FULL, HeaderRouteStep, PauseStep, WeightStep

__all__ = [
    "clock",
    "complete",
    "describe_step",
    "go_to_step",
    "hold",
    "pause",
    "restart",
    "rollback",
]

_LOUD_HOLDS: dict[Reason, EventType] = {
    Reason.ROUTE_UNAVAILABLE: "Warning",
    Reason.CANARY_HAS_TRAFFIC: "Warning",
    Reason.WAITING_FOR_WORKLOAD: "Normal",
    Reason.DESTINATION_MISSING: "Warning",
    Reason.FROZEN: "Normal",
    Reason.ROUTES_RECORDED: "Normal",
    Reason.INITIALIZED: "Normal",
    Reason.CONFIG_APPLYING: "Normal",
    Reason.CONFIG_UNAVAILABLE: "Warning",
    Reason.CONFIG_RESTORING: "Normal",
    Reason.CANNOT_MEASURE: "Warning",
    Reason.WORKLOAD_MISSING: "Warning",
    Reason.PRIMARY_NOT_OURS: "Warning",
    Reason.PRIMARY_LOST: "Warning",
    Reason.AWAITING_CONFIRMATION: "Normal",
    Reason.PRE_ROLLOUT: "Normal",
}


def clock(moment: datetime) -> str:
    """A time of day as status messages show it: `12:03:00Z`."""
    return moment.strftime("%H:%M:%SZ")


def describe_step(tick: Tick, index: int, started: datetime | None = None) -> str:
    """`step 3/5: 50% to the canary`, `step 2/5: pause 2m at 5%, until 12:02:00Z`, `step 4/5: wait for promote at
    50%`. A timed pause ends `duration` after `started` (default: now, the moment the step is entered), so the
    message written on entering the step is the one every later tick of the pause computes: no rewrite."""
    step = tick.plan.step(index)
    where = f"step {index + 1}/{len(tick.plan)}"
    weight = tick.plan.weight_at(index)
    if isinstance(step, WeightStep):
        return f"{where}: {weight}% to the canary"
    if isinstance(step, HeaderRouteStep):
        return f"{where}: coloured requests to the canary, {weight}% of the rest"
    if step.duration is None:
        return f"{where}: wait for promote at {weight}%"
    ends = (started or tick.now) + step.duration
    return f"{where}: pause {format_duration(step.duration)} at {weight}%, until {clock(ends)}"


def hold(
    tick: Tick,
    status: CanaryReleaseStatus,
    reason: Reason,
    message: str,
    assessment: Assessment | None = None,
) -> Hold:
    """Change nothing in traffic. An Event is recorded only when a notable hold starts (its message is new)."""
    loud = _LOUD_HOLDS.get(reason) if message != tick.status.message else None
    return Hold(reason=reason, message=message, status=seal(tick, status, message, assessment), event=loud)


def go_to_step(
    tick: Tick,
    status: CanaryReleaseStatus,
    index: int,
    trigger: Trigger,
    reason: Reason,
    kind: type[Advance] | type[Promote],
    assessment: Assessment | None = None,
) -> Decision:
    """Enter step `index` (or complete when past the last); an indefinite pause step then pauses the release."""
    if index >= len(tick.plan):
        done = Reason.SUCCEEDED if reason is Reason.STEP_ADVANCED else reason
        return complete(tick, status, done, f"all {len(tick.plan)} steps done; the canary carries 100%", assessment)
    message = describe_step(tick, index)
    status = move(enter_step(tick, status, index), trigger, reason, message, tick.now)
    step = tick.plan.step(index)
    if isinstance(step, PauseStep) and step.indefinite:
        status = status.model_copy(update={"pause_reason": PauseReason.AWAITING_PROMOTION})
        status = move(status, Trigger.PAUSE, Reason.AWAITING_PROMOTION, message, tick.now)
    return kind(
        reason=reason,
        message=message,
        status=seal(tick, status, message, assessment),
        target_weight=status.canary_weight,
        event="Normal",
    )


def complete(
    tick: Tick, status: CanaryReleaseStatus, reason: Reason, message: str, assessment: Assessment | None = None
) -> Complete | StartPromotion:
    """The canary gets 100 % and the release has Succeeded; the user makes it the new stable. With a followed
    workload the plan's end is the promotion instead: the canary gets 100 % while the primary takes its revision."""
    if tick.spec.workload is not None:
        return _promote_stable(tick, status, reason, assessment)
    status = status.model_copy(
        update={
            "canary_weight": FULL,
            "current_step_index": max(len(tick.plan) - 1, 0),
            "pause_reason": None,
            "next_check_at": None,
        }
    )
    status = move(status, Trigger.COMPLETE, reason, message, tick.now)
    return Complete(
        reason=reason,
        message=message,
        status=seal(tick, status, message, assessment),
        target_weight=FULL,
        event="Normal",
    )


def _promote_stable(
    tick: Tick, status: CanaryReleaseStatus, reason: Reason, assessment: Assessment | None
) -> StartPromotion:
    revision = (status.revision or "none")[:10]
    primary = tick.spec.workload.primary_name() if tick.spec.workload is not None else ""
    done = "promoted in full" if reason is Reason.PROMOTED_FULL else f"all {len(tick.plan)} steps done"
    message = f"{done}: promoting revision {revision} to Deployment/{primary}; the canary carries 100% meanwhile"
    status = status.model_copy(
        update={
            "canary_weight": FULL,
            "current_step_index": max(len(tick.plan) - 1, 0),
            "pause_reason": None,
            "next_check_at": None,
            "stable_revision": status.revision,
        }
    )
    status = move(status, Trigger.PROMOTE_STABLE, Reason.PROMOTING, message, tick.now)
    return StartPromotion(
        reason=Reason.PROMOTING,
        message=message,
        status=seal(tick, status, message, assessment),
        target_weight=FULL,
        event="Normal",
        workload=WorkloadMove(promote=status.revision),
    )


def rollback(
    tick: Tick,
    status: CanaryReleaseStatus,
    message: str,
    assessment: Assessment | None,
    reason: Reason = Reason.ROLLED_BACK,
) -> Rollback:
    """A check failed: every managed route goes back to how it was (canary 0 %); the release has Failed. A failed
    pre-check (`reason` PreCheckFailed) is the same move from Pending: the routes are already as they were."""
    status = status.model_copy(update={"canary_weight": 0, "pause_reason": None, "next_check_at": None})
    status = move(status, Trigger.ROLLBACK, reason, message, tick.now)
    return Rollback(
        reason=reason,
        message=message,
        status=seal(tick, status, message, assessment),
        target_weight=0,
        restore_routes=True,
        event="Warning",
    )


def pause(
    tick: Tick,
    status: CanaryReleaseStatus,
    why: PauseReason,
    reason: Reason,
    message: str,
    assessment: Assessment | None = None,
    *,
    weight: int | None = None,
) -> Pause:
    """Stop advancing until a human says otherwise: at the current weight, or first at `weight` (only ever lower:
    a pause that takes the canary's traffic away)."""
    update: dict[str, object] = {"pause_reason": why}
    if weight is not None:
        update["canary_weight"] = weight
    status = move(status.model_copy(update=update), Trigger.PAUSE, reason, message, tick.now)
    return Pause(
        reason=reason,
        message=message,
        status=seal(tick, status, message, assessment),
        target_weight=weight,
        event="Warning" if why in (PauseReason.INCONCLUSIVE, PauseReason.INCONCLUSIVE_WITHDRAWN) else "Normal",
    )


def restart(tick: Tick, status: CanaryReleaseStatus, trigger: Trigger, reason: Reason, message: str) -> Restart:
    """Start over from step 0: back to Pending with the canary at 0 % (the original routes restored, if graygate
    had changed them)."""
    status = move(start_over(status).model_copy(update={"run_cause": message}), trigger, reason, message, tick.now)
    changed = bool(status.original_routes)
    return Restart(
        reason=reason,
        message=message,
        status=seal(tick, status, message),
        target_weight=0 if changed else None,
        restore_routes=changed,
        event="Normal",
    )
