"""graygate and Flagger as `peer_runs.Tool`s: each set up once in its own namespace of the same sandbox, with its own
traffic lab (the same backends, Envoy configured by the same istiod, a Prometheus scraping every second).

The settings, and where each comes from, are in `FLAGGER_SETTINGS` and `GRAYGATE_SETTINGS`; the bench prints them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes import client

from e2e import bench_rollback
from e2e.lab import IstioMesh, TrafficLab, WorkloadSide
from e2e.lab._process import ManagedProcess
from e2e.peer_runs import HEALTHY, Scenario, set_knobs
from e2e.peers import (
    FLAGGER,
    ROLLOUTS,
    PeerBuild,
    custom_object,
    deployment,
    flagger_canary,
    flagger_process,
    istio_object,
    rollout,
    route_weights,
    until,
)
from e2e.support import apply_release, errors_gate, latency_gate, metric_release, pod_lister
from tests.cluster_support import OperatorProcess, release, weights

STEPS = (10, 25, 50)
"""Then each tool's own promotion sends 100 %: graygate's gates compare the canary with stable, which serves
nothing at 100 %."""
ENV = {"LAB_LATENCY_MS": "30", "LAB_JITTER_MS": "15"}
"""The lab's healthy latency (e2e/support.py BASELINE_LATENCY), from a pod's first answer on."""

FLAGGER_SETTINGS = {
    "analysis.interval": (
        "10s",
        "the minimum: Canary.GetAnalysisInterval raises anything shorter to 10 s "
        "(fluxcd/flagger pkg/apis/flagger/v1beta1/canary.go)",
    ),
    "analysis.threshold": (
        "1",
        "failed checks before rollback, 1 the least (docs/gitbook/usage/how-it-works.md; its example says 10)",
    ),
    "analysis.stepWeights": (
        "[10, 25, 50], then Flagger's promotion (100 %)",
        "the bench's step plan (docs/gitbook/usage/deployment-strategies.md, stepWeights)",
    ),
    "request-success-rate": (
        "min 99 over [10s]",
        "built-in Istio metric (pkg/metrics/observers/istio.go); 99 % as in Flagger's Istio tutorial; "
        "the range is the analysis interval, so each check reads the traffic since the last one",
    ),
    "request-duration": (
        "max 100 ms over [10s]",
        "built-in Istio metric, the p99 (pkg/metrics/observers/istio.go); Flagger compares with a fixed "
        "threshold only, so 100 ms: twice the lab's healthy p99 (~50 ms), as graygate's maxRatio 2",
    ),
}

GRAYGATE_SETTINGS = {
    "analysis.interval": ("1s", "e2e/bench_rollback.py, the same release as make bench-rollback"),
    "steps": ("setWeight 10, 25, 50, then graygate's promotion (100 %)", "the bench's step plan"),
    "gates": ("requestSuccessRate (+3 points over stable, 8s) and requestDuration (p99 <= 2x stable, 10s)",
              "e2e/support.py errors_gate, latency_gate"),
}  # fmt: skip


async def create_namespace(api: client.ApiClient, name: str) -> None:
    body = client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    await asyncio.to_thread(client.CoreV1Api(api).create_namespace, body)


class GraygateTool:
    """graygate's operator over the lab's fixed `stable` and `canary` backends (as make bench-rollback runs it)."""

    name = "graygate"
    namespace = bench_rollback.NAMESPACE

    def __init__(self, api: client.ApiClient, lab: TrafficLab, operator: OperatorProcess) -> None:
        self.api, self.lab, self.operator = api, lab, operator
        self.release = ""

    @classmethod
    async def prepare(cls, api: client.ApiClient, kubeconfig: Path, workdir: Path) -> OperatorProcess:
        await bench_rollback.prepare_namespace(api)
        operator, _ = await bench_rollback.start_operator(kubeconfig, 0.25, workdir / "operator.log")
        return operator

    async def start_canary(self, index: int, scenario: Scenario) -> str:
        if self.release:
            await bench_rollback.delete_release(self.api, self.release)
        for version in ("stable", "canary"):
            await self.lab.set_knobs(version, **HEALTHY)
        await asyncio.sleep(11.0)  # the last run's samples leave the gates' windows
        self.release = f"peer-{scenario.slug}-{index}"
        gates = [errors_gate(self.lab.prometheus_url), latency_gate(self.lab.prometheus_url)]
        body = metric_release(self.release, [{"setWeight": w} for w in STEPS], gates, inconclusiveLimit=20)
        await apply_release(self.api, self.namespace, body)
        return "canary"

    async def canary_weight(self) -> int:
        return (await asyncio.to_thread(weights, self.api, self.namespace, "app"))[1]

    async def ended(self) -> str | None:
        self.operator_alive()
        body = await asyncio.to_thread(release, self.api, self.namespace, self.release)
        phase = (body.get("status") or {}).get("phase")
        ended = {"Succeeded": "promoted", "Failed": "rolled back", "Aborted": "rolled back", "Paused": "paused"}
        return ended.get(str(phase))

    def operator_alive(self) -> None:
        if self.operator.popen is not None and self.operator.popen.poll() is not None:
            raise AssertionError(f"graygate's operator exited: {self.operator.log()[-2000:]}")

    async def canary_urls(self, version: str) -> list[str]:
        return [self.lab.backend_url("canary")]

    async def all_urls(self) -> list[str]:
        return [self.lab.backend_url(v) for v in ("stable", "canary")]


def flagger_lab(api: client.ApiClient, namespace: str, mesh: IstioMesh, workdir: Path) -> TrafficLab:
    # The sides are named so the lab's own hosts (app-p, app-c) are not Flagger's Services (app-primary, app-canary).
    sides = [WorkloadSide("p", "app-primary", {"app": "app-primary"}), WorkloadSide("c", "app", {"app": "app"})]
    return TrafficLab(
        namespace=namespace, workloads=sides, list_pods=pod_lister(api), mesh=mesh, prometheus=True, workdir=workdir
    )


def flagger_analysis() -> dict[str, Any]:
    return {
        "interval": "10s",
        "threshold": 1,
        "stepWeights": list(STEPS),
        "metrics": [
            {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "10s"},
            {"name": "request-duration", "thresholdRange": {"max": 2 * 50}, "interval": "10s"},
        ],
    }


class FlaggerTool:
    """Flagger with the Istio provider over a Deployment `app` whose pods the lab's backends play."""

    name = "Flagger"
    namespace = "peer-flagger"

    def __init__(self, api: client.ApiClient, lab: TrafficLab, process: ManagedProcess) -> None:
        self.api, self.lab, self.process = api, lab, process
        self.next_version = 2
        self.progressing = False

    @classmethod
    async def prepare(cls, api: client.ApiClient) -> None:
        await create_namespace(api, cls.namespace)
        body: Any = deployment("app", "app:v1", {"app": "app"}, ENV)
        await asyncio.to_thread(client.AppsV1Api(api).create_namespaced_deployment, cls.namespace, body)

    @classmethod
    def start_process(cls, build: PeerBuild, kubeconfig: Path, lab: TrafficLab, log: Path) -> ManagedProcess:
        process = flagger_process(build, kubeconfig, cls.namespace, lab.prometheus_url, log)
        process.start()
        return process

    async def create_canary(self, timeout_s: float = 60.0) -> None:
        body = flagger_canary("app", self.lab.mesh_port, flagger_analysis())
        await asyncio.to_thread(
            client.CustomObjectsApi(self.api).create_namespaced_custom_object,
            FLAGGER["group"], FLAGGER["version"], self.namespace, FLAGGER["plural"], body,
        )  # fmt: skip
        await until(lambda: self._phase() == "Initialized", timeout_s, "initialize Canary app", self.process)

    def _phase(self) -> str:
        return str((custom_object(self.api, FLAGGER, self.namespace, "app").get("status") or {}).get("phase"))

    async def start_canary(self, index: int, scenario: Scenario) -> str:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            await set_knobs(http, await self.all_urls(), HEALTHY)
        await asyncio.sleep(11.0)  # the last run's samples leave the metrics' ranges
        version = f"v{self.next_version}"
        self.next_version += 1
        self.progressing = False
        container = {"name": "app", "image": f"app:{version}", "env": [{"name": k, "value": v} for k, v in ENV.items()]}
        patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
        await asyncio.to_thread(client.AppsV1Api(self.api).patch_namespaced_deployment, "app", self.namespace, patch)
        return version

    async def canary_weight(self) -> int:
        vs = await asyncio.to_thread(istio_object, self.api, "virtualservices", self.namespace, "app")
        return route_weights(vs).get("app-canary", 0)

    async def ended(self) -> str | None:
        self.process.check()
        phase = await asyncio.to_thread(self._phase)
        if phase == "Progressing":
            self.progressing = True
        if not self.progressing:
            return None
        return {"Succeeded": "promoted", "Failed": "rolled back"}.get(phase)

    async def canary_urls(self, version: str) -> list[str]:
        backends = self.lab.workloads.backends
        return [b.url for r, b in backends.items() if r.deployment == "app" and b.identity.version == version]

    async def all_urls(self) -> list[str]:
        return [b.url for b in self.lab.workloads.backends.values() if b.port is not None]


