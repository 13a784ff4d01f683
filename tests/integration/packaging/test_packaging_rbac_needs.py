"""The chart's RBAC against what the operator's code calls: used but not granted fails, granted but unused fails.

`KUBE_CALLS` is the one declared table: every Kubernetes API call in `graygate.kube`, by the function that makes it,
with the permission it needs and who runs it. It is checked against the code in both directions (a scan of
`operator/graygate/kube/*.py` for calls of the kubernetes client's API methods), so a new call without a row, or a
row whose call is gone, fails here first. Kopf's own calls are in `KOPF`, each with where Kopf 1.45 makes it.
The operator's needs are then the `operator` rows plus Kopf's, and must equal what the chart grants in each mode.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from typing import Literal, get_type_hints

import kubernetes.client
import pytest
import yaml
from helm_tools import CHART, REPO, Helm
from test_packaging_rbac import permissions, render

from graygate.ports.release import StatusWriter
from graygate.service import Deps

KUBE = REPO / "operator" / "graygate" / "kube"
Who = Literal["operator", "cli", "sandbox"]
Need = tuple[str, str, str]  # API group, resource (with /subresource), verb


@dataclass(frozen=True)
class Call:
    need: Need
    who: Who
    by_name: str = ""
    """The chart value listing the names the grant is limited to (each with `suffix`); empty: every object of the
    kind. The grant exists only when the list is set."""
    suffix: str = ""
    names: tuple[str, ...] = ()
    """Fixed names the grant is limited to (the chart names them itself); empty: `by_name`'s, or every object."""
    needs: tuple[str, ...] = ()
    """Other chart values that must be set for the grant to exist at all."""
    cluster_scoped: bool = False
    """A cluster-scoped resource: granted by a ClusterRole in every mode, never by a namespace's Role."""
    cli_too: bool = False
    """The command line makes the same call (`graygate status` computes the followed workload's revision with the
    operator's own code), so a user running it needs the permission as well."""


COPIES = "trackConfig.enabled"


