"""`next_due(spec, status, now)`: when a release must tick next if nothing happens to it, as a pure function.

Why: a release that ticks every second whatever happens costs reads and CPU that grow with the number of releases.
Each rule below names a timer the tick's own rules keep (`decide`, `analysis_rules`, `hooks`, `following`,
`deadline`, `bookkeeping`); an outside change (the release's spec or command annotation, its routes, its
Deployments, the freeze switch) wakes the release through an event instead, and a periodic resync, applied by the
caller, catches a missed one. The caller also keeps a floor (`tick_interval`) between two ticks, so a time already
past means "as soon as the floor allows", never a busy loop.

The rules; the earliest time wins, and None means "only the resync or an event" (a release at rest):

1. An invalid spec: None (only a spec change makes it valid again).
2. A tick that wrote the status (`moved`): now. One decision often leads straight to the next (first sight records
   the routes, then the run starts; a step's weights are written, then read back), and today's ticks follow each
   other at the tick interval. A tick that wrote only routes (a drift put right) is not `moved`: the write's answer,
   stored in the watch cache as a newer version, wakes the releases that read those routes, the writer included.
3. First sight not recorded yet: now.
4. The next analysis (`nextCheckAt`) of a Progressing or Paused release, and of a Pending one with pre-check gates
   once its routes are recorded. A `nextCheckAt` still past after a tick (the tick could not run the analysis:
   an unavailable canary workload, routes claimed by another release) is asked again at rule 9's poll.
5. A timed pause's end (`pause.duration`, `stepInterval`), counted from `stepStartedAt`.
6. The progress deadline (`deadline.overdue`) of a Pending, Progressing or Promoting run, unless it waits for a
   `confirmRollout` approval.
7. The next call of a stage hook polled every analysis interval (`confirmRollout`, `confirmPromotion`,
   `rollback`) or retried (`postRollout`), as `hooks.due` says.
8. A finished run's `scaleDownAt`, while it is ahead.
9. Waits on outside objects that are not all watched: a Pending run (its routes' snapshot, its canary workload,
   the DestinationRule subsets, its config keys), a Promoting one (the primary Deployment's rollout) and one
   Stalled on its routes are polled every `poll_cap` (5 s) or analysis interval, whichever is shorter; the
   events of the objects they wait for wake them sooner.
10. A finished release (Succeeded, Failed, Aborted) that follows a workload with `trackConfig`: every
   `CONFIG_POLL` (30 s). Its revision hashes the ConfigMaps and Secrets the pod template uses, which the operator
   reads by name only and never lists or watches (a watch of Secrets would need list and watch of every Secret in
   the namespace), so an edit of one is seen by this poll; a pod template change wakes it at once (its Deployment
   is watched).

Timers already past when the tick was decided (a pause that ended, a deadline that was heard) are left out: the
tick that saw them acted on them, and a time that stays past would make the release tick at the floor forever.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from graygate.api.conditions import STALLED, find_condition
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus, Phase
from graygate.api.validation import InvalidSpec
from graygate.domain.release import hooks
from graygate.domain.release.bookkeeping import needs_snapshot
from graygate.domain.release.deadline import COUNTED
from graygate.domain.release.decision import Reason
from graygate.domain.release.hook_records import waiting_for_rollout_approval
from graygate.domain.release.phases import TERMINAL
from graygate.domain.release.plan import PauseStep, plan_of
from graygate.domain.release.precheck import pre_check_gates

__all__ = ["CONFIG_POLL", "POLL_CAP", "deadline_at", "next_due"]

POLL_CAP = timedelta(seconds=5)
"""The longest wait between two polls of a release that waits for objects not all watched (rule 9)."""

CONFIG_POLL = timedelta(seconds=30)
"""How often a finished release with `trackConfig` reads its ConfigMaps and Secrets again (rule 10): a
configuration-only change starts its run at most this late, for one GET per object read at each poll."""

_JUST_AFTER = timedelta(milliseconds=1)
"""`deadline.overdue` is strict (past the deadline, not at it): the tick that hears it comes just after."""

_RUNNING = (Phase.PROGRESSING, Phase.PAUSED)


def next_due(
    spec: CanaryReleaseSpec | InvalidSpec,
    status: CanaryReleaseStatus,
    now: datetime,
    *,
    moved: bool = False,
    poll_cap: timedelta = POLL_CAP,
) -> datetime | None:
    """When the release whose last tick (at `now`) left `status` must tick again without any event; see the module
    docstring for the rules. `moved`: that tick wrote the status."""
    if isinstance(spec, InvalidSpec) or status.phase is Phase.INVALID:
        return now if moved and not isinstance(spec, InvalidSpec) else None
    if moved or status.observed_generation is None:
        return now
    times = [
        _next_analysis(spec, status, now, poll_cap),
        _pause_end(spec, status),
        deadline_at(spec, status),
        _next_hook_call(spec, status, now),
        status.scale_down_at if status.phase in TERMINAL else None,
        _poll(spec, status, now, poll_cap),
    ]
    return min((t for t in times if t is not None and t >= now), default=None)


def _next_analysis(
    spec: CanaryReleaseSpec, status: CanaryReleaseStatus, now: datetime, cap: timedelta
) -> datetime | None:
    pre_checking = status.phase is Phase.PENDING and bool(pre_check_gates(spec)) and not needs_snapshot(spec, status)
    if status.phase not in _RUNNING and not pre_checking:
        return None
    at = status.next_check_at
    if at is None or at <= now:
        # Due, yet the tick that decided this did not run it (its canary workload is not Available, its routes are
        # claimed by another release): asked again at the poll, not at every floor.
        return now + min(cap, spec.analysis.interval)
    return at


def _pause_end(spec: CanaryReleaseSpec, status: CanaryReleaseStatus) -> datetime | None:
    plan = plan_of(spec)
    index = status.current_step_index
    if status.phase is not Phase.PROGRESSING or status.step_started_at is None or index >= len(plan):
        return None
    step = plan.step(index)
    if not isinstance(step, PauseStep) or step.duration is None:
        return None
    return status.step_started_at + step.duration


def deadline_at(spec: CanaryReleaseSpec, status: CanaryReleaseStatus) -> datetime | None:
    """When `deadline.overdue` first says the run is late, or None when its clock does not run."""
    if status.phase not in COUNTED or status.progress_at is None or waiting_for_rollout_approval(spec, status):
        return None
    since = status.progress_at
    if (end := _pause_end(spec, status)) is not None:
        since = max(since, end)
    return since + spec.progress_deadline + _JUST_AFTER


def _next_hook_call(spec: CanaryReleaseSpec, status: CanaryReleaseStatus, now: datetime) -> datetime | None:
    """The earliest time ahead at which `hooks.due` asks for a hook already called (one never called is called by
    the tick that finds it due)."""
    interval = spec.analysis.interval
    times = []
    for record in status.hooks:
        if record.at is None or record.passed:
            continue
        at = record.at + interval
        if at > now and record.name in {hook.name for hook in hooks.due(spec, status, at)}:
            times.append(at)
    return min(times, default=None)


def _poll(spec: CanaryReleaseSpec, status: CanaryReleaseStatus, now: datetime, cap: timedelta) -> datetime | None:
    every = min(cap, spec.analysis.interval)
    if status.phase in (Phase.PENDING, Phase.PROMOTING):
        return now + every
    stalled = find_condition(status.conditions, STALLED)
    on_routes = stalled is not None and stalled.status == "True" and stalled.reason == Reason.ROUTE_UNAVAILABLE.value
    if on_routes and status.phase not in TERMINAL:
        return now + every
    if status.phase in TERMINAL and spec.workload is not None and spec.workload.track_config:
        return now + CONFIG_POLL
    return None
