"""`decide(spec, status, observations, now) -> Decision`: one tick of a release, as a pure function.

Why: this is the product. Every rule about when traffic moves lives here, in the order it applies, and nothing
here can read a clock, call the API server or sleep, so each rule is one row in a table test and a crash between
any two lines of the service is just another input on the next tick.

The rules, first match wins:

1. An invalid spec: phase Invalid, traffic left exactly as it is (and a pending command is ignored).
2. First sight of a release: record the original routes (a snapshot for an exact restore), touch nothing.
3. The spec changed (new generation), or became valid again: start over from step 0, canary back to 0 %.
4. A new `graygate.dev/command` value: apply it once, or ignore it with a reason (see `manual`). A running
   release's analysis of the same tick goes first: when it rolls the release back (a critical failure, or
   `failureLimit` exceeded) the rollback wins and the command is recorded as not applied, so a promote or resume
   typed at the wrong moment can neither raise a failing canary's weight nor delay its rollback; otherwise the
   command acts on the status with that analysis recorded (its failure counted, its results kept). See
   `analysis_rules`.
5. A finished release (Succeeded 100 %, Failed/Aborted 0 %) keeps its routes where it left them.
6. A running release, in this order:
   a. analysis (when the service ran the gates): a critical failure rolls back at once; non-critical failures
      beyond `failureLimit` roll back; `consecutiveErrorLimit` analyses in a row where a gate could not measure
      roll back under `errorPolicy: rollback`; while Pending, only the pre-check gates run, and any failure fails;
   b. routes that cannot be read (or whose write the API server refused): hold, Stalled;
   c. drift (a real weight is not the wanted one): re-assert the wanted weight;
   d. `inconclusiveLimit` inconclusive analyses in a row: pause and ask a human, at the current weight when no
      verdict of that analysis saw users failing on the canary (`Verdict.harm`), otherwise with the canary taken
      to 0 % first (`InconclusiveWithdrawn`: its header routes go too, and `resume` starts the step again);
      `consecutiveErrorLimit` analyses in a row where a gate could not measure, under `errorPolicy: hold`: hold
      the weight, Stalled, until an analysis measures again (an `Error` below the limit holds the step, see g);
   e. Pending: wait for the routes' snapshot and an Available canary workload, then for the DestinationRule
      subsets the destinations name (a subset still missing at `progressDeadline` fails the release at 0 %, see
      `destinations`), then for every pre-check gate to pass (a failing pre-check fails the release at 0 %, see
      `precheck`), then start step 0;
   f. Paused: hold until a command;
   g. Progressing: an unavailable canary workload holds; a `setWeight` (or `setHeaderRoute`) step is done after
      one passing analysis at its weight (at once without gates), so any other outcome (`Error` included)
      holds; a timed pause is done when its time, counted from `stepStartedAt`, is up and the latest analysis, if
      any, passed; then the next step, or after the last one: Succeeded with the canary at 100 %.
      Starting first writes the release's etcd keys (`spec.config`, see `config_moves`): the canary gets traffic
      only once that write is confirmed.
7. After any rule: a run that ends (Failed, Aborted) or starts over puts its etcd keys back, guarded.

Stage hooks (`hooks`) are heard before rule 3; a hook's rollback comes right after 6a's; `confirmRollout` and
`preRollout` hold 6e, `confirmPromotion` pauses 6g before completing and holds 6f until approved.

A failed verdict is always heard, with the gate's value, threshold, resolved query and evidence
(`analysis_rules.report_failures`): in the Event of the rollback or pause it leads to, or else as one Warning Event
when the gate's failure streak starts: `GateFailed` for a gate whose verdict is `Fail`, `GateWaiting` for one that
is failing but still below its `failureThreshold`.

The freeze switch never lets a weight go up (starting, advancing, completing, promoting, re-asserting upward);
rollbacks, aborts and downward re-assertions still happen.

Traffic colouring rides along every decision: while the release is Progressing or Paused, the latest
`setHeaderRoute` step so far says which header matches go to the canary (`Decision.header_routes`, derived from
the status's phase and step, so a restarted operator wants the same; `status.headerRoutes` shows it). Every
decision that moves traffic carries
them; a tick that would leave traffic alone but reads a managed route whose header route is missing (someone
deleted it) or still there (a crash before its removal) re-asserts, like weight drift.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from graygate.api.header_routes import HeaderRouteMatch
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus, OriginalRoute, Outcome, PauseReason, Phase
from graygate.api.validation import InvalidSpec
from graygate.domain.analysis.assessment import Assessment
from graygate.domain.release import analysis_rules, config_moves, following, hooks
from graygate.domain.release.bookkeeping import (
    Tick,
    cannot_measure,
    managed_only,
    move,
    needs_snapshot,
    route_problem,
    seal,
    seal_explicit,
)
from graygate.domain.release.commands import pending_command, record_command
from graygate.domain.release.deadline import overdue
from graygate.domain.release.decision import Advance, Decision, Hold, MarkInvalid, Reason, Reassert
from graygate.domain.release.destinations import missing_destinations
from graygate.domain.release.hook_records import analysis_of
from graygate.domain.release.moves import clock, describe_step, go_to_step, hold, pause, restart, rollback
from graygate.domain.release.observations import Observations
from graygate.domain.release.phases import TERMINAL, Trigger
from graygate.domain.release.plan import PauseStep, plan_of
from graygate.domain.release.precheck import pre_check_gates, pre_checks_passed

__all__ = ["analysis_due", "decide", "wanted_header_routes"]


def analysis_due(status: CanaryReleaseStatus, now: datetime) -> bool:
    """Whether a running release's gates are due this tick. `precheck.gates_due` is the whole answer (which
    gates, the pre-checks of a Pending release included)."""
    running = status.phase in (Phase.PROGRESSING, Phase.PAUSED)
    return running and (status.next_check_at is None or status.next_check_at <= now)


def decide(
    spec: CanaryReleaseSpec | InvalidSpec, status: CanaryReleaseStatus, observations: Observations, now: datetime
) -> Decision:
    """The decision for one tick; see the module docstring for the rules."""
    decision = _decide(spec, status, observations, now)
    if isinstance(spec, InvalidSpec):
        return decision
    decision = hooks.announce(status, decision)
    decision = config_moves.after_decision(status, observations, _colour(spec, observations, decision))
    tick = Tick(spec=spec, plan=plan_of(spec), status=status, seen=observations, now=now)
    return following.with_scale(tick, decision)


def wanted_header_routes(spec: CanaryReleaseSpec, status: CanaryReleaseStatus) -> tuple[HeaderRouteMatch, ...]:
    """The header matches that should go to the canary in this status: none unless Progressing or Paused, and
    none while paused with the canary withdrawn (users were seen failing on it)."""
    if status.phase not in (Phase.PROGRESSING, Phase.PAUSED):
        return ()
    if status.pause_reason is PauseReason.INCONCLUSIVE_WITHDRAWN:
        return ()
    return plan_of(spec).header_routes_at(status.current_step_index)


def _colour(spec: CanaryReleaseSpec, seen: Observations, decision: Decision) -> Decision:
    wanted = wanted_header_routes(spec, decision.status)
    if decision.status.header_routes != bool(wanted):
        decision = replace(decision, status=decision.status.model_copy(update={"header_routes": bool(wanted)}))
    if decision.touches_traffic:
        return replace(decision, header_routes=wanted)
    if route_problem(seen.routes) is not None:
        return decision
    off = [r for r in seen.routes if r.header_route != bool(wanted)]
    if not off:
        return decision
    status = decision.status
    found = ", ".join(r.label for r in off)
    state = "missing above" if wanted else "still above"
    return Reassert(
        reason=Reason.DRIFT,
        message=f"drift: the header route is {state} {found}; setting it again",
        status=status,
        target_weight=status.canary_weight,
        restore_routes=status.phase in TERMINAL and status.canary_weight == 0 and bool(status.original_routes),
        header_routes=wanted,
        event="Warning",
        notes=decision.notes,
    )


def _decide(
    spec: CanaryReleaseSpec | InvalidSpec, status: CanaryReleaseStatus, observations: Observations, now: datetime
) -> Decision:
    if isinstance(spec, InvalidSpec):
        return _invalid(spec, status, observations, now)
    tick = Tick(spec=spec, plan=plan_of(spec), status=status, seen=observations, now=now)
    if status.observed_generation is None:
        return _initialize(tick)
    tick = hooks.heard(tick)  # kept by every decision below but a fresh run's, which forgets them
    if status.phase is Phase.PROMOTING and (promoting := following.before(tick)) is not None:
        # A promotion finishes before a spec change is heard: restarting would send all traffic to a primary
        # still rolling out. The new spec applies to the next run.
        return promoting
    if status.observed_generation != observations.generation:
        message = f"the spec changed (generation {observations.generation}); starting over from step 1"
        return restart(tick, status, Trigger.RESTART, Reason.SPEC_CHANGED, message)
    if status.phase is Phase.INVALID:
        return restart(tick, status, Trigger.RESTART, Reason.SPEC_CHANGED, "the spec is valid now; starting over")
    if (followed := following.before(tick)) is not None:
        return followed
    if (command := pending_command(status, observations.command)) is not None:
        return analysis_rules.command(tick, command)
    if status.phase in TERMINAL:
        return _settle(tick)
    return _run(tick)


def _invalid(spec: InvalidSpec, status: CanaryReleaseStatus, seen: Observations, now: datetime) -> Decision:
    message = f"invalid spec: {spec.message}"
    command = pending_command(status, seen.command)
    if status.phase is Phase.INVALID and status.observed_generation == seen.generation and command is None:
        return Hold(reason=Reason.INVALID_SPEC, message=message, status=status)
    if status.phase is not Phase.INVALID:
        status = move(status, Trigger.INVALIDATE, Reason.INVALID_SPEC, message, now)
    status = seal_explicit(
        status, seen=seen, now=now, wanted_before=status.canary_weight, total_steps=0, message=message
    )
    decision: Decision = MarkInvalid(reason=Reason.INVALID_SPEC, message=message, status=status, event="Warning")
    if command is not None:
        decision = record_command(decision, command, applied=False, note="ignored: the spec is invalid", now=now)
    return decision


def _initialize(tick: Tick) -> Decision:
    # The deadline's clock starts at first sight: a release that can never start is reported like one that stalls.
    status = CanaryReleaseStatus(last_command=tick.status.last_command, progress_at=tick.now)
    recorded = _original_routes(tick, ())
    if isinstance(recorded, _NotYet):
        return hold(tick, status, Reason.INITIALIZED, recorded.message)
    status = status.model_copy(update={"original_routes": recorded})
    message = f"recorded the original routes ({', '.join(r.label for r in tick.seen.routes)}); waiting to start"
    return hold(tick, status, Reason.INITIALIZED, message)


@dataclass(frozen=True, slots=True)
class _NotYet:
    reason: Reason
    message: str


def _original_routes(tick: Tick, kept: tuple[OriginalRoute, ...]) -> tuple[OriginalRoute, ...] | _NotYet:
    """`kept` plus the snapshots of the routes not recorded yet, or why those cannot be taken now. A route is
    recorded only while its canary weight is 0, so that restoring it exactly means "all traffic on stable"."""
    if (problem := tick.route_problem) is not None:
        return _NotYet(Reason.ROUTE_UNAVAILABLE, f"waiting for the routes: {problem}")
    kind = tick.spec.traffic_routing.kind
    known = {(saved.virtual_service, saved.route) for saved in kept if saved.kind == kind}
    fresh = [r for r in tick.seen.routes if (r.virtual_service, r.route) not in known]
    if busy := [r for r in fresh if r.canary_weight]:
        found = ", ".join(f"{r.label} at {r.canary_weight}%" for r in busy)
        return _NotYet(
            Reason.CANARY_HAS_TRAFFIC,
            f"the canary already carries traffic ({found}); every release starts from 0%: send that traffic back "
            "to the stable destination first",
        )
    taken = [
        saved
        for saved in tick.seen.snapshots or ()
        if saved.kind == kind and (saved.virtual_service, saved.route) not in known
    ]
    if not taken:
        return _NotYet(Reason.ROUTE_UNAVAILABLE, "waiting for the router to snapshot the routes")
    return (*kept, *taken)


def _settle(tick: Tick) -> Decision:
    status = tick.status
    wanted = status.canary_weight
    off = tick.drifted(wanted)
    if tick.route_problem is not None or not off:
        return hold(tick, status, Reason.SETTLED, status.message)
    if tick.seen.frozen and any((r.canary_weight or 0) < wanted for r in off):
        return hold(tick, status, Reason.FROZEN, status.message)
    return _reassert(tick, status, restore=wanted == 0 and bool(status.original_routes))


def _reassert(
    tick: Tick, status: CanaryReleaseStatus, *, restore: bool, assessment: Assessment | None = None
) -> Decision:
    wanted = status.canary_weight
    found = ", ".join(f"{r.label} at {r.canary_weight}%" for r in tick.drifted(wanted))
    message = f"drift: wanted {wanted}% on the canary, found {found}; setting it again"
    return Reassert(
        reason=Reason.DRIFT,
        message=message,
        status=_keep_message(tick, status, assessment),
        target_weight=wanted,
        restore_routes=restore,
        event="Warning",
    )


def _keep_message(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> CanaryReleaseStatus:
    return seal(tick, status, status.message, assessment)


def _run(tick: Tick) -> Decision:
    status = tick.status
    if status.phase is Phase.PENDING and needs_snapshot(tick.spec, status):
        recorded = _original_routes(tick, status.original_routes)
        if isinstance(recorded, _NotYet):
            return hold(tick, status, recorded.reason, recorded.message)
        status = status.model_copy(update={"original_routes": recorded})
        return hold(tick, status, Reason.ROUTES_RECORDED, "recorded the original routes; waiting to start")
    status, assessment, ended = analysis_rules.analyse(tick, status)
    decided = ended or _past_deadline(tick, status, assessment) or _proceed(tick, status, assessment)
    return analysis_rules.report_failures(tick, decided, assessment)


def _past_deadline(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> Decision | None:
    """A run without progress for `progressDeadline` ends as `onProgressDeadline` says: rolled back, or paused at
    its weight (a Pending run holds at 0 %, with `Stalled`: there is nothing to pause)."""
    if status.phase not in (Phase.PENDING, Phase.PROGRESSING) or (late := overdue(tick.spec, status, tick.now)) is None:
        return None
    if tick.seen.frozen:
        # A freeze holds every run by a human's choice, as a pause does: it is not the run's lack of progress.
        return None
    doing = status.message
    if status.phase is Phase.PENDING and (missing := _missing_destinations(tick)) is not None:
        message = f"{late}; failed with the canary never having had traffic: {missing}"
        return rollback(tick, status, message, assessment, Reason.PRE_CHECK_FAILED)
    if tick.spec.on_progress_deadline == "rollback":
        return rollback(tick, status, f"{late}; rolled back (was: {doing})", assessment, Reason.PROGRESS_DEADLINE)
    if status.phase is Phase.PENDING:
        return None
    message = f"{late}; paused at {status.canary_weight}% (was: {doing}); resume to go on, abort to roll back"
    return pause(tick, status, PauseReason.PROGRESS_DEADLINE, Reason.PROGRESS_DEADLINE, message, assessment)


def _proceed(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> Decision:
    analysis = tick.spec.analysis
    if (problem := tick.route_problem) is not None:
        return hold(tick, status, Reason.ROUTE_UNAVAILABLE, f"cannot use the routes: {problem}", assessment)
    if off := tick.drifted(status.canary_weight):
        if tick.seen.frozen and any((r.canary_weight or 0) < status.canary_weight for r in off):
            return hold(tick, status, Reason.FROZEN, "releases are frozen: not raising the canary back", assessment)
        restore = status.phase is Phase.PENDING and status.canary_weight == 0
        return _reassert(tick, status, restore=restore and bool(status.original_routes), assessment=assessment)
    unsure = assessment is not None and status.inconclusive_count >= analysis.inconclusive_limit
    if unsure and assessment is not None and status.phase is Phase.PROGRESSING:
        return _cannot_decide(tick, status, assessment)
    if status.phase is Phase.PROGRESSING and (unmeasured := cannot_measure(tick.spec, status)) is not None:
        where = describe_step(tick, status.current_step_index, status.step_started_at)
        return hold(tick, status, Reason.CANNOT_MEASURE, f"{where}; {unmeasured}", assessment)
    if status.phase is Phase.PENDING:
        return _start(tick, status, assessment)
    if status.phase is Phase.PAUSED:
        confirming = hooks.confirming_promotion(tick, status, assessment)
        return confirming or hold(tick, status, Reason.WAITING, status.message, assessment)
    return _step(tick, status, assessment)


def _cannot_decide(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment) -> Decision:
    """Rule d: pause for a human. Holding the weight is only for a canary nobody was seen failing on; a verdict
    with `harm` means users are failing on it now, and a pause can last hours, so their traffic goes first."""
    worst = assessment.worst_verdict
    latest = f"{worst.gate}: {worst.reason}" if worst else "no verdict"
    said = f"{status.inconclusive_count} analyses in a row could not decide (latest: {latest})"
    harmed = [verdict for verdict in assessment.counted if verdict.harm]
    if not harmed:
        message = (
            f"{said}; holding {status.canary_weight}%: nothing shows users failing; resume to go on, promote to "
            "skip this step, abort to roll back"
        )
        return pause(tick, status, PauseReason.INCONCLUSIVE, Reason.INCONCLUSIVE, message, assessment)
    seen = "; ".join(f"{verdict.gate}: {verdict.harm}" for verdict in harmed)
    weight = tick.plan.weight_at(status.current_step_index)
    message = (
        f"{said}; took the canary to 0% before pausing: {seen}; resume to start the step again at {weight}%, "
        "promote to skip this step, abort to roll back"
    )
    withdrawn = PauseReason.INCONCLUSIVE_WITHDRAWN
    return pause(tick, status, withdrawn, Reason.INCONCLUSIVE, message, assessment, weight=0)


def _start(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> Decision:
    if (confirming := hooks.confirming_rollout(tick, status, assessment)) is not None:
        return confirming
    workload = tick.seen.workload
    if workload is not None and not workload.available:
        detail = f": {workload.message}" if workload.message else ""
        return hold(tick, status, Reason.WAITING_FOR_WORKLOAD, f"waiting for {workload.label} to be Available{detail}")
    if (missing := _missing_destinations(tick)) is not None:
        message = f"0% to the canary; waiting for its destinations to exist: {missing}"
        return hold(tick, status, Reason.DESTINATION_MISSING, message, assessment)
    if not pre_checks_passed(tick.spec, status):
        return hold(tick, status, Reason.PRE_CHECKING, _pre_checking(tick, status, assessment), assessment)
    if (waiting := hooks.pre_rollout(tick, status, assessment)) is not None:
        return waiting
    if tick.frozen_against(tick.plan.weight_at(0)):
        return hold(tick, status, Reason.FROZEN, "releases are frozen: not starting", assessment)
    configured = config_moves.before_start(tick, status)
    if isinstance(configured, Decision):
        return configured
    status, note = configured
    status = status.model_copy(
        update={
            "started_at": tick.now,
            "original_routes": managed_only(tick.spec, status.original_routes),
            "inconclusive_count": 0,
            "consecutive_errors": 0,
        }
    )
    started = go_to_step(tick, status, 0, Trigger.START, Reason.STARTED, Advance, assessment)
    return replace(started, notes=(*started.notes, note)) if note is not None else started


def _missing_destinations(tick: Tick) -> str | None:
    """What the routes' DestinationRules lack, when they were read this tick (see `destinations`)."""
    if (reading := tick.seen.destinations) is None:
        return None
    workload = tick.seen.workload
    pods = (workload.label, workload.pod_labels) if workload is not None and workload.pod_labels is not None else None
    return missing_destinations(tick.spec, reading, pods)