# --- Argo Rollouts ------------------------------------------------------------------------------------------------

ROLLOUT_HASH = "rollouts-pod-template-hash"
ARGO_PAUSE = "10s"
ARGO_SETTINGS = {
    "steps": (
        f"setWeight 10, 25, 50, each followed by a pause of {ARGO_PAUSE}, then Argo's promotion (100 %)",
        "no minimum pause is documented (docs/features/canary/index.md); 10 s, Flagger's floor: steps as long",
    ),
    "trafficRouting": (
        "istio, host-level: Services app-stable and app-canary in VirtualService app",
        "docs/features/traffic-management/istio.md; the host-level split is what the documented Istio query of "
        "docs/features/analysis.md (reporter=source, destination_service) measures",
    ),
    "analysis": (
        "background (canary.analysis), both metrics interval 1s, failureLimit 0",
        "docs/features/analysis.md: no minimum interval; failureLimit 0 fails on the first failed measurement",
    ),
    "success-rate": (
        "len(result) == 0 || isNaN(result[0]) || result[0] >= 0.99 over [10s]",
        "the query of docs/features/analysis.md with a 10 s range; empty and NaN as docs/features/analysis.md shows",
    ),
    "latency": (
        "p99 of istio_request_duration_milliseconds (reporter=source) <= 100 over [10s]",
        "the same selectors; 100 ms as Flagger's: twice the lab's healthy p99",
    ),
}


