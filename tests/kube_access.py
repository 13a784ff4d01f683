"""What the operator asks of the Kubernetes API, as one table: every call in `graygate.kube` (`KUBE_CALLS`, by the
function that makes it, with the permission it needs and who makes it) and Kopf's own calls. The packaging tests
hold it against the code (a scan of `operator/graygate/kube/*.py`) and against the chart's rendered RBAC; the
least-privilege tests derive from it what the chart's ServiceAccount may do and what it must be refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Who = Literal["operator", "cli", "sandbox"]
Need = tuple[str, str, str]  # API group, resource (with /subresource), verb
Grant = tuple[str, str, str, str]  # API group, resource (with /subresource), verb, object name ("": every object)


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
    ("watch_sources", "destination_rules.lister", "list_cluster_custom_object", "_DESTINATION_RULES"): Call(
        ("networking.istio.io", "destinationrules", "list"), "operator"
    ),
    ("watch_sources", "destination_rules.lister", "list_namespaced_custom_object", "_DESTINATION_RULES"): Call(
        ("networking.istio.io", "destinationrules", "list"), "operator"
    ),
    ("watch_sources", "destination_rules.watcher", "list_cluster_custom_object", "_DESTINATION_RULES"): Call(
        ("networking.istio.io", "destinationrules", "watch"), "operator"
    ),
    ("watch_sources", "destination_rules.watcher", "list_namespaced_custom_object", "_DESTINATION_RULES"): Call(
        ("networking.istio.io", "destinationrules", "watch"), "operator"
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


def operator_grants(
    values: dict[str, list[str]], given: set[str], *, cluster: bool = True, namespaced: bool = True
) -> set[Grant]:
    """`operator_needs` with the object names each grant is limited to, the by-name rows' names taken from `values`
    (a chart value name → its list)."""
    grants: set[Grant] = set()
    for call in KUBE_CALLS.values():
        if call.who != "operator" or not granted_by(call, given):
            continue
        if not (cluster if call.cluster_scoped else namespaced):
            continue
        names = [f"{name}{call.suffix}" for name in values[call.by_name]] if call.by_name else list(call.names or [""])
        grants.update((*call.need, name) for name in names)
    return grants
