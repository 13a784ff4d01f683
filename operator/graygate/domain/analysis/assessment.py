"""Analysis: fold one tick's measurements into gate verdicts, debounced counters and release-level counts.

Why: this is where a release's tolerance lives. A sample verdict (from a judge) becomes a gate verdict only through
the gate's success/failure thresholds (consecutive samples, like kubelet probes), and gate verdicts become a
release-level outcome through `failureLimit` (non-critical failures over the run), `inconclusiveLimit`
(inconclusive analyses in a row) and `consecutiveErrorLimit` (analyses in a row where a gate could not measure).
An `Error` is counted apart from `Inconclusive` because it says nothing about the release, only about the
plumbing: it holds the step, and its count resets as soon as every gate measures again. Every number that leads to
a rollback or a pause is in status, so a restart continues the count instead of forgetting it.

A `dryRun` gate is measured, judged, debounced and reported like any other (its verdicts marked `dry_run`), but
counts toward nothing: not a critical failure, not `failureLimit`, `inconclusiveLimit` or `consecutiveErrorLimit`,
and not the analysis' outcome (`Assessment.worst`), so it never holds, pauses or rolls back a step. A gate within
its `initialDelay` (counted from `delay_from`: the step's start) is not measured and shows `Waiting`, which holds the
step like any `Waiting` verdict and counts toward nothing either; its counters are left as they were.

The canary workload's availability takes part as a pseudo-gate named `canaryWorkload`: unavailable while it carries
traffic, it fails (non-critical); unavailable before any traffic, it waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from graygate.api.durations import format_duration
from graygate.api.gates import Gate
from graygate.api.spec import Analysis
from graygate.api.status import GateState, Outcome
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.measurements import Measurement, WorkloadReading
from graygate.domain.analysis.verdicts import Verdict, worst, worst_verdict
from graygate.domain.errors import UnknownGate

__all__ = ["WORKLOAD_GATE", "Assessment", "assess", "debounce", "delay_ends"]

WORKLOAD_GATE = "canaryWorkload"


@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    """The outcome of one analysis."""

    verdicts: tuple[Verdict, ...]
    """One per gate in spec order, then the workload's, if any."""
    critical_failures: tuple[Verdict, ...]
    failures: tuple[Verdict, ...]
    """Non-critical `Fail` verdicts of this analysis."""
    failed_verdicts: tuple[Verdict, ...] = ()
    """The gate verdicts of every sample that failed, whatever they led to: a rollback, a count toward
    `failureLimit`, or only a step toward `failureThreshold` (a `Waiting` verdict saying "failure 1 of 3")."""
    gate_states: tuple[GateState, ...]
    failure_count: int
    """Non-critical failures over the run, this analysis included."""
    inconclusive_count: int
    """Analyses in a row with an inconclusive gate, this one included; an analysis whose only doubt is a gate that
    could not measure leaves the count as it was (neither a step toward the limit nor a conclusive analysis)."""
    error_count: int = 0
    """Analyses in a row with a gate that could not measure (`Error`), this one included; 0 when none erred."""

    @property
    def counted(self) -> tuple[Verdict, ...]:
        """The verdicts that count: all but those of `dryRun` gates."""
        return tuple(verdict for verdict in self.verdicts if not verdict.dry_run)

    @property
    def worst(self) -> Outcome:
        """The analysis' outcome: the worst of its counted verdicts (Pass when there are none)."""
        return worst(verdict.outcome for verdict in self.counted)

    @property
    def worst_verdict(self) -> Verdict | None:
        """The verdict that decided the outcome."""
        return worst_verdict(self.counted)


def delay_ends(gate: Gate, since: datetime | None) -> datetime | None:
    """When the gate's `initialDelay`, counted from `since`, is over; None without a delay (or a start)."""
    if gate.initial_delay is None or since is None:
        return None
    return since + gate.initial_delay


def debounce(sample: Verdict, state: GateState, gate: Gate) -> tuple[Verdict, GateState]:
    """Apply the gate's consecutive thresholds to one sample; return the gate verdict and the new counters.

    An `Error` sample (the gate could not measure) leaves the pass/fail streaks as they are and is counted apart,
    in `consecutive_errors` and `errors`: a broken query says nothing about the release."""
    successes, failures = state.consecutive_successes, state.consecutive_failures
    verdict = sample
    if sample.outcome is Outcome.PASS:
        successes, failures = successes + 1, 0
        if successes < gate.success_threshold:
            verdict = sample.with_outcome(
                Outcome.WAITING, f"{sample.reason} (pass {successes} of {gate.success_threshold} in a row)"
            )
    elif sample.outcome is Outcome.FAIL:
        successes, failures = 0, failures + 1
        if failures < gate.failure_threshold:
            verdict = sample.with_outcome(
                Outcome.WAITING, f"{sample.reason} (failure {failures} of {gate.failure_threshold} in a row)"
            )
    erred = sample.outcome is Outcome.ERROR
    updated = state.model_copy(
        update={
            "consecutive_successes": successes,
            "consecutive_failures": failures,
            "failures": state.failures + (verdict.outcome is Outcome.FAIL),
            "consecutive_errors": state.consecutive_errors + 1 if erred else 0,
            "errors": state.errors + erred,
            "last_outcome": verdict.outcome,
        }
    )
    return verdict, updated


