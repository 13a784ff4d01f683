"""What a tick announces to people: its transitions (started, step advanced, paused, waiting for approval,
succeeded, rolled back, aborted, stalled), each as one line that says what happened and why.

Why derived from (status before, decision) and nothing else: the decision's status already holds the transitions
it made (the history entries it appended, through `phases.transition`) and the verdicts that caused them, so the
notification says exactly what the status and the Kubernetes Event say, and a test needs no operator. One tick can
make two moves (a start straight into an indefinite pause): each is its own notification, in order, except a step
entered only to pause there, which is said once, by the pause.

Adding a reason is one line of `REASONS` (e.g. the stage hooks' `AwaitingConfirmation`). A phase reached decides
first: every move to `Failed` is a rollback, to `Aborted` an abort, to `Succeeded` a success (except `Adopted`:
nothing was released). A `Stalled` condition that turns True without a move (routes it cannot use, gates that
cannot measure, a progress deadline) is announced once, when it turns True.

Two things are said without a history entry of their own. A `confirmRollout` wait is a Pending hold, not a move:
it is announced once, on the tick whose decision holds for it (`AwaitingConfirmation`) when the status before was
not already waiting (a `confirmRollout` hook asked and not yet approved, read from `status.hooks`), so a restart
or a second hook's answer does not say it again. And a `dryRun` gate never decides, but its failures are part of
what happened: a success or a rollback adds how often each dry-run gate failed in the run (`status.gates`, the
gates known as dry-run from their results), and a rollback's failed gates are only the counted ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from itertools import zip_longest
from types import MappingProxyType

from graygate.api.conditions import STALLED
from graygate.api.hooks import CONFIRM_ROLLOUT
from graygate.api.status import CanaryReleaseStatus, Condition, ConditionStatus, Outcome, Phase, Transition
from graygate.domain.release.decision import Decision, Reason

__all__ = ["REASONS", "FailedGate", "Kind", "Notification", "notifications_of", "told"]

MAX_MESSAGE = 600
"""Characters of one message: a chat line, not the Event's whole evidence (the status keeps that)."""


class Kind(StrEnum):
    """The transitions people are told about; the values are the `events` filter's words."""

    STARTED = "started"
    STEP_ADVANCED = "stepAdvanced"
    PAUSED = "paused"
    WAITING_FOR_APPROVAL = "waitingForApproval"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolledBack"
    ABORTED = "aborted"
    STALLED = "stalled"


REASONS: Mapping[str, Kind] = MappingProxyType(
    {
        Reason.STARTED.value: Kind.STARTED,
        Reason.STEP_ADVANCED.value: Kind.STEP_ADVANCED,
        Reason.PROMOTED.value: Kind.STEP_ADVANCED,
        Reason.AWAITING_PROMOTION.value: Kind.WAITING_FOR_APPROVAL,
        Reason.AWAITING_CONFIRMATION.value: Kind.WAITING_FOR_APPROVAL,  # a confirmPromotion hook's pause
        Reason.PROGRESS_DEADLINE.value: Kind.STALLED,
    }
)
"""History reasons that name their transition; a move to `Paused` with any other reason is `paused`."""

_BY_PHASE: Mapping[Phase, Kind] = MappingProxyType(
    {Phase.FAILED: Kind.ROLLED_BACK, Phase.ABORTED: Kind.ABORTED, Phase.SUCCEEDED: Kind.SUCCEEDED}
)
_SILENT = frozenset({Reason.ADOPTED.value})


