"""The release loop of a followed workload: a new revision starts a run, a finished plan promotes it, and the canary
Deployment is scaled to what its phase needs.

Why a module apart from `decide`: these rules apply only with `spec.workload`, and they come before everything else
a tick decides (a new revision outranks a pending command, and a half-done promotion has only one way forward), so
they read best together, in the order they apply:

1. The followed Deployment is missing: nothing is released; a canary that carried traffic is rolled back (during
   a promotion, all traffic goes to the primary, which finishes it).
2. No stable revision yet: the primary Deployment is created from the followed Deployment's current revision (the
   first revision is stable without analysis: there is nothing to compare it with); an existing primary made by
   graygate is adopted as it is.
3. A revision other than the one the release is on: start over with it (from any phase but Invalid), the canary at
   0 %, with an Event; a run in progress ends there, and its weight never rises again.
4. Pending on the stable revision (the first one, or a return to it): nothing to release; once the primary runs it,
   the release is Succeeded and the canary is scaled to 0.
5. Promoting: the primary is given the revision (again, if the write was lost), and once its rollout of that
   revision is complete all traffic goes back to the stable destination: Succeeded. A promotion is never rolled
   back: the canary it promotes passed every step and carries all traffic meanwhile. A command typed meanwhile is
   ignored with its reason first (the promotion goes on the next tick): left pending, it would act on whatever
   phase came next, and an `abort` would end the next revision's run before it began.

After any decision (`with_scale`): the canary Deployment runs what the phase needs. During a run, as many
replicas as the primary (or, with `followTraffic`, its share of them at the weight of the step ahead, so new pods
are ready before the weight rises and the step waits for them), never fewer than it already runs once it carries
traffic; after a run, none, `scaleDownDelay` after it ended.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from math import ceil

from graygate.api.spec import CanaryReleaseSpec, FollowedWorkload
from graygate.api.status import CanaryReleaseStatus, Phase
from graygate.domain.analysis.measurements import WorkloadReading
from graygate.domain.release.bookkeeping import Tick, move, seal, start_over
from graygate.domain.release.commands import pending_command
from graygate.domain.release.deadline import overdue
from graygate.domain.release.decision import Complete, Decision, Note, Reason, Reassert, Restart, WorkloadMove
from graygate.domain.release.moves import describe_step, hold, rollback
from graygate.domain.release.observations import DeploymentState, FollowedState
from graygate.domain.release.phases import TERMINAL, Trigger
from graygate.domain.release.plan import FULL

__all__ = ["before", "canary_reading", "short", "wanted_replicas", "with_scale"]


def short(revision: str | None) -> str:
    """A revision as messages show it."""
    return (revision or "none")[:10]


def before(tick: Tick) -> Decision | None:
    """Rules 1 to 5, or None when the release goes on by the common rules."""
    workload, seen = tick.spec.workload, tick.seen.followed
    if workload is None or seen is None:
        return None
    canary, primary = seen.canary, seen.primary
    if not canary.exists or canary.revision is None:
        return _missing(tick, canary, primary)
    status = tick.status
    if status.stable_revision is None:
        adopted = _adopt_primary(tick, workload, seen)
        if isinstance(adopted, Decision):
            return adopted
        status = adopted
    if canary.revision != status.revision:
        return _new_revision(tick, status, canary)
    if status.phase is Phase.PENDING and status.revision == status.stable_revision:
        return _nothing_to_release(tick, status, primary)
    if status.phase in TERMINAL and primary.revision != status.stable_revision:
        return _primary_lost(tick, status, canary, primary)
    if status.phase is Phase.PROMOTING and pending_command(status, tick.seen.command) is None:
        return _promoting(tick, status, primary)
    if status is not tick.status:
        return hold(tick, status, Reason.ADOPTED, status.message)
    return None


def _missing(tick: Tick, canary: DeploymentState, primary: DeploymentState) -> Decision:
    """Rule 1: without the followed Deployment nothing is released, and a canary that carried traffic is gone:
    its run is rolled back (a promotion instead sends all traffic to the primary, which is rolling its revision
    out, and finishes)."""
    status = tick.status
    gone = f"{canary.label} is gone ({canary.message})" if not canary.exists else f"{canary.label}: {canary.message}"
    if status.phase in (Phase.PROGRESSING, Phase.PAUSED) and status.canary_weight > 0:
        return rollback(tick, status, f"{gone}: the canary can serve nothing; rolled back", None)
    if status.phase is Phase.PROMOTING:
        if status.canary_weight > 0:
            message = f"{gone} while promoting: all traffic to {primary.label}, which rolls the revision out"
            withdrawn = status.model_copy(update={"canary_weight": 0})
            return Reassert(
                reason=Reason.WORKLOAD_MISSING,
                message=message,
                status=seal(tick, withdrawn, message),
                target_weight=0,
                event="Warning",
            )
        if primary.revision == status.revision:
            return _promoting(tick, status, primary)
        message = f"{gone} before {primary.label} was given the revision: nothing to promote from"
        return hold(tick, status, Reason.WORKLOAD_MISSING, message)
    return hold(tick, status, Reason.WORKLOAD_MISSING, f"waiting for {gone}")


def _adopt_primary(tick: Tick, workload: FollowedWorkload, seen: FollowedState) -> CanaryReleaseStatus | Decision:
    """Rule 2: the status with the primary's revision as the stable one, or the decision that creates it."""
    canary, primary = seen.canary, seen.primary
    if primary.exists and primary.revision is None:
        message = (
            f"{primary.label} exists but graygate did not make it (no graygate.dev/revision annotation); delete it "
            f"or set workload.primary to another name"
        )
        return hold(tick, tick.status, Reason.PRIMARY_NOT_OURS, message)
    if primary.exists:
        revision = tick.status.revision or primary.revision
        return tick.status.model_copy(update={"stable_revision": primary.revision, "revision": revision})
    message = (
        f"creating {primary.label} from revision {short(canary.revision)} of {canary.label}: the first revision is "
        "the stable one, without analysis"
    )
    decision = hold(tick, tick.status, Reason.ADOPTED, message)
    return replace(decision, event="Normal", workload=WorkloadMove(promote=canary.revision))


