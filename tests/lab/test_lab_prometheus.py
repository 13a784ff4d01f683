"""A private Prometheus scrapes the lab's backends: a canary made to fail shows up in Istio's query language."""

from __future__ import annotations

import asyncio
import time

import pytest

from e2e.lab import TrafficLab

pytestmark = pytest.mark.timeout(60)

FIVE_XX_RATE = 'sum(rate(istio_requests_total{reporter="destination", response_code=~"5.."}[10s]))'
CANARY_SUCCESS = (
    'sum(rate(istio_requests_total{destination_workload="app-canary", response_code!~"5.."}[10s]))'
    ' / sum(rate(istio_requests_total{destination_workload="app-canary"}[10s]))'
)


async def test_turning_the_canary_error_knob_up_shows_in_prometheus() -> None:
    async with TrafficLab(prometheus=True) as lab:
        await lab.apply_virtualservice(TrafficLab.weighted_virtualservice({"stable": 50, "canary": 50}))
        load = lab.load(rate_per_s=50, max_requests=2000, max_duration_s=40)
        load.start()
        try:
            await lab.prometheus.wait_targets_up(timeout_s=15)  # Prometheus's first scrape comes after ~5-10 s
            assert await lab.prometheus.query_value(FIVE_XX_RATE) in (None, 0.0)

            await lab.set_knobs("canary", error_rate=0.5)
            turned_up_at = time.monotonic()
            rate = None
            while not rate:
                assert time.monotonic() - turned_up_at < 10, "no 5xx in Prometheus 10 s after the knob turned"
                await asyncio.sleep(0.25)
                rate = await lab.prometheus.query_value(FIVE_XX_RATE)
            success = await lab.prometheus.query_value(CANARY_SUCCESS)
        finally:
            result = await load.stop()
    assert rate > 0
    assert success is not None
    assert success < 1.0
    assert result.failures()  # the clients saw it too
    assert {s.version for s in result.failures()} == {"canary"}
