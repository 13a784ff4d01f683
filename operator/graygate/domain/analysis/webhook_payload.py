"""The JSON a webhook receives about a release: one shape for the `webhook` gate, every stage hook and the generic
webhook notification.

Why one pure builder: a receiver written for one of them (a smoke-test runner, a change-ticket bot) reads the
others without a second parser, and what leaves the operator is decided here, where a test can read it whole. It
holds the release's data and the webhook's own `metadata`, nothing else: never a Secret's value (a Secret reaches a
receiver only in a header the user configured), and never the annotations tools keep for themselves: kubectl's
`last-applied-configuration` (a copy of the whole manifest) and graygate's own `graygate.dev/` ones (Kopf's progress
and last-handled copy of the spec, the `command` a user sent).

    {
      "name": "checkout", "namespace": "shop",
      "phase": "Progressing",        # the status' phase as the operator last wrote it
      "stage": "rollout",            # the stage hook's stage; "rollout" for the webhook gate
      "step": 2,                     # 1-based, as `status.stepDisplay` shows it (`2/4`); 1 before the first step
      "canaryWeight": 20, "stableWeight": 80,
      "canaryRevision": "7d9f…",     # status.revision (with `workload`), else null
      "stableRevision": "5c4b…",     # status.stableRevision (with `workload`), else null
      "labels": {...}, "annotations": {...},   # the release's own
      "metadata": {...}              # the webhook's `metadata`
    }
"""

from __future__ import annotations

from collections.abc import Mapping

from graygate.api.status import CanaryReleaseStatus
from graygate.domain.analysis.promql import QueryScope

__all__ = [
    "LAST_APPLIED",
    "OPERATOR_PREFIX",
    "STAGE_ROLLOUT",
    "own_annotations",
    "payload_of_scope",
    "release_payload",
    "webhook_payload",
]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
OPERATOR_PREFIX = "graygate.dev/"
STAGE_ROLLOUT = "rollout"
"""The stage of the `webhook` gate: it runs with every analysis, as Flagger's `rollout` hook does."""

Payload = dict[str, object]


def own_annotations(annotations: Mapping[str, str] | None) -> dict[str, str]:
    """The release's annotations a receiver may see: all but kubectl's last-applied copy of the manifest and
    graygate's own bookkeeping (`graygate.dev/...`)."""
    return {
        key: str(value)
        for key, value in (annotations or {}).items()
        if key != LAST_APPLIED and not key.startswith(OPERATOR_PREFIX)
    }


def webhook_payload(
    *,
    name: str,
    namespace: str,
    status: CanaryReleaseStatus | None,
    stage: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Payload:
    """The payload for the release `namespace/name` in `status` (None: not started, as a fresh status) at `stage`."""
    current = status if status is not None else CanaryReleaseStatus()
    return release_payload(
        name=name,
        namespace=namespace,
        phase=str(current.phase.value),
        stage=stage,
        step=current.current_step_index + 1,
        canary_weight=current.canary_weight,
        canary_revision=current.revision,
        stable_revision=current.stable_revision,
        labels=labels,
        annotations=annotations,
        metadata=metadata,
    )


def release_payload(
    *,
    name: str,
    namespace: str,
    phase: str,
    stage: str,
    step: int,
    canary_weight: int,
    canary_revision: str | None,
    stable_revision: str | None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Payload:
    """The payload's fields from their values (`step` 1-based): the one place their names and forms are decided,
    for the gate and hooks (`webhook_payload`) and the generic-webhook notification."""
    return {
        "name": name,
        "namespace": namespace,
        "phase": phase,
        "stage": stage,
        "step": step,
        "canaryWeight": canary_weight,
        "stableWeight": 100 - canary_weight,
        "canaryRevision": canary_revision,
        "stableRevision": stable_revision,
        "labels": {key: str(value) for key, value in (labels or {}).items()},
        "annotations": own_annotations(annotations),
        "metadata": dict(metadata or {}),
    }


def payload_of_scope(
    scope: QueryScope | None, *, stage: str = STAGE_ROLLOUT, metadata: Mapping[str, str] | None = None
) -> Payload:
    """The payload for the release a gate runs in (`scope`; None: no release, every field of it empty)."""
    if scope is None:
        return webhook_payload(name="", namespace="", status=None, stage=stage, metadata=metadata)
    return webhook_payload(
        name=scope.release,
        namespace=scope.namespace,
        status=scope.status,
        stage=stage,
        labels=scope.labels,
        annotations=scope.annotations,
        metadata=metadata,
    )