# (module, function, client method, custom-object target) → the permission the call needs.
KUBE_CALLS: dict[tuple[str, str, str, str], Call] = {
    ("events", "KubeEvents._post", "create_namespaced_event", ""): Call(
        ("events.k8s.io", "events", "create"), "operator"
    ),
    ("events", "events_for", "list_namespaced_event", ""): Call(("events.k8s.io", "events", "list"), "cli"),
    ("releases", "KubeReleases._patch_status", "patch_namespaced_custom_object_status", "_RELEASES"): Call(
        ("graygate.dev", "canaryreleases/status", "patch"), "operator"
    ),
    ("releases", "KubeReleases.get", "get_namespaced_custom_object", "_RELEASES"): Call(
        ("graygate.dev", "canaryreleases", "get"), "cli"
    ),
    ("releases", "KubeReleases.list", "list_cluster_custom_object", "_RELEASES"): Call(
        ("graygate.dev", "canaryreleases", "list"), "cli"
    ),
    ("releases", "KubeReleases.list", "list_namespaced_custom_object", "_RELEASES"): Call(
        ("graygate.dev", "canaryreleases", "list"), "cli"
    ),
    ("releases", "KubeReleases.annotate", "patch_namespaced_custom_object", "_RELEASES"): Call(
        ("graygate.dev", "canaryreleases", "patch"), "cli"
    ),
    ("secrets", "KubeSecrets._secret_value", "read_namespaced_secret", ""): Call(
        ("", "secrets", "get"), "operator", by_name="secretNames"
    ),
    ("secrets", "KubeSecrets._config_map_value", "read_namespaced_config_map", ""): Call(
        ("", "configmaps", "get"), "operator", by_name="configMapNames"
    ),
    ("notification_settings", "KubeNotificationSettings._read", "read_namespaced_config_map", ""): Call(
        ("", "configmaps", "get"), "operator", names=("graygate-notifications",)
    ),
    ("virtualservices", "KubeVirtualServiceStore._get", "get_namespaced_custom_object", "_ISTIO"): Call(
        ("networking.istio.io", "virtualservices", "get"), "operator"
    ),
    ("virtualservices", "KubeVirtualServiceStore._replace", "replace_namespaced_custom_object", "_ISTIO"): Call(
        ("networking.istio.io", "virtualservices", "update"), "operator"
    ),
    ("httproutes", "KubeHTTPRouteStore._get", "get_namespaced_custom_object", "_GATEWAY_API"): Call(
        ("gateway.networking.k8s.io", "httproutes", "get"), "operator"
    ),
    ("httproutes", "KubeHTTPRouteStore._replace", "replace_namespaced_custom_object", "_GATEWAY_API"): Call(
        ("gateway.networking.k8s.io", "httproutes", "update"), "operator"
    ),
    # The watch-fed caches (graygate.kube.caches): a list, then a watch from its resourceVersion.
    ("watch_sources", "virtual_services.lister", "list_cluster_custom_object", "_ISTIO"): Call(
        ("networking.istio.io", "virtualservices", "list"), "operator"
    ),
    ("watch_sources", "virtual_services.lister", "list_namespaced_custom_object", "_ISTIO"): Call(
        ("networking.istio.io", "virtualservices", "list"), "operator"
    ),
    ("watch_sources", "virtual_services.watcher", "list_cluster_custom_object", "_ISTIO"): Call(
        ("networking.istio.io", "virtualservices", "watch"), "operator"
    ),
    ("watch_sources", "virtual_services.watcher", "list_namespaced_custom_object", "_ISTIO"): Call(
        ("networking.istio.io", "virtualservices", "watch"), "operator"
    ),
    ("watch_sources", "http_routes.lister", "list_cluster_custom_object", "_GATEWAY_API"): Call(
        ("gateway.networking.k8s.io", "httproutes", "list"), "operator"
    ),
    ("watch_sources", "http_routes.lister", "list_namespaced_custom_object", "_GATEWAY_API"): Call(
        ("gateway.networking.k8s.io", "httproutes", "list"), "operator"
    ),
    ("watch_sources", "http_routes.watcher", "list_cluster_custom_object", "_GATEWAY_API"): Call(
        ("gateway.networking.k8s.io", "httproutes", "watch"), "operator"
    ),
    ("watch_sources", "http_routes.watcher", "list_namespaced_custom_object", "_GATEWAY_API"): Call(
        ("gateway.networking.k8s.io", "httproutes", "watch"), "operator"
    ),
    ("watch_sources", "deployments.lister", "list_deployment_for_all_namespaces", "kwargs"): Call(
        ("apps", "deployments", "list"), "operator"
    ),
    ("watch_sources", "deployments.lister", "list_namespaced_deployment", "kwargs"): Call(
        ("apps", "deployments", "list"), "operator"
    ),
    ("watch_sources", "deployments.watcher", "list_deployment_for_all_namespaces", "kwargs"): Call(
        ("apps", "deployments", "watch"), "operator"
    ),
    ("watch_sources", "deployments.watcher", "list_namespaced_deployment", "kwargs"): Call(
        ("apps", "deployments", "watch"), "operator"
    ),
    ("destinationrules", "KubeDestinationRules._read", "list_namespaced_custom_object", "_ISTIO"): Call(
        ("networking.istio.io", "destinationrules", "list"), "operator"
    ),
    ("workloads", "KubeWorkloads._deployment_availability", "read_namespaced_deployment_status", ""): Call(
        ("apps", "deployments/status", "get"), "operator"
    ),
    ("followed", "KubeFollowedWorkloads._deployment", "read_namespaced_deployment", ""): Call(
        ("apps", "deployments", "get"), "operator", cli_too=True
    ),
    ("followed", "KubeFollowedWorkloads._promote", "create_namespaced_deployment", ""): Call(
        ("apps", "deployments", "create"), "operator"
    ),
    ("followed", "KubeFollowedWorkloads._promote", "patch_namespaced_deployment", ""): Call(
        ("apps", "deployments", "patch"), "operator"
    ),
    ("followed", "KubeFollowedWorkloads._scale", "patch_namespaced_deployment_scale", ""): Call(
        ("apps", "deployments/scale", "patch"), "operator"
    ),
    ("followed", "KubeFollowedWorkloads._config", "read_namespaced_config_map", ""): Call(
        ("", "configmaps", "get"), "operator", by_name="configMapNames", cli_too=True
    ),
    ("followed", "KubeFollowedWorkloads._config", "read_namespaced_secret", ""): Call(
        ("", "secrets", "get"), "operator", by_name="secretNames", cli_too=True
    ),
    ("followed", "KubeFollowedWorkloads._write_copy", "read_namespaced_config_map", ""): Call(
        ("", "configmaps", "get"), "operator", by_name="configMapNames", suffix="-primary", needs=(COPIES,)
    ),
    ("followed", "KubeFollowedWorkloads._write_copy", "read_namespaced_secret", ""): Call(
        ("", "secrets", "get"), "operator", by_name="secretNames", suffix="-primary", needs=(COPIES,)
    ),
    ("followed", "KubeFollowedWorkloads._write_copy", "create_namespaced_config_map", ""): Call(
        ("", "configmaps", "create"), "operator", needs=(COPIES, "configMapNames")
    ),
    ("followed", "KubeFollowedWorkloads._write_copy", "create_namespaced_secret", ""): Call(
        ("", "secrets", "create"), "operator", needs=(COPIES, "secretNames")
    ),
    ("followed", "KubeFollowedWorkloads._write_copy", "replace_namespaced_config_map", ""): Call(
        ("", "configmaps", "update"), "operator", by_name="configMapNames", suffix="-primary", needs=(COPIES,)
    ),
    ("followed", "KubeFollowedWorkloads._write_copy", "replace_namespaced_secret", ""): Call(
        ("", "secrets", "update"), "operator", by_name="secretNames", suffix="-primary", needs=(COPIES,)
    ),
    ("gatetemplates", "KubeGateTemplates._own", "get_namespaced_custom_object", "_TEMPLATES"): Call(
        ("graygate.dev", "gatetemplates", "get"), "operator"
    ),
    ("gatetemplates", "KubeGateTemplates._cluster", "get_cluster_custom_object", "_CLUSTER_TEMPLATES"): Call(
        ("graygate.dev", "clustergatetemplates", "get"), "operator", cluster_scoped=True
    ),
    ("sandbox_setup", "_create_or_replace", "create_custom_resource_definition", ""): Call(
        ("apiextensions.k8s.io", "customresourcedefinitions", "create"), "sandbox"
    ),
    ("sandbox_setup", "_create_or_replace", "read_custom_resource_definition", ""): Call(
        ("apiextensions.k8s.io", "customresourcedefinitions", "get"), "sandbox"
    ),
    ("sandbox_setup", "_create_or_replace", "replace_custom_resource_definition", ""): Call(
        ("apiextensions.k8s.io", "customresourcedefinitions", "update"), "sandbox"
    ),
    ("sandbox_setup", "_established", "read_custom_resource_definition_status", ""): Call(
        ("apiextensions.k8s.io", "customresourcedefinitions/status", "get"), "sandbox"
    ),
    ("sandbox_setup", "create_fake_node", "create_node", ""): Call(("", "nodes", "create"), "sandbox"),
    ("sandbox_setup", "default_service_account_exists", "read_namespaced_service_account", ""): Call(
        ("", "serviceaccounts", "get"), "sandbox"
    ),
    ("sandbox_setup", "ensure_namespace", "create_namespace", ""): Call(("", "namespaces", "create"), "sandbox"),
    ("sandbox_setup", "register_validating_webhook", "create_validating_webhook_configuration", ""): Call(
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "create"), "sandbox"
    ),
    ("sandbox_setup", "register_validating_webhook", "read_validating_webhook_configuration", ""): Call(
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "get"), "sandbox"
    ),
    ("sandbox_setup", "register_validating_webhook", "replace_validating_webhook_configuration", ""): Call(
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "update"), "sandbox"
    ),
    ("sandbox_setup", "webhook_judges", "create_namespaced_custom_object", ""): Call(
        ("networking.istio.io", "virtualservices", "create"), "sandbox"
    ),
}

