"""A private Prometheus scrapes the lab's backends: a canary made to fail shows up in Istio's query language."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from e2e.lab import TrafficLab, wait_for

pytestmark = pytest.mark.timeout(60)

FIVE_XX_RATE = 'sum(rate(istio_requests_total{reporter="destination", response_code=~"5.."}[10s]))'
CANARY_SUCCESS = (
    'sum(rate(istio_requests_total{reporter="destination", destination_workload="app-canary", response_code!~"5.."}'
    '[10s])) / sum(rate(istio_requests_total{reporter="destination", destination_workload="app-canary"}[10s]))'
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


CALLER_UH = (
    'sum(istio_requests_total{reporter="source", destination_subset="canary", destination_workload="unknown",'
    ' response_code="503", response_flags="UH"})'
)
CANARY_SERVED = 'sum(istio_requests_total{reporter="destination", destination_workload="app-canary"})'


async def test_an_empty_canary_subset_shows_in_prometheus_only_on_the_caller_side() -> None:
    async with TrafficLab(prometheus=True) as lab:
        await lab.apply_virtualservice(TrafficLab.weighted_virtualservice({"stable": 50, "canary": 50}))
        await lab.set_subset_endpoints("canary", False)
        load = lab.load(rate_per_s=40, max_requests=800, max_duration_s=25)
        load.start()
        try:
            await lab.prometheus.wait_targets_up(timeout_s=15)
            await wait_for(_positive(lab, CALLER_UH), 10, "caller-side 503 UH for the canary in Prometheus")
            assert await lab.prometheus.query_value(CANARY_SERVED) is None
            stable = await lab.prometheus.query_value(
                'sum(istio_requests_total{reporter="source", destination_workload="app-stable"})'
            )
        finally:
            result = await load.stop()
    assert stable is not None
    assert stable > 0
    assert 503 in result.statuses()


async def test_prometheus_comes_back_after_an_outage_with_its_earlier_samples() -> None:
    everything = 'sum(istio_requests_total{reporter="destination"})'
    async with TrafficLab(prometheus=True) as lab:
        await lab.apply_virtualservice(TrafficLab.weighted_virtualservice({"stable": 50, "canary": 50}))
        url = lab.prometheus_url
        load = lab.load(rate_per_s=20, max_requests=800, max_duration_s=40)
        load.start()
        try:
            await lab.prometheus.wait_targets_up(timeout_s=15)
            await wait_for(_positive(lab, everything), 10, "a first count in Prometheus")
            before_at = time.time()
            before = await lab.prometheus.query_value(everything, at=before_at)

            stopped_at, back_at = await lab.prometheus_outage(4)
            assert lab.prometheus_url == url
            assert back_at - stopped_at >= 4
            lab.check()  # a halted-and-resumed Prometheus is not a dead one

            assert await lab.prometheus.query_value(everything, at=before_at) == before  # the TSDB was kept
            gap = await lab.prometheus.query_value('count_over_time(up{job="backends"}[3s])', at=stopped_at + 3.5)
            assert gap is None  # nothing was scraped while it was down
            await lab.prometheus.wait_targets_up(timeout_s=15)
            await wait_for(_above(lab, everything, before or 0.0), 10, "counts scraped after the outage")
        finally:
            await load.stop()


def _positive(lab: TrafficLab, promql: str) -> Callable[[], Awaitable[bool]]:
    return _above(lab, promql, 0.0)


def _above(lab: TrafficLab, promql: str, floor: float) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        value = await lab.prometheus.query_value(promql)
        return value is not None and value > floor

    return check
