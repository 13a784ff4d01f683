"""The analysis rules of `decide` (rules 4 and 6a): record this tick's analysis, roll back when it says so, let a
command act only on the status that analysis left, and make a failing gate heard without repeating itself.

Why a module of its own: the analysis is the one input that can end a running release whatever else the tick
brings, so its ordering against a command (the rollback wins; otherwise the command starts from the counts and
results the analysis just recorded) and its reporting belong together, in one place, while `decide` keeps to its
list of rules.

How a failed verdict is heard (`report_failures`); the status keeps every result either way:

- a rollback or a pause decided in the same tick names the failed gates' evidence (value, threshold, resolved
  query, the judge's numbers) in its own Event, since that Event is the one to read;
- a `dryRun` gate's failure is reported the same way, its text saying it is dry-run and did not count;
- otherwise one Warning Event when a gate's failure streak starts (its consecutive failures go from 0 to 1), so a
  gate failing through a long manual pause, or a gate that fails, fails and passes over and over, is reported once
  per streak rather than once per analysis: `GateFailed` when its verdict is `Fail`, `GateWaiting` when the gate is
  failing but still below its `failureThreshold` (its verdict is `Waiting`: nothing has failed yet, and the Event
  must not say so). The status's `stepFailures` keeps the count after the Events expire.
"""

from __future__ import annotations

from dataclasses import replace

from graygate.api.status import CanaryReleaseStatus, Outcome, Phase
from graygate.domain.analysis.assessment import Assessment, assess
from graygate.domain.analysis.verdicts import Verdict
from graygate.domain.release import hooks
from graygate.domain.release.bookkeeping import Tick, record_assessment, seal
from graygate.domain.release.commands import handle_command, record_command
from graygate.domain.release.decision import Decision, Note, Pause, Reason, Rollback
from graygate.domain.release.hook_records import analysis_of
from graygate.domain.release.moves import rollback
from graygate.domain.release.precheck import assess_pre_checks

__all__ = ["analyse", "command", "report_failures"]

_RUNNING = (Phase.PROGRESSING, Phase.PAUSED)

_MAX_PART = {"reason": 320, "value": 160, "threshold": 160, "query": 360, "evidence": 240}
"""Characters of each part of one failed gate's evidence, so a long query cannot crowd out the rest of the Event
(whose note is cut to the API server's limit where it is posted, `kube.events`)."""


def analyse(tick: Tick, status: CanaryReleaseStatus) -> tuple[CanaryReleaseStatus, Assessment | None, Rollback | None]:
    """Record this tick's analysis, if one ran, and the rollback it or a hook calls for, if any. The `rollout` hooks
    are gates of it; a `rollback` hook's 2xx is heard here, so it wins over a command of the same tick exactly as a
    failed gate does."""
    status, assessment, ended = _analyse(tick, status)
    return status, assessment, ended or hooks.ends(tick, status, assessment)


def _analyse(tick: Tick, status: CanaryReleaseStatus) -> tuple[CanaryReleaseStatus, Assessment | None, Rollback | None]:
    analysis = analysis_of(tick.spec)
    if status.phase is Phase.PENDING:
        if (assessment := assess_pre_checks(tick, status)) is None:
            return status, None, None
        status = record_assessment(tick, status, assessment)
        if broken := [verdict for verdict in assessment.counted if verdict.outcome is Outcome.FAIL]:
            message = f"pre-check {broken[0].gate} failed: {broken[0].reason}; the canary never got traffic"
            return status, assessment, rollback(tick, status, message, assessment, Reason.PRE_CHECK_FAILED)
        return status, assessment, None
    if tick.seen.analysis is None:
        return status, None, None
    assessment = assess(
        analysis,
        measurements=tick.seen.analysis,
        states=status.gates,
        workload=tick.seen.workload,
        weight=status.canary_weight,
        failure_count=status.failure_count,
        inconclusive_count=status.inconclusive_count,
        error_count=status.consecutive_errors,
        now=tick.now,
        delay_from=status.step_started_at,
    )
    status = record_assessment(tick, status, assessment)
    if assessment.critical_failures:
        failed = assessment.critical_failures[0]
        message = f"critical gate {failed.gate} failed: {failed.reason}"
        return status, assessment, rollback(tick, status, message, assessment)
    if assessment.failures and status.failure_count > analysis.failure_limit:
        failed = assessment.failures[-1]
        message = (
            f"{status.failure_count} failed checks, more than failureLimit {analysis.failure_limit}; "
            f"last: {failed.gate}: {failed.reason}"
        )
        return status, assessment, rollback(tick, status, message, assessment)
    limit = analysis.consecutive_error_limit
    if analysis.error_policy == "rollback" and assessment.error_count >= limit:
        erred = next(verdict for verdict in assessment.counted if verdict.outcome is Outcome.ERROR)
        message = (
            f"the measurements failed in {assessment.error_count} analyses in a row (consecutiveErrorLimit {limit}, "
            f"errorPolicy rollback); last: gate {erred.gate} could not measure: {erred.reason}"
        )
        return status, assessment, rollback(tick, status, message, assessment)
    return status, assessment, None


