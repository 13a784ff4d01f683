"""The e2e story once more with Gateway API: the release names an HTTPRoute instead of a VirtualService, istiod
(its Gateway API support on) turns the route into the lab's Envoy's configuration, and the users see a good canary
promoted step by step and a bad one rolled back.

The HTTPRoute is the mesh (GAMMA) kind: its parent is the Service `app` the users call, its backends the Services
`app-stable` and `app-canary`, each selecting the lab's endpoints (WorkloadEntries labelled as the pods of the
version's workload). graygate edits only the two `backendRefs[].weight`s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from kubernetes import client

from e2e.lab import TrafficLab
from e2e.lab.mesh import CLUSTER_LABEL, SERVICE_LABEL
from e2e.support import apply_release, istio_mesh, wait_phase
from graygate.sandbox import ControlPlane
from tests.cluster_support import OperatorProcess

HTTPROUTES = {"group": "gateway.networking.k8s.io", "version": "v1", "plural": "httproutes"}


def _service(name: str, selector: dict[str, str], port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"name": "http", "port": port, "appProtocol": "http"}]},
    }


def _route(port: int) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "app"},
        "spec": {
            "parentRefs": [{"group": "", "kind": "Service", "name": "app", "port": port}],
            "rules": [
                {
                    "name": "primary",
                    "backendRefs": [
                        {"name": "app-stable", "port": port, "weight": 100},
                        {"name": "app-canary", "port": port, "weight": 0},
                    ],
                }
            ],
        },
    }


def _release(port: int, steps: list[dict[str, Any]], gates: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": "CanaryRelease",
        "metadata": {"name": "app"},
        "spec": {
            "trafficRouting": {"gatewayAPI": {"httpRoutes": [{"name": "app", "rules": ["primary"]}]}},
            "stable": {"host": "app-stable", "port": port},
            "canary": {"host": "app-canary", "port": port},
            "steps": steps,
            "analysis": {"interval": "1s", "failureLimit": 0, "gates": gates},
        },
    }


def _canary_weight(api: client.ApiClient, namespace: str) -> int:
    route = client.CustomObjectsApi(api).get_namespaced_custom_object(**HTTPROUTES, namespace=namespace, name="app")
    refs = route["spec"]["rules"][0]["backendRefs"]
    return int(next(ref.get("weight", 1) for ref in refs if ref["name"] == "app-canary"))


@pytest.fixture
async def routed_lab(sandbox: ControlPlane, api: client.ApiClient, namespace: str) -> AsyncIterator[TrafficLab]:
    """The lab, its Envoy configured by istiod from HTTPRoute `app` (all traffic to `app-stable`)."""
    async with TrafficLab(prometheus=True, namespace=namespace, mesh=istio_mesh(sandbox)) as lab:
        port = lab.mesh_port
        core = client.CoreV1Api(api)
        for name, selector in (
            ("app", {SERVICE_LABEL: "app"}),
            ("app-stable", {SERVICE_LABEL: "app", CLUSTER_LABEL: "stable"}),
            ("app-canary", {SERVICE_LABEL: "app", CLUSTER_LABEL: "canary"}),
        ):
            core.create_namespaced_service(namespace, _service(name, selector, port))
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            **HTTPROUTES, namespace=namespace, body=_route(port)
        )
        await lab.prometheus.wait_targets_up()
        await _until_routed(lab)
        yield lab


async def _route_names(lab: TrafficLab) -> set[str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
        session.get(f"{lab.envoy.admin_url}/config_dump", params={"resource": "dynamic_route_configs"}) as answer,
    ):
        dump = await answer.json()
    return {
        route.get("name", "")
        for config in dump.get("configs", [])
        for host in config.get("route_config", {}).get("virtual_hosts", [])
        for route in host.get("routes", [])
    }


async def _until_routed(lab: TrafficLab, timeout_s: float = 15.0) -> None:
    """istiod pushes the HTTPRoute a moment after it is created: wait (bounded) until the lab's Envoy has the route
    istiod names after the HTTPRoute's rule (`primary`); before, the Service's default route spreads over both."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "primary" in await _route_names(lab):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"istiod never routed Service `app` through HTTPRoute app in {timeout_s} s")


def _probe(lab: TrafficLab) -> dict[str, Any]:
    return {
        "name": "health",
        "critical": True,
        "httpProbe": {"url": lab.backend_url("canary") + "/healthz", "timeout": "500ms"},
    }