def assess(
    analysis: Analysis,
    *,
    measurements: Sequence[Measurement],
    states: Sequence[GateState],
    workload: WorkloadReading | None,
    weight: int,
    failure_count: int,
    inconclusive_count: int,
    error_count: int,
    now: datetime,
    delay_from: datetime | None = None,
) -> Assessment:
    """Judge every gate of `analysis` (a missing measurement is an `Error`; a gate within its `initialDelay` after
    `delay_from` is `Waiting`, its measurement, if any, ignored) and fold the results."""
    by_gate: dict[str, Measurement] = {}
    known = {gate.name for gate in analysis.gates}
    for measurement in measurements:
        if measurement.gate not in known:
            raise UnknownGate(f"measurement for gate {measurement.gate!r}, which the release does not have")
        if measurement.gate in by_gate:
            raise UnknownGate(f"gate {measurement.gate!r} was measured twice in one analysis")
        by_gate[measurement.gate] = measurement
    previous = {state.name: state for state in states}
    verdicts: list[Verdict] = []
    new_states: list[GateState] = []
    critical: list[Verdict] = []
    failed: list[Verdict] = []
    for gate in analysis.gates:
        state = previous.get(gate.name, GateState(name=gate.name))
        measured = by_gate.get(gate.name)
        if (ends := delay_ends(gate, delay_from)) is not None and now < ends:
            verdicts.append(_delayed(gate, ends, now))
            new_states.append(state.model_copy(update={"last_outcome": Outcome.WAITING}))
            continue
        if measured is None:
            sample = Verdict(
                gate=gate.name, kind=gate.check.kind, outcome=Outcome.ERROR, reason="no measurement was taken", at=now
            )
        else:
            sample = judge(gate, measured, weight=weight)
        verdict, state = debounce(sample, state, gate)
        if gate.dry_run:
            verdict = replace(verdict, dry_run=True)
        verdicts.append(verdict)
        new_states.append(state)
        if sample.outcome is Outcome.FAIL:
            failed.append(verdict)
        if gate.critical and verdict.outcome is Outcome.FAIL and not gate.dry_run:
            critical.append(verdict)
    if workload is not None:
        verdicts.append(seen := _workload_verdict(workload, weight, now))
        if seen.outcome is Outcome.FAIL:
            failed.append(seen)
    critical_names = {verdict.gate for verdict in critical}
    counted = [verdict for verdict in verdicts if not verdict.dry_run]
    failures = tuple(v for v in counted if v.outcome is Outcome.FAIL and v.gate not in critical_names)
    inconclusive = any(verdict.outcome is Outcome.INCONCLUSIVE for verdict in counted)
    erred = any(verdict.outcome is Outcome.ERROR for verdict in counted)
    if inconclusive:
        inconclusive_count += 1
    elif not erred:
        inconclusive_count = 0
    return Assessment(
        verdicts=tuple(verdicts),
        critical_failures=tuple(critical),
        failures=failures,
        failed_verdicts=tuple(failed),
        gate_states=tuple(new_states),
        failure_count=failure_count + len(failures),
        inconclusive_count=inconclusive_count,
        error_count=error_count + 1 if erred else 0,
    )


def _delayed(gate: Gate, ends: datetime, now: datetime) -> Verdict:
    delay = format_duration(gate.initial_delay) if gate.initial_delay is not None else ""
    return Verdict(
        gate=gate.name,
        kind=gate.check.kind,
        outcome=Outcome.WAITING,
        reason=f"initial delay {delay}: not measured before {ends.strftime('%H:%M:%SZ')}",
        at=now,
        dry_run=gate.dry_run,
    )


def _workload_verdict(workload: WorkloadReading, weight: int, now: datetime) -> Verdict:
    if workload.available:
        outcome, reason = Outcome.PASS, f"{workload.label} is Available"
    elif weight > 0:
        outcome, reason = Outcome.FAIL, f"{workload.label} is not Available while it carries {weight}% of traffic"
    else:
        outcome, reason = Outcome.WAITING, f"{workload.label} is not Available yet"
    if workload.message:
        reason += f": {workload.message}"
    return Verdict(
        gate=WORKLOAD_GATE,
        kind="workload",
        outcome=outcome,
        reason=reason,
        at=now,
        value="Available" if workload.available else "Unavailable",
        threshold="Available",
        inputs={"workload": workload.label},
    )
