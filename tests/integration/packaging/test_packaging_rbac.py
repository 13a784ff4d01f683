"""Least privilege, checked on the rendered RBAC: each permission the chart grants is one the operator uses, in
the scope it uses it, and nothing else — no wildcard, no delete, no listing secrets.

A permission is (namespace, apiGroup, resource, verb, resourceName); a ClusterRole's namespace is "*". The expected
tables below are the code's needs (graygate.kube.*, Kopf's watching, finalizers, peering); a new need is a new row.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
from helm_tools import CHART, RELEASE_NAMESPACE, Helm, Manifest, find, one

Permission = tuple[str, str, str, str, str]

IN_EACH_NAMESPACE: set[tuple[str, str, str, str]] = {
    ("graygate.dev", "canaryreleases", "list", ""),
    ("graygate.dev", "canaryreleases", "watch", ""),
    ("graygate.dev", "canaryreleases", "patch", ""),
    ("graygate.dev", "canaryreleases/status", "patch", ""),
    ("networking.istio.io", "virtualservices", "get", ""),
    ("networking.istio.io", "virtualservices", "list", ""),  # the watch-fed cache (graygate.kube.caches)
    ("networking.istio.io", "virtualservices", "watch", ""),
    ("networking.istio.io", "virtualservices", "update", ""),
    ("gateway.networking.k8s.io", "httproutes", "get", ""),
    ("gateway.networking.k8s.io", "httproutes", "list", ""),
    ("gateway.networking.k8s.io", "httproutes", "watch", ""),
    ("gateway.networking.k8s.io", "httproutes", "update", ""),
    ("networking.istio.io", "destinationrules", "list", ""),
    ("networking.istio.io", "destinationrules", "watch", ""),
    ("apps", "deployments/status", "get", ""),
    ("apps", "deployments", "get", ""),
    ("apps", "deployments", "list", ""),
    ("apps", "deployments", "watch", ""),
    ("apps", "deployments", "create", ""),
    ("apps", "deployments", "patch", ""),
    ("apps", "deployments/scale", "patch", ""),
    ("events.k8s.io", "events", "create", ""),
    ("", "configmaps", "get", "graygate-notifications"),  # the namespace's default notification settings
    ("graygate.dev", "gatetemplates", "get", ""),
}
CLUSTER_TEMPLATES = {("graygate.dev", "clustergatetemplates", "get", "")}
"""Cluster-scoped: read through a ClusterRole in every mode."""
CRD_WATCH = {
    ("apiextensions.k8s.io", "customresourcedefinitions", "list", ""),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch", ""),
}
NAMESPACE_WATCH = {("", "namespaces", "list", ""), ("", "namespaces", "watch", "")}
"""Namespaced mode only: Kopf scans namespaces even when given exact names."""
FORBIDDEN_VERBS = {"delete", "deletecollection", "escalate", "bind", "impersonate", "*"}


def permissions(manifests: list[Manifest]) -> set[Permission]:
    """Every permission bound to the chart's ServiceAccount, through the bindings the chart renders."""
    roles = {(r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]): r for r in manifests}
    granted: set[Permission] = set()
    for binding in find(manifests, "ClusterRoleBinding") + find(manifests, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "graygate", "namespace": RELEASE_NAMESPACE}]
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace")
        role = roles[(ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])]
        for rule in role["rules"]:
            names = rule.get("resourceNames") or [""]
            for group, resource, verb, name in product(rule["apiGroups"], rule["resources"], rule["verbs"], names):
                granted.add((namespace or "*", group, resource, verb, name))
    return granted


def everywhere(scope: str, rows: set[tuple[str, str, str, str]]) -> set[Permission]:
    return {(scope, *row) for row in rows}


def render(helm: Helm, values: str | None = None, *sets: str) -> list[Manifest]:
    flags = ["--values", str(CHART / "ci" / values)] if values else []
    for assignment in sets:
        flags += ["--set", assignment]
    return helm.template(*flags, crds=False)


def test_cluster_wide_grants_exactly_what_the_operator_uses(helm: Helm) -> None:
    assert permissions(render(helm)) == everywhere("*", IN_EACH_NAMESPACE | CRD_WATCH | CLUSTER_TEMPLATES)


