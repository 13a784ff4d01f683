"""Where the release's etcd keys enter a decision: written just before the canary's first traffic, put back after
a failure, an abort or a fresh start.

Why two hooks: writing belongs to the start rule (`decide._start` asks `before_start` once every other condition
to start holds, so config is never written for a release that would not start), while putting back follows from
any decision that ends or restarts a run, whichever rule made it; `after_decision` runs after every decision.
"""

from __future__ import annotations

from dataclasses import replace

from graygate.api.release_config import ConfigState, ConfigStatus
from graygate.api.status import CanaryReleaseStatus, Phase
from graygate.domain.config.release_config import apply_action, intent, recognise, restore_plan, untouched
from graygate.domain.release.bookkeeping import Tick
from graygate.domain.release.decision import Decision, Note, Reason, Restart
from graygate.domain.release.moves import hold, rollback
from graygate.domain.release.observations import Observations

__all__ = ["MAX_ATTEMPTS", "after_decision", "before_start"]

MAX_ATTEMPTS = 3
"""Writes etcd did not take (an error, or a key changed between reading and writing) before the release fails."""

_OPEN = (ConfigState.APPLYING, ConfigState.APPLIED)


def before_start(tick: Tick, status: CanaryReleaseStatus) -> Decision | tuple[CanaryReleaseStatus, Note | None]:
    """A decision that holds (or fails) the start for the config's sake, or the status to start with: the config
    confirmed `Applied` (and the Event saying so, on the tick that confirms it)."""
    wanted = tick.spec.config
    recorded = status.config
    if wanted is None or (recorded is not None and recorded.state is ConfigState.APPLIED):
        return status, None
    if recorded is not None and recorded.state is ConfigState.RESTORING:
        message = "0% to the canary; putting back the config of the previous run first"
        return hold(tick, status, Reason.CONFIG_RESTORING, message)
    reading = tick.seen.config
    if reading is None or reading.error is not None:
        why = reading.error if reading is not None else "not read yet"
        return hold(tick, status, Reason.CONFIG_UNAVAILABLE, f"0% to the canary; cannot read the config keys: {why}")
    if recorded is None or recorded.done:
        return _write(tick, status, intent(wanted, reading, attempts=1))
    written = recognise(recorded, reading)
    if written is not None:
        keys = tuple(entry.model_copy(update={"written_revision": written[entry.key]}) for entry in recorded.keys)
        revisions = sorted({revision for revision in written.values() if revision})
        at = f" at revision {revisions[0]}" if len(revisions) == 1 else ""
        message = f"wrote {len(keys)} config key(s){at}"
        applied = recorded.model_copy(update={"state": ConfigState.APPLIED, "keys": keys, "message": message})
        return status.model_copy(update={"config": applied}), Note("Normal", Reason.CONFIG_APPLIED, message)
    if recorded.attempts >= MAX_ATTEMPTS:
        message = (
            f"the config keys could not be written in {recorded.attempts} attempts (see the ConfigApplyFailed "
            "Events); the canary never got traffic"
        )
        return rollback(tick, status, message, None, Reason.CONFIG_FAILED)
    if untouched(recorded, reading):
        return _write(tick, status, recorded.model_copy(update={"attempts": recorded.attempts + 1}))
    # a key changed between reading and writing: record what it holds now, and write again
    return _write(tick, status, intent(wanted, reading, attempts=recorded.attempts + 1))


def _write(tick: Tick, status: CanaryReleaseStatus, recorded: ConfigStatus | str) -> Decision:
    if isinstance(recorded, str):
        return rollback(tick, status, f"{recorded}; the canary never got traffic", None, Reason.CONFIG_FAILED)
    status = status.model_copy(update={"config": recorded})
    message = f"0% to the canary; writing the release's config ({len(recorded.keys)} key(s))"
    return replace(hold(tick, status, Reason.CONFIG_APPLYING, message), config=apply_action(recorded))


def after_decision(before: CanaryReleaseStatus, seen: Observations, decision: Decision) -> Decision:
    """`decision` with the config's part: a run that ends (Failed, Aborted) or starts over puts its keys back,
    unless it had Succeeded (its keys are the stable's now: a new run records its own intent over them); a restore
    in progress is carried on from this tick's reading, and its end is reported."""
    status = decision.status
    recorded = status.config
    if recorded is None:
        return decision
    ends = status.phase in (Phase.FAILED, Phase.ABORTED) or isinstance(decision, Restart)
    if ends and before.phase is Phase.SUCCEEDED and recorded.state is ConfigState.APPLIED:
        return replace(decision, status=status.model_copy(update={"config": None}))
    if recorded.state in _OPEN and ends:
        recorded = recorded.model_copy(
            update={"state": ConfigState.RESTORING, "message": "putting the previous values back"}
        )
    if recorded.state is not ConfigState.RESTORING:
        return decision
    reading = seen.config
    note = None
    if reading is None:  # read from the next tick on
        pass
    elif reading.error is not None:
        recorded = recorded.model_copy(update={"message": f"cannot read the config keys: {reading.error}"})
    else:
        plan = restore_plan(recorded, reading)
        recorded = recorded.model_copy(update={"keys": plan.keys, "state": plan.state})
        if plan.action is not None:
            message = f"putting back {len(plan.action.written)} config key(s)"
            decision = replace(decision, config=plan.action)
        elif plan.conflicts:
            found = "; ".join(f"{entry.key}: {entry.conflict}" for entry in plan.conflicts)
            message = f"{len(plan.conflicts)} config key(s) changed by someone else were not restored: {found}"
            note = Note("Warning", Reason.CONFIG_CONFLICT, message)
        else:
            message = f"every config key holds its previous value again ({len(plan.keys)} key(s))"
            note = Note("Normal", Reason.CONFIG_RESTORED, message)
        recorded = recorded.model_copy(update={"message": message})
    status = status.model_copy(update={"config": recorded})
    return replace(decision, status=status, notes=decision.notes if note is None else (*decision.notes, note))
