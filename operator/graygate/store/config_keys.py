"""A release's etcd keys (`spec.config`) through the same connections as the etcd gates: the `ConfigKeys` port.

Why here: the keys live in the application's etcd, reached exactly like the `hotReload` and `etcdConfig` gates
reach it (endpoints, TLS and credentials from Secrets in the release's namespace), so they share `EtcdConnector`
and its pool rather than opening a second set of connections. The rules (what to write, what to put back) are in
`graygate.domain.config.release_config`; this module only moves bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from graygate.api.etcd import EtcdConnection
from graygate.domain.config.release_config import ApplyConfig, ConfigReading, KeyReading, RestoreConfig
from graygate.errors import GraygateError
from graygate.store import PriorValue
from graygate.store.connections import EtcdConnector

__all__ = ["EtcdConfigKeys"]


class EtcdConfigKeys:
    """`graygate.ports.ConfigKeys` on etcd."""

    def __init__(self, connector: EtcdConnector) -> None:
        self._connector = connector

    async def read(self, etcd: EtcdConnection, namespace: str, keys: Sequence[str]) -> ConfigReading:
        try:
            store = await self._connector.store(etcd, namespace)
            snapshot = await store.read_keys(keys)
        except GraygateError as error:
            return ConfigReading(error=str(error))
        found = {
            key: KeyReading(None) if entry is None else KeyReading(entry.value, entry.mod_revision)
            for key, entry in snapshot.entries.items()
        }
        return ConfigReading(keys=found)

    async def apply(self, namespace: str, action: ApplyConfig) -> bool:
        store = await self._connector.store(action.etcd, namespace)
        result = await store.apply_if_unchanged(action.changes, action.expected)
        return result.applied

    async def restore(self, namespace: str, action: RestoreConfig) -> tuple[str, ...]:
        store = await self._connector.store(action.etcd, namespace)
        previous = {key: PriorValue(value) for key, value in action.previous.items()}
        result = await store.restore(previous, action.written)
        return result.restored
