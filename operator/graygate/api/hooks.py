"""Stage hooks: `spec.hooks[]`, a webhook called at one stage of a release, as Flagger names the stages.

Why a list of its own and not gates with a stage field: a hook's answer means something different at each stage
(a failure that stops the release at 0 %, an approval the release waits for, a kill switch, a notice after the end),
while a gate's answer always means "is the canary good?". Each hook is the `webhook` gate kind's call (`Webhook`:
the same payload, headers from Secrets, timeout and retries), measured and judged as that kind, so a hook adds no
HTTP code; only what its answer does depends on its stage (`domain.release.hooks`).

    confirmRollout     Pending, before any traffic, asked every interval      a 2xx lets the release start (kept)
    preRollout         Pending, the canary Available, called once per run     anything else fails it at 0 %
    rollout            with every analysis, as a gate of it                   a failure counts toward failureLimit
    confirmPromotion   after the last step passed, asked every interval      a 2xx lets the release complete (kept)
    rollback           Progressing, Paused or awaiting approval, every interval   a 2xx rolls the release back
    postRollout        once the release has ended (Succeeded, Failed, Aborted)    nothing: it is only told
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, get_args

from pydantic import Field

from graygate.api.base import SpecModel
from graygate.api.durations import format_duration
from graygate.api.gates import DNS_LABEL, MAX_GATES, Gate
from graygate.api.gates.webhook import Webhook

__all__ = [
    "CONFIRM_PROMOTION",
    "CONFIRM_ROLLOUT",
    "HOOK_RULES",
    "MAX_HOOKS",
    "POST_ROLLOUT",
    "PRE_ROLLOUT",
    "ROLLBACK",
    "ROLLOUT",
    "STAGES",
    "Hook",
    "HookStage",
    "check_hooks",
]

MAX_HOOKS = 16
"""The most hooks one release may have."""

HookStage = Literal["preRollout", "rollout", "confirmRollout", "confirmPromotion", "postRollout", "rollback"]
"""Flagger's names for the stages, so a migration is mechanical."""

HOOK_RULES: tuple[tuple[str, str], ...] = (
    (
        "!has(self.hooks) || self.hooks.all(h, !has(h.webhook.timeout) || duration(h.webhook.timeout) < "
        "duration(has(self.analysis) && has(self.analysis.interval) ? self.analysis.interval : '30s'))",
        "every hook's webhook timeout must be shorter than the analysis interval",
    ),
    (
        "!has(self.hooks) || !has(self.analysis) || !has(self.analysis.gates) || "
        "self.hooks.all(h, self.analysis.gates.all(g, g.name != h.name))",
        "hooks must have names unique among the hooks and the gates",
    ),
)
"""The spec-level CEL rules of the hooks (`kubectl apply` refuses what `check_hooks` would make Invalid)."""

STAGES: tuple[HookStage, ...] = get_args(HookStage)
PRE_ROLLOUT: HookStage = "preRollout"
ROLLOUT: HookStage = "rollout"
CONFIRM_ROLLOUT: HookStage = "confirmRollout"
CONFIRM_PROMOTION: HookStage = "confirmPromotion"
POST_ROLLOUT: HookStage = "postRollout"
ROLLBACK: HookStage = "rollback"


class Hook(SpecModel):
    """A webhook called at one stage of the release (`stage`), with the release's data as JSON (its `stage` field
    names the hook's stage). What a 2xx answer does depends on the stage: `confirmRollout` and `confirmPromotion`
    let the release go on (until then it waits, without counting failures), `preRollout` must answer 2xx once
    before any traffic or the release fails at 0 %, a `rollout` hook is checked with every analysis like a
    non-critical gate, a `rollback` hook answering 2xx rolls the release back, and `postRollout` is told the final
    phase once the release has ended."""

    name: str = Field(pattern=DNS_LABEL, max_length=63)
    """The hook's name, unique among the hooks and the gates of the release; it appears in status and Events."""

    stage: HookStage
    """When it is called: `confirmRollout`, `preRollout`, `rollout`, `confirmPromotion`, `rollback` or
    `postRollout`."""

    webhook: Webhook
    """The call: URL (through the operator's URL allowlist), headers, timeout (shorter than `analysis.interval`),
    retries and `metadata`, as for a `webhook` gate."""

    def gate(self) -> Gate:
        """The hook as the `webhook` gate that measures it: the same name, non-critical, thresholds of 1."""
        return Gate(name=self.name, webhook=self.webhook)


def check_hooks(hooks: tuple[Hook, ...], gates: tuple[Gate, ...], interval: timedelta) -> None:
    """Raise `ValueError` naming what is wrong with `hooks` beside the release's `gates`: a repeated name (hooks
    and gates share the status's per-name records), a timeout not shorter than the analysis `interval` (a hook is
    called at most once per interval), or more `rollout` hooks than the analysis has room for (they run as its
    gates, at most `MAX_GATES` in all)."""
    names = [hook.name for hook in hooks] + [gate.name for gate in gates]
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise ValueError(f"hooks must have names unique among the hooks and the gates; repeated: {', '.join(repeated)}")
    for hook in hooks:
        if hook.webhook.timeout >= interval:
            raise ValueError(
                f"hook {hook.name}: webhook timeout {format_duration(hook.webhook.timeout)} must be shorter than the "
                f"analysis interval {format_duration(interval)}"
            )
    rollout = sum(hook.stage == ROLLOUT for hook in hooks)
    if rollout + len(gates) > MAX_GATES:
        raise ValueError(
            f"rollout hooks run as gates of the analysis: {len(gates)} gates and {rollout} rollout hooks are more "
            f"than {MAX_GATES}"
        )
