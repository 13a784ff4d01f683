"""The stage hooks' rules (`spec.hooks`): which hooks the service calls this tick, and what their answers do.

Why a module of its own: a hook's answer means something different at each stage, and `decide` should only say
where in its list of rules each stage comes in. Every hook is measured as a `webhook` gate (through the gate
runner, so the URL allowlist, the timeout and the retries are the gate kind's) and judged by that kind's judge:
`Pass` is a 2xx answer, anything else is not. Each answer is kept in `status.hooks` (one record per hook: its
latest verdict, when, what it said, how many calls, and whether it answered 2xx in this run), so an approval and
a delivered notice survive an operator restart, and a run that starts over forgets them.

The stages, in the order a run meets them (Flagger's names and order):

- `confirmRollout`: while Pending, once the routes are recorded, each is asked every analysis interval until it
  answers 2xx; the release does not start before every one has (`AwaitingConfirmation`). Failures are not counted:
  a non-2xx or no answer is "not yet". Waiting is a human's choice, so `progressDeadline` does not count it (see
  `hook_records.waiting_for_rollout_approval`), and the approval restarts the deadline's clock.
- `preRollout`: then, once the canary workload is Available (alongside the pre-check gates), each is called once;
  the release starts only after every one answered 2xx, and one that does not (after its webhook's own `retries`)
  fails the release at 0 % (`HookFailed`), before any user saw the canary.
- `rollout`: with every analysis, as gates of it (`hook_records.analysis_of`): a failing one counts toward
  `failureLimit` like a failing non-critical gate, and its result is in the status with the gates'.
- `confirmPromotion`: once the last step is done, the release pauses (`AwaitingConfirmation`: the analysis goes
  on at the last step's weight and can still roll it back) and each hook is asked every analysis interval; when
  every one has answered 2xx and the latest analysis passed, the release completes. `promote` skips the wait.
- `rollback`: while Progressing or Paused (or waiting for a `confirmRollout` approval), each is asked every
  analysis interval; a 2xx rolls the release back at once (`RollbackHook`), anything else does nothing.
- `postRollout`: once the release has ended (Succeeded, Failed, Aborted), each is called with the final phase
  until it answers 2xx, at most `POST_ROLLOUT_CALLS` times an interval apart; it never changes the release. The
  service calls the hooks due from the status before the tick decides, so a run that starts over (a retry, a new
  revision) right after its end still makes the first call, with the old run's phase; what it forgets with the
  run is the retries of a notice not yet delivered (keeping them would need a record per run: a hook's record is
  per name, and the new run's own notice must not be taken as delivered).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from graygate.api.hooks import CONFIRM_PROMOTION, CONFIRM_ROLLOUT, POST_ROLLOUT, PRE_ROLLOUT, ROLLBACK, Hook
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import MAX_HOOK_MESSAGE, CanaryReleaseStatus, HookRecord, Outcome, PauseReason, Phase
from graygate.domain.analysis.assessment import Assessment
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.measurements import WorkloadReading
from graygate.domain.analysis.verdicts import Verdict
from graygate.domain.release.bookkeeping import Tick, needs_snapshot
from graygate.domain.release.decision import Decision, Note, Reason, Rollback
from graygate.domain.release.hook_records import awaiting, hooks_of, passed, record_of, waiting_for_rollout_approval
from graygate.domain.release.moves import complete, describe_step, hold, pause, rollback
from graygate.domain.release.phases import TERMINAL
from graygate.domain.release.plan import FULL

__all__ = [
    "POST_ROLLOUT_CALLS",
    "announce",
    "before_promotion",
    "confirming_promotion",
    "confirming_rollout",
    "due",
    "ends",
    "heard",
    "pre_rollout",
]

POST_ROLLOUT_CALLS = 3
"""How many times a `postRollout` hook is called (an analysis interval apart) before graygate gives up on it."""

_CONFIRMS = (CONFIRM_ROLLOUT, CONFIRM_PROMOTION)
_KILLABLE = (Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED)


def due(
    spec: CanaryReleaseSpec, status: CanaryReleaseStatus, now: datetime, workload: WorkloadReading | None = None
) -> tuple[Hook, ...]:
    """The hooks the service should call this tick (and pass to `decide` as `Observations.hooks`), in spec order;
    `rollout` hooks are never among them: they run with the analysis' gates. `workload` is the canary workload's
    reading, when the spec names one."""
    interval = spec.analysis.interval

    def polled(hook: Hook, limit: int | None = None) -> bool:
        record = record_of(status, hook.name)
        if record is None:
            return True
        if record.passed or (limit is not None and record.calls >= limit):
            return False
        return record.at is None or record.at + interval <= now

    chosen: set[str] = set()
    phase = status.phase
    if phase is Phase.PENDING and status.observed_generation is not None and not needs_snapshot(spec, status):
        chosen |= {hook.name for hook in hooks_of(spec, CONFIRM_ROLLOUT) if polled(hook)}
        if passed(spec, status, CONFIRM_ROLLOUT) and (workload is None or workload.available):
            chosen |= {hook.name for hook in hooks_of(spec, PRE_ROLLOUT) if record_of(status, hook.name) is None}
    if phase is Phase.PAUSED and status.pause_reason is PauseReason.AWAITING_CONFIRMATION:
        chosen |= {hook.name for hook in hooks_of(spec, CONFIRM_PROMOTION) if polled(hook)}
    if phase in (Phase.PROGRESSING, Phase.PAUSED) or waiting_for_rollout_approval(spec, status):
        chosen |= {hook.name for hook in hooks_of(spec, ROLLBACK) if polled(hook)}
    if phase in TERMINAL and not (phase is Phase.SUCCEEDED and status.started_at is None):
        # an adopted release (`workload` already at the primary's revision) released nothing: nothing to tell
        chosen |= {hook.name for hook in hooks_of(spec, POST_ROLLOUT) if polled(hook, POST_ROLLOUT_CALLS)}
    return tuple(hook for hook in spec.hooks if hook.name in chosen)


def heard(tick: Tick) -> Tick:
    """`tick` with this tick's hook answers (`Observations.hooks`) recorded in its status. A `confirmRollout`
    approval is progress: the deadline's clock starts again from it."""
    if not tick.seen.hooks:
        return tick
    status = tick.status
    hooks = {hook.name: hook for hook in tick.spec.hooks}
    records = {record.name: record for record in status.hooks}
    approved = False
    for measured in tick.seen.hooks:
        if (hook := hooks.get(measured.gate)) is None:
            continue
        verdict = judge(hook.gate(), measured, weight=status.canary_weight)
        before = records.get(hook.name)
        ok = verdict.outcome is Outcome.PASS
        approved |= ok and hook.stage == CONFIRM_ROLLOUT and not (before is not None and before.passed)
        records[hook.name] = HookRecord(
            name=hook.name,
            stage=hook.stage,
            last_outcome=verdict.outcome,
            at=tick.now,
            message=_said(verdict),
            calls=(before.calls if before is not None else 0) + 1,
            passed=ok or (before is not None and before.passed),
        )
    update: dict[str, object] = {"hooks": tuple(records[hook.name] for hook in tick.spec.hooks if hook.name in records)}
    if approved and status.phase is Phase.PENDING:
        update["progress_at"] = tick.now
    return replace(tick, status=status.model_copy(update=update))


