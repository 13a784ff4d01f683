"""Reading one value of a Secret or a ConfigMap named by a gate (credentials, CA bundles), by name only: the
operator never lists Secrets, so its RBAC can grant `get` on exactly the names a platform team allows."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from kubernetes import client

from graygate.errors import NotFoundError
from graygate.kube.client import kube_errors


class KubeSecrets:
    """Implements `graygate.ports.SecretReader`."""

    def __init__(self, api: client.ApiClient) -> None:
        self._core: Any = client.CoreV1Api(api)

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        return await asyncio.to_thread(self._secret_value, namespace, name, key)

    async def config_map_value(self, namespace: str, name: str, key: str) -> str:
        return await asyncio.to_thread(self._config_map_value, namespace, name, key)

    def _secret_value(self, namespace: str, name: str, key: str) -> str:
        with kube_errors(f"Secret {namespace}/{name}"):
            secret = self._core.read_namespaced_secret(name, namespace)
        data = secret.data or {}
        if key not in data:
            raise NotFoundError(f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode("utf-8")

    def _config_map_value(self, namespace: str, name: str, key: str) -> str:
        with kube_errors(f"ConfigMap {namespace}/{name}"):
            config_map = self._core.read_namespaced_config_map(name, namespace)
        data = config_map.data or {}
        if key not in data:
            raise NotFoundError(f"ConfigMap {namespace}/{name} has no key {key!r}")
        value: str = data[key]
        return value