def _istio_query(kind: str, host: str) -> str:
    selector = f'reporter="source",destination_service=~"{host}"'
    if kind == "success-rate":
        ok = f'sum(rate(istio_requests_total{{{selector},response_code!~"5.*"}}[10s]))'
        return f"{ok} / sum(rate(istio_requests_total{{{selector}}}[10s]))"
    bucket = f"istio_request_duration_milliseconds_bucket{{{selector}}}"
    return f"histogram_quantile(0.99, sum(rate({bucket}[10s])) by (le))"


def analysis_template(prometheus: str, canary_host: str) -> dict[str, Any]:
    conditions = {
        "success-rate": "len(result) == 0 || isNaN(result[0]) || result[0] >= 0.99",
        "latency": "len(result) == 0 || isNaN(result[0]) || result[0] <= 100",
    }
    metrics = [
        {
            "name": name,
            "interval": "1s",
            "failureLimit": 0,
            "successCondition": condition,
            "provider": {"prometheus": {"address": prometheus, "query": _istio_query(name, canary_host)}},
        }
        for name, condition in conditions.items()
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "checks"},
        "spec": {"metrics": metrics},
    }


def service(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "app"}, "ports": [{"name": "http", "port": port, "targetPort": port}]},
    }


def host_split_virtualservice() -> dict[str, Any]:
    route = [
        {"destination": {"host": "app-stable"}, "weight": 100},
        {"destination": {"host": "app-canary"}, "weight": 0},
    ]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "app"},
        "spec": {"hosts": ["app"], "http": [{"name": "primary", "route": route}]},
    }


