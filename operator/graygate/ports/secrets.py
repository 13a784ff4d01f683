"""Secrets and ConfigMaps in a release's namespace, read by name."""

from __future__ import annotations

from typing import Protocol


class SecretReader(Protocol):
    """Reads one value of a Secret or a ConfigMap. ``graygate.kube.secrets`` implements it; tests use a fake.

    Raises ``graygate.errors.NotFoundError`` when the object or the key does not exist (the message names which),
    ``ForbiddenError`` when RBAC says no, ``ApiUnavailableError`` otherwise.
    """

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        """``data[key]`` of the Secret, base64-decoded and UTF-8 decoded."""
        ...

    async def config_map_value(self, namespace: str, name: str, key: str) -> str:
        """``data[key]`` of the ConfigMap."""
        ...
