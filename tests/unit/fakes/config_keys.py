"""A release's etcd config keys (`ports.ConfigKeys`) in memory, with the real store's guards, and failures on demand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from graygate.api.etcd import EtcdConnection
from graygate.domain.config.release_config import ApplyConfig, ConfigReading, KeyReading, RestoreConfig
from graygate.store import EtcdUnavailable


@dataclass
class InMemoryConfigKeys:
    """Key -> (value, mod_revision); one store revision per transaction that changes something; `apply` and
    `restore` guarded by mod_revision (0: absent) exactly like the real store's. `log` is a call log a test may share
    with other fakes: each call adds `etcd.<method>`."""

    log: list[str] = field(default_factory=list)
    data: dict[str, tuple[str, int]] = field(default_factory=dict)
    revision: int = 0
    failing_applies: int = 0
    failing_restores: int = 0
    read_error: str | None = None

    def mod(self, key: str) -> int:
        return self.data[key][1] if key in self.data else 0

    def values(self) -> dict[str, str]:
        return {key: value for key, (value, _) in self.data.items()}

    def commit(self, changes: Mapping[str, str | None]) -> None:
        """One transaction: puts (and deletes of existing keys) all get the same new revision."""
        if all(value is None and key not in self.data for key, value in changes.items()):
            return
        self.revision += 1
        for key, value in changes.items():
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = (value, self.revision)

    async def read(self, etcd: EtcdConnection, namespace: str, keys: Sequence[str]) -> ConfigReading:
        self.log.append("etcd.read")
        if self.read_error is not None:
            return ConfigReading(error=self.read_error)
        return ConfigReading(
            keys={key: KeyReading(*self.data[key]) if key in self.data else KeyReading(None) for key in keys}
        )

    async def apply(self, namespace: str, action: ApplyConfig) -> bool:
        self.log.append("etcd.apply")
        assert set(action.changes) == set(action.expected)
        if self.failing_applies:
            self.failing_applies -= 1
            raise EtcdUnavailable("no etcd endpoint answered")
        if any(self.mod(key) != revision for key, revision in action.expected.items()):
            return False
        self.commit(action.changes)
        return True

    async def restore(self, namespace: str, action: RestoreConfig) -> tuple[str, ...]:
        self.log.append("etcd.restore")
        assert set(action.previous) == set(action.written)
        if self.failing_restores:
            self.failing_restores -= 1
            raise EtcdUnavailable("no etcd endpoint answered")
        back = {key: action.previous[key] for key, revision in action.written.items() if self.mod(key) == revision}
        self.commit(back)
        return tuple(back)