# Kopf 1.45 (kopf/_cogs/clients/*): it lists (fetching.fetch_objs) and watches (watching.py, api.stream) every
# resource it serves and the CRDs (observation.py), patches bodies for its finalizer and annotations
# (patching.patch_obj, merge and JSON patches; the peering CRDs have no status subresource, so their keep-alive
# is a patch of the object too). It never GETs one object: its only other GETs are discovery (/version, /api,
# /apis: scanning.py), which every authenticated user may read. Its Events are off (settings.posting.enabled).
KOPF_EVERYWHERE: set[Need] = {
    ("graygate.dev", "canaryreleases", "list"),
    ("graygate.dev", "canaryreleases", "watch"),
    ("graygate.dev", "canaryreleases", "patch"),
}
KOPF_CRDS: set[Need] = {
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
}
KOPF_NAMESPACES: set[Need] = {("", "namespaces", "list"), ("", "namespaces", "watch")}
"""Namespaced mode only: Kopf's namespace observer scans namespaces even when given exact names."""


def kopf_peering(resource: str) -> set[Need]:
    return {("kopf.dev", resource, "list"), ("kopf.dev", resource, "watch"), ("kopf.dev", resource, "patch")}


def _api_methods() -> set[str]:
    """The request-making methods of the client's API classes (not helpers such as ApiClient.close)."""
    classes = [getattr(kubernetes.client, name) for name in dir(kubernetes.client) if name.endswith("Api")]
    verbs = ("create_", "read_", "list_", "patch_", "replace_", "delete_", "get_", "connect_")
    return {name for cls in classes if inspect.isclass(cls) for name in vars(cls) if name.startswith(verbs)}


