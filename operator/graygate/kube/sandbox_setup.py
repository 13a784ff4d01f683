"""What the sandbox asks of the API server once it is up: CRDs installed and Established, a fake kwok node, a check
that the ServiceAccount controller is running, and istiod's namespace, validating webhook and a check that the API
server calls it."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from graygate.errors import KubeError
from graygate.kube.client import api_client, kube_errors

KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
_PROBE_TIMEOUT_S = 15.0
"""Longer than the webhook's own 10 s, so the API server's answer about a slow webhook arrives first."""


def install_crds(kubeconfig: Path, files: Iterable[Path], timeout_s: float = 60.0) -> list[str]:
    """Creates (or replaces) every CRD in `files` and waits until each is Established."""
    names: list[str] = []
    with api_client(kubeconfig) as api:
        crds: Any = client.ApiextensionsV1Api(api)
        for path in files:
            for document in yaml.safe_load_all(path.read_text()):
                if not document or document.get("kind") != "CustomResourceDefinition":
                    continue
                _create_or_replace(crds, document)
                names.append(document["metadata"]["name"])
        deadline = time.monotonic() + timeout_s
        for name in names:
            while not _established(crds, name):
                if time.monotonic() > deadline:
                    raise KubeError(f"CRD {name} was not Established after {timeout_s:.0f} s")
                time.sleep(0.1)
    return names


def _create_or_replace(crds: Any, document: dict[str, Any]) -> None:
    name = document["metadata"]["name"]
    with kube_errors(f"CRD {name}"):
        try:
            crds.create_custom_resource_definition(document)
        except ApiException as error:
            if error.status != 409:
                raise
            current = crds.read_custom_resource_definition(name)
            document["metadata"]["resourceVersion"] = current.metadata.resource_version
            crds.replace_custom_resource_definition(name, document)


def _established(crds: Any, name: str) -> bool:
    with kube_errors(f"CRD {name}"):
        crd = crds.read_custom_resource_definition_status(name)
    conditions = (crd.status and crd.status.conditions) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def create_fake_node(kubeconfig: Path, name: str) -> None:
    """A node that kwok keeps Ready and whose pods it marks Running, so Deployments become Available."""
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake"},
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
        },
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
        },
    }
    with api_client(kubeconfig) as api, kube_errors(f"node {name}"):
        core: Any = client.CoreV1Api(api)
        core.create_node(node)


def default_service_account_exists(kubeconfig: Path, namespace: str = "default") -> bool:
    with api_client(kubeconfig) as api:
        try:
            client.CoreV1Api(api).read_namespaced_service_account("default", namespace)
        except ApiException:
            return False
    return True


def ensure_namespace(kubeconfig: Path, name: str) -> None:
    with api_client(kubeconfig) as api, kube_errors(f"namespace {name}"):
        try:
            core: Any = client.CoreV1Api(api)
            core.create_namespace({"metadata": {"name": name}})
        except ApiException as error:
            if error.status != 409:
                raise


def register_validating_webhook(kubeconfig: Path, body: dict[str, Any]) -> None:
    """Creates (or replaces) a ValidatingWebhookConfiguration."""
    name = body["metadata"]["name"]
    with api_client(kubeconfig) as api, kube_errors(f"ValidatingWebhookConfiguration {name}"):
        hooks: Any = client.AdmissionregistrationV1Api(api)
        try:
            hooks.create_validating_webhook_configuration(body)
        except ApiException as error:
            if error.status != 409:
                raise
            current = hooks.read_validating_webhook_configuration(name)
            body = {**body, "metadata": {**body["metadata"], "resourceVersion": current.metadata.resource_version}}
            hooks.replace_validating_webhook_configuration(name, body)


# Istio refuses this VirtualService (a header regex RE2 cannot compile); the CRD's schema lets it through.
_REFUSED_BY_ISTIO: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "sandbox-webhook-probe"},
    "spec": {
        "hosts": ["probe"],
        "http": [
            {
                "match": [{"headers": {"x-probe": {"regex": "(?=lookahead)"}}}],
                "route": [{"destination": {"host": "probe"}}],
            }
        ],
    },
}


def webhook_judges(kubeconfig: Path, namespace: str, webhook: str) -> bool:
    """Whether a server-side dry run of a VirtualService Istio refuses is refused by `webhook` (so the API
    server calls it): True once it is; False while the write passes or fails for another reason, including no answer
    within `_PROBE_TIMEOUT_S`, so the caller's deadline bounds the wait."""
    with api_client(kubeconfig) as api:
        custom: Any = client.CustomObjectsApi(api)
        try:
            custom.create_namespaced_custom_object(
                "networking.istio.io", "v1", namespace, "virtualservices", _REFUSED_BY_ISTIO,
                dry_run="All", _request_timeout=_PROBE_TIMEOUT_S,
            )  # fmt: skip
        except ApiException as error:
            return error.status in (400, 422) and webhook in str(error.body)
        except HTTPError:
            return False
    return False