async def test_a_healthy_canary_on_an_httproute_is_promoted_and_users_follow_the_steps(
    api: client.ApiClient, namespace: str, routed_lab: TrafficLab, operator: OperatorProcess
) -> None:
    lab = routed_lab
    steps = [{"setWeight": 20}, {"pause": {"duration": "3s"}}, {"setWeight": 60}, {"pause": {"duration": "3s"}}]
    load = lab.load(rate_per_s=50, max_requests=2000, max_duration_s=35)
    load.start()
    await apply_release(api, namespace, _release(lab.mesh_port, steps, [_probe(lab)]))
    done = await wait_phase(api, namespace, "app", {"Succeeded", "Failed"}, 30)
    succeeded_at = time.monotonic()
    await asyncio.sleep(1.5)
    result = await load.stop()

    assert done["status"]["phase"] == "Succeeded", done["status"]["message"]
    assert not result.failures(), result.statuses()
    shares = [w.share("canary") for w in result.windows(width_s=1.0) if w.share("canary") is not None]
    assert any(0.1 <= share <= 0.3 for share in shares), f"never saw ~20% canary: {shares}"
    assert any(0.5 <= share <= 0.7 for share in shares), f"never saw ~60% canary: {shares}"
    after = result.between(start=succeeded_at + 0.5)
    assert after.share("canary") == 1.0, f"after success: {after.counts()}"
    assert _canary_weight(api, namespace) == 100


async def test_a_bad_canary_on_an_httproute_is_rolled_back_and_users_return_to_stable(
    api: client.ApiClient, namespace: str, routed_lab: TrafficLab, operator: OperatorProcess
) -> None:
    lab = routed_lab
    steps = [{"setWeight": 30}, {"pause": {"duration": "30s"}}, {"setWeight": 60}]
    load = lab.load(rate_per_s=50, max_requests=2000, max_duration_s=35)
    load.start()
    await apply_release(api, namespace, _release(lab.mesh_port, steps, [_probe(lab)]))
    deadline = time.monotonic() + 20
    while await asyncio.to_thread(_canary_weight, api, namespace) != 30:  # not on the load generator's loop
        assert time.monotonic() < deadline, "the canary never got 30 %"
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)
    bad_at = time.monotonic()
    await lab.set_knobs("canary", error_rate=0.5, healthy=False)
    done = await wait_phase(api, namespace, "app", {"Failed"}, 20)
    failed_at = time.monotonic()
    await asyncio.sleep(3)
    result = await load.stop()

    assert "health" in done["status"]["message"], done["status"]["message"]
    assert _canary_weight(api, namespace) == 0
    during = result.between(start=bad_at, end=failed_at + 1.0)
    served = during.counts().get("canary", 0)
    failed = during.failures()
    print(f"\nwhile bad: {served} canary answers, {len(failed)} failed requests; users: {result.counts()}")
    assert served > 0, "the canary served nothing while bad: the story tested nothing"
    assert len(failed) <= served, (len(failed), served)
    after = result.between(start=failed_at + 1.0)
    assert after.counts(), "the load generator stopped before the rollback"
    assert after.share("canary") == 0.0, f"users still reached the canary after the rollback: {after.counts()}"
    assert not after.failures(), after.statuses()


async def test_coloured_requests_reach_the_canary_through_the_header_rule_graygate_adds_to_the_httproute(
    api: client.ApiClient, namespace: str, routed_lab: TrafficLab, operator: OperatorProcess
) -> None:
    """`setHeaderRoute` becomes a rule of its own in the HTTPRoute, with the header match and one backendRef to the
    canary; istiod orders it before the weighted rule (Gateway API: more header matches win), so coloured requests
    all reach the canary while the others follow the weights."""
    lab = routed_lab
    colour = {"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "always"}}}]}}
    steps = [colour, {"setWeight": 10}, {"pause": {}}]
    await apply_release(api, namespace, _release(lab.mesh_port, steps, []))
    await wait_phase(api, namespace, "app", {"Paused"}, 20)
    await asyncio.sleep(1.0)  # istiod's debounce and push of the last write
    coloured = await lab.load(rate_per_s=50, max_requests=100, max_duration_s=4, headers={"x-canary": "always"}).run()
    plain = await lab.load(rate_per_s=50, max_requests=300, max_duration_s=8).run()

    route = client.CustomObjectsApi(api).get_namespaced_custom_object(**HTTPROUTES, namespace=namespace, name="app")
    names = [rule.get("name") for rule in route["spec"]["rules"]]
    print(f"\nrules: {names}; coloured: {coloured.counts()}; plain: {plain.counts()}")
    assert len(names) == 2, names
    assert names[1] == "primary", names
    assert coloured.counts() == {"canary": len(coloured.samples)}, coloured.counts()
    share = plain.share("canary")
    assert share is not None
    assert 0.03 <= share <= 0.2, f"plain requests saw {share:.0%} canary, not about 10 %"
    assert not plain.failures()
    assert not coloured.failures()