def scanned_calls() -> set[tuple[str, str, str, str]]:
    """Every call of a kubernetes client API method in graygate.kube: (module, function, method, `**target`)."""
    api_methods = _api_methods()
    found: set[tuple[str, str, str, str]] = set()

    def visit(node: ast.AST, module: str, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, module, f"{where}.{child.name}" if where else child.name)
                continue
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr in api_methods:
                targets = [k.value.id for k in child.keywords if k.arg is None and isinstance(k.value, ast.Name)]
                found.add((module, where, child.func.attr, targets[0] if targets else ""))
            visit(child, module, where)

    for path in sorted(KUBE.glob("*.py")):
        visit(ast.parse(path.read_text()), path.stem, "")
    return found


def granted_by(call: Call, given: set[str]) -> bool:
    """Whether the chart grants the call when the values in `given` are set (a by-name row needs its names)."""
    return all(value in given for value in (*call.needs, *([call.by_name] if call.by_name else [])))


def operator_needs(*, given: set[str], cluster: bool = True, namespaced: bool = True) -> set[Need]:
    """The `operator` rows the chart grants with the values in `given` set (no names: nothing of theirs may be
    read; no trackConfig.enabled: no copy), of namespaced resources, cluster-scoped ones, or both."""
    return {
        call.need
        for call in KUBE_CALLS.values()
        if call.who == "operator" and granted_by(call, given) and (cluster if call.cluster_scoped else namespaced)
    }


CLUSTER_OPERATOR = operator_needs(given=set(), namespaced=False)
"""What the operator reads of cluster-scoped resources (the ClusterGateTemplates), granted in every mode."""


def granted(manifests: list[dict[str, object]], scope: str) -> set[Need]:
    return {(group, resource, verb) for where, group, resource, verb, _ in permissions(manifests) if where == scope}


