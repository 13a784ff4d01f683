"""What the status says about a release's stage hooks, read without any rule: which hooks a stage has, which of them
answered 2xx in this run, and the analysis with the `rollout` hooks among its gates.

Why apart from the rules (`hooks`): the deadline (`deadline`) and the pre-checks (`precheck`) ask these questions
too, and they sit below the moves the rules make; so the answers live here, importing nothing of the release's
bookkeeping.
"""

from __future__ import annotations

from graygate.api.analysis import Analysis
from graygate.api.hooks import CONFIRM_ROLLOUT, ROLLOUT, Hook, HookStage
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus, HookRecord, Phase

__all__ = ["analysis_of", "awaiting", "hooks_of", "passed", "record_of", "waiting_for_rollout_approval"]


def hooks_of(spec: CanaryReleaseSpec, stage: HookStage) -> tuple[Hook, ...]:
    """The spec's hooks of `stage`, in spec order."""
    return tuple(hook for hook in spec.hooks if hook.stage == stage)


def record_of(status: CanaryReleaseStatus, name: str) -> HookRecord | None:
    """The record of the hook called `name` in this run, or None when it has not been called."""
    return next((record for record in status.hooks if record.name == name), None)


def awaiting(spec: CanaryReleaseSpec, status: CanaryReleaseStatus, stage: HookStage) -> Hook | None:
    """The first hook of `stage` that has not answered 2xx in this run, or None when every one has (or there are
    none)."""
    for hook in hooks_of(spec, stage):
        record = record_of(status, hook.name)
        if record is None or not record.passed:
            return hook
    return None


def passed(spec: CanaryReleaseSpec, status: CanaryReleaseStatus, stage: HookStage) -> bool:
    """Whether every hook of `stage` answered 2xx in this run (trivially, when there are none)."""
    return awaiting(spec, status, stage) is None


def waiting_for_rollout_approval(spec: CanaryReleaseSpec, status: CanaryReleaseStatus) -> bool:
    """Whether a Pending release waits for a `confirmRollout` hook it has asked already: a human's choice, like a
    pause, so the progress deadline does not count it."""
    if status.phase is not Phase.PENDING or (hook := awaiting(spec, status, CONFIRM_ROLLOUT)) is None:
        return False
    return record_of(status, hook.name) is not None


def analysis_of(spec: CanaryReleaseSpec) -> Analysis:
    """The release's analysis as it runs: its gates, then its `rollout` hooks as `webhook` gates (non-critical, so
    a failing one counts toward `failureLimit`, and shown in the status's results like any gate)."""
    rollout = hooks_of(spec, ROLLOUT)
    if not rollout:
        return spec.analysis
    return spec.analysis.model_copy(update={"gates": (*spec.analysis.gates, *(hook.gate() for hook in rollout))})
