"""The generic webhook: one JSON document per transition, built on the payload the webhook gate and the stage
hooks send (`domain.analysis.webhook_payload.release_payload`: `name`, `namespace`, `phase`, `stage`
(`"notification"`), `step` (1-based, an integer as the hooks send it), `canaryWeight`, `stableWeight`,
`canaryRevision`, `stableRevision`, the release's own `labels` and `annotations`, `metadata` (empty)), plus
`stepDisplay` (`"1/3"`, as `kubectl get` shows it) and what the transition was and why. `title`, `body` and `type`
are also the fields an Apprise API server's `/notify/{KEY}` endpoint reads, so a webhook channel pointed at one
reaches the services Apprise supports."""

from __future__ import annotations

from typing import Any

from graygate.domain.analysis.webhook_payload import release_payload
from graygate.domain.release.notifications import Kind, Notification
from graygate.notifiers.text import suppressed_line, title

__all__ = ["STAGE_NOTIFICATION", "notification_document"]

STAGE_NOTIFICATION = "notification"
"""The `stage` of a notification's document (a hook's is its stage, the gate's `rollout`)."""

_APPRISE_TYPE = {
    Kind.SUCCEEDED: "success",
    Kind.ROLLED_BACK: "failure",
    Kind.STALLED: "failure",
    Kind.PAUSED: "warning",
    Kind.WAITING_FOR_APPROVAL: "warning",
    Kind.ABORTED: "warning",
}


def notification_document(note: Notification, suppressed: int = 0) -> dict[str, Any]:
    """The generic webhook's JSON for `note` (`suppressed`: messages the rate limit dropped before it)."""
    shared = release_payload(
        name=note.release,
        namespace=note.namespace,
        phase=note.phase.value,
        stage=STAGE_NOTIFICATION,
        step=note.step_number,
        canary_weight=note.canary_weight,
        canary_revision=note.canary_revision,
        stable_revision=note.stable_revision,
        labels=note.labels,
        annotations=note.annotations,
    )
    return {
        **shared,
        "stepDisplay": note.step,
        "transition": note.kind.value,
        "reason": note.reason,
        "message": note.message,
        "failedGates": [
            {"gate": gate.gate, "value": gate.value, "threshold": gate.threshold, "reason": gate.reason}
            for gate in note.failed_gates
        ],
        "at": note.at.isoformat(),
        "suppressed": suppressed,
        "title": title(note),
        "body": note.message + suppressed_line(suppressed),
        "type": _APPRISE_TYPE.get(note.kind, "info"),
    }
