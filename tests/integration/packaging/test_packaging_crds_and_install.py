"""The copies that must not drift: the chart's CRDs against the generated ones in crds/, the templated CRDs against
the files, and deploy/install.yaml against the chart."""

from __future__ import annotations

import os
import subprocess

import yaml
from helm_tools import CHART, REPO, Helm, find

ROOT_CRDS = sorted((REPO / "crds").glob("*.yaml"))
KOPF_PEERING_CRDS = {"kopf.dev_clusterkopfpeerings.yaml", "kopf.dev_kopfpeerings.yaml"}


def test_the_chart_carries_byte_identical_copies_of_the_generated_crds() -> None:
    assert ROOT_CRDS, "crds/ is empty"
    for root in ROOT_CRDS:
        copy = CHART / "crds" / root.name
        assert copy.is_file(), f"charts/graygate/crds/{root.name} is missing: run deploy/render.sh"
        assert copy.read_bytes() == root.read_bytes(), (
            f"charts/graygate/crds/{root.name} differs from crds/{root.name}: run deploy/render.sh"
        )


GRAYGATE_CRDS = {"canaryreleases.graygate.dev", "gatetemplates.graygate.dev", "clustergatetemplates.graygate.dev"}


def test_the_chart_crds_are_ours_plus_kopfs_peering() -> None:
    names = {path.name for path in (CHART / "crds").iterdir()}
    assert names == {path.name for path in ROOT_CRDS} | KOPF_PEERING_CRDS


def test_kopf_peering_crds_keep_the_peers_in_an_open_status() -> None:
    for name in sorted(KOPF_PEERING_CRDS):
        crd = yaml.safe_load((CHART / "crds" / name).read_text())
        assert crd["spec"]["group"] == "kopf.dev"
        (version,) = crd["spec"]["versions"]
        assert version["name"] == "v1"
        assert "subresources" not in version, "Kopf patches the peers into .status of the main resource"
        assert version["schema"]["openAPIV3Schema"]["x-kubernetes-preserve-unknown-fields"] is True


def test_templated_crds_equal_the_files_and_are_kept_on_uninstall(helm: Helm) -> None:
    manifests = helm.template("--set", "crds.templated=true", "--skip-crds")
    crds = {crd["metadata"]["name"]: crd for crd in find(manifests, "CustomResourceDefinition")}
    assert set(crds) == GRAYGATE_CRDS, "the peering CRDs come only with ha.enabled"
    for root in ROOT_CRDS:
        source = yaml.safe_load(root.read_text())
        rendered = crds[source["metadata"]["name"]]
        assert rendered["spec"] == source["spec"]
        assert rendered["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert rendered["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
        assert rendered["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_templated_crds_include_kopfs_peering_in_ha_mode(helm: Helm) -> None:
    manifests = helm.template("--set", "crds.templated=true", "--set", "ha.enabled=true", "--skip-crds")
    names = {crd["metadata"]["name"] for crd in find(manifests, "CustomResourceDefinition")}
    assert names == GRAYGATE_CRDS | {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}


def test_templated_crds_are_off_by_default(helm: Helm) -> None:
    assert not find(helm.template(crds=False), "CustomResourceDefinition")


def test_install_yaml_is_the_chart_rendered_with_defaults(helm: Helm) -> None:
    fresh = subprocess.run(
        ["bash", str(REPO / "deploy" / "render.sh"), "--stdout"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "HELM": str(helm.binary)},
        timeout=120,
    ).stdout
    committed = (REPO / "deploy" / "install.yaml").read_text()
    assert committed == fresh, "deploy/install.yaml is out of date: run deploy/render.sh"


def test_install_yaml_creates_the_namespace_and_crds_first() -> None:
    documents = [d for d in yaml.safe_load_all((REPO / "deploy" / "install.yaml").read_text()) if d]
    kinds = [d["kind"] for d in documents]
    assert kinds[0] == "Namespace"
    assert documents[0]["metadata"]["name"] == "graygate-system"
    crd_positions = [i for i, kind in enumerate(kinds) if kind == "CustomResourceDefinition"]
    assert crd_positions == list(range(1, 1 + len(ROOT_CRDS) + 2)), "graygate's CRDs and Kopf's peering CRDs"
    assert "Deployment" in kinds