def command(tick: Tick, value: str) -> Decision:
    """Rule 4: a new command value. A running release's analysis of the same tick goes first: a rollback it calls
    for wins (the command is recorded as not applied); otherwise the command acts on the status with the analysis
    recorded, so its failures count and its results are kept whatever the command does."""
    if tick.status.phase not in _RUNNING:
        return handle_command(tick, value)
    status, assessment, ended = analyse(tick, tick.status)
    if ended is not None:
        note = f"not applied: this tick's analysis rolled the release back first ({ended.message})"
        decision = record_command(ended, value, applied=False, note=note, now=tick.now)
        return report_failures(tick, decision, assessment)
    if assessment is None:
        return handle_command(tick, value)
    analysed = replace(tick, status=status)
    decision = handle_command(analysed, value)
    # the command's move writes its conditions without the analysis: GatesPassing must still say what it found
    decision = replace(decision, status=seal(analysed, decision.status, decision.status.message, assessment))
    return report_failures(tick, decision, assessment)


def report_failures(tick: Tick, decision: Decision, assessment: Assessment | None) -> Decision:
    """`decision` with this tick's failed verdicts made heard (see the module docstring): in the message of a
    rollback or a pause, which is its Event's note (the status keeps the short message), or else as a Warning
    note (`GateFailed`, `GateWaiting`) for the gates whose failure streak starts now. `tick.status` is the status
    before the analysis."""
    if assessment is None or not assessment.failed_verdicts:
        return decision
    if isinstance(decision, Rollback | Pause):
        said = decision.message
        evidence = "; ".join(_evidence(verdict, said) for verdict in assessment.failed_verdicts)
        return replace(decision, message=f"{said}. Evidence: {evidence}")
    failed = assessment.failed_verdicts
    thresholds = {gate.name: gate.failure_threshold for gate in tick.spec.analysis.gates}
    starting = [verdict for verdict in failed if _streak_starts(tick.status, assessment, verdict, thresholds)]
    if not starting:
        return decision
    notes = list(decision.notes)
    if failed_now := [_evidence(verdict) for verdict in starting if verdict.outcome is Outcome.FAIL]:
        if assessment.failures:
            limit = tick.spec.analysis.failure_limit
            failed_now.append(f"{assessment.failure_count} failed check(s) so far, failureLimit {limit}")
        notes.append(Note("Warning", Reason.GATE_FAILED, "; ".join(failed_now)))
    if waiting := [_evidence(verdict) for verdict in starting if verdict.outcome is not Outcome.FAIL]:
        notes.append(Note("Warning", Reason.GATE_WAITING, "; ".join(waiting)))
    return replace(decision, notes=tuple(notes))


def _streak_starts(
    before: CanaryReleaseStatus, assessment: Assessment, verdict: Verdict, thresholds: dict[str, int]
) -> bool:
    """Whether `verdict` starts something to report (an `Error` in between does not end a streak): a `Waiting`
    failure when it is its gate's first in a row, a `Fail` when the streak first reaches `failureThreshold`."""
    for state in assessment.gate_states:
        if state.name == verdict.gate:
            if verdict.outcome is Outcome.FAIL:
                return state.consecutive_failures == thresholds.get(verdict.gate, 1)
            return state.consecutive_failures == 1
    # the canary workload's pseudo-gate keeps no counters: it failed in a row when the previous analysis (the one
    # at `lastAnalysisAt`; none after a fresh start) recorded a failure of it too
    return not any(
        result.gate == verdict.gate and result.outcome is Outcome.FAIL and result.at == before.last_analysis_at
        for result in before.recent_results
    )


def _evidence(verdict: Verdict, said: str = "") -> str:
    """`gate errors failed: <reason>; value: …; threshold: …; query: …; evidence: k=v, …` (`gate errors is
    failing, Waiting: <reason (failure 1 of 3 in a row)>; …` below the failure threshold), the reason left out
    when `said` (the message it is added to) already gives it."""
    failed = verdict.outcome is Outcome.FAIL
    text = f"gate {verdict.gate}" + ("" if failed else f" is failing, {verdict.outcome.value}")
    if verdict.dry_run:
        text = f"dry-run {text} (not counted)"
    if verdict.reason not in said:
        text += f"{' failed' if failed else ''}: {_cut(verdict.reason, _MAX_PART['reason'])}"
    if verdict.value:
        text += f"; value: {_cut(verdict.value, _MAX_PART['value'])}"
    if verdict.threshold:
        text += f"; threshold: {_cut(verdict.threshold, _MAX_PART['threshold'])}"
    if verdict.query:
        text += f"; query: {_cut(' | '.join(verdict.query.splitlines()), _MAX_PART['query'])}"
    if verdict.evidence:
        numbers = ", ".join(f"{name}={value}" for name, value in verdict.evidence.items())
        text += f"; evidence: {_cut(numbers, _MAX_PART['evidence'])}"
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
