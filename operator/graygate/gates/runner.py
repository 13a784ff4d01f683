"""Runs every gate of a release once, concurrently, and hands the domain one Measurement per gate.

Why here and not in the service: the mapping from a gate's spec to its observer, and from the observer's raw sample
to the domain's Measurement, is the one place that knows every gate kind. A new kind is one module plus one branch
in `_measure`. A gate that raises is a bug in that gate, not a verdict: it is turned into an error measurement so
one broken gate never stops the others, and the domain judges it as `Error`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from graygate.api.gates import Gate, HttpProbe
from graygate.domain.measurements import HttpProbeMeasurement, Measurement
from graygate.gates.http_probe import HttpProbeGate, HttpProbeRequest


class GateRunner:
    def __init__(self, http_probe: HttpProbeGate | None = None) -> None:
        self._http_probe = http_probe or HttpProbeGate()

    async def measure(self, gates: Sequence[Gate], now: datetime) -> tuple[Measurement, ...]:
        results = await asyncio.gather(*(self._measure(gate, now) for gate in gates))
        return tuple(results)

    async def close(self) -> None:
        await self._http_probe.close()

    async def _measure(self, gate: Gate, now: datetime) -> Measurement:
        check = gate.check
        if isinstance(check, HttpProbe):
            return await self._probe(gate.name, check, now)
        raise AssertionError(f"no observer for gate kind {type(check).__name__}")  # pragma: no cover

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