def test_namespaced_grants_only_in_the_watched_namespaces(helm: Helm) -> None:
    granted = permissions(render(helm, "namespaced-values.yaml"))
    by_name = {("", "secrets", "get", "gate-credentials"), ("", "configmaps", "get", "prometheus-ca")}
    expected = (
        everywhere("*", CRD_WATCH | NAMESPACE_WATCH | CLUSTER_TEMPLATES)
        | everywhere("team-a", IN_EACH_NAMESPACE | by_name)
        | everywhere("team-b", IN_EACH_NAMESPACE | by_name)
    )
    assert granted == expected
    roles = find(render(helm, "namespaced-values.yaml"), "Role")
    assert sorted(role["metadata"]["namespace"] for role in roles) == ["team-a", "team-b"]


def test_ha_may_touch_only_its_own_peering_object(helm: Helm) -> None:
    peering = {
        ("kopf.dev", "clusterkopfpeerings", "list", ""),
        ("kopf.dev", "clusterkopfpeerings", "watch", ""),
        ("kopf.dev", "clusterkopfpeerings", "patch", "graygate"),
    }
    assert permissions(render(helm, "ha-values.yaml")) == everywhere(
        "*", IN_EACH_NAMESPACE | CRD_WATCH | CLUSTER_TEMPLATES | peering
    )


def test_namespaced_ha_peers_in_each_watched_namespace(helm: Helm) -> None:
    peering = {
        ("kopf.dev", "kopfpeerings", "list", ""),
        ("kopf.dev", "kopfpeerings", "watch", ""),
        ("kopf.dev", "kopfpeerings", "patch", "graygate-teams"),
    }
    expected = everywhere("*", CRD_WATCH | NAMESPACE_WATCH | CLUSTER_TEMPLATES) | everywhere(
        "team-a", IN_EACH_NAMESPACE | peering
    )
    expected |= everywhere("team-b", IN_EACH_NAMESPACE | peering)
    assert permissions(render(helm, "ha-namespaced-values.yaml")) == expected


def test_secrets_are_readable_by_name_only(helm: Helm) -> None:
    """With trackConfig.enabled, also created (Kubernetes cannot limit create to names) and their copies read and
    replaced by name."""
    granted = permissions(render(helm, "integrations-values.yaml"))
    secrets = {p for p in granted if p[2] == "secrets"}
    assert secrets == {
        ("*", "", "secrets", "get", "gate-credentials"),
        ("*", "", "secrets", "get", "probe-token"),
        ("*", "", "secrets", "create", ""),
        ("*", "", "secrets", "get", "gate-credentials-primary"),
        ("*", "", "secrets", "get", "probe-token-primary"),
        ("*", "", "secrets", "update", "gate-credentials-primary"),
        ("*", "", "secrets", "update", "probe-token-primary"),
    }
    assert not {p for p in permissions(render(helm)) if p[2] == "secrets"}, "no secret at all by default"
    untracked = permissions(render(helm, "integrations-values.yaml", "trackConfig.enabled=false"))
    assert {p for p in untracked if p[2] == "secrets"} == {
        ("*", "", "secrets", "get", "gate-credentials"),
        ("*", "", "secrets", "get", "probe-token"),
    }


def test_config_maps_are_readable_by_name_only(helm: Helm) -> None:
    """A prometheus gate's `source.ca.configMapRef` is read by graygate.kube.secrets with a plain get; with
    trackConfig.enabled the ConfigMaps of followed workloads are copied (graygate.kube.followed)."""
    granted = permissions(render(helm, "integrations-values.yaml", "trackConfig.enabled=false"))
    config_maps = {p for p in granted if p[2] == "configmaps"}
    assert config_maps == {
        ("*", "", "configmaps", "get", "prometheus-ca"),
        ("*", "", "configmaps", "get", "istio-ca-root-cert"),
        ("*", "", "configmaps", "get", "graygate-notifications"),
    }
    tracked = {p for p in permissions(render(helm, "integrations-values.yaml")) if p[2] == "configmaps"}
    assert tracked - config_maps == {
        ("*", "", "configmaps", "create", ""),
        ("*", "", "configmaps", "get", "prometheus-ca-primary"),
        ("*", "", "configmaps", "get", "istio-ca-root-cert-primary"),
        ("*", "", "configmaps", "update", "prometheus-ca-primary"),
        ("*", "", "configmaps", "update", "istio-ca-root-cert-primary"),
    }
    assert {p for p in permissions(render(helm)) if p[2] == "configmaps"} == {
        ("*", "", "configmaps", "get", "graygate-notifications")
    }, "by default only the notification settings"


