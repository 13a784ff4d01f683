"""The e2e ring: the real operator, a real Envoy splitting real traffic between stable and canary backends exactly
as the sandbox's istiod configures it from the VirtualService in the API server, and a real Prometheus scraping them
every second."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from e2e.lab import TrafficLab
from e2e.support import CANARY_WORKLOAD, available_deployment, create_destination_rule, istio_mesh
from graygate.sandbox import ControlPlane
from tests.cluster_support import ISTIO
from tests.etcd_server import Etcd


@pytest.fixture
async def lab(sandbox: ControlPlane, api: client.ApiClient, namespace: str) -> AsyncIterator[TrafficLab]:
    """The traffic lab, its Envoy configured by the sandbox's istiod from VirtualService `app` of this test's
    namespace (stable 100 %) and DestinationRule `app` (subsets stable and canary)."""
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        **ISTIO, namespace=namespace, body=TrafficLab.weighted_virtualservice({"stable": 100, "canary": 0})
    )
    create_destination_rule(api, namespace)
    async with TrafficLab(prometheus=True, namespace=namespace, mesh=istio_mesh(sandbox)) as running:
        await running.prometheus.wait_targets_up()
        yield running


@pytest.fixture
async def canary_workload(api: client.ApiClient, namespace: str) -> str:
    """An Available Deployment `app-canary` (pods are kwok's): the workload the built-in Prometheus metrics select
    on, and whose availability the operator waits for before sending the canary any traffic."""
    await available_deployment(api, namespace, CANARY_WORKLOAD)
    return CANARY_WORKLOAD


@pytest.fixture
def config_etcd(tmp_path: Path) -> Iterator[str]:
    """A one-member etcd for the application's configuration (the sandbox's etcd belongs to the API server); yields
    its `host:port`."""
    server = Etcd(tmp_path / "app-etcd")
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()
