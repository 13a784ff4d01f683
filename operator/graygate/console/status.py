"""`graygate status NAME`: wait for the release's current run to end and exit by its outcome, printing each
transition (`status.history`) as it happens. What a pipeline runs after `kubectl apply` or a Git push.

Exit codes (also `get NAME --watch --until-done`'s):

    0  Succeeded
    1  Failed (rolled back), Aborted or Invalid
    2  waiting for a human: Paused (a `pause: {}` step, a confirmPromotion hook, inconclusive analyses, a progress
       deadline under `onProgressDeadline: pause`, a manual pause), or Pending for a `confirmRollout` hook's
       approval (AwaitingConfirmation); neither ends by itself
    3  the timeout passed before any of these
    4  could not tell: no such release, no usable kubeconfig or context, a bad `--timeout`, or the API server
       still failing when the timeout passed (an error in between is retried: one failed GET is not an outcome)

Which run is "current" is decided once, when the command starts, from what is there now: the release's spec as it
is (`metadata.generation`: the status counts only once `status.observedGeneration` reached it, so a phase left by
the previous spec is never read as the new one's) and, with `spec.workload`, the Deployment's pod template as it is
(the status counts only once `status.revision` is that template's revision, so a `Succeeded` of the previous
version is never read as the new one's). A run that starts later (another commit meanwhile) makes the wait go on
to that run's end, since its revision differs. The revision is computed by the operator's own code
(`KubeFollowedWorkloads.canary_revision`): with `trackConfig` it also hashes the ConfigMaps and Secrets the pod
template uses, so a commit that changes only a ConfigMap is waited for too.

A bounded poll (one GET a second) instead of a watch: the same calls as `graygate get --watch`, and nothing to
resume after a dropped watch connection.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from graygate.api import CanaryReleaseStatus, Phase, Transition
from graygate.errors import GraygateError, KubeError
from graygate.kube.client import ApiClient
from graygate.kube.releases import KubeReleases

__all__ = [
    "COULD_NOT_TELL",
    "TIMED_OUT",
    "StatusRequest",
    "Target",
    "exit_code",
    "parse_duration",
    "run_status",
    "target_of",
    "transition_line",
]

SUCCEEDED, FAILED, PAUSED, TIMED_OUT, COULD_NOT_TELL = 0, 1, 2, 3, 4
_CODES = {
    Phase.SUCCEEDED: SUCCEEDED,
    Phase.FAILED: FAILED,
    Phase.ABORTED: FAILED,
    Phase.INVALID: FAILED,
    Phase.PAUSED: PAUSED,
}
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class StatusRequest:
    namespace: str
    name: str
    timeout_s: float
    interval_s: float = 1.0


@dataclass(frozen=True)
class Target:
    """The run to wait for: the spec generation, and with a followed workload the revision, it must be of."""

    generation: int | None
    revision: str | None = None


def parse_duration(text: str) -> float:
    """`90s`, `30m`, `1h`, `1h30m` or a plain number of seconds."""
    rest, total = text.strip(), 0.0
    try:
        if rest and rest[-1].isdigit():
            return _positive(float(rest), text)
        while rest:
            digits = len(rest) - len(rest.lstrip("0123456789."))
            number, unit, rest = rest[:digits], rest[digits : digits + 1], rest[digits + 1 :]
            total += float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        raise GraygateError(f"--timeout {text!r}: expected a duration such as 90s, 30m or 1h") from None
    return _positive(total, text)


def _positive(value: float, text: str) -> float:
    if value <= 0:
        raise GraygateError(f"--timeout {text!r}: must be more than 0")
    return value


def exit_code(release: dict[str, Any], target: Target) -> int | None:
    """The exit code of the run `target` names if it has ended (or paused), else None: still running, or the
    status still speaks of an earlier spec or revision."""
    raw = release.get("status") or {}
    if target.generation is not None and (raw.get("observedGeneration") or 0) < target.generation:
        return None
    if target.revision is not None and raw.get("revision") != target.revision:
        return None
    phase = raw.get("phase")
    if phase == Phase.PENDING.value and _awaiting_rollout_approval(release):
        return PAUSED
    return _CODES.get(Phase(phase)) if phase in {p.value for p in Phase} else None


def _awaiting_rollout_approval(release: dict[str, Any]) -> bool:
    """Pending until a `confirmRollout` hook it has asked already says yes: waiting for a human, like a pause
    (the operator's own reading, `hook_records.waiting_for_rollout_approval`)."""
    from graygate.api.spec import CanaryReleaseSpec
    from graygate.domain.release.hook_records import waiting_for_rollout_approval

    try:
        spec = CanaryReleaseSpec.model_validate(release.get("spec") or {})
        status = CanaryReleaseStatus.model_validate(release.get("status") or {})
    except ValueError:
        return False
    return waiting_for_rollout_approval(spec, status)


def target_of(release: dict[str, Any], template_revision: str | None) -> Target:
    generation = (release.get("metadata") or {}).get("generation")
    return Target(generation=int(generation) if generation is not None else None, revision=template_revision)


def transition_line(entry: Transition) -> str:
    """`12:04:31  Progressing -> Paused  step 4, canary 50%  AwaitingPromotion: …`."""
    when = entry.at.strftime("%H:%M:%S")
    line = f"{when}  {entry.from_.value} -> {entry.to.value}  step {entry.step + 1}, canary {entry.weight}%"
    line += f"  {entry.reason}"
    return line + (f": {entry.message}" if entry.message else "")


def _key(entry: Transition) -> str:
    return json.dumps(entry.model_dump(mode="json", by_alias=True), sort_keys=True)


def workload_revision(api: ApiClient, namespace: str, release: dict[str, Any]) -> str | None:
    """The revision the operator computes for the followed Deployment now (its pod template, and with trackConfig
    the ConfigMaps and Secrets it uses: `KubeFollowedWorkloads.canary_revision`, the operator's own code); None
    with no workload or no Deployment yet."""
    from graygate.api.spec import FollowedWorkload
    from graygate.kube.followed import KubeFollowedWorkloads

    workload = (release.get("spec") or {}).get("workload")
    if not isinstance(workload, dict) or not workload.get("name"):
        return None
    try:
        followed = FollowedWorkload.model_validate(workload)
    except ValueError as error:
        raise GraygateError(f"spec.workload of {namespace}/{release['metadata']['name']}: {error}") from None
    return KubeFollowedWorkloads(api).canary_revision(namespace, followed)


def run_status(
    api: ApiClient,
    request: StatusRequest,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    releases = KubeReleases(api)
    where = f"{request.namespace}/{request.name}"
    deadline = clock() + request.timeout_s
    release = releases.get(request.namespace, request.name)
    target = target_of(release, workload_revision(api, request.namespace, release))
    status = CanaryReleaseStatus.model_validate(release.get("status") or {})
    seen = {_key(entry) for entry in status.history}
    print(f"{where}: {status.phase.value} {status.step_display or '-'}, canary {status.canary_weight}%", file=out)
    out.flush()
    while True:
        code = exit_code(release, target)
        if code is not None:
            status = CanaryReleaseStatus.model_validate(release.get("status") or {})
            said = f" ({status.pause_reason.value})" if status.phase is Phase.PAUSED and status.pause_reason else ""
            message = f": {status.message}" if status.message else ""
            print(f"{where}: {status.phase.value}{said}{message}", file=out)
            return code
        if clock() >= deadline:
            print(f"{where}: still {status.phase.value} after {request.timeout_s:g} s: timed out", file=out)
            return TIMED_OUT
        sleep(min(request.interval_s, max(0.0, deadline - clock())))
        try:
            release = releases.get(request.namespace, request.name)
        except KubeError as error:
            # One failed GET is not an outcome: retried until the deadline, and then "could not tell" (4).
            if clock() >= deadline:
                raise
            print(f"graygate: {error} (retrying until the timeout)", file=sys.stderr, flush=True)
            continue
        status = CanaryReleaseStatus.model_validate(release.get("status") or {})
        for entry in status.history:
            if (key := _key(entry)) not in seen:
                seen.add(key)
                print(transition_line(entry), file=out)
        out.flush()