def _new_revision(tick: Tick, status: CanaryReleaseStatus, canary: DeploymentState) -> Decision:
    """Rule 3: start over with the new revision; a run in progress ends with its canary at 0 %."""
    was = status.revision
    if status.phase in (Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING):
        where = describe_step(tick, status.current_step_index, status.step_started_at).split(":")[0]
        if status.phase is Phase.PROMOTING:
            where = "the promotion"
        message = (
            f"new revision {short(canary.revision)} of {canary.label} arrived at {where} of revision {short(was)}; "
            "starting over from step 1 with the canary at 0%"
        )
    elif canary.revision == status.stable_revision:
        message = f"{canary.label} is back at the stable revision {short(canary.revision)}; nothing to release"
    else:
        message = f"new revision {short(canary.revision)} of {canary.label} (was {short(was)}): starting a run"
    update: dict[str, object] = {"revision": canary.revision, "run_cause": message}
    primary = tick.seen.followed.primary if tick.seen.followed is not None else None
    if status.phase is Phase.PROMOTING and primary is not None and primary.revision != status.revision:
        update["stable_revision"] = primary.revision  # the promotion never reached the primary: it stays stable
    fresh = start_over(status).model_copy(update=update)
    moved = move(fresh, Trigger.REVISION, Reason.NEW_REVISION, message, tick.now)
    withdraw = status.canary_weight != 0 and bool(status.original_routes)
    return Restart(
        reason=Reason.NEW_REVISION,
        message=message,
        status=seal(tick, moved, message),
        target_weight=0 if withdraw else None,
        restore_routes=withdraw,
        event="Normal",
    )


