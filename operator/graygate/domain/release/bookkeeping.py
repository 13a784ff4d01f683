"""Status bookkeeping shared by the decision rules: one tick's context, phase moves with their history entry,
entering a step, recording an analysis, starting over, and the conditions every status ends with.

Why: the rules in `decide` should read as rules. Everything that merely keeps `status` consistent (bounded lists,
history entries, `n/m`, kstatus conditions, `lastTransitionTime`) is done here, once, the same way for every rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from graygate.api.conditions import (
    FROZEN,
    GATES_PASSING,
    READY,
    RECONCILING,
    STALLED,
    TRAFFIC_IN_SYNC,
    find_condition,
    set_condition,
)
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import (
    MAX_EVIDENCE,
    MAX_EVIDENCE_TEXT,
    MAX_HISTORY,
    MAX_QUERY_TEXT,
    MAX_RESULTS,
    MAX_STEP_FAILURES,
    CanaryReleaseStatus,
    ConditionStatus,
    GateResult,
    GateState,
    OriginalRoute,
    Outcome,
    PauseReason,
    Phase,
    StepFailures,
    Transition,
)
from graygate.domain.analysis.assessment import Assessment
from graygate.domain.release.deadline import overdue
from graygate.domain.release.decision import Reason
from graygate.domain.release.observations import Observations, RouteReading
from graygate.domain.release.phases import ACTIVE, Trigger, transition
from graygate.domain.release.plan import Plan, step_display

__all__ = [
    "Tick",
    "cannot_measure",
    "drifted",
    "enter_step",
    "managed_only",
    "move",
    "needs_snapshot",
    "record_assessment",
    "route_problem",
    "seal",
    "seal_explicit",
    "start_over",
]

_TRUE, _FALSE, _UNKNOWN = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN
_ASKING = (PauseReason.INCONCLUSIVE, PauseReason.INCONCLUSIVE_WITHDRAWN, PauseReason.PROGRESS_DEADLINE)
"""The pauses that wait for a human because the release could not decide: `Stalled` says so."""
_PHASE_REASON = {
    Phase.PENDING: "Pending",
    Phase.PROGRESSING: "Progressing",
    Phase.PAUSED: "Paused",
    Phase.PROMOTING: "Promoting",
    Phase.SUCCEEDED: Reason.SUCCEEDED.value,
    Phase.FAILED: Reason.ROLLED_BACK.value,
    Phase.ABORTED: Reason.ABORTED.value,
    Phase.INVALID: Reason.INVALID_SPEC.value,
}


@dataclass(frozen=True, slots=True)
class Tick:
    """Everything one decision may look at."""

    spec: CanaryReleaseSpec
    plan: Plan
    status: CanaryReleaseStatus
    seen: Observations
    now: datetime

    @property
    def route_problem(self) -> str | None:
        """Why the real weights could not be read, or None when every managed route was read."""
        return route_problem(self.seen.routes)

    def drifted(self, wanted: int) -> tuple[RouteReading, ...]:
        """The readable routes whose canary weight is not `wanted`."""
        return drifted(self.seen.routes, wanted)

    def frozen_against(self, weight: int) -> bool:
        """True when the freeze switch forbids going from the wanted weight up to `weight`."""
        return self.seen.frozen and weight > self.status.canary_weight


def route_problem(readings: tuple[RouteReading, ...]) -> str | None:
    """Why the real weights could not be read, or None when every managed route was read."""
    if not readings:
        return "the router read no managed route"
    problems = [f"{r.label}: {r.error or 'weight unknown'}" for r in readings if r.canary_weight is None]
    return "; ".join(problems) or None


def drifted(readings: tuple[RouteReading, ...], wanted: int) -> tuple[RouteReading, ...]:
    """The readable routes whose canary weight is not `wanted`."""
    return tuple(r for r in readings if r.canary_weight is not None and r.canary_weight != wanted)


def needs_snapshot(spec: CanaryReleaseSpec, status: CanaryReleaseStatus) -> bool:
    """Whether the service should ask the router for the routes' snapshots this tick: some managed route (a new
    one after a spec change included) has none yet. A snapshot counts only for its own kind: a spec moved from
    `istio` to `gatewayAPI` may name an HTTPRoute and rule exactly as the VirtualService and route it had."""
    if status.phase is Phase.INVALID:
        return False
    kind = spec.traffic_routing.kind
    recorded = {(saved.virtual_service, saved.route) for saved in status.original_routes if saved.kind == kind}
    for ref in spec.traffic_routing.managed():
        if ref.routes is None and not any(name == ref.name for name, _ in recorded):
            return True
        if ref.routes is not None and any((ref.name, route) not in recorded for route in ref.routes):
            return True
    return False


def managed_only(spec: CanaryReleaseSpec, snapshots: tuple[OriginalRoute, ...]) -> tuple[OriginalRoute, ...]:
    """The snapshots of the objects the spec still manages, of its kind (a dropped one was restored when it was
    dropped)."""
    kind = spec.traffic_routing.kind
    names = {ref.name for ref in spec.traffic_routing.managed()}
    return tuple(saved for saved in snapshots if saved.kind == kind and saved.virtual_service in names)


def move(
    status: CanaryReleaseStatus, trigger: Trigger, reason: Reason, message: str, now: datetime
) -> CanaryReleaseStatus:
    """Apply `trigger` through the phase table and append the history entry (step and weight as already set)."""
    target = transition(status.phase, trigger)
    entry = Transition.model_validate(
        {
            "from": status.phase,
            "to": target,
            "reason": reason.value,
            "message": message,
            "at": now,
            "step": status.current_step_index,
            "weight": status.canary_weight,
        }
    )
    update: dict[str, object] = {
        "phase": target,
        "history": (*status.history, entry)[-MAX_HISTORY:],
        "progress_at": now,
    }
    return status.model_copy(update=update)


def enter_step(tick: Tick, status: CanaryReleaseStatus, index: int) -> CanaryReleaseStatus:
    """Status at the start of step `index`: its weight, its clock, and the next analysis one interval away."""
    return status.model_copy(
        update={
            "current_step_index": index,
            "canary_weight": tick.plan.weight_at(index),
            "step_started_at": tick.now,
            "next_check_at": tick.now + tick.spec.analysis.interval,
            "pause_reason": None,
        }
    )


def record_assessment(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment) -> CanaryReleaseStatus:
    """Status with one analysis recorded: results, per-gate counters, release counts, next analysis time."""
    results = tuple(
        GateResult(
            gate=v.gate,
            kind=v.kind,
            outcome=v.outcome,
            value=v.value,
            threshold=v.threshold,
            reason=v.reason,
            query=_bounded(v.query),
            evidence=_bounded_evidence(v.evidence),
            at=v.at,
            step=status.current_step_index,
            weight=status.canary_weight,
            dry_run=v.dry_run or None,
        )
        for v in assessment.verdicts
    )
    failed = {verdict.gate for verdict in assessment.failed_verdicts}
    step = status.current_step_index
    gates = tuple(_count_step_failure(s, step) if s.name in failed else s for s in assessment.gate_states)
    return status.model_copy(
        update={
            "recent_results": (*status.recent_results, *results)[-MAX_RESULTS:],
            "gates": gates,
            "failure_count": assessment.failure_count,
            "inconclusive_count": assessment.inconclusive_count,
            "consecutive_errors": assessment.error_count,
            "last_outcome": assessment.worst,
            "last_analysis_at": tick.now,
            "next_check_at": tick.now + tick.spec.analysis.interval,
        }
    )


def _count_step_failure(state: GateState, step: int) -> GateState:
    """`state` with one more failed sample at `step`: the latest entry when it is that step's, else a new one,
    the oldest dropped beyond `MAX_STEP_FAILURES`."""
    kept = state.step_failures
    if kept and kept[-1].step == step:
        counted = (*kept[:-1], StepFailures(step=step, failures=kept[-1].failures + 1))
    else:
        counted = (*kept, StepFailures(step=step, failures=1))[-MAX_STEP_FAILURES:]
    return state.model_copy(update={"step_failures": counted})


def _bounded_evidence(evidence: Mapping[str, str]) -> dict[str, str]:
    """A verdict's evidence as status keeps it: the first `MAX_EVIDENCE` entries, keys and values cut."""
    return {
        _cut(key, MAX_EVIDENCE_TEXT): _cut(value, MAX_EVIDENCE_TEXT)
        for key, value in list(evidence.items())[:MAX_EVIDENCE]
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(query: str | None) -> str | None:
    """The query text as status keeps it: at most `MAX_QUERY_TEXT` characters, an ellipsis marking a cut."""
    if query is None or len(query) <= MAX_QUERY_TEXT:
        return query
    return query[: MAX_QUERY_TEXT - 1] + "…"


def start_over(status: CanaryReleaseStatus) -> CanaryReleaseStatus:
    """Status for a fresh run: step 0, no traffic, counters and hook answers cleared, no scale-down due (the run
    that ends next sets its own). History, recent results, the last command and the original routes are kept; the
    gates expanded from templates are expanded again."""
    return status.model_copy(
        update={
            "current_step_index": 0,
            "canary_weight": 0,
            "pause_reason": None,
            "started_at": None,
            "step_started_at": None,
            "next_check_at": None,
            "last_analysis_at": None,
            "last_outcome": None,
            "failure_count": 0,
            "inconclusive_count": 0,
            "consecutive_errors": 0,
            "gates": (),
            "hooks": (),
            "scale_down_at": None,
            "expanded_gates": None,
        }
    )


def cannot_measure(spec: CanaryReleaseSpec, status: CanaryReleaseStatus) -> str | None:
    """Why a running release holds under `errorPolicy: hold` once `consecutiveErrorLimit` is reached: which gates
    cannot measure and why (their latest `Error` result). None below the limit, or under `errorPolicy: rollback`.
    Derived from the status alone, so every tick of the hold says the same and it ends with the first analysis
    that measures again."""
    analysis = spec.analysis
    if (
        analysis.error_policy != "hold"
        or status.phase not in (Phase.PROGRESSING, Phase.PAUSED)
        or status.consecutive_errors < analysis.consecutive_error_limit
    ):
        return None
    why = {result.gate: result.reason for result in status.recent_results if result.outcome is Outcome.ERROR}
    trial = {gate.name for gate in analysis.gates if gate.dry_run}
    erring = [state.name for state in status.gates if state.consecutive_errors and state.name not in trial]
    named = "; ".join(f"gate {name} cannot measure: {_cut(why.get(name, 'no result kept'), 240)}" for name in erring)
    return (
        f"{named or 'a gate cannot measure'}; consecutiveErrorLimit {analysis.consecutive_error_limit} reached: "
        f"holding {status.canary_weight}% until an analysis measures again"
    )


def seal(
    tick: Tick, status: CanaryReleaseStatus, message: str, assessment: Assessment | None = None
) -> CanaryReleaseStatus:
    """The status sealed for writing: generation, message, `n/m` and conditions brought in line with the rest."""
    return seal_explicit(
        status,
        seen=tick.seen,
        now=tick.now,
        wanted_before=tick.status.canary_weight,
        total_steps=len(tick.plan),
        message=message,
        assessment=assessment,
        unmeasured=cannot_measure(tick.spec, status),
        late=overdue(tick.spec, status, tick.now),
    )


def seal_explicit(
    status: CanaryReleaseStatus,
    *,
    seen: Observations,
    now: datetime,
    wanted_before: int,
    total_steps: int,
    message: str,
    assessment: Assessment | None = None,
    unmeasured: str | None = None,
    late: str | None = None,
) -> CanaryReleaseStatus:
    """`seal` from explicit parts, for a status without a parsed spec (an invalid one has no plan). `unmeasured`
    (see `cannot_measure`) sets `Stalled` while the gates cannot measure; `late` (see `deadline.overdue`) while a
    run is past its progress deadline without having been rolled back or paused for it."""
    generation = seen.generation
    conditions = status.conditions

    def put(type_: str, value: ConditionStatus, reason: str, text: str) -> None:
        nonlocal conditions
        conditions = set_condition(conditions, type_, value, reason, text, generation=generation, now=now)

    phase = status.phase
    reason = status.pause_reason.value if phase is Phase.PAUSED and status.pause_reason else _PHASE_REASON[phase]
    problem = route_problem(seen.routes) if phase is not Phase.INVALID else None
    stalled = phase in (Phase.FAILED, Phase.ABORTED, Phase.INVALID) or status.pause_reason in _ASKING
    put(READY, _TRUE if phase is Phase.SUCCEEDED else _FALSE, reason, message)
    put(RECONCILING, _TRUE if phase in ACTIVE else _FALSE, reason, message if phase in ACTIVE else "")
    if problem is not None:
        put(STALLED, _TRUE, Reason.ROUTE_UNAVAILABLE.value, problem)
    elif unmeasured is not None and not stalled:
        put(STALLED, _TRUE, Reason.CANNOT_MEASURE.value, unmeasured)
    elif late is not None and not stalled:
        put(STALLED, _TRUE, Reason.PROGRESS_DEADLINE.value, late)
    else:
        put(STALLED, _TRUE if stalled else _FALSE, reason, message if stalled else "")
    if assessment is not None:
        worst = assessment.worst_verdict
        value = {Outcome.PASS: _TRUE, Outcome.FAIL: _FALSE}.get(assessment.worst, _UNKNOWN)
        put(GATES_PASSING, value, assessment.worst.value, worst.reason if worst else "no gates to run")
    elif status.last_outcome is None:
        put(GATES_PASSING, _UNKNOWN, "NotAnalyzed", "no analysis has run in this release yet")
    if seen.frozen:
        put(FROZEN, _TRUE, Reason.FROZEN.value, "releases are frozen: no canary weight goes up; rollbacks still happen")
    elif find_condition(conditions, FROZEN) is not None:
        put(FROZEN, _FALSE, "Thawed", "releases are no longer frozen")
    if phase is Phase.INVALID:
        put(TRAFFIC_IN_SYNC, _UNKNOWN, Reason.INVALID_SPEC.value, "routes are not managed while the spec is invalid")
    elif problem is not None:
        put(TRAFFIC_IN_SYNC, _FALSE, Reason.ROUTE_UNAVAILABLE.value, problem)
    elif off := drifted(seen.routes, wanted_before):
        found = ", ".join(f"{r.label} at {r.canary_weight}%" for r in off)
        put(TRAFFIC_IN_SYNC, _FALSE, Reason.DRIFT.value, f"wanted {wanted_before}% on the canary, found {found}")
    else:
        put(TRAFFIC_IN_SYNC, _TRUE, "InSync", f"every managed route carries {wanted_before}% to the canary")
    return status.model_copy(
        update={
            "observed_generation": generation,
            "message": message,
            "step_display": step_display(phase, status.current_step_index, total_steps),
            "conditions": conditions,
        }
    )