def test_track_config_creates_only_a_kind_it_may_read_and_only_where_it_watches(helm: Helm) -> None:
    """Without listed names graygate reads no original, so it would never copy one: nothing is granted."""
    alone = permissions(render(helm, None, "trackConfig.enabled=true"))
    assert {p for p in alone if p[2] in ("secrets", "configmaps")} == {
        ("*", "", "configmaps", "get", "graygate-notifications")
    }
    secrets_only = permissions(render(helm, None, "trackConfig.enabled=true", "secretNames={db}"))
    assert {p for p in secrets_only if p[2] in ("secrets", "configmaps")} == {
        ("*", "", "configmaps", "get", "graygate-notifications"),
        ("*", "", "secrets", "get", "db"),
        ("*", "", "secrets", "create", ""),
        ("*", "", "secrets", "get", "db-primary"),
        ("*", "", "secrets", "update", "db-primary"),
    }
    namespaced = permissions(render(helm, "namespaced-values.yaml", "trackConfig.enabled=true"))
    creates = {p for p in namespaced if p[3] == "create" and p[2] in ("secrets", "configmaps")}
    assert creates == {
        (namespace, "", resource, "create", "")
        for namespace in ("team-a", "team-b")
        for resource in ("secrets", "configmaps")
    }


@pytest.mark.parametrize("values", [None, *sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))])
def test_no_wildcards_no_deletes_no_escalation(helm: Helm, values: str | None) -> None:
    manifests = render(helm, values)
    rules: list[dict[str, Any]] = [
        rule for r in find(manifests, "ClusterRole") + find(manifests, "Role") for rule in r["rules"]
    ]
    assert rules
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard in {rule}"
        assert not FORBIDDEN_VERBS & set(rule["verbs"]), f"forbidden verb in {rule}"
        if {"secrets", "configmaps"} & set(rule["resources"]):
            # Create cannot be limited by name; it is the one exception, and only with trackConfig.enabled.
            named = rule.get("resourceNames") and set(rule["verbs"]) <= {"get", "update"}
            assert named or rule["verbs"] == ["create"], f"secrets and ConfigMaps only by name: {rule}"
        if "create" in rule["verbs"]:
            assert rule["resources"] in (["events"], ["deployments"], ["configmaps"], ["secrets"]), (
                f"the operator creates Events, primaries and the primaries' config copies: {rule}"
            )


def test_the_cluster_default_notifications_are_read_in_the_operators_namespace_only(helm: Helm) -> None:
    """values.notifications renders the ConfigMap and a Role in the release namespace: that ConfigMap and the
    channels' Secrets, by name, and nothing else there."""
    manifests = render(helm, "notifications-values.yaml")
    home = {p for p in permissions(manifests) if p[0] == RELEASE_NAMESPACE}
    assert home == {
        (RELEASE_NAMESPACE, "", "configmaps", "get", "graygate-notifications"),
        (RELEASE_NAMESPACE, "", "secrets", "get", "graygate-slack"),
        (RELEASE_NAMESPACE, "", "secrets", "get", "graygate-audit-hook"),
    }
    (config_map,) = [m for m in find(manifests, "ConfigMap") if m["metadata"]["name"] == "graygate-notifications"]
    assert "graygate-audit-hook" in config_map["data"]["notifications.yaml"]
    assert not [m for m in find(render(helm), "ConfigMap") if m["metadata"]["name"] == "graygate-notifications"]


def test_rbac_can_be_left_to_the_platform_team(helm: Helm) -> None:
    manifests = render(helm, None, "rbac.create=false")
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        assert not find(manifests, kind)
    one(manifests, "ServiceAccount")


def test_the_rbac_template_documents_every_rule() -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    rules_block = helpers.split('define "graygate.namespacedRules"')[1].split("{{- end -}}")[0]
    lines = [line.strip() for line in rules_block.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith("- apiGroups"):
            assert lines[index - 1].startswith("#"), f"rule without a comment saying who needs it: {line}"
