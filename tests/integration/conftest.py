"""Fixtures the integration test files share: one real etcd per module and a store connected to it; the real helm
and kubectl, and the chart installed once per session in its cluster-wide and its namespaced mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from graygate.sandbox import ControlPlane
from graygate.sandbox.toolchain import Toolchain, ToolchainMissingError
from graygate.store.etcd.store import EtcdStore
from tests.etcd_server import Etcd, settings
from tests.integration.chart_install import (
    CHART,
    HOME,
    WATCHED,
    Installed,
    Tools,
    cluster_wide_install,
    namespaced_install,
)


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Etcd]:
    server = Etcd(tmp_path_factory.mktemp("etcd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def store(etcd: Etcd) -> AsyncIterator[EtcdStore]:
    connected = EtcdStore(settings(etcd.endpoint))
    yield connected
    await connected.aclose()


@pytest.fixture(scope="session")
def tools(sandbox: ControlPlane, api: client.ApiClient) -> Tools:
    try:
        toolchain = Toolchain.locate()
        found = Tools(toolchain.binary("helm"), toolchain.binary("kubectl"), sandbox.kubeconfig)
    except ToolchainMissingError as error:
        pytest.fail(f"helm or kubectl is missing: run `make toolchain` ({error})", pytrace=False)
    # The chart's CRDs for real (ours is already there; Kopf's peering ones are new), so the dry runs can check
    # the custom resources that use them.
    found.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CHART / "crds"))
    found.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CHART / "crds"))
    # The namespaces the renderings name; left in place (the sandbox is the session's), so a later test never
    # meets them Terminating.
    for name in (HOME, *WATCHED):
        try:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
        except ApiException as error:
            if error.status != 409:
                raise
    return found


@pytest.fixture(scope="session")
def cluster_wide(tools: Tools, api: client.ApiClient) -> Iterator[Installed]:
    yield from cluster_wide_install(tools, api)


@pytest.fixture(scope="session")
def namespaced(tools: Tools, api: client.ApiClient) -> Iterator[Installed]:
    yield from namespaced_install(tools, api)
