"""Pod Security Admission `restricted`, enforced by the sandbox kube-apiserver's PodSecurity admission plugin: the
chart installs into namespaces labelled `pod-security.kubernetes.io/enforce=restricted`, and its Deployment's pods
are created there (by the ReplicaSet controller, through admission). A Pod made from the installed pod template is
admitted; each weakened copy of it is refused, naming the check it fails, while the same weakened copy is admitted
in a namespace without the label (so the refusal is PodSecurity's, and the test can fail).

What `restricted` does not check, the chart does: the container's root filesystem is read-only and everything it
may write is an emptyDir (test_least_privilege.py runs the operator with its writes recorded).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.integration.chart_install import RESTRICTED, Installed

Pod = dict[str, Any]


def _container(pod: Pod) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def _without_run_as_non_root(pod: Pod) -> None:
    pod["spec"]["securityContext"].pop("runAsNonRoot")
    _container(pod)["securityContext"].pop("runAsNonRoot")


def _root_user(pod: Pod) -> None:
    _container(pod)["securityContext"]["runAsUser"] = 0


def _privilege_escalation(pod: Pod) -> None:
    _container(pod)["securityContext"]["allowPrivilegeEscalation"] = True


def _a_capability(pod: Pod) -> None:
    _container(pod)["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["NET_ADMIN"]}


def _capabilities_kept(pod: Pod) -> None:
    _container(pod)["securityContext"].pop("capabilities")


def _unconfined_seccomp(pod: Pod) -> None:
    pod["spec"]["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    _container(pod)["securityContext"]["seccompProfile"] = {"type": "Unconfined"}


def _privileged(pod: Pod) -> None:
    # A privileged container may not forbid privilege escalation (the API's own validation says so).
    _container(pod)["securityContext"] |= {"privileged": True, "allowPrivilegeEscalation": True}


def _host_path(pod: Pod) -> None:
    pod["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/var/run"}})


def _host_network(pod: Pod) -> None:
    pod["spec"]["hostNetwork"] = True


WEAKENINGS: dict[str, tuple[Callable[[Pod], None], str]] = {
    "runAsNonRoot removed": (_without_run_as_non_root, "runAsNonRoot != true"),
    "runAsUser 0": (_root_user, "runAsUser=0"),
    "allowPrivilegeEscalation true": (_privilege_escalation, "allowPrivilegeEscalation != false"),
    "NET_ADMIN added": (_a_capability, "unrestricted capabilities"),
    "capabilities not dropped": (_capabilities_kept, "unrestricted capabilities"),
    "seccomp Unconfined": (_unconfined_seccomp, "seccompProfile"),
    "privileged": (_privileged, "privileged"),
    "a hostPath volume": (_host_path, "restricted volume types"),
    "hostNetwork": (_host_network, "host namespaces"),
}


def _pod_template(api: client.ApiClient, installed: Installed) -> Pod:
    deployment = client.AppsV1Api(api).read_namespaced_deployment(f"{installed.release}-graygate", installed.namespace)
    template: dict[str, Any] = api.sanitize_for_serialization(deployment.spec.template)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "graygate-psa-"}, "spec": template["spec"]}


def _create(api: client.ApiClient, namespace: str, pod: Pod) -> str:
    """'' when admitted (a dry run: nothing is created), else the API server's message."""
    try:
        client.CoreV1Api(api).create_namespaced_pod(namespace, pod, dry_run="All")
    except ApiException as error:
        return f"{error.status} {error.body}"
    return ""


@pytest.mark.parametrize("install", ["cluster_wide", "namespaced"])
def test_the_charts_pods_run_in_a_restricted_namespace(
    request: pytest.FixtureRequest, api: client.ApiClient, install: str
) -> None:
    installed: Installed = request.getfixturevalue(install)
    labels = client.CoreV1Api(api).read_namespace(installed.namespace).metadata.labels
    assert RESTRICTED.items() <= labels.items()
    status = client.AppsV1Api(api).read_namespaced_deployment_status(
        f"{installed.release}-graygate", installed.namespace
    )
    assert status.status.ready_replicas == 1, "the ReplicaSet's pod was admitted under `restricted`"
    pods = client.CoreV1Api(api).list_namespaced_pod(
        installed.namespace, label_selector=f"app.kubernetes.io/instance={installed.release}"
    )
    assert len(pods.items) == 1


def test_restricted_admits_the_chart_pod_and_refuses_each_weakened_copy(
    request: pytest.FixtureRequest, api: client.ApiClient, namespaced: Installed
) -> None:
    pod = _pod_template(api, namespaced)
    assert _create(api, namespaced.namespace, pod) == "", "the chart's own pod template"
    lenient = f"t-lenient-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": lenient}})
    core.create_namespaced_service_account(lenient, {"metadata": {"name": pod["spec"]["serviceAccountName"]}})
    lines = ["| weakened copy of the chart's pod | restricted namespace | namespace without the label |"]
    lines.append("|---|---|---|")
    try:
        for what, (weaken, check) in WEAKENINGS.items():
            weakened = copy.deepcopy(pod)
            weaken(weakened)
            refused = _create(api, namespaced.namespace, weakened)
            assert refused.startswith("403"), f"{what}: admitted under restricted"
            assert 'violates PodSecurity \\"restricted:latest\\"' in refused, refused
            assert check in refused, f"{what}: {refused}"
            assert _create(api, lenient, weakened) == "", f"{what}: refused without the label too"
            lines.append(f"| {what} | refused: {check} | admitted |")
    finally:
        core.delete_namespace(lenient)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


def test_the_root_filesystem_is_read_only_and_every_writable_mount_an_empty_dir(
    api: client.ApiClient, namespaced: Installed
) -> None:
    spec = _pod_template(api, namespaced)["spec"]
    container = _container({"spec": spec})
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    writable = [mount for mount in container["volumeMounts"] if not mount.get("readOnly")]
    assert [mount["mountPath"] for mount in writable] == ["/tmp"]
    assert all("emptyDir" in volumes[mount["name"]] for mount in writable)
