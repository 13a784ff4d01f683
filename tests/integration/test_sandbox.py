"""The sandbox is a real control plane: objects round-trip through etcd, the API server validates them, RBAC is
on, and kubectl works with the kubeconfig it writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from graygate.sandbox import ControlPlane
from tests.virtual_services import route, virtual_service

REPO = Path(__file__).resolve().parents[2]
ISTIO = {"group": "networking.istio.io", "version": "v1", "plural": "virtualservices"}


def _virtual_service(name: str) -> dict[str, Any]:
    return virtual_service(name, route("primary", stable=90, canary=10))


def test_versions_are_the_pinned_real_ones(sandbox: ControlPlane) -> None:
    assert sandbox.versions["kube-apiserver"].startswith("v1.35.")
    major, minor, patch = (int(part) for part in sandbox.versions["etcd"].split("."))
    assert (major, minor, patch) >= (3, 5, 24)


def test_virtual_service_round_trips(api: client.ApiClient, namespace: str) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=_virtual_service("checkout"))
    stored = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    weights = [(r["destination"]["subset"], r["weight"]) for r in stored["spec"]["http"][0]["route"]]
    assert weights == [("stable", 90), ("canary", 10)]
    assert stored["metadata"]["resourceVersion"]


def test_api_server_rejects_an_invalid_virtual_service(api: client.ApiClient, namespace: str) -> None:
    body = _virtual_service("broken")
    body["spec"]["http"][0]["route"][0]["weight"] = "ninety"
    with pytest.raises(ApiException) as rejected:
        client.CustomObjectsApi(api).create_namespaced_custom_object(**ISTIO, namespace=namespace, body=body)
    assert rejected.value.status == 422
    assert "weight" in json.loads(rejected.value.body)["message"]


def test_rbac_refuses_an_unprivileged_service_account(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    token = core.create_namespaced_service_account_token(
        "nobody", namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token
    review = client.AuthenticationV1Api(api).create_token_review({"spec": {"token": token}})
    assert review.status.authenticated, "ServiceAccount tokens must be signed and verifiable"
    access = client.AuthorizationV1Api(api).create_subject_access_review(
        {
            "spec": {
                "user": review.status.user.username,
                "groups": review.status.user.groups,
                "resourceAttributes": {"namespace": namespace, "verb": "list", "resource": "secrets"},
            }
        }
    )
    assert not access.status.allowed


def test_kubectl_lists_it_through_the_written_kubeconfig(
    api: client.ApiClient, sandbox: ControlPlane, namespace: str
) -> None:
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        **ISTIO, namespace=namespace, body=_virtual_service("listed")
    )
    result = subprocess.run(
        ["kubectl", "get", "virtualservices", "-A", "-o", "json"],
        env={**os.environ, "KUBECONFIG": str(sandbox.kubeconfig)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    listed = {(item["metadata"]["namespace"], item["metadata"]["name"]) for item in json.loads(result.stdout)["items"]}
    assert (namespace, "listed") in listed


def test_deployments_become_available_without_a_kubelet(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    labels = {"app": "demo"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "demo"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "demo:1"}]},
                },
            },
        },
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = apps.read_namespaced_deployment_status("demo", namespace).status
        if (status.available_replicas or 0) == 2:
            return
        time.sleep(0.5)
    pytest.fail(f"Deployment never became Available: {status}")


def test_nothing_listens_beyond_loopback(sandbox: ControlPlane) -> None:
    ours = {str(p) for p in _pids_of(sandbox)}
    istiod = next(str(p.pid) for p in sandbox._processes if p.name == "pilot-discovery")
    seen, by_istiod = [], []
    for flags in ("-Hltnp", "-Hlunp"):  # TCP, then UDP
        listening = subprocess.run(["ss", flags], capture_output=True, text=True, check=True).stdout
        for line in listening.splitlines():
            if any(f"pid={pid}," in line for pid in ours):
                local = line.split()[3]
                host = local.rsplit(":", 1)[0].strip("[]")
                assert host in {"127.0.0.1", "::1"}, f"a sandbox process listens on {local}: {line}"
                seen.append(local)
                if f"pid={istiod}," in line:
                    by_istiod.append(local)
    # istiod's xDS, HTTP, webhook, monitoring and ControlZ ports at least.
    assert len(by_istiod) >= 5, f"expected istiod's own listeners in `ss -p`, found {by_istiod}"
    # etcd (clients, peers) and kube-apiserver at least: finding none would mean `ss` showed no process ids, and
    # the check above would have passed without looking at anything.
    assert len(seen) >= 3, f"expected the sandbox's own listeners in `ss -p`, found {seen}"
    assert socket.gethostbyname("localhost")


def test_istio_crds_are_istios_own_with_v1_stored(api: client.ApiClient, sandbox: ControlPlane) -> None:
    # The istio.io/api that istiod's pinned snapshot requires: the CRDs and the control plane agree.
    pinned = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Version}}", "istio.io/api"],
        capture_output=True, text=True, check=True, cwd=REPO / "e2e/toolchain/istio",
    ).stdout.strip()  # fmt: skip
    downloaded = subprocess.run(
        ["go", "mod", "download", "-json", f"istio.io/api@{pinned}"],
        capture_output=True, text=True, check=True, cwd=REPO / "e2e/toolchain/kube",
    )  # fmt: skip
    module = Path(json.loads(downloaded.stdout)["Dir"])
    shipped = (module / "kubernetes" / "customresourcedefinitions.gen.yaml").read_bytes()
    assert sandbox.toolchain.istio_crds.read_bytes() == shipped, f"not the file istio.io/api@{pinned} ships"
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition("virtualservices.networking.istio.io")
    stored = [version.name for version in crd.spec.versions if version.storage]
    assert stored == ["v1"]


def test_gateway_api_crds_are_the_modules_standard_channel_with_named_rules(
    api: client.ApiClient, sandbox: ControlPlane
) -> None:
    versions = dict(
        line.split("=", 1) for line in (REPO / "e2e/toolchain/versions.env").read_text().splitlines() if "=" in line
    )
    pinned = versions["GATEWAY_API_VERSION"]
    downloaded = subprocess.run(
        ["go", "mod", "download", "-json", f"sigs.k8s.io/gateway-api@{pinned}"],
        capture_output=True, text=True, check=True, cwd=REPO / "e2e/toolchain/kube",
    )  # fmt: skip
    standard = Path(json.loads(downloaded.stdout)["Dir"]) / "config" / "crd" / "standard"
    installed = sandbox.toolchain.gateway_api_crds.read_text()
    for kind in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants"):
        assert (standard / f"gateway.networking.k8s.io_{kind}.yaml").read_text() in installed, kind
    crd = json.loads(
        client.ApiextensionsV1Api(api)
        .read_custom_resource_definition("httproutes.gateway.networking.k8s.io", _preload_content=False)
        .data
    )
    (v1,) = [version for version in crd["spec"]["versions"] if version["storage"]]
    assert v1["name"] == "v1"
    rules = v1["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["rules"]
    assert "name" in rules["items"]["properties"], "rules[].name, which names the rules a release manages"


def _pids_of(sandbox: ControlPlane) -> list[int]:
    return [process.pid for process in sandbox._processes]


@pytest.mark.parametrize(
    ("subsets", "said"),
    [
        ([{"name": "Canary_1"}], "subset name is invalid: Canary_1"),
        ([{"name": "canary"}, {"name": "canary"}], "duplicate subset names: canary"),
    ],
)
def test_istios_webhook_refuses_a_destination_rule_istio_would_refuse(
    api: client.ApiClient, namespace: str, subsets: list[dict[str, Any]], said: str
) -> None:
    """The CRD's schema lets these through; only Istio's own validation knows a subset name must be a DNS label
    and may appear once."""
    body = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "checkout"},
        "spec": {"host": "checkout", "subsets": subsets},
    }
    with pytest.raises(ApiException) as refused:
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "networking.istio.io", "v1", namespace, "destinationrules", body
        )
    assert refused.value.status == 400
    message = json.loads(refused.value.body)["message"]
    assert message.startswith('admission webhook "validation.istio.io" denied the request'), message
    assert said in message