def _give(tick: Tick, status: CanaryReleaseStatus, reason: Reason, message: str, revision: str | None) -> Decision:
    """Hold traffic as it is while the primary is given `revision` (again)."""
    return replace(hold(tick, status, reason, message), workload=WorkloadMove(promote=revision))


def _primary_lost(
    tick: Tick, status: CanaryReleaseStatus, canary: DeploymentState, primary: DeploymentState
) -> Decision:
    """After a run the stable destination is the primary: one deleted or changed by someone else is given the stable
    revision again when the followed Deployment still has it, and reported either way."""
    what = "is gone" if not primary.exists else f"runs revision {short(primary.revision)}"
    stable = short(status.stable_revision)
    if canary.revision == status.stable_revision:
        message = f"{primary.label} {what}, not the stable revision {stable}: giving it {stable} again"
        return _give(tick, status, Reason.PRIMARY_LOST, message, status.stable_revision)
    message = (
        f"{primary.label} {what}, not the stable revision {stable}, and {canary.label} is at another revision "
        f"({short(canary.revision)}): the stable destination cannot be rebuilt from it; the next revision will be"
    )
    return hold(tick, status, Reason.PRIMARY_LOST, message)


def _nothing_to_release(tick: Tick, status: CanaryReleaseStatus, primary: DeploymentState) -> Decision:
    """Rule 4: the revision is the stable one; Succeeded once the primary runs it."""
    revision = short(status.revision)
    if primary.revision != status.revision:
        # The stable revision is recorded when its promotion starts; a promotion write that was lost (or refused for
        # a newer revision that has since been rolled back) is made again here.
        message = f"revision {revision} is the stable one; giving it to {primary.label}"
        return _give(tick, status, Reason.PROMOTING, message, status.revision)
    if not primary.ready:
        message = f"revision {revision} is the stable one; waiting for {primary.label} to run it: {primary.message}"
        return hold(tick, status, Reason.WAITING_FOR_WORKLOAD, message)
    message = f"revision {revision} is stable: {primary.label} runs it and the stable destination carries all traffic"
    done = status.model_copy(update={"canary_weight": 0, "scale_down_at": tick.now})
    done = move(done, Trigger.ADOPT, Reason.ADOPTED, message, tick.now)
    return Complete(reason=Reason.ADOPTED, message=message, status=seal(tick, done, message), event="Normal")


def _promoting(tick: Tick, status: CanaryReleaseStatus, primary: DeploymentState) -> Decision:
    """Rule 5: the primary rolls the revision out; then all traffic goes to the stable destination."""
    revision = short(status.revision)
    off = tick.drifted(status.canary_weight) if tick.route_problem is None else ()
    if off and tick.seen.frozen and any((r.canary_weight or 0) < status.canary_weight for r in off):
        off = ()  # frozen: the canary's weight is never raised back, not even to finish a promotion
    if off:
        found = ", ".join(f"{r.label} at {r.canary_weight}%" for r in off)
        message = (
            f"drift while promoting: wanted {status.canary_weight}% on the canary, found {found}; setting it again"
        )
        return Reassert(
            reason=Reason.DRIFT,
            message=message,
            status=seal(tick, status, status.message),
            target_weight=status.canary_weight,
            event="Warning",
            workload=WorkloadMove(promote=status.revision) if primary.revision != status.revision else None,
        )
    if primary.revision != status.revision:
        message = f"promoting revision {revision}: giving it to {primary.label}; the canary carries 100%"
        return _give(tick, status, Reason.PROMOTING, message, status.revision)
    if not primary.ready:
        message = f"promoting revision {revision}: the canary carries 100% while {primary.label} rolls it out"
        late = overdue(tick.spec, status, tick.now)
        detail = f" ({primary.message})" if primary.message else ""
        if late is not None:
            message = f"{late}; the promotion is not rolled back: the canary passed and keeps all traffic{detail}"
        else:
            message += detail
        return hold(tick, status, Reason.PROMOTING, message)
    delay = tick.spec.workload.scale_down_delay if tick.spec.workload is not None else timedelta(0)
    message = f"revision {revision} promoted: {primary.label} runs it and the stable destination carries all traffic"
    done = status.model_copy(
        update={
            "canary_weight": 0,
            "next_check_at": None,
            "scale_down_at": tick.now + delay,
        }
    )
    done = move(done, Trigger.COMPLETE, Reason.SUCCEEDED, message, tick.now)
    restore = bool(status.original_routes)
    return Complete(
        reason=Reason.SUCCEEDED,
        message=message,
        status=seal(tick, done, message),
        target_weight=0,
        restore_routes=restore,
        event="Normal",
    )


