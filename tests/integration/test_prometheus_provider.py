"""Prometheus gates against a real Prometheus: the lab's stable and canary backends serve real requests, count them
in Istio-shaped series, Prometheus (Debian's binary, our own instance) scrapes them every second, and the real
provider, gate runner and judge turn the answers into verdicts. No Kubernetes.

The canary fails one request in ten (deterministically) and takes 30 ms per request; the stable is healthy and
fast. One module-wide lab keeps the whole file near 15 s: most of it is Prometheus's first scrape (~5 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from e2e.lab import Backend, BackendIdentity, Knobs, Prometheus, wait_for
from graygate.api import CanaryReleaseSpec, Gate, Outcome
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.analysis.verdicts import Verdict
from graygate.gates.runner import GateRunner
from graygate.gates.tools import GateTools
from graygate.ports.metrics import MetricSource, QueryFailure
from graygate.providers.prometheus import PrometheusProvider

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]

REQUESTS = 400
CANARY_TOTAL = 'sum(increase(istio_requests_total{destination_workload="app-canary"}[1m]))'


@dataclass(frozen=True)
class Lab:
    prometheus: Prometheus
    scope: QueryScope


async def _send(backend: Backend, count: int) -> None:
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with session.get(f"{backend.url}/checkout") as response:
                await response.read()

        for _ in range(count // 50):
            await asyncio.gather(*(one() for _ in range(50)))
        await asyncio.gather(*(one() for _ in range(count % 50)))


def _spec() -> CanaryReleaseSpec:
    return CanaryReleaseSpec.model_validate(
        {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "app"}]}},
            "stable": {"host": "app", "subset": "stable"},
            "canary": {"host": "app", "subset": "canary"},
            "canaryWorkload": {"name": "app-canary"},
            "stableWorkload": {"name": "app-stable"},
            "stepWeights": [50],
        }
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Lab]:
    stable = Backend(BackendIdentity("stable"))
    canary = Backend(BackendIdentity("canary"), Knobs(error_rate=0.1, latency_ms=30))
    async with stable, canary:
        targets = {"stable": [stable.url.removeprefix("http://")], "canary": [canary.url.removeprefix("http://")]}
        prometheus = Prometheus(tmp_path_factory.mktemp("prometheus"), targets)
        await prometheus.start()
        try:
            # Every series (the canary's 500s included) must exist, scraped a few times, before the traffic, or
            # increase() cannot see the traffic: a series' first sample has nothing to increase from. With Istio
            # in a real mesh the series are long-lived and this is moot.
            await asyncio.gather(_send(stable, 10), _send(canary, 10))
            await wait_for(_scraped(prometheus, "count(istio_requests_total)", 3), 20, "the first scrape")
            await asyncio.sleep(2)
            await asyncio.gather(_send(stable, REQUESTS), _send(canary, REQUESTS))
            await wait_for(_scraped(prometheus, CANARY_TOTAL, 0.9 * REQUESTS), 10, "the canary's traffic in Prometheus")
            await asyncio.sleep(2)
            yield Lab(prometheus, QueryScope(namespace="default", release="app", spec=_spec()))
        finally:
            await prometheus.stop()


def _scraped(prometheus: Prometheus, promql: str, at_least: float) -> Any:
    async def check() -> bool:
        value = await prometheus.query_value(promql)
        return value is not None and value >= at_least

    return check


async def verdict_of(lab: Lab, check: dict[str, Any], address: str | None = None) -> Verdict:
    gate = Gate.model_validate({"name": "g", "prometheus": {"window": "1m", **check}})
    runner = GateRunner(GateTools(metrics=PrometheusProvider(), default_prometheus=address or lab.prometheus.url))
    try:
        (measured,) = await runner.measure([gate], datetime.now(UTC), lab.scope)
    finally:
        await runner.close()
    return judge(gate, measured)


# The backends count what they served (reporter="destination"); with no proxy in front of them there is no
# callers' view here, so the success-rate checks ask for the destinations'.
async def test_the_canarys_extra_errors_fail_the_success_rate(lab: Lab) -> None:
    rule = {"min": 95, "maxIncreasePoints": 1, "reporter": "destination"}
    verdict = await verdict_of(lab, {"requestSuccessRate": rule})
    assert verdict.outcome is Outcome.FAIL, verdict.reason
    assert "canary success rate 9" in verdict.reason
    assert "is below min 95% (stable 100.00% in the last 60s)" in verdict.reason
    assert "allowed +1.00; anytime-valid bounds at alpha 0.05" in verdict.reason
    assert "so worse than allowed" in verdict.reason
    assert verdict.value is not None
    assert "stable 100.00% success (0 of" in verdict.value
    assert verdict.query is not None
    assert 'destination_workload="app-canary"' in verdict.query
    assert "[60s]" in verdict.query


async def test_a_loose_enough_allowance_passes(lab: Lab) -> None:
    verdict = await verdict_of(lab, {"requestSuccessRate": {"maxIncreasePoints": 15, "reporter": "destination"}})
    assert verdict.outcome is Outcome.PASS, verdict.reason


async def test_the_canarys_latency_against_stables(lab: Lab) -> None:
    slow = await verdict_of(lab, {"requestDuration": {"max": "1s", "maxRatio": 1.5}})
    assert slow.outcome is Outcome.FAIL, slow.reason
    assert "is above 1.5x the stable's p99 bucket bound" in slow.reason
    assert slow.value is not None
    assert slow.value.startswith("canary p99 ")
    fast_enough = await verdict_of(lab, {"requestDuration": {"quantile": 0.5, "max": "100ms"}})
    assert fast_enough.outcome is Outcome.PASS, fast_enough.reason


async def test_a_custom_template_is_rendered_and_judged(lab: Lab) -> None:
    selector = 'destination_workload="{{ %sWorkload }}", destination_workload_namespace="{{ namespace }}"'
    expr = "sum(increase(istio_requests_total{%s}[{{ interval }}]))"
    check = {"query": {"expr": expr % (selector % "canary"), "stableExpr": expr % (selector % "stable"), "maxRatio": 2}}
    verdict = await verdict_of(lab, check)
    assert verdict.outcome is Outcome.PASS, verdict.reason
    assert "x stable's" in verdict.reason
    assert verdict.value is not None
    assert verdict.value.startswith("canary 4")


async def test_an_empty_answer_follows_on_no_data(lab: Lab) -> None:
    check = {"query": {"expr": 'sum(istio_requests_total{destination_workload="nobody"})', "max": 1}}
    assert (await verdict_of(lab, check)).outcome is Outcome.INCONCLUSIVE
    failing = await verdict_of(lab, {**check, "onNoData": "fail"})
    assert failing.outcome is Outcome.FAIL
    assert "no data: the canary query found no series" in failing.reason


@pytest.mark.parametrize(
    ("promql", "failure", "said"),
    [
        ("sum(rate(istio_requests_total[1m]", QueryFailure.REJECTED, "parse error"),
        ("istio_requests_total[1m]", QueryFailure.REJECTED, "range vector"),
    ],
)
async def test_prometheus_refusing_a_query_is_named(lab: Lab, promql: str, failure: QueryFailure, said: str) -> None:
    provider = PrometheusProvider()
    try:
        result = await provider.query(MetricSource(address=lab.prometheus.url), promql, datetime.now(UTC))
    finally:
        await provider.close()
    assert result.failure is failure
    assert said in result.message
    check = {"query": {"expr": promql, "max": 1}}
    verdict = await verdict_of(lab, check)
    assert verdict.outcome is Outcome.ERROR
    assert said in verdict.reason


async def test_a_stopped_prometheus_is_an_error_verdict_not_an_exception(lab: Lab, tmp_path: Path) -> None:
    own = Prometheus(tmp_path / "prometheus", {"nothing": ["127.0.0.1:9"]})
    await own.start()
    check = {"query": {"expr": "vector(1)", "max": 1}}
    assert (await verdict_of(lab, check, address=own.url)).outcome is Outcome.PASS
    await own.stop()
    verdict = await verdict_of(lab, check, address=own.url)
    assert verdict.outcome is Outcome.ERROR
    assert f"the canary query failed: Unreachable: cannot connect to {own.url}: Connection refused" in verdict.reason