def argo_lab(api: client.ApiClient, namespace: str, mesh: IstioMesh, workdir: Path) -> TrafficLab:
    side = WorkloadSide("r", "app", {"app": "app"}, hash_label=ROLLOUT_HASH)
    return TrafficLab(
        namespace=namespace,
        workloads=[side],
        list_pods=pod_lister(api),
        mesh=mesh,
        prometheus=True,
        workdir=workdir,
        hosts={"app-stable": "app", "app-canary": "app"},
    )


class ArgoTool:
    """The Argo Rollouts controller over a Rollout `app` whose pods the lab's backends play."""

    name = "Argo Rollouts"
    namespace = "peer-argo"

    def __init__(self, api: client.ApiClient, lab: TrafficLab, process: ManagedProcess) -> None:
        self.api, self.lab, self.process = api, lab, process
        self.next_version = 2
        self.progressing = False

    @classmethod
    async def prepare(cls, api: client.ApiClient) -> None:
        await create_namespace(api, cls.namespace)

    async def create_rollout(self, timeout_s: float = 60.0) -> None:
        custom, core = client.CustomObjectsApi(self.api), client.CoreV1Api(self.api)
        for name in ("app-stable", "app-canary"):
            body: Any = service(name, self.lab.mesh_port)
            await asyncio.to_thread(core.create_namespaced_service, self.namespace, body)
        await asyncio.to_thread(
            custom.create_namespaced_custom_object, "networking.istio.io", "v1", self.namespace, "virtualservices",
            host_split_virtualservice(),
        )  # fmt: skip
        canary_host = f"app-canary.{self.namespace}.svc.cluster.local"
        template = analysis_template(self.lab.prometheus_url, canary_host)
        await asyncio.to_thread(
            custom.create_namespaced_custom_object, "argoproj.io", "v1alpha1", self.namespace, "analysistemplates",
            template,
        )  # fmt: skip
        steps: list[dict[str, Any]] = []
        for weight in STEPS:
            steps += [{"setWeight": weight}, {"pause": {"duration": ARGO_PAUSE}}]
        body = rollout("app", "app:v1", steps, ENV)
        canary = body["spec"]["strategy"]["canary"]
        canary["canaryService"], canary["stableService"] = "app-canary", "app-stable"
        canary["trafficRouting"] = {"istio": {"virtualService": {"name": "app", "routes": ["primary"]}}}
        canary["analysis"] = {"templates": [{"templateName": "checks"}]}
        await asyncio.to_thread(
            custom.create_namespaced_custom_object, "argoproj.io", "v1alpha1", self.namespace, "rollouts", body
        )
        await until(lambda: self._status().get("phase") == "Healthy", timeout_s, "bring Rollout app up", self.process)

    def _status(self) -> dict[str, Any]:
        return dict(custom_object(self.api, ROLLOUTS, self.namespace, "app").get("status") or {})

    async def start_canary(self, index: int, scenario: Scenario) -> str:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            await set_knobs(http, await self.all_urls(), HEALTHY)
        await asyncio.sleep(11.0)  # the last run's samples leave the queries' ranges
        version = f"v{self.next_version}"
        self.next_version += 1
        self.progressing = False
        container = {"name": "app", "image": f"app:{version}", "env": [{"name": k, "value": v} for k, v in ENV.items()]}
        patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
        await asyncio.to_thread(
            client.CustomObjectsApi(self.api).patch_namespaced_custom_object,
            "argoproj.io", "v1alpha1", self.namespace, "rollouts", "app", patch,
        )  # fmt: skip
        return version

    async def canary_weight(self) -> int:
        vs = await asyncio.to_thread(istio_object, self.api, "virtualservices", self.namespace, "app")
        return route_weights(vs, "primary").get("app-canary", 0)

    async def ended(self) -> str | None:
        self.process.check()
        status = await asyncio.to_thread(self._status)
        if status.get("phase") in ("Progressing", "Paused"):
            self.progressing = True
        if not self.progressing:
            return None
        if status.get("abort"):
            return "rolled back"
        if status.get("phase") == "Healthy" and status.get("stableRS") == status.get("currentPodHash"):
            return "promoted"
        return None

    async def canary_urls(self, version: str) -> list[str]:
        return [b.url for b in self.lab.workloads.backends.values() if b.identity.version == version]

    async def all_urls(self) -> list[str]:
        return [b.url for b in self.lab.workloads.backends.values() if b.port is not None]
