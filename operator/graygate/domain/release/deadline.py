"""`progressDeadline`: how long a run may go without progress before `onProgressDeadline` applies.

Why derived, not stored: whether a run is overdue follows from the spec, the status and the time, so every tick
(and a restarted operator) says the same, and the `Stalled` condition it sets ends by itself when the run moves.
Progress is any move of the run (`status.progressAt`, set by every transition: a start, a step, a resume, the start of
a promotion). Only phases that wait for the release itself count: a Paused release waits for a human, and a timed
pause step is progress as planned until its time is up. So does a Pending release waiting for a `confirmRollout`
hook's approval (a human's choice too, see `hooks`).
"""

from __future__ import annotations

from datetime import datetime

from graygate.api.durations import format_duration
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus, Phase
from graygate.domain.release.hook_records import waiting_for_rollout_approval
from graygate.domain.release.plan import PauseStep, plan_of

__all__ = ["COUNTED", "overdue"]

COUNTED = frozenset({Phase.PENDING, Phase.PROGRESSING, Phase.PROMOTING})
"""The phases in which the deadline's clock runs."""


def overdue(spec: CanaryReleaseSpec, status: CanaryReleaseStatus, now: datetime) -> str | None:
    """Why the run is past its deadline (which step, for how long), or None while it is not."""
    if status.phase not in COUNTED or status.progress_at is None or waiting_for_rollout_approval(spec, status):
        return None
    since = status.progress_at
    plan = plan_of(spec)
    index = status.current_step_index
    if status.phase is Phase.PROGRESSING and index < len(plan):
        step = plan.step(index)
        if isinstance(step, PauseStep) and step.duration is not None and status.step_started_at is not None:
            since = max(since, status.step_started_at + step.duration)
    if now - since <= spec.progress_deadline:
        return None
    if status.phase is Phase.PENDING:
        where = "before step 1 (the canary at 0%)"
    elif status.phase is Phase.PROMOTING:
        where = "promoting"
    else:
        where = f"at step {index + 1}/{len(plan)} ({plan.weight_at(index)}% to the canary)"
    deadline = format_duration(spec.progress_deadline)
    return f"no progress {where} since {since.strftime('%H:%M:%SZ')}: past progressDeadline {deadline}"
