"""The Helm chart, rendered by the real helm: lint, every ci/ values file, the hardened pod, the one-replica and HA
workloads, metrics, and the values that feed the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helm_tools import CHART, CI_VALUES, RELEASE_NAMESPACE, TEST_REPOSITORY, Helm, Manifest, find, one, values_flags

VALUE_FILES: list[Path | None] = [None, *CI_VALUES]
VALUE_IDS = ["defaults", *(path.name for path in CI_VALUES)]
CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering"}


def workload(manifests: list[Manifest]) -> Manifest:
    workloads = find(manifests, "Deployment") + find(manifests, "StatefulSet")
    assert len(workloads) == 1, f"expected one Deployment or StatefulSet, found {len(workloads)}"
    return workloads[0]


def container(manifests: list[Manifest]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload(manifests)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["graygate"]
    return containers[0]


def env(manifests: list[Manifest]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container(manifests)["env"]}


def test_the_ci_folder_has_the_documented_cases() -> None:
    names = {path.name for path in CI_VALUES}
    assert {"default-values.yaml", "namespaced-values.yaml", "ha-values.yaml", "metrics-off-values.yaml"} <= names


@pytest.mark.parametrize("values_file", VALUE_FILES, ids=VALUE_IDS)
def test_lint_strict_passes(helm: Helm, values_file: Path | None) -> None:
    flags = ["--values", str(values_file)] if values_file else []
    result = helm.run("lint", "--strict", str(CHART), "--namespace", RELEASE_NAMESPACE, *flags, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout


@pytest.mark.parametrize("values_file", VALUE_FILES, ids=VALUE_IDS)
def test_renders_namespaced_objects_into_their_namespace(helm: Helm, values_file: Path | None) -> None:
    manifests = helm.template(*values_flags(values_file))
    for manifest in manifests:
        namespace = manifest["metadata"].get("namespace")
        where = f"{manifest['kind']} {manifest['metadata']['name']}"
        if manifest["kind"] in CLUSTER_SCOPED:
            assert namespace is None, where
        else:
            assert namespace, f"{where} has no namespace: kubectl would put it wherever the context points"


@pytest.mark.parametrize("values_file", VALUE_FILES, ids=VALUE_IDS)
def test_the_pod_is_hardened(helm: Helm, values_file: Path | None) -> None:
    manifests = helm.template(*values_flags(values_file))
    pod = workload(manifests)["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    graygate = container(manifests)
    assert graygate["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in graygate["volumeMounts"], "a read-only root needs a scratch /tmp"
    assert graygate["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "liveness"}
    assert {"name": "liveness", "containerPort": 8080, "protocol": "TCP"} in graygate["ports"]
    assert set(graygate["resources"]) == {"requests", "limits"}
    assert graygate["command"] == ["graygate"]
    assert graygate["args"][0] == "run"
    assert "--listen-address=0.0.0.0" in graygate["args"], "in a pod the endpoints must listen beyond loopback"
    assert "--liveness-port=8080" in graygate["args"]


def test_defaults_run_one_replica_that_is_replaced_not_rolled(default_manifests: list[Manifest]) -> None:
    deployment = one(default_manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not find(default_manifests, "StatefulSet")
    assert not find(default_manifests, "ClusterKopfPeering")
    args = container(default_manifests)["args"]
    assert "--all-namespaces" in args
    assert not [arg for arg in args if arg.startswith(("--peering", "--priority"))], "standalone: no peering"
    assert args[1:] == [
        "--all-namespaces",
        "--listen-address=0.0.0.0",
        "--liveness-port=8080",
        "--metrics-port=8081",
        "--log-format=json",
        "--tick-interval=1",
        "--resync-interval=300",
    ]


def test_env_names_the_pod_for_events_and_for_kopf(default_manifests: list[Manifest]) -> None:
    variables = env(default_manifests)
    assert variables["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert variables["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}, "Kopf's peer identity"


def test_ha_gives_every_replica_its_own_priority(helm: Helm) -> None:
    manifests = helm.template("--values", str(CHART / "ci" / "ha-values.yaml"))
    assert not find(manifests, "Deployment")
    statefulset = one(manifests, "StatefulSet")
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    args = container(manifests)["args"]
    assert "--peering=graygate" in args
    assert "--priority=$(GRAYGATE_PRIORITY)" in args, "Kubernetes expands $(VAR) in args from the container's env"
    assert env(manifests)["GRAYGATE_PRIORITY"] == {
        "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
    }, "the StatefulSet ordinal: distinct per replica, so Kopf never sees two equal priorities"
    peering = one(manifests, "ClusterKopfPeering")
    assert peering["apiVersion"] == "kopf.dev/v1"
    assert peering["metadata"]["name"] == "graygate"
    assert one(manifests, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_ha_in_namespaced_mode_meets_in_each_watched_namespace(helm: Helm) -> None:
    manifests = helm.template("--values", str(CHART / "ci" / "ha-namespaced-values.yaml"))
    peerings = find(manifests, "KopfPeering")
    assert sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in peerings) == [
        ("team-a", "graygate-teams"),
        ("team-b", "graygate-teams"),
    ]
    assert not find(manifests, "ClusterKopfPeering")
    args = container(manifests)["args"]
    assert "--namespace=team-a" in args
    assert "--namespace=team-b" in args
    assert "--all-namespaces" not in args
    assert "--peering=graygate-teams" in args


def test_metrics_have_a_service_on_the_metrics_port(default_manifests: list[Manifest]) -> None:
    service = one(default_manifests, "Service")
    assert service["metadata"]["name"] == "graygate-metrics"
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8081, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["spec"]["selector"] == workload(default_manifests)["spec"]["selector"]["matchLabels"]


def test_metrics_off_means_no_port_no_service_no_monitor(helm: Helm) -> None:
    manifests = helm.template(
        "--values", str(CHART / "ci" / "metrics-off-values.yaml"), "--api-versions", "monitoring.coreos.com/v1"
    )
    assert not find(manifests, "Service")
    assert not find(manifests, "ServiceMonitor")
    graygate = container(manifests)
    assert "--metrics-port=0" in graygate["args"]
    assert [port["name"] for port in graygate["ports"]] == ["liveness"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], 0),
        (["--api-versions", "monitoring.coreos.com/v1"], 1),
        (["--api-versions", "monitoring.coreos.com/v1", "--set", "metrics.serviceMonitor.enabled=false"], 0),
    ],
    ids=["no-prometheus-operator", "prometheus-operator", "prometheus-operator-but-disabled"],
)
def test_a_service_monitor_only_where_the_cluster_serves_one(helm: Helm, flags: list[str], expected: int) -> None:
    monitors = find(helm.template(*flags), "ServiceMonitor")
    assert len(monitors) == expected
    for monitor in monitors:
        assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]


def test_integrations_reach_the_operator_as_environment_and_mounted_secrets(helm: Helm) -> None:
    manifests = helm.template("--values", str(CHART / "ci" / "integrations-values.yaml"))
    variables = env(manifests)
    assert variables["GRAYGATE_PROMETHEUS_URL"] == "http://prometheus-operated.monitoring.svc:9090"
    assert variables["GRAYGATE_PROMETHEUS_CREDENTIALS_DIR"] == "/etc/graygate/prometheus"
    assert variables["GRAYGATE_ETCD_ENDPOINTS"] == (
        "https://etcd-0.etcd.graygate-system.svc:2379,https://etcd-1.etcd.graygate-system.svc:2379"
    )
    assert variables["GRAYGATE_ETCD_TLS_DIR"] == "/etc/graygate/etcd"
    assert variables["GRAYGATE_PROBE_URL_ALLOWLIST"] == (
        "http://checkout-canary.shop.svc:8080/,https://payments-canary.pay.svc/"
    )
    pod = workload(manifests)["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"prometheus-credentials": "graygate-prometheus", "etcd-tls": "graygate-etcd-client"}
    mounts = {m["name"]: (m["mountPath"], m.get("readOnly")) for m in container(manifests)["volumeMounts"]}
    assert mounts["prometheus-credentials"] == ("/etc/graygate/prometheus", True)
    assert mounts["etcd-tls"] == ("/etc/graygate/etcd", True)
    assert container(manifests)["image"] == (
        "registry.example.internal:5000/platform/graygate@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    assert "--log-format=text" in container(manifests)["args"]
    assert "--tick-interval=0.5" in container(manifests)["args"]


def test_unset_integrations_leave_no_trace(default_manifests: list[Manifest]) -> None:
    assert not [name for name in env(default_manifests) if name.startswith("GRAYGATE_")]
    assert container(default_manifests)["image"] == f"{TEST_REPOSITORY}:0.1.0"


def test_own_service_account_is_used_when_not_created(helm: Helm) -> None:
    manifests = helm.template("--set", "serviceAccount.create=false", "--set", "serviceAccount.name=platform-ops")
    assert not find(manifests, "ServiceAccount")
    assert workload(manifests)["spec"]["template"]["spec"]["serviceAccountName"] == "platform-ops"
    binding = one(manifests, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "platform-ops", "namespace": RELEASE_NAMESPACE}]
