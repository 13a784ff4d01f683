"""The `prometheus` gate's observation side: resolve the queries and the source, ask, and record the answers.

Why it only observes: "is 2 % errors against stable's 1 % a failure?" is the domain's judgement
(`graygate.domain.analysis.prometheus`), made with no network. This module's job is to send exactly the queries the
domain planned (`analysis.promql.plan_queries`), canary and stable concurrently so both describe the same
moment, and to report what came back, faithfully. It never raises for a failed query or an unreadable Secret:
those are observations too, and the judge turns them into an `Error` verdict.

The source: `prometheus.source` from the spec, with `source.address` falling back to the operator-wide default
address given to the constructor. Credentials and CA bundles are read through the `SecretReader` port at every
analysis, from the release's namespace, so a rotated token is used at once.

The default Prometheus may need credentials of its own, which the platform team mounts as files
(`DefaultCredentials`: `token`, or `username` and `password`, and optionally `ca.crt`). They are read at every
analysis too (kubelet rewrites a mounted Secret in place), and sent only to the default address: a gate that names
its own `source.address` never receives them, so no release can lead the operator's token elsewhere. A credential
the gate's source sets itself wins over the file of the same kind.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from graygate.api.gates import GateCheck
from graygate.api.gates.prometheus import Prometheus, PrometheusSource
from graygate.api.gates.promql import UnresolvedVariable, UnsafeValue, promql_duration
from graygate.domain.analysis.prometheus import PrometheusMeasurement, QueryReading, SeriesValue
from graygate.domain.analysis.promql import QueryScope, plan_queries, window_of
from graygate.errors import GateError, GraygateError
from graygate.gates.prometheus_login import DefaultCredentials, line
from graygate.gates.tools import GateTools, expect
from graygate.ports.metrics import BasicCredentials, MetricProvider, MetricSource
from graygate.ports.secrets import SecretReader

__all__ = ["PrometheusObserver"]


class PrometheusObserver:
    """Queries Prometheus for one gate; a `graygate.ports.Observer` of `prometheus` checks.

    It owns `provider` from construction on: `close()` closes it.
    """

    @classmethod
    def of(cls, tools: GateTools) -> PrometheusObserver:
        return cls(
            tools.metrics,
            secrets=tools.secrets,
            default_address=tools.default_prometheus,
            default_credentials=tools.default_credentials,
        )

    def __init__(
        self,
        provider: MetricProvider | None,
        secrets: SecretReader | None = None,
        default_address: str | None = None,
        default_credentials: DefaultCredentials | None = None,
    ) -> None:
        self._provider = provider
        self._secrets = secrets
        self._default_address = default_address
        self._default_credentials = default_credentials

    async def observe(
        self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None = None
    ) -> PrometheusMeasurement:
        """Send the gate's queries at `now`; what went wrong is recorded in the measurement, never raised."""
        try:
            return await self._observe(gate, expect(check, Prometheus), now, scope)
        except Exception as error:
            return PrometheusMeasurement(gate=gate, observed_at=now, error=f"the prometheus gate failed: {error}")

    async def _observe(
        self, name: str, check: Prometheus, now: datetime, scope: QueryScope | None
    ) -> PrometheusMeasurement:
        def failed(why: str, window: str = "") -> PrometheusMeasurement:
            return PrometheusMeasurement(gate=name, observed_at=now, window=window, error=why)

        if scope is None:
            return failed("the operator gave no release to fill the query's variables in with")
        window = promql_duration(window_of(check, scope.spec))
        if self._provider is None:
            return failed("no metric provider is configured in this operator", window)
        try:
            plan = plan_queries(check, scope, now)
            source = await self._source(check.source, scope.namespace)
        except (UnresolvedVariable, UnsafeValue, GraygateError) as e:
            return failed(str(e), window)
        roles = (
            plan.canary,
            plan.stable,
            plan.canary_served,
            plan.stable_served,
            plan.canary_recent,
            plan.stable_recent,
        )
        readings = await asyncio.gather(*(self._ask(self._provider, source, q, now) for q in roles))
        canary, stable, canary_served, stable_served, canary_recent, stable_recent = readings
        if canary is None:  # pragma: no cover - every plan has a canary query
            return failed("no canary query was planned", window)
        return PrometheusMeasurement(
            gate=name,
            observed_at=now,
            window=plan.window,
            span=plan.span,
            canary=canary,
            stable=stable,
            canary_served=canary_served,
            stable_served=stable_served,
            canary_recent=canary_recent,
            stable_recent=stable_recent,
        )

    async def close(self) -> None:
        """Close the provider."""
        if self._provider is not None:
            await self._provider.close()

    @staticmethod
    async def _ask(
        provider: MetricProvider, source: MetricSource, query: str | None, now: datetime
    ) -> QueryReading | None:
        if query is None:
            return None
        try:
            result = await provider.query(source, query, now)
        except Exception as e:  # a provider that raises is a bug there; it must not stop the other queries
            return QueryReading(query=query, error=f"the metric provider failed: {type(e).__name__}: {e}")
        if result.failure is not None:
            return QueryReading(query=query, error=f"{result.failure}: {result.message}")
        series = tuple(SeriesValue(labels=sample.labels, value=sample.value) for sample in result.samples)
        return QueryReading(query=query, series=series)

    async def _source(self, spec: PrometheusSource | None, namespace: str) -> MetricSource:
        spec = spec or PrometheusSource()
        address = spec.address or self._default_address
        if not address:
            raise GateError(
                "no Prometheus address: set prometheus.source.address, or give the operator a default address"
            )
        token = basic = ca = None
        if spec.bearer_token is not None:
            ref = spec.bearer_token
            token = line(await self._secret(namespace, ref.secret_ref.name, ref.key))
        if spec.basic_auth is not None:
            auth = spec.basic_auth
            username = await self._secret(namespace, auth.secret_ref.name, auth.username_key)
            password = await self._secret(namespace, auth.secret_ref.name, auth.password_key)
            basic = BasicCredentials(username=line(username), password=line(password))
        if spec.ca is not None:
            bundle = spec.ca
            if bundle.secret_ref is not None:
                ca = await self._secret(namespace, bundle.secret_ref.name, bundle.key)
            elif bundle.config_map_ref is not None:
                ca = await self._config_map(namespace, bundle.config_map_ref.name, bundle.key)
        if not spec.address and self._default_credentials is not None:
            files = await asyncio.to_thread(self._default_credentials.read)
            if token is None and basic is None:
                token, basic = files.token, files.basic
            ca = ca if ca is not None else files.ca_pem
        return MetricSource(
            address=address,
            headers=tuple(sorted(spec.headers.items())),
            bearer_token=token,
            basic_auth=basic,
            ca_pem=ca,
            timeout_s=spec.timeout.total_seconds(),
        )

    async def _secret(self, namespace: str, name: str, key: str) -> str:
        reader = self._reader()
        try:
            return await reader.secret_value(namespace, name, key)
        except GraygateError as e:
            raise GateError(f"cannot read key {key} of Secret {namespace}/{name}: {e}") from e

    async def _config_map(self, namespace: str, name: str, key: str) -> str:
        reader = self._reader()
        try:
            return await reader.config_map_value(namespace, name, key)
        except GraygateError as e:
            raise GateError(f"cannot read key {key} of ConfigMap {namespace}/{name}: {e}") from e

    def _reader(self) -> SecretReader:
        if self._secrets is None:
            raise GateError("the source needs a Secret or ConfigMap, but no Secret reader is configured")
        return self._secrets
