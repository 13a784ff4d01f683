"""The plain-kubectl path: `kubectl apply --server-side -f deploy/install.yaml` on a real control plane makes the
operator's Deployment Available in a namespace that enforces the `restricted` Pod Security Standard, so the pod the
chart renders is admitted as hardened as it claims; the README's other spelling, `kubectl apply -f crds/ &&
kubectl apply -f deploy/install.yaml` (client-side apply), passes a server dry run on top of it. The CRDs stay
(they are the session's, and deleting a CRD would delete every release); everything else is deleted again."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from graygate.sandbox import ControlPlane
from graygate.sandbox.toolchain import Toolchain, ToolchainMissingError

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "install.yaml"
NAMESPACE = "graygate-system"


def _kubectl(sandbox: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        kubectl = Toolchain.locate().binary("kubectl")
    except ToolchainMissingError as error:
        pytest.fail(f"kubectl is missing: run `make venv` ({error})", pytrace=False)
    argv = [str(kubectl), f"--kubeconfig={sandbox.kubeconfig}", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(sandbox: ControlPlane, api: client.ApiClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _kubectl(sandbox, "apply", "--server-side", "--force-conflicts", "-f", str(INSTALL))
    yield
    everything_but_crds = [
        document
        for document in yaml.safe_load_all(INSTALL.read_text())
        if document and document["kind"] != "CustomResourceDefinition"
    ]
    leftovers = tmp_path_factory.mktemp("install") / "without-crds.yaml"
    leftovers.write_text(yaml.safe_dump_all(everything_but_crds))
    _kubectl(sandbox, "delete", "--ignore-not-found", "--wait=false", "-f", str(leftovers))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # gone for good, so no later test meets it Terminating
        try:
            client.CoreV1Api(api).read_namespace(NAMESPACE)
        except ApiException as error:
            if error.status == 404:
                return
            raise
        time.sleep(0.5)
    pytest.fail(f"namespace {NAMESPACE} was not deleted within 90 s")


def test_kubectl_apply_of_install_yaml_runs_the_operator(api: client.ApiClient, installed: None) -> None:
    labels = client.CoreV1Api(api).read_namespace(NAMESPACE).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    apps = client.AppsV1Api(api)
    deadline = time.monotonic() + 90
    status = None
    while time.monotonic() < deadline:
        status = apps.read_namespaced_deployment_status("graygate", NAMESPACE).status
        if {c.type: c.status for c in status.conditions or []}.get("Available") == "True" and status.ready_replicas:
            break
        time.sleep(0.5)
    else:
        events = client.CoreV1Api(api).list_namespaced_event(NAMESPACE).items
        pytest.fail(f"the Deployment never became Available: {status}; events: {[e.message for e in events]}")
    pods = client.CoreV1Api(api).list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/name=graygate")
    assert len(pods.items) == 1, "admitted under the restricted Pod Security Standard"
    assert pods.items[0].spec.service_account_name == "graygate"
    binding = client.RbacAuthorizationV1Api(api).read_cluster_role_binding("graygate")
    assert binding.subjects[0].namespace == NAMESPACE


def test_the_crds_then_install_yaml_spelling_is_accepted(sandbox: ControlPlane, installed: None) -> None:
    crds = _kubectl(sandbox, "apply", "--dry-run=server", "-f", str(REPO / "crds"))
    assert "customresourcedefinition.apiextensions.k8s.io/canaryreleases.graygate.dev" in crds.stdout
    install = _kubectl(sandbox, "apply", "--dry-run=server", "-f", str(INSTALL))
    assert "deployment.apps/graygate configured (server dry run)" in install.stdout
    assert "clusterrole.rbac.authorization.k8s.io/graygate configured (server dry run)" in install.stdout
