"""The notifications' seams: where a tick hands its notifications over, and where the namespace's and the
cluster's default settings are read."""

from __future__ import annotations

from typing import Protocol

from graygate.api.notifications import Notifications
from graygate.domain.release.notifications import Notification
from graygate.ports.release import ReleaseRef

SETTINGS_CONFIG_MAP = "graygate-notifications"
"""The ConfigMap holding a namespace's (or, in the operator's namespace, the cluster's) default settings."""
SETTINGS_KEY = "notifications.yaml"
"""Its key: the same YAML as a release's `spec.notifications`."""


class NotificationSink(Protocol):
    """Takes a tick's notifications without waiting (`graygate.notifiers.dispatcher.Dispatcher`): it never
    raises and never blocks; what it cannot take it drops and counts."""

    def submit(
        self, ref: ReleaseRef, settings: Notifications | None, notifications: tuple[Notification, ...]
    ) -> None: ...


class NotificationSettingsReader(Protocol):
    """Reads `SETTINGS_KEY` of the `SETTINGS_CONFIG_MAP` ConfigMap in a namespace: None when there is none."""

    async def notification_settings(self, namespace: str) -> str | None: ...
