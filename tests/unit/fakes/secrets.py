"""The Secret and ConfigMap reader (`ports.SecretReader`) in memory, failing as the API server does for a key it
does not have."""

from __future__ import annotations

from dataclasses import dataclass, field

from graygate.errors import NotFoundError


@dataclass
class FakeSecrets:
    """Values by (kind, namespace, name, key), kind being `Secret` or `ConfigMap`."""

    values: dict[tuple[str, str, str, str], str] = field(default_factory=dict)

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        return self._get("Secret", namespace, name, key)

    async def config_map_value(self, namespace: str, name: str, key: str) -> str:
        return self._get("ConfigMap", namespace, name, key)

    def _get(self, kind: str, namespace: str, name: str, key: str) -> str:
        try:
            return self.values[(kind, namespace, name, key)]
        except KeyError:
            raise NotFoundError(f"{kind} {namespace}/{name} has no key {key}") from None
