"""The Helm chart against the real control plane: the API server accepts every rendering (server-side dry run, CRDs
included), `helm install --wait` becomes ready and `helm uninstall` leaves the CRDs, and the HA mode runs replicas
with distinct ordinals. kwok marks the chart's pods Ready. What the chart's ServiceAccount may and may not do is in
test_least_privilege.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.integration.chart_install import (
    CHART,
    HOME,
    IMAGE_VALUES,
    REPO,
    Tools,
    install,
    release_name,
    uninstall,
)

CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.35.4"


def _render(tools: Tools, values_file: Path | None) -> str:
    flags = ["--namespace", HOME, "--kube-version", KUBE_VERSION, "--values", str(IMAGE_VALUES)]
    if values_file is not None:
        flags += ["--values", str(values_file)]
        values = yaml.safe_load(values_file.read_text()) or {}
        templated = (values.get("crds") or {}).get("templated")
        flags.append("--skip-crds" if templated else "--include-crds")
    else:
        flags.append("--include-crds")
    return tools.helm("template", "graygate", str(CHART), *flags).stdout


@pytest.mark.parametrize("values_file", [None, *CI_VALUES], ids=["defaults", *(p.name for p in CI_VALUES)])
def test_the_api_server_accepts_every_rendering(tools: Tools, values_file: Path | None, tmp_path: Path) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(_render(tools, values_file))
    result = tools.kubectl(
        "apply", "--dry-run=server", "--server-side", "--force-conflicts", "-f", str(rendered), check=False
    )
    assert result.returncode == 0, result.stderr
    kinds = {document["kind"] for document in yaml.safe_load_all(rendered.read_text()) if document}
    assert len([line for line in result.stdout.splitlines() if "(server dry run)" in line]) >= len(kinds)


def test_the_install_manifest_passes_a_server_side_dry_run(tools: Tools) -> None:
    result = tools.kubectl(
        "apply", "--dry-run=server", "--server-side", "--force-conflicts", "-f", str(REPO / "deploy" / "install.yaml")
    )
    assert "deployment.apps/graygate serverside-applied (server dry run)" in result.stdout


def test_helm_install_becomes_ready_and_uninstall_keeps_the_crds(
    tools: Tools, api: client.ApiClient, namespace: str
) -> None:
    release = release_name()
    fullname = f"{release}-graygate"
    install(tools, release, namespace)
    apps = client.AppsV1Api(api)
    status = apps.read_namespaced_deployment_status(fullname, namespace).status
    available = {c.type: c.status for c in status.conditions or []}.get("Available")
    assert available == "True", status
    assert status.ready_replicas == 1
    rbac = client.RbacAuthorizationV1Api(api)
    assert rbac.read_cluster_role(fullname).rules

    uninstall(tools, release, namespace)
    with pytest.raises(ApiException) as gone:
        rbac.read_cluster_role(fullname)
    assert gone.value.status == 404
    with pytest.raises(ApiException) as gone:
        apps.read_namespaced_deployment(fullname, namespace)
    assert gone.value.status == 404
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition("canaryreleases.graygate.dev")
    assert crd.metadata.name == "canaryreleases.graygate.dev", "helm never deletes the CRDs (and the releases)"


def test_ha_install_runs_replicas_with_distinct_ordinals(tools: Tools, api: client.ApiClient, namespace: str) -> None:
    release = release_name()
    fullname = f"{release}-graygate"
    peering = f"{release}-peering"
    install(
        tools, release, namespace, "--values", str(CHART / "ci" / "ha-values.yaml"), "--set", f"ha.peering={peering}"
    )
    try:
        statefulset = client.AppsV1Api(api).read_namespaced_stateful_set_status(fullname, namespace)
        assert statefulset.status.ready_replicas == 3
        pods = client.CoreV1Api(api).list_namespaced_pod(
            namespace, label_selector=f"app.kubernetes.io/instance={release}"
        )
        ordinals = sorted(pod.metadata.labels["apps.kubernetes.io/pod-index"] for pod in pods.items)
        assert ordinals == ["0", "1", "2"], "each replica's Kopf priority comes from this label"
        custom = client.CustomObjectsApi(api)
        found = custom.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", peering)
        assert found["metadata"]["name"] == peering
    finally:
        uninstall(tools, release, namespace)