def ends(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> Rollback | None:
    """The rollback a hook calls for: a `preRollout` hook that did not answer 2xx fails a Pending release at 0 %;
    a `rollback` hook that answered 2xx rolls a running release back."""
    if status.phase not in _KILLABLE:
        return None
    if status.phase is Phase.PENDING:
        for hook in hooks_of(tick.spec, PRE_ROLLOUT):
            if (record := record_of(status, hook.name)) is not None and not record.passed:
                message = f"preRollout hook {hook.name} failed: {record.message}; the canary never got traffic"
                return rollback(tick, status, message, assessment, Reason.HOOK_FAILED)
    for hook in hooks_of(tick.spec, ROLLBACK):
        if (record := record_of(status, hook.name)) is not None and record.passed:
            message = f"rollback hook {hook.name} asked for a rollback ({record.message}): rolled back"
            return rollback(tick, status, message, assessment, Reason.ROLLBACK_HOOK)
    return None


def confirming_rollout(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> Decision | None:
    """A Pending release holds at 0 % until every `confirmRollout` hook has answered 2xx."""
    if (hook := awaiting(tick.spec, status, CONFIRM_ROLLOUT)) is None:
        return None
    message = f"0% to the canary; waiting for approval from hook {hook.name} (confirmRollout): it starts on a 2xx"
    return hold(tick, status, Reason.AWAITING_CONFIRMATION, message, assessment)


def pre_rollout(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> Decision | None:
    """A Pending release holds at 0 % until every `preRollout` hook has answered 2xx (one that did not has failed
    it already, see `ends`)."""
    if (hook := awaiting(tick.spec, status, PRE_ROLLOUT)) is None:
        return None
    message = f"0% to the canary; waiting for the preRollout hook {hook.name} to answer"
    return hold(tick, status, Reason.PRE_ROLLOUT, message, assessment)


def before_promotion(
    tick: Tick, status: CanaryReleaseStatus, following: int, assessment: Assessment | None
) -> Decision | None:
    """After the last step (`following` is past the plan), a release with a `confirmPromotion` hook not yet
    approved pauses for it at its weight (`AwaitingConfirmation`)."""
    if following < len(tick.plan) or (hook := awaiting(tick.spec, status, CONFIRM_PROMOTION)) is None:
        return None
    where = describe_step(tick, status.current_step_index, status.step_started_at)
    message = (
        f"{where}; every step passed: waiting for approval from hook {hook.name} (confirmPromotion); promote to "
        "skip the wait, abort to roll back"
    )
    why = PauseReason.AWAITING_CONFIRMATION
    return pause(tick, status, why, Reason.AWAITING_CONFIRMATION, message, assessment)


def confirming_promotion(tick: Tick, status: CanaryReleaseStatus, assessment: Assessment | None) -> Decision | None:
    """A release paused for `confirmPromotion` waits for every such hook's 2xx, then completes once the latest
    analysis has passed (an approval never promotes on bad news: the analysis goes on meanwhile)."""
    if status.pause_reason is not PauseReason.AWAITING_CONFIRMATION:
        return None
    if awaiting(tick.spec, status, CONFIRM_PROMOTION) is not None:
        return hold(tick, status, Reason.AWAITING_CONFIRMATION, status.message, assessment)
    names = ", ".join(hook.name for hook in hooks_of(tick.spec, CONFIRM_PROMOTION))
    if status.last_outcome not in (None, Outcome.PASS):
        latest = status.last_outcome.value if status.last_outcome is not None else ""
        message = f"approved by {names}; waiting for a passing analysis to complete (latest: {latest})"
        return hold(tick, status, Reason.WAITING, message, assessment)
    if tick.frozen_against(FULL):
        message = f"approved by {names}; releases are frozen: not completing"
        return hold(tick, status, Reason.FROZEN, message, assessment)
    message = f"all {len(tick.plan)} steps done and approved by {names}; the canary carries 100%"
    return complete(tick, status, Reason.SUCCEEDED, message, assessment)


def announce(before: CanaryReleaseStatus, decision: Decision) -> Decision:
    """`decision` with an Event for what a hook's answer did that no other Event of the tick says: an approval
    (`HookConfirmed`), a `postRollout` notice delivered (`HookDelivered`) or given up on (`HookFailed`)."""
    earlier = {record.name: record for record in before.hooks}
    notes: list[Note] = []
    for record in decision.status.hooks:
        was = earlier.get(record.name)
        if was is not None and was.calls == record.calls:
            continue
        newly = record.passed and not (was is not None and was.passed)
        if newly and record.stage in _CONFIRMS:
            said = f"hook {record.name} ({record.stage}) approved: {record.message}"
            notes.append(Note("Normal", Reason.HOOK_CONFIRMED, said))
        elif newly and record.stage == POST_ROLLOUT:
            said = f"postRollout hook {record.name} was told the release is {before.phase.value}: {record.message}"
            notes.append(Note("Normal", Reason.HOOK_DELIVERED, said))
        elif record.stage == POST_ROLLOUT and not record.passed and record.calls >= POST_ROLLOUT_CALLS:
            said = f"postRollout hook {record.name} not delivered after {record.calls} calls: {record.message}"
            notes.append(Note("Warning", Reason.HOOK_FAILED, said))
    return replace(decision, notes=(*decision.notes, *notes)) if notes else decision


def _said(verdict: Verdict) -> str:
    """A hook's answer in one line: the value (status and first bytes of the body) and the judge's reason."""
    parts = [verdict.value] if verdict.value and verdict.value not in verdict.reason else []
    text = "; ".join([*parts, verdict.reason]) if verdict.reason else "; ".join(parts)
    return text if len(text) <= MAX_HOOK_MESSAGE else text[: MAX_HOOK_MESSAGE - 1] + "…"
