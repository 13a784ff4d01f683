"""Fixtures for the rings that need the real control plane (integration and e2e): one sandbox (etcd +
kube-apiserver + the controllers that make Deployments real) for the whole session, a fresh namespace per test, the
real operator as a child process, and a probe target."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from graygate.sandbox import ControlPlane, ControlPlaneSettings
from tests.cluster_support import OperatorProcess, ProbeTarget

REPO = Path(__file__).resolve().parents[1]


def _our_crds() -> tuple[Path, ...]:
    return tuple(sorted((REPO / "crds").glob("*.yaml")))


@pytest.fixture(scope="session")
def sandbox(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    settings = ControlPlaneSettings(workloads=True, crd_files=_our_crds())
    with ControlPlane(settings) as plane:
        versions = ", ".join(f"{name} {version}" for name, version in plane.versions.items())
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\nsandbox: started {versions} on {plane.server} in {plane.startup_seconds:.1f} s")
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


@pytest.fixture
def operator(sandbox: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The real operator (`graygate run`) watching this test's namespace; its log is printed when a test fails."""
    process = OperatorProcess(sandbox.kubeconfig, namespace, tmp_path / "operator.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def probe_target() -> Iterator[ProbeTarget]:
    target = ProbeTarget()
    yield target
    target.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    process = getattr(item, "funcargs", {}).get("operator")
    if report.when == "call" and report.failed and isinstance(process, OperatorProcess):
        report.sections.append(("operator log (tail)", "\n".join(process.log().splitlines()[-60:])))
    return report
