"""The integration ring: one real control plane (etcd + kube-apiserver, plus the controllers that make
Deployments real) for the whole session, and a fresh namespace for each test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from graygate.sandbox import ControlPlane, ControlPlaneSettings

REPO = Path(__file__).resolve().parents[2]


def _our_crds() -> tuple[Path, ...]:
    return tuple(sorted((REPO / "crds").glob("*.yaml")))


@pytest.fixture(scope="session")
def sandbox(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    settings = ControlPlaneSettings(workloads=True, crd_files=_our_crds())
    with ControlPlane(settings) as plane:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        versions = ", ".join(f"{name} {version}" for name, version in plane.versions.items())
        line = f"sandbox: started {versions} on {plane.server} in {plane.startup_seconds:.1f} s"
        if reporter is not None:
            reporter.write_line(line)
        yield plane


@pytest.fixture(scope="session")
def api(sandbox: ControlPlane) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(sandbox.kubeconfig)) as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)
