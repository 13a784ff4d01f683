"""Release checks as pre-checks, with the real operator and the traffic lab: a canary that drops a metric label, one
that drops an API response field and one that never reloads its configuration are each stopped before any traffic
moves (the VirtualService never gives the canary a single percent), with a message naming the metric and label, the
JSON pointer, or what the canary still reports. A healthy canary passes the same pre-checks and is promoted.

The application's configuration lives in an etcd of its own (the `config_etcd` fixture; the sandbox's etcd belongs
to the API server).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from kubernetes import client

from e2e.lab import TrafficLab
from e2e.support import apply_release, lab_release, wait_phase, wait_weights
from graygate.store import EtcdSettings
from graygate.store.etcd.store import EtcdStore
from tests.cluster_support import OperatorProcess, weights

PREFIX = "/app/config/"
PROBE_KEY = f"{PREFIX}graygate-probe"
ORDER_TOTAL = "/paths/~1orders~1{id}/get/responses/200/content/application~1json/schema/properties/total"


class CanaryWeights:
    """Samples the canary weight of VirtualService `app` in the API server every 50 ms: the highest seen."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api, self.namespace, self.highest = api, namespace, 0

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[CanaryWeights]:
        async def sample() -> None:
            while True:
                _, canary = await asyncio.to_thread(weights, self.api, self.namespace, "app")
                self.highest = max(self.highest, canary)
                await asyncio.sleep(0.05)

        task = asyncio.create_task(sample())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def metric_parity(lab: TrafficLab) -> dict[str, Any]:
    urls = {"stableUrl": lab.backend_url("stable") + "/metrics", "canaryUrl": lab.backend_url("canary") + "/metrics"}
    return {"name": "metrics", "preCheck": True, "metricParity": {**urls, "timeout": "500ms"}}


def api_compat(lab: TrafficLab) -> dict[str, Any]:
    urls = {
        "stableUrl": lab.backend_url("stable") + "/openapi.json",
        "canaryUrl": lab.backend_url("canary") + "/openapi.json",
    }
    return {"name": "api", "preCheck": True, "apiCompat": {**urls, "timeout": "500ms"}}


def hot_reload(lab: TrafficLab, etcd: str) -> dict[str, Any]:
    check = {
        "etcd": {"endpoints": [etcd], "dialTimeout": "300ms"},
        "key": PROBE_KEY,
        "ttl": "30s",
        "url": lab.backend_url("canary") + "/config",
        "jsonPath": "$.values.graygate-probe",
        "deadline": "700ms",
        "pollInterval": "50ms",
    }
    return {"name": "reload", "preCheck": True, "hotReload": check}


async def stopped_before_traffic(
    api: client.ApiClient, namespace: str, gates: list[dict[str, Any]]
) -> tuple[dict[str, Any], int]:
    """Apply a release with `gates`; return its status once it has ended, and the highest canary weight seen."""
    async with CanaryWeights(api, namespace).watching() as seen:
        await apply_release(api, namespace, lab_release("app", [{"setWeight": 50}], gates))
        done = await wait_phase(api, namespace, "app", {"Failed", "Succeeded", "Progressing"}, 30)
        await asyncio.sleep(0.5)  # a late write would show here
    return done["status"], seen.highest


def assert_never_routed(status: dict[str, Any], highest: int) -> None:
    assert status["phase"] == "Failed", status["message"]
    assert highest == 0, f"the canary got {highest}% of the traffic"
    assert status["canaryWeight"] == 0
    assert "startedAt" not in status or status["startedAt"] is None
    assert [(t["from"], t["to"], t["reason"], t["weight"]) for t in status["history"]] == [
        ("Pending", "Failed", "PreCheckFailed", 0)
    ]


async def test_a_canary_that_drops_a_metric_label_is_stopped_at_the_pre_check(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    await lab.set_knobs("canary", drop_metric_label="version")
    status, highest = await stopped_before_traffic(api, namespace, [metric_parity(lab)])
    assert_never_routed(status, highest)
    assert status["message"].startswith("pre-check metrics failed: LabelDropped: app_build_info lost label 'version'")
    assert status["message"].endswith("; the canary never got traffic")


async def test_a_canary_that_drops_an_api_response_field_is_stopped_at_the_pre_check(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    await lab.set_knobs("canary", drop_response_field="total")
    status, highest = await stopped_before_traffic(api, namespace, [api_compat(lab)])
    assert_never_routed(status, highest)
    assert status["message"].startswith("pre-check api failed: 1 breaking change: ResponsePropertyRemoved at ")
    assert ORDER_TOTAL in status["message"]
    assert "property 'total' was removed" in status["message"]


async def seed_config(etcd: str, lab: TrafficLab, *, reload_broken: bool) -> None:
    """Put the application's configuration in etcd and point the canary at it; wait until it has read it."""
    store = EtcdStore(EtcdSettings(endpoints=(etcd,)))
    try:
        await store.apply({f"{PREFIX}greeting": "hello", PROBE_KEY: "none-yet"})
    finally:
        await store.aclose()
    await lab.set_knobs("canary", config_etcd=etcd, config_prefix=PREFIX, reload_broken=reload_broken)
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            async with http.get(lab.backend_url("canary") + "/config") as answer:
                config = json.loads(await answer.text())
            if config.get("values", {}).get("graygate-probe") == "none-yet":
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"the canary never read its config from etcd: {config}")


async def test_a_canary_that_never_reloads_its_config_fails_before_any_traffic_moves(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess, config_etcd: str
) -> None:
    await seed_config(config_etcd, lab, reload_broken=True)
    status, highest = await stopped_before_traffic(api, namespace, [hot_reload(lab, config_etcd)])
    assert_never_routed(status, highest)
    assert status["message"].startswith(
        "pre-check reload failed: canary did not reload within 700ms (it reports 'none-yet', not 'graygate-"
    )


async def test_a_healthy_canary_passes_every_pre_check_and_is_promoted(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess, config_etcd: str
) -> None:
    await seed_config(config_etcd, lab, reload_broken=False)
    gates = [metric_parity(lab), api_compat(lab), hot_reload(lab, config_etcd)]
    load = lab.load(rate_per_s=40, max_requests=1500, max_duration_s=30)
    load.start()
    try:
        await apply_release(api, namespace, lab_release("app", [{"setWeight": 50}], gates))
        done = await wait_phase(api, namespace, "app", {"Failed", "Succeeded"}, 30)
    finally:
        await load.stop()
    status = done["status"]
    assert status["phase"] == "Succeeded", status["message"]
    history = [(t["from"], t["to"], t["reason"], t["weight"]) for t in status["history"]]
    assert history[0] == ("Pending", "Progressing", "Started", 50)
    results = {(r["gate"], r["weight"], r["verdict"]) for r in status["recentResults"]}
    assert {("metrics", 50, "Pass"), ("api", 50, "Pass"), ("reload", 50, "Pass")} <= results
    await wait_weights(api, namespace, "app", (0, 100), 10)
