"""The platform team's URL allowlist against the real operator and API server: a release whose probe names a URL
outside it is refused before it starts (phase Invalid, the gate and URL named), the probe is never sent, and the
VirtualService is not touched; the same release with an allowed URL runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from graygate.sandbox import ControlPlane
from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    ProbeTarget,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
    weights,
)

ALLOWED = "http://checkout.shop.svc.cluster.local/"


def _allowed_path(target: ProbeTarget) -> str:
    return target.url.replace("/healthz", "/allowed/")


@pytest.fixture
def restricted_operator(
    sandbox: ControlPlane, namespace: str, tmp_path: Path, probe_target: ProbeTarget
) -> Iterator[OperatorProcess]:
    allowlist = f"{ALLOWED},{_allowed_path(probe_target)}"
    process = OperatorProcess(
        sandbox.kubeconfig, namespace, tmp_path / "operator.log", extra_args=(f"--probe-url-allowlist={allowlist}",)
    )
    process.start()
    yield process
    process.stop()


def _release(probe_url: str) -> dict[str, Any]:
    gate = {"name": "health", "httpProbe": {"url": probe_url, "timeout": "500ms"}}
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]
    return canary_release("checkout", steps, analysis={"interval": "1s", "gates": [gate]})


def test_a_probe_outside_the_allowlist_is_refused_before_any_traffic_moves(
    api: client.ApiClient, namespace: str, restricted_operator: OperatorProcess, probe_target: ProbeTarget
) -> None:
    custom = _with_virtual_service(api, namespace)
    before = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release(probe_target.url))
    status = eventually(
        lambda: release(api, namespace, "checkout").get("status") if _phase(api, namespace) == "Invalid" else None,
        30,
        "the release to be refused as Invalid",
    )
    assert f"gate health: {probe_target.url} is not in the operator's URL allowlist ({ALLOWED}, " in status["message"]
    assert probe_target.hits == 0, "a refused probe is never sent"
    assert weights(api, namespace, "checkout") == (100, 0)
    after = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], "the VS was not written"


def _with_virtual_service(api: client.ApiClient, namespace: str) -> client.CustomObjectsApi:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=virtual_service("checkout"))
    create_destination_rule(api, namespace)
    return custom


def _phase(api: client.ApiClient, namespace: str) -> str | None:
    phase = (release(api, namespace, "checkout").get("status") or {}).get("phase")
    return str(phase) if phase else None


def test_the_same_release_with_an_allowed_url_runs(
    api: client.ApiClient, namespace: str, restricted_operator: OperatorProcess, probe_target: ProbeTarget
) -> None:
    custom = _with_virtual_service(api, namespace)
    body = _release(_allowed_path(probe_target) + "healthz")
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)
    eventually(lambda: _phase(api, namespace) == "Paused" or None, 30, "the release to pause at 20 %")
    eventually(lambda: weights(api, namespace, "checkout") == (80, 20) or None, 10, "20 % on the canary")
    assert probe_target.hits > 0
