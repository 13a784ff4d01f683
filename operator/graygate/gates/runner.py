"""Runs every gate of a release once, concurrently, and hands the domain one Measurement per gate.

Why here and not in the service: the mapping from a gate's spec to its observer, and from the observer's raw sample
to the domain's Measurement, is the one place that knows every gate kind. A new kind is one module plus one branch
in `_measure`. A gate that raises is a bug in that gate, not a verdict: it is turned into an error measurement so
one broken gate never stops the others, and the domain judges it as `Error`.

Every collaborator has a default so `GateRunner()` still works; without a metric provider, `prometheus` gates
measure an error that says so. `measure` takes the release (`scope`) because query templates name it and the
etcd gates read their Secrets from its namespace; without one, `prometheus` gates measure an error, and etcd gates
do when they need a Secret. The etcd gates build their connections with `etcd_factory` (default: the real
`EtcdStore`), and the release checks share one `HttpFetcher`.

The platform team's `url_allowlist` is checked here, once for every kind, before a gate is asked to observe: a
gate whose URL is outside it measures an error naming the gate and the URL, and sends nothing (`refusals` lets the
handler refuse such a release as Invalid before it starts; this check covers a list narrowed mid-release). The
operator's own default Prometheus address is the platform team's choice, so it is not checked; an address a release
names is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from graygate.api.gates import (
    ApiCompat,
    EtcdConfig,
    Gate,
    GateCheck,
    HotReload,
    HttpProbe,
    MetricParity,
    Prometheus,
)
from graygate.api.routing_check import RoutingCheck
from graygate.domain.analysis.measurements import (
    ApiCompatMeasurement,
    EtcdConfigMeasurement,
    HotReloadMeasurement,
    HttpProbeMeasurement,
    Measurement,
    MetricParityMeasurement,
    PrometheusMeasurement,
    RoutingCheckMeasurement,
)
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.url_allowlist import UrlAllowlist
from graygate.gates.api_compat import ApiCompatGate
from graygate.gates.etcd_config import EtcdConfigGate
from graygate.gates.fetch import HttpFetcher
from graygate.gates.hot_reload import HotReloadGate
from graygate.gates.http_probe import HttpProbeGate, HttpProbeRequest
from graygate.gates.metric_parity import MetricParityGate
from graygate.gates.prometheus import DefaultCredentials, PrometheusGate, PrometheusRequest
from graygate.gates.routing_check import RoutingCheckGate, RoutingCheckRequest
from graygate.ports import MetricProvider, SecretReader
from graygate.store.connections import EtcdConnector, EtcdFactory, etcd_store


class GateRunner:
    """`metrics` (owned from here on, closed by `close()`), `secrets`, `default_prometheus` (the operator-wide
    Prometheus address used when a gate's `source.address` is omitted) and `default_credentials` (its login)
    serve the `prometheus` gates; `secrets` and `etcd_factory` serve the etcd gates; `fetcher` (owned, closed by
    `close()`) the release checks. `url_allowlist` bounds the URLs every gate may call."""

    def __init__(
        self,
        http_probe: HttpProbeGate | None = None,
        *,
        metrics: MetricProvider | None = None,
        secrets: SecretReader | None = None,
        default_prometheus: str | None = None,
        default_credentials: DefaultCredentials | None = None,
        etcd_factory: EtcdFactory = etcd_store,
        fetcher: HttpFetcher | None = None,
        url_allowlist: UrlAllowlist | None = None,
    ) -> None:
        self._http_probe = http_probe or HttpProbeGate()
        self._prometheus = PrometheusGate(
            metrics, secrets=secrets, default_address=default_prometheus, default_credentials=default_credentials
        )
        self._allowlist = url_allowlist or UrlAllowlist()
        self._fetcher = fetcher or HttpFetcher()
        self._etcd = EtcdConnector(etcd_factory, secrets)
        self._parity = MetricParityGate(self._fetcher)
        self._api = ApiCompatGate(self._fetcher)
        self._reload = HotReloadGate(self._etcd, self._fetcher)
        self._config = EtcdConfigGate(self._etcd, self._fetcher)
        self._routing = RoutingCheckGate()

    @property
    def etcd_connector(self) -> EtcdConnector:
        """The etcd connections the gates use; a release's config keys go through the same pool."""
        return self._etcd

    async def measure(
        self, gates: Sequence[Gate], now: datetime, scope: QueryScope | None = None
    ) -> tuple[Measurement, ...]:
        results = await asyncio.gather(*(self._measure(gate, now, scope) for gate in gates))
        return tuple(results)

    def refusals(self, gates: Sequence[Gate]) -> tuple[str, ...]:
        """What the allowlist refuses among the URLs these gates would call, one sentence per URL: the release is
        refused before it starts, rather than rolled back when its first check is not sent."""
        return tuple(
            refusal
            for gate in gates
            for url in urls_of(gate.check)
            if (refusal := self._allowlist.refusal(gate.name, url)) is not None
        )

    async def close(self) -> None:
        await self._http_probe.close()
        await self._prometheus.close()
        await self._fetcher.close()
        await self._etcd.close()
        await self._routing.close()

    async def _measure(self, gate: Gate, now: datetime, scope: QueryScope | None) -> Measurement:
        check, name = gate.check, gate.name
        namespace = scope.namespace if scope is not None else None
        refused = next(filter(None, (self._allowlist.refusal(name, url) for url in urls_of(check))), None)
        if isinstance(check, HttpProbe):
            if refused is not None:
                return HttpProbeMeasurement(
                    gate=name, observed_at=now, url=check.url, method=check.method, error=refused
                )
            return await self._probe(name, check, now)
        if isinstance(check, Prometheus):
            if refused is not None:
                return PrometheusMeasurement(gate=name, observed_at=now, error=refused)
            return await self._query(name, check, now, scope)
        if isinstance(check, MetricParity):
            return await _guarded(
                self._parity.observe(name, check, now),
                lambda why: MetricParityMeasurement(gate=name, observed_at=now, error=why),
                refused,
            )
        if isinstance(check, ApiCompat):
            return await _guarded(
                self._api.observe(name, check, now),
                lambda why: ApiCompatMeasurement(gate=name, observed_at=now, error=why),
                refused,
            )
        if isinstance(check, HotReload):
            return await _guarded(
                self._reload.observe(name, check, now, namespace),
                lambda why: HotReloadMeasurement(
                    gate=name,
                    observed_at=now,
                    key=check.key,
                    url=check.url,
                    json_path=check.json_path,
                    deadline=check.deadline,
                    error=why,
                ),
                refused,
            )
        if isinstance(check, EtcdConfig):
            return await _guarded(
                self._config.observe(name, check, now, namespace),
                lambda why: EtcdConfigMeasurement(gate=name, observed_at=now, error=why),
                refused,
            )
        if isinstance(check, RoutingCheck):
            return await _guarded(
                self._routing.observe(_routing_request(name, check), now),
                lambda why: RoutingCheckMeasurement(gate=name, observed_at=now, url=check.url, error=why),
                refused,
            )
        raise AssertionError(f"no observer for gate kind {type(check).__name__}")  # pragma: no cover

    async def _query(self, name: str, check: Prometheus, now: datetime, scope: QueryScope | None) -> Measurement:
        try:
            return await self._prometheus.observe(PrometheusRequest(gate=name, check=check, scope=scope), now)
        except Exception as error:
            return PrometheusMeasurement(gate=name, observed_at=now, error=f"the prometheus gate failed: {error}")

    async def _probe(self, name: str, probe: HttpProbe, now: datetime) -> HttpProbeMeasurement:
        request = HttpProbeRequest(
            url=probe.url, method=probe.method, headers=dict(probe.headers), timeout_s=probe.timeout.total_seconds()
        )
        try:
            sample = await self._http_probe.observe(request, now)
        except Exception as error:
            return HttpProbeMeasurement(
                gate=name, observed_at=now, url=probe.url, method=probe.method, error=f"probe failed: {error}"
            )
        return HttpProbeMeasurement(
            gate=name,
            observed_at=now,
            url=sample.url,
            method=sample.method,
            status_code=sample.status_code,
            latency=timedelta(seconds=sample.latency_s),
            body=sample.body_snippet,
            body_is_json=sample.body_is_json,
            body_json=sample.body_json,
            error=sample.error,
        )


async def _guarded(
    observing: Coroutine[Any, Any, Measurement], failed: Callable[[str], Measurement], refused: str | None
) -> Measurement:
    """The observation, or an error measurement when the gate raised (a bug there must not stop the others) or
    its URL is refused (then the observation never starts)."""
    if refused is not None:
        observing.close()
        return failed(refused)
    try:
        return await observing
    except Exception as error:
        return failed(f"the gate failed: {type(error).__name__}: {error}")


def urls_of(check: GateCheck) -> tuple[str, ...]:
    """Every URL a gate of this kind calls on the release author's word (not the operator's default Prometheus)."""
    if isinstance(check, HttpProbe | RoutingCheck | HotReload | EtcdConfig):
        return (check.url,)
    if isinstance(check, Prometheus):
        address = check.source.address if check.source is not None else None
        return (address,) if address else ()
    if isinstance(check, MetricParity):
        return tuple(url for url in (check.canary_url, check.stable_url) if url)
    if isinstance(check, ApiCompat):
        version = (check.version.url,) if check.version is not None else ()
        return (check.stable_url, check.canary_url, *version)
    raise AssertionError(f"no URLs known for gate kind {type(check).__name__}")  # pragma: no cover


def _routing_request(name: str, check: RoutingCheck) -> RoutingCheckRequest:
    return RoutingCheckRequest(
        gate=name,
        url=check.url,
        colored_headers=dict(check.colored_headers),
        colored=check.colored_requests,
        uncolored=check.uncolored_requests,
        version_header=check.version_header,
        timeout_s=check.timeout.total_seconds(),
    )