def canary_reading(seen: FollowedState, status: CanaryReleaseStatus) -> WorkloadReading:
    """The followed Deployment as the common rules read a canary workload. Before it carries traffic it must be
    ready (every replica on the revision, none of an older one); once it does, only unavailable counts against it,
    so a scale-up under way (`followTraffic`) is not a failure."""
    canary = seen.canary
    available = canary.ready if status.canary_weight == 0 else canary.available
    return WorkloadReading(
        kind="Deployment", name=canary.name, available=available, message=canary.message, pod_labels=canary.pod_labels
    )


def wanted_replicas(spec: CanaryReleaseSpec, tick: Tick, status: CanaryReleaseStatus) -> int | None:
    """How many replicas the canary Deployment should run in `status`, or None to leave it as it is."""
    workload, seen = spec.workload, tick.seen.followed
    if workload is None or seen is None or not seen.canary.exists:
        return None
    if status.phase in TERMINAL:
        due = status.scale_down_at is not None and status.scale_down_at <= tick.now
        return 0 if due else None
    if status.phase is Phase.INVALID or (status.phase is Phase.PENDING and status.revision == status.stable_revision):
        return None
    if not seen.primary.exists:
        # No reference to size the canary by: a missing primary (deleted meanwhile, or being created again by a
        # promotion) must not shrink a canary that may carry all traffic.
        return None
    reference = max(seen.primary.replicas, 1)
    floor = workload.replicas.min
    if status.phase is not Phase.PENDING:
        # Once the canary carries traffic it never shrinks: an autoscaler on the primary scales it down as the
        # canary takes its load, and following it would leave both sides too small for the whole.
        floor = max(floor, seen.canary.replicas)
    if not workload.replicas.follow_traffic:
        return max(floor, reference)
    ahead = FULL
    if status.phase is Phase.PENDING:
        ahead = tick.plan.weight_at(0) if len(tick.plan) else FULL
    elif status.phase in (Phase.PROGRESSING, Phase.PAUSED) and status.current_step_index + 1 < len(tick.plan):
        ahead = tick.plan.weight_at(status.current_step_index + 1)
    return max(floor, ceil(max(ahead, status.canary_weight) * reference / FULL))


def with_scale(tick: Tick, decision: Decision) -> Decision:
    """`decision` with the canary scaled as its status needs, and a terminal status given its scale-down time."""
    workload, seen = tick.spec.workload, tick.seen.followed
    if workload is None or seen is None:
        return decision
    status = decision.status
    if status.phase in TERMINAL and status.scale_down_at is None and seen.canary.replicas:
        status = status.model_copy(update={"scale_down_at": tick.now + workload.scale_down_delay})
        decision = replace(decision, status=status)
    wanted = wanted_replicas(tick.spec, tick, status)
    if wanted is None or wanted == seen.canary.replicas:
        return decision
    moving = decision.workload or WorkloadMove()
    notes = decision.notes
    if wanted == 0:
        said = f"scaled {seen.canary.label} to 0 after the run ({status.phase.value})"
        notes = (*notes, Note("Normal", Reason.SCALED_DOWN, said))
    return replace(decision, workload=replace(moving, canary_replicas=wanted), notes=notes)
