"""The `graygate-notifications` ConfigMap of a namespace: the notification settings of the releases there that
set none (and, in the operator's own namespace, of every release that finds none in its namespace). Read by that
one name only; a namespace without it has no default."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client

from graygate.errors import NotFoundError
from graygate.kube.client import kube_errors
from graygate.ports.notifications import SETTINGS_CONFIG_MAP, SETTINGS_KEY


class KubeNotificationSettings:
    """Implements `graygate.ports.notifications.NotificationSettingsReader`."""

    def __init__(self, api: client.ApiClient) -> None:
        self._core: Any = client.CoreV1Api(api)

    async def notification_settings(self, namespace: str) -> str | None:
        return await asyncio.to_thread(self._read, namespace)

    def _read(self, namespace: str) -> str | None:
        try:
            with kube_errors(f"ConfigMap {namespace}/{SETTINGS_CONFIG_MAP}"):
                config_map = self._core.read_namespaced_config_map(SETTINGS_CONFIG_MAP, namespace)
        except NotFoundError:
            return None
        value: str | None = (config_map.data or {}).get(SETTINGS_KEY)
        return value
