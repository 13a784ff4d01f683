"""Manual commands: what `promote`, `promote-full`, `pause`, `resume`, `abort` and `retry` do in each phase.

Why: a command is handled exactly once. The annotation value that was handled (applied or ignored) is recorded in
`status.lastCommand`, written in the same status update as its effect, so re-applying the same value or
restarting the operator never runs it twice. A command that makes no sense in the current phase, or one the freeze
switch forbids (anything that would raise the canary's weight), is ignored with a reason rather than queued: a
command that fires hours later is worse than one that visibly did nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from graygate.api.commands import Action, CommandSyntaxError, parse_command, recorded
from graygate.api.status import CanaryReleaseStatus, CommandRecord, PauseReason, Phase
from graygate.domain.release.bookkeeping import Tick, enter_step, move, seal
from graygate.domain.release.decision import Abort, Decision, Hold, Promote, Reason, Resume
from graygate.domain.release.moves import complete, describe_step, go_to_step, pause, restart
from graygate.domain.release.phases import ACTIVE, Trigger
from graygate.domain.release.plan import FULL

__all__ = ["ALLOWED_PHASES", "handle_command", "pending_command", "record_command", "refusal"]

_RUNNING = frozenset({Phase.PROGRESSING, Phase.PAUSED})

ALLOWED_PHASES: dict[Action, frozenset[Phase]] = {
    Action.PROMOTE: _RUNNING,
    Action.PROMOTE_FULL: _RUNNING,
    Action.PAUSE: frozenset({Phase.PROGRESSING}),
    Action.RESUME: frozenset({Phase.PAUSED}),
    Action.ABORT: frozenset(ACTIVE - {Phase.PROMOTING}),
    Action.RETRY: frozenset({Phase.FAILED, Phase.ABORTED}),
}
"""In which phases each command means something; the CLI refuses the others before writing anything."""

_REFUSALS: dict[Action, str] = {
    Action.PROMOTE: "a {phase} release cannot be promoted",
    Action.PROMOTE_FULL: "a {phase} release cannot be promoted",
    Action.PAUSE: "only a Progressing release can be paused; this one is {phase}",
    Action.RESUME: "only a Paused release can be resumed; this one is {phase}",
    Action.ABORT: "a {phase} release has nothing to abort",
    Action.RETRY: "only a Failed or Aborted release can be retried; this one is {phase}",
}


def refusal(action: Action, phase: Phase) -> str | None:
    """Why `action` makes no sense in `phase`, or None when it does."""
    if phase in ALLOWED_PHASES[action]:
        return None
    if action is Action.ABORT and phase is Phase.PROMOTING:
        return "a Promoting release is never aborted: its canary passed every step and carries all traffic"
    return _REFUSALS[action].format(phase=phase.value)


def pending_command(status: CanaryReleaseStatus, value: str | None) -> str | None:
    """The annotation value if it has not been handled yet, else None."""
    if value is None or not value.strip():
        return None
    if status.last_command is not None and status.last_command.value == recorded(value):
        return None
    return value


def record_command(decision: Decision, value: str, *, applied: bool, note: str, now: datetime) -> Decision:
    """`decision` with the command recorded as handled in its status."""
    record = CommandRecord(value=recorded(value), result="Applied" if applied else "Ignored", message=note, at=now)
    return replace(decision, status=decision.status.model_copy(update={"last_command": record}))


def handle_command(tick: Tick, value: str) -> Decision:
    """The decision for a new command annotation value."""
    try:
        command = parse_command(value)
    except CommandSyntaxError as error:
        return _ignored(tick, value, str(error))
    outcome = _HANDLERS[command.action](tick)
    if isinstance(outcome, str):
        return _ignored(tick, value, f"{command.action.value} ignored: {outcome}")
    return record_command(outcome, value, applied=True, note=outcome.message, now=tick.now)


def _ignored(tick: Tick, value: str, why: str) -> Decision:
    status = seal(tick, tick.status, tick.status.message)
    decision = Hold(reason=Reason.COMMAND_IGNORED, message=why, status=status, event="Warning")
    return record_command(decision, value, applied=False, note=why, now=tick.now)


def _promote(tick: Tick) -> Decision | str:
    status = tick.status
    if (why := refusal(Action.PROMOTE, status.phase)) is not None:
        return why
    following = status.current_step_index + 1
    if tick.frozen_against(tick.plan.weight_at(following)):
        return "releases are frozen, and promoting would raise the canary's weight"
    status = status.model_copy(update={"inconclusive_count": 0})
    return go_to_step(tick, status, following, Trigger.PROMOTE, Reason.PROMOTED, Promote)


def _promote_full(tick: Tick) -> Decision | str:
    if (why := refusal(Action.PROMOTE_FULL, tick.status.phase)) is not None:
        return why
    if tick.frozen_against(FULL):
        return "releases are frozen, and promoting would raise the canary's weight"
    return complete(tick, tick.status, Reason.PROMOTED_FULL, "promoted in full: the canary carries 100%")


def _pause(tick: Tick) -> Decision | str:
    if (why := refusal(Action.PAUSE, tick.status.phase)) is not None:
        return why
    message = f"paused by hand at {tick.status.canary_weight}%; resume to continue"
    return pause(tick, tick.status, PauseReason.MANUAL, Reason.PAUSED, message)


def _resume(tick: Tick) -> Decision | str:
    status = tick.status
    if (why := refusal(Action.RESUME, status.phase)) is not None:
        return why
    if status.pause_reason is PauseReason.AWAITING_PROMOTION:
        return _promote(tick)
    if status.pause_reason is PauseReason.INCONCLUSIVE_WITHDRAWN:
        return _resume_withdrawn(tick)
    message = f"resumed at {status.canary_weight}%"
    status = status.model_copy(update={"pause_reason": None, "inconclusive_count": 0})
    status = move(status, Trigger.RESUME, Reason.RESUMED, message, tick.now)
    return Resume(reason=Reason.RESUMED, message=message, status=seal(tick, status, message), event="Normal")


def _resume_withdrawn(tick: Tick) -> Decision | str:
    """Resuming a pause that took the canary to 0 % starts its step again from the step's weight and clock, so
    the step is judged afresh rather than passed on what was seen before the pause: the gates' pass streaks
    start again too."""
    index = tick.status.current_step_index
    weight = tick.plan.weight_at(index)
    if tick.frozen_against(weight):
        return "releases are frozen, and resuming would give the canary its traffic back"
    message = f"resumed: {describe_step(tick, index)}, started again"
    gates = tuple(gate.model_copy(update={"consecutive_successes": 0}) for gate in tick.status.gates)
    fresh = tick.status.model_copy(update={"inconclusive_count": 0, "gates": gates})
    status = enter_step(tick, fresh, index)
    status = move(status, Trigger.RESUME, Reason.RESUMED, message, tick.now)
    return Resume(
        reason=Reason.RESUMED,
        message=message,
        status=seal(tick, status, message),
        target_weight=status.canary_weight,
        event="Normal",
    )


def _abort(tick: Tick) -> Decision | str:
    status = tick.status
    if (why := refusal(Action.ABORT, status.phase)) is not None:
        return why
    message = "aborted by hand: all traffic is back on the stable destination"
    status = status.model_copy(update={"canary_weight": 0, "pause_reason": None, "next_check_at": None})
    status = move(status, Trigger.ABORT, Reason.ABORTED, message, tick.now)
    changed = bool(status.original_routes)
    return Abort(
        reason=Reason.ABORTED,
        message=message,
        status=seal(tick, status, message),
        target_weight=0 if changed else None,
        restore_routes=changed,
        event="Warning",
    )


def _retry(tick: Tick) -> Decision | str:
    if (why := refusal(Action.RETRY, tick.status.phase)) is not None:
        return why
    return restart(tick, tick.status, Trigger.RETRY, Reason.RETRIED, "retried by hand: starting over from step 1")


_HANDLERS: dict[Action, Callable[[Tick], Decision | str]] = {
    Action.PROMOTE: _promote,
    Action.PROMOTE_FULL: _promote_full,
    Action.PAUSE: _pause,
    Action.RESUME: _resume,
    Action.ABORT: _abort,
    Action.RETRY: _retry,
}