def _pre_checking(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> str:
    names = ", ".join(gate.name for gate in pre_check_gates(tick.spec))
    due = clock(status.next_check_at) if status.next_check_at else "now"
    latest = assessment.worst_verdict if assessment is not None else None
    detail = f"; latest: {latest.gate}: {latest.reason}" if latest is not None else ""
    return f"0% to the canary; waiting for the pre-checks ({names}) to pass (next at {due}){detail}"


def _step(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> Decision:
    index = status.current_step_index
    where = describe_step(tick, index, status.step_started_at)
    workload = tick.seen.workload
    if workload is not None and not workload.available:
        message = f"{where}; holding: {workload.label} is not Available"
        return hold(tick, status, Reason.WAITING_FOR_WORKLOAD, message, assessment)
    step = tick.plan.step(index)
    if isinstance(step, PauseStep):
        if step.duration is None:
            message = f"{where}; waiting for a promote command"
            return pause(tick, status, PauseReason.AWAITING_PROMOTION, Reason.AWAITING_PROMOTION, message, assessment)
        ends = (status.step_started_at or tick.now) + step.duration
        if tick.now < ends:
            return hold(tick, status, Reason.WAITING, where, assessment)
        if status.last_outcome not in (None, Outcome.PASS):
            # Never raise the weight blind or on bad news: an analysis that could not tell (Inconclusive, Error, a
            # Waiting comparison) or that failed within failureLimit holds the end of a pause until one passes, or
            # inconclusiveLimit (consecutiveErrorLimit, failureLimit) says what happens next.
            message = f"{where}; the pause is over, waiting for a passing analysis (latest: {status.last_outcome})"
            return hold(tick, status, Reason.WAITING, message, assessment)
    elif analysis_of(tick.spec).gates and (assessment is None or assessment.worst is not Outcome.PASS):
        latest = assessment.worst_verdict if assessment is not None else None
        detail = f"; latest: {latest.gate}: {latest.reason}" if latest is not None else ""
        due = clock(status.next_check_at) if status.next_check_at else "now"
        message = f"{where}; waiting for the gates to pass (next analysis at {due}){detail}"
        return hold(tick, status, Reason.WAITING, message, assessment)
    following = index + 1
    if (confirming := hooks.before_promotion(tick, status, following, assessment)) is not None:
        return confirming
    if tick.frozen_against(tick.plan.weight_at(following)):
        return hold(tick, status, Reason.FROZEN, f"{where}; releases are frozen: not raising the weight", assessment)
    return go_to_step(tick, status, following, Trigger.ADVANCE, Reason.STEP_ADVANCED, Advance, assessment)
