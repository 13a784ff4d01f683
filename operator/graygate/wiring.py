"""The composition root: settings + clients + registries → `service.Deps`. The only place that decides which real
adapter stands behind each port, so tests can wire fakes through the same shape."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from graygate.domain import WorkloadReading
from graygate.gates.runner import GateRunner
from graygate.kube.client import ApiClient, api_client, close_client
from graygate.kube.events import KubeEvents
from graygate.kube.releases import KubeReleases
from graygate.kube.secrets import KubeSecrets
from graygate.kube.virtualservices import KubeVirtualServiceStore
from graygate.kube.workloads import KubeWorkloads
from graygate.metrics import OperatorMetrics
from graygate.providers import PROVIDERS
from graygate.routers.registry import ROUTERS, RouterClients
from graygate.service import Deps


@dataclass(frozen=True)
class OperatorSettings:
    """What `graygate run` was asked to do."""

    kubeconfig: Path | None = None
    namespaces: tuple[str, ...] = ()
    tick_interval_s: float = 1.0
    listen_address: str = "127.0.0.1"
    metrics_port: int = 8081
    liveness_port: int = 8080
    log_format: str = "text"
    prometheus_address: str | None = None
    peering: str | None = None
    priority: int = 0
    instance: str = field(default_factory=lambda: os.environ.get("POD_NAME", socket.gethostname()))


@dataclass
class Wired:
    deps: Deps
    api: ApiClient
    gates: GateRunner

    async def close(self) -> None:
        await self.gates.close()
        close_client(self.api)


def wire(settings: OperatorSettings, metrics: OperatorMetrics) -> Wired:
    api = api_client(settings.kubeconfig)
    workloads = KubeWorkloads(api)
    gates = GateRunner(
        metrics=PROVIDERS.create("prometheus"),
        secrets=KubeSecrets(api),
        default_prometheus=settings.prometheus_address,
    )

    async def workload(namespace: str, name: str) -> WorkloadReading:
        availability = await workloads.deployment_availability(namespace, name)
        return WorkloadReading(
            kind="Deployment", name=name, available=availability.available, message=availability.reason
        )

    deps = Deps(
        router=ROUTERS.create("istio", RouterClients(virtual_services=KubeVirtualServiceStore(api))),
        gates=gates,
        workload=workload,
        statuses=KubeReleases(api),
        events=KubeEvents(api, settings.instance),
        metrics=metrics,
    )
    return Wired(deps=deps, api=api, gates=gates)
