"""The generic webhook: one JSON document per transition, with the fields the webhook gate and the stage hooks
send where they apply (`name`, `namespace`, `phase`, `step`, `canaryWeight`, `stableWeight`, `canaryRevision`,
`stableRevision`, the release's own `labels` and `annotations`), plus what the transition was and why. `title`,
`body` and `type` are also the fields an Apprise API server's `/notify/{KEY}` endpoint reads, so a webhook channel
pointed at one reaches the services Apprise supports."""

from __future__ import annotations

from typing import Any

from graygate.domain.release.notifications import Kind, Notification
from graygate.notifiers.text import suppressed_line, title

__all__ = ["webhook_payload"]

_APPRISE_TYPE = {
    Kind.SUCCEEDED: "success",
    Kind.ROLLED_BACK: "failure",
    Kind.STALLED: "failure",
    Kind.PAUSED: "warning",
    Kind.WAITING_FOR_APPROVAL: "warning",
    Kind.ABORTED: "warning",
}


def webhook_payload(note: Notification, suppressed: int = 0) -> dict[str, Any]:
    return {
        "name": note.release,
        "namespace": note.namespace,
        "stage": "notification",
        "transition": note.kind.value,
        "reason": note.reason,
        "phase": note.phase.value,
        "step": note.step,
        "canaryWeight": note.canary_weight,
        "stableWeight": note.stable_weight,
        "canaryRevision": note.canary_revision,
        "stableRevision": note.stable_revision,
        "labels": dict(note.labels),
        "annotations": dict(note.annotations),
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
