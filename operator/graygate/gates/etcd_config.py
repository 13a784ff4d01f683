"""The `etcdConfig` gate's observation side: ask the canary which configuration it runs, then read etcd's.

Why it only observes: whether the two agree is the judge's call (`graygate.domain.analysis.etcd_config`). This module
records the canary's answer and etcd's state of the prefix, and never raises for either failing.

Why this order: the canary is asked first and etcd read second, so etcd's revision is never older than the one
the canary can report; a canary reporting a newer revision than etcd's current one really reads another cluster.
A change landing between the two reads can make one sample disagree: `failureThreshold` absorbs that.
"""

from __future__ import annotations

from datetime import datetime

from graygate.api.gates import EtcdConfig, GateCheck
from graygate.domain.analysis.etcd_config import EtcdConfigMeasurement, PrefixReading
from graygate.domain.analysis.promql import QueryScope
from graygate.errors import GraygateError
from graygate.gates.fetch import HttpFetcher, json_document
from graygate.gates.tools import GateTools, expect
from graygate.store.connections import EtcdConnector

__all__ = ["EtcdConfigObserver"]


class EtcdConfigObserver:
    """Observes `etcdConfig` gates through a shared connector and fetcher (which their owner closes)."""

    @classmethod
    def of(cls, tools: GateTools) -> EtcdConfigObserver:
        return cls(tools.etcd, tools.fetcher)

    def __init__(self, connector: EtcdConnector, fetcher: HttpFetcher) -> None:
        self._connector = connector
        self._fetcher = fetcher

    async def observe(
        self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None = None
    ) -> EtcdConfigMeasurement:
        return await self._observe(gate, expect(check, EtcdConfig), now, scope.namespace if scope is not None else None)

    async def close(self) -> None:
        """Nothing of its own to close: the fetcher and the etcd connections belong to the tools."""

    async def _observe(
        self, gate: str, check: EtcdConfig, now: datetime, namespace: str | None
    ) -> EtcdConfigMeasurement:
        """The canary's report, then etcd's state of `check.prefix`."""
        download = await self._fetcher.get(
            check.url, headers=check.headers, timeout_s=check.timeout.total_seconds(), accept="application/json"
        )
        report = json_document(download)
        try:
            store = await self._connector.store(check.etcd, namespace)
            snapshot = await store.get_prefix(check.prefix)
        except GraygateError as error:
            return EtcdConfigMeasurement(gate=gate, observed_at=now, report=report, error=str(error))
        state = PrefixReading(
            prefix=check.prefix,
            hash=snapshot.hash,
            last_modified=max((entry.mod_revision for entry in snapshot.entries.values()), default=0),
            revision=snapshot.revision,
            keys=len(snapshot.entries),
        )
        return EtcdConfigMeasurement(gate=gate, observed_at=now, state=state, report=report)
