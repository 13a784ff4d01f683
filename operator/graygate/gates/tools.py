"""What the gate observers share, built once by the composition root: the HTTP fetcher, the etcd connections, the
metric provider, the Secret reader and the operator's default Prometheus.

Why one bundle: every observer is built from the same value (`Observer.of(tools)` in the table of kinds), so a new
kind that needs the fetcher or etcd takes it from here and neither the runner nor `wiring.py` changes. The runner
owns the bundle from construction on and closes it after its observers.
"""

from __future__ import annotations

from typing import TypeVar

from graygate.api.gates import GateCheck
from graygate.errors import GateError
from graygate.gates.fetch import HttpFetcher
from graygate.gates.prometheus_login import DefaultCredentials
from graygate.http.client import Outbound
from graygate.ports.metrics import MetricProvider
from graygate.ports.secrets import SecretReader
from graygate.store.connections import EtcdConnector, EtcdFactory, etcd_store

__all__ = ["GateTools", "expect"]

C = TypeVar("C")


class GateTools:
    """`metrics` (the provider `prometheus` gates query; owned by their observer), `secrets`, `default_prometheus`
    (the address used when a gate's `source.address` is omitted) and `default_credentials` (its login) serve the
    `prometheus` gates; `secrets` and `etcd_factory` the etcd gates; `fetcher` (default: a new `HttpFetcher`) the
    release checks; `outbound` (default: no link-local or metadata address) where every HTTP request may go."""

    def __init__(
        self,
        *,
        metrics: MetricProvider | None = None,
        secrets: SecretReader | None = None,
        default_prometheus: str | None = None,
        default_credentials: DefaultCredentials | None = None,
        etcd_factory: EtcdFactory = etcd_store,
        fetcher: HttpFetcher | None = None,
        outbound: Outbound | None = None,
    ) -> None:
        self.metrics = metrics
        self.secrets = secrets
        self.default_prometheus = default_prometheus
        self.default_credentials = default_credentials
        self.outbound = outbound or Outbound()
        self.fetcher = fetcher or HttpFetcher(outbound=self.outbound)
        self.etcd = EtcdConnector(etcd_factory, secrets)

    async def close(self) -> None:
        await self.fetcher.close()
        await self.etcd.close()


def expect(check: GateCheck, model: type[C]) -> C:
    """`check` as the model an observer serves; another kind is a wiring bug, raised as a `GateError`."""
    if isinstance(check, model):
        return check
    raise GateError(f"an observer of {model.__name__} was given a {type(check).__name__} check")
