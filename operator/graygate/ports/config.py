"""etcd, as a release's config keys, the etcd gates and the freeze watch use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from graygate.api.etcd import EtcdConnection
from graygate.domain.config.release_config import ApplyConfig, ConfigReading, RestoreConfig
from graygate.store.errors import EtcdError
from graygate.store.model import GuardedApply, KeysSnapshot, KeyState, PrefixSnapshot, PriorValue, RestoreResult

# ---- a release's etcd keys ----


class ConfigKeys(Protocol):
    """The etcd keys a release sets (`spec.config`). Secrets named by `etcd` live in `namespace`."""

    async def read(self, etcd: EtcdConnection, namespace: str, keys: Sequence[str]) -> ConfigReading:
        """The keys in one consistent read; a failure is returned in `ConfigReading.error`, never raised."""
        ...

    async def apply(self, namespace: str, action: ApplyConfig) -> bool:
        """Write in one transaction if every guard holds; False when one did not (nothing was written)."""
        ...

    async def restore(self, namespace: str, action: RestoreConfig) -> tuple[str, ...]:
        """Put back every key still at its written revision, in one transaction; returns the keys put back."""
        ...


# ---- etcd, as the gates, the config keys and the freeze watch use it ----


class ConfigStore(Protocol):
    """What the etcd gates and a release's config keys ask of etcd (`graygate.store.etcd.store.EtcdStore`).
    Raises `graygate.store.EtcdError` words, never etcd3's."""

    async def get_prefix(self, prefix: str) -> PrefixSnapshot: ...

    async def put_with_lease(self, key: str, value: str, ttl_s: int) -> int: ...

    async def read_keys(self, keys: Sequence[str]) -> KeysSnapshot: ...

    async def apply_if_unchanged(
        self, changes: Mapping[str, str | None], expected: Mapping[str, int]
    ) -> GuardedApply: ...

    async def restore(self, previous: Mapping[str, PriorValue], written: Mapping[str, int]) -> RestoreResult: ...

    async def aclose(self) -> None: ...


class WatchConnection(Protocol):
    """One connection to etcd, used by one `graygate.store.watch.Watch`; every method raises `EtcdError`."""

    def read(self, key: str) -> tuple[KeyState, int]:
        """The key's state and the store revision of the read."""

    def watch(
        self, key: str, start_revision: int, on_state: Callable[[KeyState], None], on_error: Callable[[EtcdError], None]
    ) -> Callable[[], None]:
        """Deliver every change from `start_revision` on; `on_error` once when the stream breaks. Returns cancel."""

    def close(self) -> None: ...
