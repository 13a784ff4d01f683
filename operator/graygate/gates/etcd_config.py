"""The `etcdConfig` gate's observation side: ask the canary which configuration it runs, then read etcd's.

Why it only observes: whether the two agree is the judge's call (`graygate.domain.analysis.config_checks`). This module
records the canary's answer and etcd's state of the prefix, and never raises for either failing.

Why this order: the canary is asked first and etcd read second, so etcd's revision is never older than the one
the canary can report; a canary reporting a newer revision than etcd's current one really reads another cluster.
A change landing between the two reads can make one sample disagree: `failureThreshold` absorbs that.
"""

from __future__ import annotations

from datetime import datetime

from graygate.api.gates import EtcdConfig
from graygate.domain.analysis.measurements import ConfigState, EtcdConfigMeasurement
from graygate.errors import GraygateError
from graygate.gates.fetch import HttpFetcher, json_document
from graygate.store.connections import EtcdConnector

__all__ = ["EtcdConfigGate"]


class EtcdConfigGate:
    """Observes `etcdConfig` gates through a shared connector and fetcher (which their owner closes)."""

    def __init__(self, connector: EtcdConnector, fetcher: HttpFetcher) -> None:
        self._connector = connector
        self._fetcher = fetcher

    async def observe(
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
        state = ConfigState(
            prefix=check.prefix,
            hash=snapshot.hash,
            last_modified=max((entry.mod_revision for entry in snapshot.entries.values()), default=0),
            revision=snapshot.revision,
            keys=len(snapshot.entries),
        )
        return EtcdConfigMeasurement(gate=gate, observed_at=now, state=state, report=report)
