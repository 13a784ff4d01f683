"""Helpers for e2e tests: releases aimed at the traffic lab (its Envoy configured by the sandbox's istiod), and
waiting without blocking the event loop (the load generator shares it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from e2e.lab import IstioMesh, ListPods
from graygate.sandbox import ControlPlane
from tests.cluster_support import DESTINATION_RULES, RELEASES, release, weights
from tests.virtual_services import destination_rule


def lab_release(name: str, steps: list[dict[str, Any]], gates: list[dict[str, Any]], **analysis: Any) -> dict[str, Any]:
    return {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": "CanaryRelease",
        "metadata": {"name": name},
        "spec": {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "app", "routes": ["primary"]}]}},
            "stable": {"host": "app", "subset": "stable"},
            "canary": {"host": "app", "subset": "canary"},
            "steps": steps,
            "analysis": {"interval": "1s", "failureLimit": 0, "gates": gates, **analysis},
        },
    }


def create_destination_rule(
    api: client.ApiClient, namespace: str, service: str = "app", subsets: dict[str, dict[str, str]] | None = None
) -> None:
    """The DestinationRule defining the `stable` and `canary` subsets of `service`: graygate sends no traffic to a
    subset none defines, and istiod gives a subset the endpoints its labels select. By default each selects the
    pods of its version's workload (`app: <service>-<version>`), as the lab's fixed backends are labelled."""
    chosen = subsets or {version: {"app": f"{service}-{version}"} for version in ("stable", "canary")}
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        **DESTINATION_RULES, namespace=namespace, body=destination_rule(name=service, host=service, subsets=chosen)
    )


def istio_mesh(sandbox: ControlPlane) -> IstioMesh:
    """The sandbox's istiod, for `TrafficLab(mesh=...)`: the lab's Envoy is then configured by it over ADS."""
    if sandbox.istiod is None:
        raise AssertionError("the sandbox runs without istiod (ControlPlaneSettings(istiod=False))")
    return IstioMesh(sandbox.istiod.xds_address, sandbox.kubeconfig)


async def apply_release(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> None:
    custom = client.CustomObjectsApi(api)
    group, version, plural = RELEASES["group"], RELEASES["version"], RELEASES["plural"]
    await asyncio.to_thread(custom.create_namespaced_custom_object, group, version, namespace, plural, body)


async def wait_phase(
    api: client.ApiClient, namespace: str, name: str, phases: set[str], timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = await asyncio.to_thread(release, api, namespace, name)
        if seen.get("status", {}).get("phase") in phases:
            return seen
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never reached {phases} in {timeout_s} s; status: {seen.get('status')}")


# --- metric gates on the lab's Prometheus -----------------------------------------------------------------------------

CANARY_WORKLOAD = "app-canary"
STABLE_WORKLOAD = "app-stable"


def prometheus_gate(
    name: str,
    address: str,
    metric: dict[str, Any],
    *,
    critical: bool = True,
    window: str = "5s",
    on_no_data: str = "inconclusive",
    timeout: str = "800ms",
    failure_threshold: int = 1,
) -> dict[str, Any]:
    """A `prometheus` gate on the lab's Prometheus; `metric` is e.g. `{"requestSuccessRate": {...}}`. The source
    timeout must stay below the analysis interval (1 s in these releases)."""
    return {
        "name": name,
        "critical": critical,
        "failureThreshold": failure_threshold,
        "prometheus": {
            "source": {"address": address, "timeout": timeout},
            "window": window,
            "onNoData": on_no_data,
            **metric,
        },
    }


BASELINE_LATENCY = {"latency_ms": 30.0, "jitter_ms": 15.0}
"""Both versions answer in 30-45 ms: the p99 sits at the top of Istio's 25-50 ms bucket, so one slow request in a
hundred (a busy machine) moves it at most into the 50-100 ms bucket, which stays within 2x."""

TRIPLED_LATENCY = {"latency_ms": 90.0, "jitter_ms": 45.0}
"""Three times the baseline: 90-135 ms."""

BAD_AFTER_SECOND_STEP: list[dict[str, Any]] = [
    {"setWeight": 25},
    {"setWeight": 50},
    {"pause": {"duration": "60s"}},
    {"setWeight": 75},
]
"""Two steps, then a long observation pause (the gates keep running): turn the canary bad at step index 2. The
first step is 25 %, not less, so that at 50 requests/s the canary serves the latency gate's 100 requests within its
10 s window."""


def errors_gate(address: str, **options: Any) -> dict[str, Any]:
    """No more than 3 points of extra errors over stable, anytime-valid at alpha 0.05, on the callers' counts since
    the step began (the 8 s window is the last-window check a pass must agree with). The check passes only once the
    requests show the canary within the allowance: with no errors that takes about 160 canary requests, which a
    25 % canary serves in 13 s at the lab's 50 requests/s (1 point would need 535). Until then it is Waiting,
    which holds the step. A canary failing 10 % at 50 % is failed after about 290 canary requests, 12 s."""
    rule = {"maxIncreasePoints": 3, "confidence": 0.95, "minRequests": 20}
    return prometheus_gate("errors", address, {"requestSuccessRate": rule}, **{"window": "8s", **options})


def latency_gate(address: str, *, min_requests: int = 100, **options: Any) -> dict[str, Any]:
    """p99 no more than twice the stable's, over 10 s. A p99 of a few dozen requests is their slowest one, so one
    hiccup of a busy machine would fail a healthy canary; with >= 100 requests a side it takes more than one."""
    rule = {"quantile": 0.99, "maxRatio": 2, "minRequests": min_requests}
    return prometheus_gate("latency", address, {"requestDuration": rule}, **{"window": "10s", **options})


def metric_release(
    name: str, steps: list[dict[str, Any]], gates: list[dict[str, Any]], **analysis: Any
) -> dict[str, Any]:
    """`lab_release` with the workloads the built-in Istio metrics select on (the lab's backends report
    destination_workload app-stable and app-canary)."""
    body = lab_release(name, steps, gates, **analysis)
    body["spec"]["canaryWorkload"] = {"name": CANARY_WORKLOAD}
    body["spec"]["stableWorkload"] = {"name": STABLE_WORKLOAD}
    return body


async def available_deployment(api: client.ApiClient, namespace: str, name: str, timeout_s: float = 30.0) -> None:
    """Create a one-replica Deployment and wait until the sandbox's controllers report it Available: with
    `canaryWorkload` set, the operator sends the canary no traffic before that."""
    apps = client.AppsV1Api(api)
    labels = {"app": name}
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="app:2")]),
            ),
        ),
    )
    await asyncio.to_thread(apps.create_namespaced_deployment, namespace, body)
    deadline = time.monotonic() + timeout_s
    conditions: list[Any] = []
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(apps.read_namespaced_deployment_status, name, namespace)
        conditions = (found.status.conditions if found.status is not None else None) or []
        if any(c.type == "Available" and c.status == "True" for c in conditions):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"Deployment {name} not Available after {timeout_s} s: {conditions}")


def pod_lister(api: client.ApiClient) -> ListPods:
    """The lab's `list_pods` on the API server: the pods matching every label of a selector, as the API's JSON
    (camelCase keys, times as strings), which is what the lab reads."""
    core = client.CoreV1Api(api)

    async def list_pods(namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        label_selector = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        found = await asyncio.to_thread(core.list_namespaced_pod, namespace, label_selector=label_selector)
        return [api.sanitize_for_serialization(pod) for pod in found.items]

    return list_pods


@dataclass(frozen=True)
class Seen:
    """One reading of a release's status, with the monotonic time it was read (the load generator's clock)."""

    at: float
    status: dict[str, Any]


@dataclass
class StatusRecorder:
    """Reads a release every `every_s` in the background and keeps every status seen, so a test can ask what the
    release looked like when, and collect every gate result (status keeps only the last few)."""

    api: client.ApiClient
    namespace: str
    name: str
    every_s: float = 0.2
    seen: list[Seen] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"status recorder {self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                found = await asyncio.to_thread(release, self.api, self.namespace, self.name)
            except ApiException as error:
                if error.status != 404:
                    raise
            else:
                self.seen.append(Seen(time.monotonic(), found.get("status") or {}))
            await asyncio.sleep(self.every_s)

    def latest(self) -> dict[str, Any]:
        return self.seen[-1].status if self.seen else {}

    async def until(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float, what: str) -> Seen:
        """Wait for a status matching `predicate` (checked against every reading from now on)."""
        deadline = time.monotonic() + timeout_s
        checked = len(self.seen)
        while time.monotonic() < deadline:
            for seen in self.seen[checked:]:
                if predicate(seen.status):
                    return seen
            checked = len(self.seen)
            if self._task is not None and self._task.done():
                self._task.result()  # surface the recorder's own failure
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; last status: {self.latest()}")

    def results(self, gate: str | None = None) -> list[dict[str, Any]]:
        """Every gate result seen, once each, in the order measured."""
        unique: dict[tuple[str, str], dict[str, Any]] = {}
        for seen in self.seen:
            for result in seen.status.get("recentResults", []):
                unique.setdefault((result["gate"], result["at"]), result)
        ordered = sorted(unique.values(), key=lambda r: str(r["at"]))
        return [r for r in ordered if gate is None or r["gate"] == gate]


def cannot_measure(status: dict[str, Any]) -> bool:
    """The release says it is Stalled because a gate cannot measure (errorPolicy hold)."""
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    stalled = conditions.get("Stalled") or {}
    return stalled.get("status") == "True" and stalled.get("reason") == "CannotMeasure"


def at_step(index: int) -> Callable[[dict[str, Any]], bool]:
    return lambda status: status.get("phase") == "Progressing" and status.get("currentStepIndex") == index


def in_phase(*phases: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: status.get("phase") in phases


def describe_results(results: list[dict[str, Any]]) -> str:
    """Gate results as lines a person reads: weight, gate, verdict, value, threshold, reason."""
    return "\n".join(
        f"  {r['weight']:>3}% {r['gate']:<14} {r['verdict']:<12} value: {r.get('value')} | "
        f"threshold: {r.get('threshold')} | {r.get('reason')}"
        for r in results
    )


async def wait_weights(
    api: client.ApiClient, namespace: str, name: str, expected: tuple[int, int], timeout_s: float
) -> None:
    """Waits for the VirtualService's (stable, canary) weights: the operator writes a release's status (its intent)
    before the VirtualService, so a phase can be seen a moment before the weights that go with it."""
    deadline = time.monotonic() + timeout_s
    seen: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        seen = await asyncio.to_thread(weights, api, namespace, name)
        if seen == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} weights never became {expected} in {timeout_s} s; last seen {seen}")
