"""Kubernetes Events for a CanaryRelease: one per transition and verdict, with graygate's fixed reason vocabulary.

Posted as `events.k8s.io/v1` Events regarding the release, so `kubectl describe canaryrelease` and
`kubectl get events` show the story. An Event that cannot be posted is logged and dropped: it must never stop a
rollback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Any

from kubernetes import client

from graygate.errors import KubeError
from graygate.kube.client import kube_errors
from graygate.ports.release import ReleaseRef

REPORTING_CONTROLLER = "graygate.dev/operator"
MAX_NOTE_BYTES = 1024
"""The API server refuses an Event whose note is longer than this many bytes (not characters)."""
_ELLIPSIS = "…"

log = logging.getLogger(__name__)


class KubeEvents:
    def __init__(self, api: client.ApiClient, instance: str) -> None:
        self._events: Any = client.EventsV1Api(api)
        self._instance = instance

    async def post(self, release: ReleaseRef, event_type: str, reason: str, note: str, now: dt.datetime) -> None:
        try:
            await asyncio.to_thread(self._post, release, event_type, reason, note, now)
        except KubeError as error:
            log.warning("could not post Event %s for %s/%s: %s", reason, release.namespace, release.name, error)

    def _post(self, release: ReleaseRef, event_type: str, reason: str, note: str, now: dt.datetime) -> None:
        body = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"{release.name}.{uuid.uuid4().hex[:12]}", "namespace": release.namespace},
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "type": event_type,
            "reason": reason,
            "action": reason,
            "note": fit_note(note),
            "reportingController": REPORTING_CONTROLLER,
            "reportingInstance": self._instance,
            "regarding": {
                "apiVersion": release.api_version,
                "kind": release.kind,
                "name": release.name,
                "namespace": release.namespace,
                "uid": release.uid,
            },
        }
        with kube_errors(f"Event for {release.namespace}/{release.name}"):
            self._events.create_namespaced_event(release.namespace, body)


def fit_note(note: str, limit: int = MAX_NOTE_BYTES) -> str:
    """`note` cut to at most `limit` bytes of UTF-8, ending with "…" (3 bytes) when cut, never inside a character:
    the one place a note is cut, so every Event is accepted whatever its text."""
    data = note.encode()
    if len(data) <= limit:
        return note
    room = limit - len(_ELLIPSIS.encode())
    return data[:room].decode(errors="ignore") + _ELLIPSIS


def events_for(api: client.ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    """graygate's Events about one release, oldest first, as plain dicts (eventTime, type, reason, note)."""
    events: Any = client.EventsV1Api(api)
    with kube_errors(f"Events of {namespace}/{name}"):
        listed = events.list_namespaced_event(
            namespace, field_selector=f"regarding.name={name},reportingController={REPORTING_CONTROLLER}"
        )
    found = [
        {"eventTime": item.event_time, "type": item.type, "reason": item.reason, "note": item.note or ""}
        for item in listed.items
    ]
    return sorted(found, key=lambda event: event["eventTime"] or dt.datetime.min.replace(tzinfo=dt.UTC))
