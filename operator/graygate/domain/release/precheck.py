"""Pre-checks: gates marked `preCheck: true` run while the release is still Pending, before any traffic moves.

Why: some checks need no traffic at all (does the canary still expose stable's metrics, still serve stable's API,
still reload its configuration?), and a failure found at 0 % hurts nobody. So a Pending release whose spec has
pre-check gates runs those gates first and starts step 1 only once each of them has passed; one failing (after its
`failureThreshold`) fails the release at once, critical or not, with the canary never having had traffic.

The rules, in the order `decide` applies them:

- the pre-checks run once the routes are recorded and the canary workload (when named) is Available, at the
  analysis interval; measurements taken while the workload is unavailable are not judged (a canary still starting
  is not a canary that fails);
- they are judged at weight 0, so "no traffic yet" is expected and not held against the canary;
- a pre-check gate's `initialDelay` counts from the time the release began waiting to start (`progressAt`: first
  sight, or the start over that made this run), since no weight is set before a pre-check; until it is over the
  gate is not run and shows `Waiting`;
- a `dryRun` pre-check gate runs and is reported, but neither holds nor fails the release;
- the release starts when every other pre-check gate's latest verdict is `Pass` (kept in `status.gates`, so a restart
  does not run them again for nothing); `Waiting`, `Inconclusive` and `Error` hold it at 0 %.
"""

from __future__ import annotations

from datetime import datetime

from graygate.api.gates import Gate
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus, Outcome, Phase
from graygate.domain.analysis.assessment import Assessment, assess, delay_ends
from graygate.domain.analysis.measurements import WorkloadReading
from graygate.domain.release.bookkeeping import Tick, needs_snapshot
from graygate.domain.release.hook_records import analysis_of

__all__ = ["assess_pre_checks", "delay_from", "gates_due", "pre_check_gates", "pre_checks_passed"]

_RUNNING = frozenset({Phase.PROGRESSING, Phase.PAUSED})


def pre_check_gates(spec: CanaryReleaseSpec) -> tuple[Gate, ...]:
    """The gates to pass before any traffic moves, in spec order."""
    return tuple(gate for gate in spec.analysis.gates if gate.pre_check)


def delay_from(status: CanaryReleaseStatus) -> datetime | None:
    """What a gate's `initialDelay` counts from: the step's start while running, the time the release began
    waiting to start while Pending (see the module docstring); None otherwise."""
    if status.phase in _RUNNING:
        return status.step_started_at
    return status.progress_at if status.phase is Phase.PENDING else None


def _measurable(gates: tuple[Gate, ...], status: CanaryReleaseStatus, now: datetime) -> tuple[Gate, ...]:
    """The gates past their `initialDelay`: the others are not run (`assess` shows them `Waiting`)."""
    since = delay_from(status)
    return tuple(gate for gate in gates if (ends := delay_ends(gate, since)) is None or ends <= now)


def gates_due(
    spec: CanaryReleaseSpec, status: CanaryReleaseStatus, now: datetime, workload: WorkloadReading | None = None
) -> tuple[Gate, ...] | None:
    """The gates the service should run this tick (and pass to `decide` as `analysis`), or None for no analysis:
    every gate of a running release (`rollout` hooks included) once its next analysis is due; the pre-check gates
    of a Pending release once its routes are recorded and its canary workload (`workload`, when the spec names
    one) is Available. Gates within their `initialDelay` are left out (an analysis may so measure none: it still
    runs, to show them)."""
    due = status.next_check_at is None or status.next_check_at <= now
    if status.phase in _RUNNING:
        return _measurable(analysis_of(spec).gates, status, now) if due else None
    if status.phase is not Phase.PENDING or not due or status.observed_generation is None:
        return None
    gates = pre_check_gates(spec)
    if not gates or needs_snapshot(spec, status) or (workload is not None and not workload.available):
        return None
    return _measurable(gates, status, now)


def pre_checks_passed(spec: CanaryReleaseSpec, status: CanaryReleaseStatus) -> bool:
    """True when every pre-check gate's latest verdict is `Pass` (trivially, when there are none), `dryRun` gates
    left out."""
    latest = {state.name: state.last_outcome for state in status.gates}
    return all(latest.get(gate.name) is Outcome.PASS for gate in pre_check_gates(spec) if not gate.dry_run)


def assess_pre_checks(tick: Tick, status: CanaryReleaseStatus) -> Assessment | None:
    """The pre-check analysis of a Pending release at weight 0, or None when there is nothing to judge: no
    pre-check gates, no measurements this tick, or a canary workload that is not Available yet."""
    gates = pre_check_gates(tick.spec)
    workload = tick.seen.workload
    if not gates or tick.seen.analysis is None or (workload is not None and not workload.available):
        return None
    names = {gate.name for gate in gates}
    analysis = tick.spec.analysis.model_copy(update={"gates": gates})
    return assess(
        analysis,
        measurements=[measured for measured in tick.seen.analysis if measured.gate in names],
        states=status.gates,
        workload=workload,
        weight=0,
        failure_count=status.failure_count,
        inconclusive_count=status.inconclusive_count,
        error_count=status.consecutive_errors,
        now=tick.now,
        delay_from=delay_from(status),
    )
