"""`graygate.kube.gatetemplates` against the real API server: templates read by name, a GateTemplate only from the
release's own namespace, a missing one read as None; `graygate lint --cluster` reads them too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from graygate import cli
from graygate.api.gate_templates import GateRef, GateTemplateSpec
from graygate.kube.gatetemplates import KubeGateTemplates
from graygate.sandbox import ControlPlane

TEMPLATES = {"group": "graygate.dev", "version": "v1alpha1", "plural": "gatetemplates"}
CLUSTER_TEMPLATES = {"group": "graygate.dev", "version": "v1alpha1", "plural": "clustergatetemplates"}
SPEC = {
    "args": [{"name": "url", "type": "string"}],
    "gates": [{"name": "health", "httpProbe": {"url": "{{ args.url }}"}}],
}


def template(kind: str, name: str, spec: dict[str, object] = SPEC) -> dict[str, object]:
    return {"apiVersion": "graygate.dev/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def other_namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    yield name
    client.CoreV1Api(api).delete_namespace(name)


async def test_templates_are_read_by_name_and_a_gate_template_only_from_its_namespace(
    api: client.ApiClient, namespace: str, other_namespace: str
) -> None:
    custom = client.CustomObjectsApi(api)
    cluster = f"shared-{uuid.uuid4().hex[:6]}"
    custom.create_namespaced_custom_object(**TEMPLATES, namespace=namespace, body=template("GateTemplate", "mine"))
    custom.create_namespaced_custom_object(
        **TEMPLATES, namespace=other_namespace, body=template("GateTemplate", "theirs")
    )
    custom.create_cluster_custom_object(**CLUSTER_TEMPLATES, body=template("ClusterGateTemplate", cluster))
    try:
        refs = [
            GateRef(name="mine", kind="GateTemplate"),
            GateRef(name="theirs", kind="GateTemplate"),
            GateRef(name=cluster, kind="ClusterGateTemplate"),
            GateRef(name="nowhere", kind="ClusterGateTemplate"),
        ]
        read = await KubeGateTemplates(api).read(namespace, refs)
    finally:
        custom.delete_cluster_custom_object(**CLUSTER_TEMPLATES, name=cluster)
    mine = read[("GateTemplate", "mine")]
    assert mine is not None
    assert GateTemplateSpec.model_validate(mine) == GateTemplateSpec.model_validate(SPEC), "the spec, with defaults"
    assert read[("GateTemplate", "theirs")] is None, "a GateTemplate of another namespace is never read"
    assert read[("ClusterGateTemplate", cluster)] is not None
    assert read[("ClusterGateTemplate", "nowhere")] is None


def test_lint_reads_the_templates_no_file_defines_from_the_cluster(
    api: client.ApiClient, sandbox: ControlPlane, namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"probe-{uuid.uuid4().hex[:6]}"
    custom = client.CustomObjectsApi(api)
    custom.create_cluster_custom_object(**CLUSTER_TEMPLATES, body=template("ClusterGateTemplate", name))
    ref = {"name": name, "kind": "ClusterGateTemplate", "args": {"url": "http://checkout-canary/healthz"}}
    release = {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": "CanaryRelease",
        "metadata": {"name": "checkout", "namespace": namespace},
        "spec": {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
            "stable": {"host": "checkout", "subset": "stable"},
            "canary": {"host": "checkout", "subset": "canary"},
            "stepWeights": [10],
            "analysis": {"gateRefs": [ref]},
        },
    }
    manifest = tmp_path / "release.yaml"
    manifest.write_text(yaml.safe_dump(release))
    try:
        offline = cli.main(["lint", str(manifest)])
        assert f"ClusterGateTemplate {name} not found" in capsys.readouterr().out
        online = cli.main(["lint", str(manifest), "--cluster", f"--kubeconfig={sandbox.kubeconfig}"])
        assert "lint: 1 CanaryRelease(s), 0 problem(s)" in capsys.readouterr().out
    finally:
        custom.delete_cluster_custom_object(**CLUSTER_TEMPLATES, name=name)
    assert (offline, online) == (1, 0)