def test_the_table_lists_every_kube_call_and_nothing_else() -> None:
    scanned, declared = scanned_calls(), set(KUBE_CALLS)
    assert scanned, "the scan found no call: it no longer recognises the client's methods"
    assert not scanned - declared, f"calls in graygate.kube with no row in KUBE_CALLS: {sorted(scanned - declared)}"
    assert not declared - scanned, f"rows in KUBE_CALLS whose call is gone: {sorted(declared - scanned)}"


def test_the_operator_reaches_the_releases_only_through_the_status_writer() -> None:
    """Why KubeReleases' get, list and annotate are `cli` rows: the operator holds KubeReleases as
    Deps.statuses, a StatusWriter, whose one method is patch_status (mypy --strict keeps it so)."""
    assert get_type_hints(Deps)["statuses"] is StatusWriter
    members = {name for name in vars(StatusWriter) if not name.startswith("_")}
    assert members == {"patch_status"}


@pytest.mark.parametrize(
    ("values", "scope", "expected"),
    [
        pytest.param(None, "*", operator_needs(given=set()) | KOPF_EVERYWHERE | KOPF_CRDS, id="defaults"),
        pytest.param(
            "integrations-values.yaml",
            "*",
            operator_needs(given={"secretNames", "configMapNames", COPIES}) | KOPF_EVERYWHERE | KOPF_CRDS,
            id="integrations",
        ),
        pytest.param(
            "ha-values.yaml",
            "*",
            operator_needs(given=set()) | KOPF_EVERYWHERE | KOPF_CRDS | kopf_peering("clusterkopfpeerings"),
            id="ha",
        ),
        pytest.param(
            "namespaced-values.yaml",
            "team-a",
            operator_needs(given={"secretNames", "configMapNames"}, cluster=False) | KOPF_EVERYWHERE,
            id="namespaced-watched",
        ),
        pytest.param(
            "namespaced-values.yaml", "*", KOPF_CRDS | KOPF_NAMESPACES | CLUSTER_OPERATOR, id="namespaced-cluster"
        ),
        pytest.param(
            "ha-namespaced-values.yaml",
            "team-b",
            operator_needs(given=set(), cluster=False) | KOPF_EVERYWHERE | kopf_peering("kopfpeerings"),
            id="ha-namespaced-watched",
        ),
    ],
)
def test_the_chart_grants_exactly_what_the_code_calls(
    helm: Helm, values: str | None, scope: str, expected: set[Need]
) -> None:
    given = granted(render(helm, values), scope)
    assert not expected - given, f"used but not granted: {sorted(expected - given)}"
    assert not given - expected, f"granted but unused: {sorted(given - expected)}"


def test_by_name_grants_are_limited_to_the_values_names(helm: Helm) -> None:
    """Per resource and verb, the names granted are exactly the rows' names (a row without names: every object)."""
    values = yaml.safe_load((CHART / "ci" / "integrations-values.yaml").read_text())
    given = {"secretNames", "configMapNames", COPIES}
    expected: dict[tuple[str, str], set[str]] = {}
    for call in KUBE_CALLS.values():
        if call.who != "operator" or not granted_by(call, given):
            continue
        _, resource, verb = call.need
        names = {f"{name}{call.suffix}" for name in values[call.by_name]} if call.by_name else set(call.names or [""])
        expected.setdefault((resource, verb), set()).update(names)
    rendered: dict[tuple[str, str], set[str]] = {}
    for _, _, resource, verb, name in permissions(render(helm, "integrations-values.yaml")):
        rendered.setdefault((resource, verb), set()).add(name)
    for (resource, verb), names in expected.items():
        assert rendered.get((resource, verb)) == names, f"{verb} {resource}"
    copies = {"gate-credentials-primary", "probe-token-primary"}
    assert expected[("secrets", "get")] == {"gate-credentials", "probe-token", *copies}, "the rows read both"
    assert expected[("secrets", "update")] == copies