@dataclass(frozen=True, slots=True)
class FailedGate:
    """A gate that failed in the analysis that ended the release: what it measured against what it allows."""

    gate: str
    value: str | None
    threshold: str | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One transition of one release, as every channel formats it."""

    namespace: str
    release: str
    kind: Kind
    reason: str
    """The CamelCase reason, as the Event's and the history's."""
    message: str
    """One line: what happened and why."""
    phase: Phase
    step: str
    """`n/m`, 1-based, as `kubectl get` shows it."""
    step_number: int
    """The `n` of `step`: 1-based, as a webhook payload's `step`."""
    canary_weight: int
    at: datetime
    failed_gates: tuple[FailedGate, ...] = ()
    canary_revision: str | None = None
    stable_revision: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    """The release's own labels, as a webhook's payload carries them (the service adds them: not in the status)."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """The release's own annotations, without kubectl's last-applied configuration (as a webhook's payload)."""

    @property
    def stable_weight(self) -> int:
        return 100 - self.canary_weight


def notifications_of(
    namespace: str, release: str, before: CanaryReleaseStatus, decision: Decision
) -> tuple[Notification, ...]:
    """The transitions `decision` made from `before`, as notifications, oldest first (none: nothing to say)."""
    after = decision.status
    moves = [entry for entry in after.history if entry not in before.history]
    # entering a step that pauses (an indefinite pause, a confirmation) is one message: the pause says the step
    kept = [
        entry
        for entry, following in zip_longest(moves, moves[1:])
        if not (_kind(entry) is Kind.STEP_ADVANCED and following is not None and following.to is Phase.PAUSED)
    ]
    made = [note for entry in kept if (note := _of_move(namespace, release, before, after, entry)) is not None]
    if (waiting := _rollout_approval(namespace, release, before, decision)) is not None:
        made.append(waiting)
    if not any(note.kind is Kind.STALLED for note in made) and (stalled := _stalled(before, after)) is not None:
        made.append(_notification(namespace, release, after, Kind.STALLED, *stalled))
    return tuple(made)


def told(
    notes: tuple[Notification, ...], *, labels: Mapping[str, str], annotations: Mapping[str, str], said: str = ""
) -> tuple[Notification, ...]:
    """`notes` as the service hands them over: with the release's own `labels` and `annotations` (what a webhook's
    payload carries; the status does not hold them) and `said` added to each message."""
    return tuple(
        replace(note, message=note.message + said, labels=dict(labels), annotations=dict(annotations)) for note in notes
    )


def _kind(entry: Transition) -> Kind | None:
    if entry.reason in _SILENT:
        return None
    if (by_phase := _BY_PHASE.get(entry.to)) is not None:
        return by_phase
    if (named := REASONS.get(entry.reason)) is not None:
        return named
    return Kind.PAUSED if entry.to is Phase.PAUSED else None


def _of_move(
    namespace: str, release: str, before: CanaryReleaseStatus, after: CanaryReleaseStatus, entry: Transition
) -> Notification | None:
    kind = _kind(entry)
    if kind is None:
        return None
    where = f"step {entry.step + 1}/{_steps(after)}"
    failed: tuple[FailedGate, ...] = ()
    if kind is Kind.ROLLED_BACK:
        failed = _failed_gates(before, after)
        said = f"rolled back from {before.canary_weight}% at {where}: " + (
            "; ".join(_failure(gate) for gate in failed) if failed else entry.message
        )
        said += _dry_run_failures(after)
    elif kind is Kind.STARTED:
        said = f"started: {entry.message}"
    elif kind is Kind.STEP_ADVANCED:
        said = f"advanced: {entry.message}" + (" (promoted by hand)" if entry.reason == Reason.PROMOTED else "")
    elif kind is Kind.WAITING_FOR_APPROVAL:
        said = f"waiting for approval at {entry.weight}%: {entry.message}"
    elif kind is Kind.SUCCEEDED:
        said = f"succeeded: {entry.message}" + _dry_run_failures(after)
    elif kind is Kind.ABORTED:
        said = f"aborted at {before.canary_weight}%: {entry.message}"
    else:
        said = f"{'stalled' if kind is Kind.STALLED else 'paused'} at {entry.weight}%: {entry.message}"
    return _notification(namespace, release, after, kind, entry.reason, said, entry, failed)


def _notification(
    namespace: str,
    release: str,
    after: CanaryReleaseStatus,
    kind: Kind,
    reason: str,
    said: str,
    entry: Transition | None = None,
    failed: tuple[FailedGate, ...] = (),
    at: datetime | None = None,
) -> Notification:
    line = " ".join(f"{namespace}/{release} {said}".split())
    number = (entry.step if entry is not None else after.current_step_index) + 1
    return Notification(
        namespace=namespace,
        release=release,
        kind=kind,
        reason=reason,
        message=line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…",
        phase=entry.to if entry is not None else after.phase,
        step=f"{number}/{_steps(after)}",
        step_number=number,
        canary_weight=entry.weight if entry is not None else after.canary_weight,
        at=entry.at if entry is not None else at if at is not None else _stalled_at(after),
        failed_gates=failed,
        canary_revision=after.revision,
        stable_revision=after.stable_revision,
    )


def _steps(status: CanaryReleaseStatus) -> str:
    """The plan's length, from `step_display` (`n/m`); `?` before the first step."""
    _, _, total = status.step_display.partition("/")
    return total or "?"


def _failed_gates(before: CanaryReleaseStatus, after: CanaryReleaseStatus) -> tuple[FailedGate, ...]:
    """The failed verdicts of the analysis that ended the release: the results this decision recorded, but a
    `dryRun` gate's (it never decides; `_dry_run_failures` says it apart)."""
    return tuple(
        FailedGate(gate=result.gate, value=result.value, threshold=result.threshold, reason=result.reason)
        for result in after.recent_results
        if result not in before.recent_results
        and result.outcome in (Outcome.FAIL, Outcome.ERROR)
        and not result.dry_run
    )


def _dry_run_failures(after: CanaryReleaseStatus) -> str:
    """`; dry-run gate X failed N times (not counted)` for each `dryRun` gate that failed in this run (its
    counters in `status.gates`; which gates are dry-run, from their results), or nothing."""
    trial = {result.gate for result in after.recent_results if result.dry_run}
    failed = [(state.name, state.failures) for state in after.gates if state.name in trial and state.failures]
    return "".join(
        f"; dry-run gate {name} failed {count} time{'s' if count != 1 else ''} (not counted)" for name, count in failed
    )


def _awaiting_rollout(status: CanaryReleaseStatus) -> bool:
    """Whether a Pending release waits for a `confirmRollout` hook it has asked (one's answer not yet a 2xx)."""
    return status.phase is Phase.PENDING and any(
        record.stage == CONFIRM_ROLLOUT and not record.passed for record in status.hooks
    )


def _rollout_approval(
    namespace: str, release: str, before: CanaryReleaseStatus, decision: Decision
) -> Notification | None:
    """The `confirmRollout` wait, once: when this decision holds for it and the status before was not waiting."""
    after = decision.status
    if decision.reason is not Reason.AWAITING_CONFIRMATION or not _awaiting_rollout(after) or _awaiting_rollout(before):
        return None
    asked = [record.at for record in after.hooks if record.stage == CONFIRM_ROLLOUT and record.at is not None]
    if (when := max(asked, default=None) or after.progress_at) is None:
        return None  # a hook record without its time: written by no graygate that decides this way
    said = f"waiting for approval at {after.canary_weight}%: {after.message}"
    reason = Reason.AWAITING_CONFIRMATION.value
    return _notification(namespace, release, after, Kind.WAITING_FOR_APPROVAL, reason, said, at=when)


def _failure(gate: FailedGate) -> str:
    text = f"gate {gate.gate} failed"
    if gate.value is not None:
        text += f": value {gate.value}"
    if gate.threshold is not None:
        text += f", threshold {gate.threshold}"
    return text if gate.value is not None or gate.threshold is not None else f"{text}: {gate.reason}"


def _stalled(before: CanaryReleaseStatus, after: CanaryReleaseStatus) -> tuple[str, str] | None:
    """(reason, sentence) when the `Stalled` condition turned True in this decision, in a phase that is not an
    end (a failed or aborted release is announced as such, not as stalled)."""
    if after.phase not in (Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING):
        return None
    now = _condition(after)
    if now is None or now.status is not ConditionStatus.TRUE:
        return None
    was = _condition(before)
    if was is not None and was.status is ConditionStatus.TRUE:
        return None
    return now.reason, f"stalled at {after.canary_weight}%: {now.message}"


def _condition(status: CanaryReleaseStatus) -> Condition | None:
    return next((condition for condition in status.conditions if condition.type == STALLED), None)


def _stalled_at(status: CanaryReleaseStatus) -> datetime:
    condition = _condition(status)
    assert condition is not None, "only a Stalled condition's notification asks"
    return condition.last_transition_time
