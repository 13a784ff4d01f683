"""The Helm chart against the real control plane: the API server accepts every rendering (server-side dry run, CRDs
included), `helm install --wait` becomes ready and `helm uninstall` leaves the CRDs, and the chart's RBAC lets the
operator's ServiceAccount do what graygate does and nothing it does not.

kwok marks the chart's pods Ready; the permission checks ask the API server's own authorizer (a SubjectAccessReview
for the ServiceAccount, and the ServiceAccount's real token through kubectl); and the real operator, logged in with
that token, completes a release.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from graygate.sandbox import ControlPlane
from graygate.sandbox.kubeconfig import write_kubeconfig
from graygate.sandbox.toolchain import Toolchain, ToolchainMissingError
from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
    weights,
)

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "graygate"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
HOME = "graygate-system"
WATCHED = ("team-a", "team-b")  # the namespaces the namespaced ci/ files name
KUBE_VERSION = "1.35.4"
# image.repository is required (no public image): every rendering and install names one (kwok runs no image).
IMAGE_VALUES = REPO / "tests" / "integration" / "packaging" / "image-values.yaml"


@dataclass(frozen=True)
class Tools:
    helm_binary: Path
    kubectl_binary: Path
    kubeconfig: Path

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(self.helm_binary, args, check)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(self.kubectl_binary, args, check)

    def _run(self, binary: Path, args: tuple[str, ...], check: bool) -> subprocess.CompletedProcess[str]:
        argv = [str(binary), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{binary.name} {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result


@pytest.fixture(scope="module")
def tools(sandbox: ControlPlane, api: client.ApiClient) -> Tools:
    try:
        toolchain = Toolchain.locate()
        found = Tools(toolchain.binary("helm"), toolchain.binary("kubectl"), sandbox.kubeconfig)
    except ToolchainMissingError as error:
        pytest.fail(f"helm or kubectl is missing: run `make toolchain` ({error})", pytrace=False)
    # The chart's CRDs for real (ours is already there; Kopf's peering ones are new), so the dry runs below can
    # check the custom resources that use them.
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


def _install(tools: Tools, release: str, namespace: str, *flags: str) -> None:
    tools.helm(
        "install", release, str(CHART), "--namespace", namespace, "--wait", "--timeout", "120s",
        "--values", str(IMAGE_VALUES), *flags,
    )  # fmt: skip


def _uninstall(tools: Tools, release: str, namespace: str) -> None:
    tools.helm("uninstall", release, "--namespace", namespace, "--wait", "--timeout", "120s")


def _release() -> str:
    return f"gg-{uuid.uuid4().hex[:8]}"


def test_helm_install_becomes_ready_and_uninstall_keeps_the_crds(
    tools: Tools, api: client.ApiClient, namespace: str
) -> None:
    release = _release()
    fullname = f"{release}-graygate"
    _install(tools, release, namespace)
    apps = client.AppsV1Api(api)
    status = apps.read_namespaced_deployment_status(fullname, namespace).status
    available = {c.type: c.status for c in status.conditions or []}.get("Available")
    assert available == "True", status
    assert status.ready_replicas == 1
    rbac = client.RbacAuthorizationV1Api(api)
    assert rbac.read_cluster_role(fullname).rules

    _uninstall(tools, release, namespace)
    with pytest.raises(ApiException) as gone:
        rbac.read_cluster_role(fullname)
    assert gone.value.status == 404
    with pytest.raises(ApiException) as gone:
        apps.read_namespaced_deployment(fullname, namespace)
    assert gone.value.status == 404
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition("canaryreleases.graygate.dev")
    assert crd.metadata.name == "canaryreleases.graygate.dev", "helm never deletes the CRDs (and the releases)"


def test_ha_install_runs_replicas_with_distinct_ordinals(tools: Tools, api: client.ApiClient, namespace: str) -> None:
    release = _release()
    fullname = f"{release}-graygate"
    peering = f"{release}-peering"
    _install(
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
        _uninstall(tools, release, namespace)


# ---- least privilege, asked of the API server's authorizer ------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    release: str
    namespace: str
    service_account: str
    token: str
    user: str
    groups: list[str]


def _installed(tools: Tools, api: client.ApiClient, namespace: str, *flags: str) -> Installed:
    release = _release()
    _install(tools, release, namespace, *flags)
    service_account = f"{release}-graygate"
    core = client.CoreV1Api(api)
    token = core.create_namespaced_service_account_token(
        service_account, namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token
    review = client.AuthenticationV1Api(api).create_token_review({"spec": {"token": token}})
    assert review.status.authenticated
    assert review.status.user.username == f"system:serviceaccount:{namespace}:{service_account}"
    return Installed(release, namespace, service_account, token, review.status.user.username, review.status.user.groups)


@pytest.fixture(scope="module")
def cluster_wide(tools: Tools, api: client.ApiClient) -> Iterator[Installed]:
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    installed = _installed(
        tools, api, namespace, "--set", "secretNames={gate-credentials}", "--set", "configMapNames={prometheus-ca}"
    )
    yield installed
    _uninstall(tools, installed.release, namespace)
    client.CoreV1Api(api).delete_namespace(namespace)


@pytest.fixture(scope="module")
def namespaced(tools: Tools, api: client.ApiClient) -> Iterator[tuple[Installed, str, str]]:
    suffix = uuid.uuid4().hex[:8]
    home, watched, other = f"t-home-{suffix}", f"t-watched-{suffix}", f"t-other-{suffix}"
    core = client.CoreV1Api(api)
    for name in (home, watched, other):
        core.create_namespace({"metadata": {"name": name}})
    installed = _installed(
        tools, api, home, "--set", "scope.clusterWide=false", "--set", f"scope.namespaces={{{watched}}}"
    )
    yield installed, watched, other
    _uninstall(tools, installed.release, home)
    for name in (home, watched, other):
        core.delete_namespace(name)


def _allowed(api: client.ApiClient, who: Installed, access: Access, namespace: str | None = None) -> bool:
    verb, group, resource, subresource, name = access
    attributes = {"verb": verb, "group": group, "resource": resource, "subresource": subresource, "name": name}
    if namespace is not None:
        attributes["namespace"] = namespace
    spec = {"user": who.user, "groups": who.groups, "resourceAttributes": attributes}
    review = client.AuthorizationV1Api(api).create_subject_access_review({"spec": spec})
    return bool(review.status.allowed)


Access = tuple[str, str, str, str, str]  # verb, API group, resource, subresource, name

# What the operator does in a namespace it watches (graygate.kube.*, Kopf's watch, finalizer and annotations).
NEEDED: list[Access] = [
    ("list", "graygate.dev", "canaryreleases", "", ""),
    ("watch", "graygate.dev", "canaryreleases", "", ""),
    ("patch", "graygate.dev", "canaryreleases", "", ""),
    ("patch", "graygate.dev", "canaryreleases", "status", ""),
    ("get", "networking.istio.io", "virtualservices", "", ""),
    ("list", "networking.istio.io", "virtualservices", "", ""),
    ("watch", "networking.istio.io", "virtualservices", "", ""),
    ("update", "networking.istio.io", "virtualservices", "", ""),
    ("list", "networking.istio.io", "destinationrules", "", ""),
    ("get", "apps", "deployments", "status", ""),
    ("get", "apps", "deployments", "", ""),
    ("list", "apps", "deployments", "", ""),
    ("watch", "apps", "deployments", "", ""),
    ("create", "apps", "deployments", "", ""),
    ("patch", "apps", "deployments", "", ""),
    ("patch", "apps", "deployments", "scale", ""),
    ("create", "events.k8s.io", "events", "", ""),
]
SECRET_BY_NAME: Access = ("get", "", "secrets", "", "gate-credentials")
CONFIG_MAP_BY_NAME: Access = ("get", "", "configmaps", "", "prometheus-ca")
# What it never does.
REFUSED: list[Access] = [
    ("delete", "networking.istio.io", "virtualservices", "", ""),
    ("patch", "networking.istio.io", "virtualservices", "", ""),
    ("create", "networking.istio.io", "virtualservices", "", ""),
    ("update", "networking.istio.io", "destinationrules", "", ""),
    ("get", "graygate.dev", "canaryreleases", "", ""),
    ("create", "graygate.dev", "canaryreleases", "", ""),
    ("delete", "graygate.dev", "canaryreleases", "", ""),
    ("update", "graygate.dev", "canaryreleases", "", ""),
    ("list", "", "secrets", "", ""),
    ("watch", "", "secrets", "", ""),
    ("get", "", "secrets", "", "database-password"),
    ("delete", "apps", "deployments", "", ""),
    ("update", "apps", "deployments", "", ""),
    ("create", "", "pods", "", ""),
    ("create", "", "events", "", ""),
    ("get", "", "configmaps", "", "kube-root-ca.crt"),
    ("list", "", "configmaps", "", ""),
    ("watch", "", "configmaps", "", ""),
]


def _label(access: Access) -> str:
    verb, group, resource, subresource, name = access
    return "-".join(part for part in (verb, group, resource, subresource, name) if part)


BY_NAME = [SECRET_BY_NAME, CONFIG_MAP_BY_NAME]


@pytest.mark.parametrize("access", [*NEEDED, *BY_NAME], ids=[_label(a) for a in [*NEEDED, *BY_NAME]])
def test_cluster_wide_allows_what_graygate_does(
    api: client.ApiClient, cluster_wide: Installed, namespace: str, access: Access
) -> None:
    assert _allowed(api, cluster_wide, access, namespace)


@pytest.mark.parametrize("access", REFUSED, ids=[_label(a) for a in REFUSED])
def test_cluster_wide_refuses_what_graygate_never_does(
    api: client.ApiClient, cluster_wide: Installed, namespace: str, access: Access
) -> None:
    assert not _allowed(api, cluster_wide, access, namespace)


def test_cluster_wide_reads_crds_but_cannot_change_them(api: client.ApiClient, cluster_wide: Installed) -> None:
    assert _allowed(api, cluster_wide, ("watch", "apiextensions.k8s.io", "customresourcedefinitions", "", ""))
    assert not _allowed(api, cluster_wide, ("update", "apiextensions.k8s.io", "customresourcedefinitions", "", ""))
    assert not _allowed(api, cluster_wide, ("list", "", "namespaces", "", ""))


def test_the_service_account_token_is_refused_by_the_api_server(tools: Tools, cluster_wide: Installed) -> None:
    def as_operator(*args: str) -> subprocess.CompletedProcess[str]:
        return tools.kubectl("--token", cluster_wide.token, "--namespace", cluster_wide.namespace, *args, check=False)

    listed = as_operator("get", "canaryreleases", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["items"] == []
    secrets = as_operator("get", "secrets")
    assert secrets.returncode != 0
    assert "Forbidden" in secrets.stderr
    assert 'cannot list resource "secrets"' in secrets.stderr
    # by name: the operator may list VirtualServices (its cache), so `--all` in an empty namespace would delete nothing
    delete = as_operator("delete", "virtualservice", "checkout")
    assert delete.returncode != 0
    assert "Forbidden" in delete.stderr
    assert 'cannot delete resource "virtualservices"' in delete.stderr


def test_namespaced_mode_works_only_in_the_watched_namespaces(
    api: client.ApiClient, namespaced: tuple[Installed, str, str]
) -> None:
    installed, watched, other = namespaced
    for access in NEEDED:
        assert _allowed(api, installed, access, watched), access
        assert not _allowed(api, installed, access, other), access
        assert not _allowed(api, installed, access, installed.namespace), f"{access} in its own namespace"
    assert not _allowed(api, installed, ("list", "graygate.dev", "canaryreleases", "", "")), "no cluster-wide list"
    assert _allowed(api, installed, ("list", "apiextensions.k8s.io", "customresourcedefinitions", "", ""))
    assert _allowed(api, installed, ("list", "", "namespaces", "", "")), "Kopf scans namespaces"
    assert not _allowed(api, installed, ("get", "", "secrets", "", ""), other)


def test_the_operator_completes_a_release_under_the_charts_rbac(
    sandbox: ControlPlane, api: client.ApiClient, namespaced: tuple[Installed, str, str], tmp_path: Path
) -> None:
    """The real operator, logged in with the chart's ServiceAccount token (namespaced mode, not the admin token),
    drives a release in the namespace it watches to the end."""
    installed, watched, _ = namespaced
    kubeconfig = tmp_path / "operator.kubeconfig"
    write_kubeconfig(kubeconfig, sandbox.server, sandbox.workdir / "pki" / "ca.crt", installed.token, "graygate")
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(**ISTIO, namespace=watched, body=virtual_service("checkout"))
    create_destination_rule(api, watched)
    body = canary_release("checkout", [{"setWeight": 25}, {"pause": {"duration": "1s"}}], analysis=None)
    custom.create_namespaced_custom_object(**RELEASES, namespace=watched, body=body)
    operator = OperatorProcess(kubeconfig, watched, tmp_path / "operator.log")
    operator.start()
    try:
        done = eventually(
            lambda: (r := release(api, watched, "checkout")).get("status", {}).get("phase") == "Succeeded" and r,
            45,
            "the release to succeed under the chart's RBAC",
        )
        # The status (the intent) is written before the routes: the operator runs until the last weights too.
        eventually(lambda: weights(api, watched, "checkout") == (0, 100), 10, "the final weights")
    except AssertionError as error:
        raise AssertionError(f"{error}\noperator log:\n{operator.log()[-4000:]}") from None
    finally:
        operator.stop()
    assert [e["reason"] for e in done["status"]["history"]][-1] == "Succeeded"
    assert "Forbidden" not in operator.log(), "the chart's RBAC must grant every verb the operator uses"
