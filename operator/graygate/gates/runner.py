"""Runs every gate of a release once, concurrently, and hands the domain one Measurement per gate.

Why here and not in the service: the mapping from a gate's spec to its observer, and from the observer's raw sample
to the domain's Measurement, is the one place that knows every gate kind. A new kind is one module plus one branch
in `_measure`. A gate that raises is a bug in that gate, not a verdict: it is turned into an error measurement so
one broken gate never stops the others, and the domain judges it as `Error`.

Every collaborator has a default so `GateRunner()` still works; without a metric provider, `prometheus` gates
measure an error that says so. `measure` takes the release (`scope`) because query templates name it; without one,
`prometheus` gates measure an error too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from graygate.api.gates import Gate, HttpProbe, Prometheus
from graygate.domain.measurements import HttpProbeMeasurement, Measurement, PrometheusMeasurement
from graygate.domain.promql import QueryScope
from graygate.gates.http_probe import HttpProbeGate, HttpProbeRequest
from graygate.gates.prometheus import PrometheusGate, PrometheusRequest
from graygate.ports import MetricProvider, SecretReader


class GateRunner:
    """`metrics` (owned from here on, closed by `close()`), `secrets` and `default_prometheus` (the operator-wide
    Prometheus address used when a gate's `source.address` is omitted) serve the `prometheus` gates."""

    def __init__(
        self,
        http_probe: HttpProbeGate | None = None,
        *,
        metrics: MetricProvider | None = None,
        secrets: SecretReader | None = None,
        default_prometheus: str | None = None,
    ) -> None:
        self._http_probe = http_probe or HttpProbeGate()
        self._prometheus = PrometheusGate(metrics, secrets=secrets, default_address=default_prometheus)

    async def measure(
        self, gates: Sequence[Gate], now: datetime, scope: QueryScope | None = None
    ) -> tuple[Measurement, ...]:
        results = await asyncio.gather(*(self._measure(gate, now, scope) for gate in gates))
        return tuple(results)

    async def close(self) -> None:
        await self._http_probe.close()
        await self._prometheus.close()

    async def _measure(self, gate: Gate, now: datetime, scope: QueryScope | None) -> Measurement:
        check = gate.check
        if isinstance(check, HttpProbe):
            return await self._probe(gate.name, check, now)
        if isinstance(check, Prometheus):
            return await self._query(gate.name, check, now, scope)
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
