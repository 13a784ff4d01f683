"""What a ServiceAccount may do, asked twice of the API server: its authorizer (a SubjectAccessReview) and a real
request with the ServiceAccount's token (a `dryRun=All` write, so an access wrongly granted changes nothing).

`access_table` generates every row to check: each verb on each resource kind in `CATALOG` (every kind the operator
touches, with the verbs it never uses, and kinds it never touches), in the namespaces given and at cluster scope,
plus a name it was not granted where its grant is by name, and impersonation. A row is allowed exactly when the
grants allow it; `judge` checks both answers against that.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client

from tests.kube_access import Grant

ABSENT = "graygate-absent"
"""The object a named request asks for where the grant covers every name (the answer is then 404, not 403)."""
UNLISTED = "graygate-unlisted"
"""A name outside a by-name grant."""
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
SUBRESOURCE_VERBS = ("get", "update", "patch")
NAMED_VERBS = {"get", "update", "patch", "delete"}


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    resource: str
    namespaced: bool
    subresources: tuple[str, ...] = ()


CATALOG = (
    Kind("graygate.dev", "v1alpha1", "canaryreleases", True, ("status",)),
    Kind("graygate.dev", "v1alpha1", "gatetemplates", True),
    Kind("graygate.dev", "v1alpha1", "clustergatetemplates", False),
    Kind("networking.istio.io", "v1", "virtualservices", True),
    Kind("networking.istio.io", "v1", "destinationrules", True),
    Kind("gateway.networking.k8s.io", "v1", "httproutes", True),
    Kind("apps", "v1", "deployments", True, ("status", "scale")),
    Kind("events.k8s.io", "v1", "events", True),
    Kind("", "v1", "configmaps", True),
    Kind("", "v1", "secrets", True),
    Kind("kopf.dev", "v1", "kopfpeerings", True),
    Kind("apiextensions.k8s.io", "v1", "customresourcedefinitions", False),
    Kind("", "v1", "namespaces", False),
    Kind("kopf.dev", "v1", "clusterkopfpeerings", False),
    # Kinds the operator never touches.
    Kind("", "v1", "events", True),
    Kind("", "v1", "pods", True),
    Kind("", "v1", "services", True),
    Kind("", "v1", "serviceaccounts", True),
    Kind("apps", "v1", "replicasets", True),
    Kind("rbac.authorization.k8s.io", "v1", "roles", True),
    Kind("rbac.authorization.k8s.io", "v1", "rolebindings", True),
    Kind("", "v1", "nodes", False),
    Kind("rbac.authorization.k8s.io", "v1", "clusterroles", False),
    Kind("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False),
    Kind("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", False),
)
IMPERSONATED = (("users", "someone", None), ("serviceaccounts", "default", "default"))
"""Whom a row asks to impersonate: (resource, name, namespace)."""


@dataclass(frozen=True)
class Row:
    verb: str
    group: str
    resource: str
    """With its subresource: `deployments/scale`."""
    name: str
    namespace: str | None
    allowed: bool
    kind: Kind | None = None
    """None: an impersonation row."""

    @property
    def label(self) -> str:
        where = self.namespace or "(cluster)"
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {resource}{'/' + self.name if self.name else ''} in {where}"


def _verbs(kind: Kind) -> Iterable[tuple[str, str]]:
    yield from ((verb, kind.resource) for verb in VERBS)
    for sub in kind.subresources:
        yield from ((verb, f"{kind.resource}/{sub}") for verb in SUBRESOURCE_VERBS)


def access_table(grants: dict[str, set[Grant]], namespaces: Iterable[str]) -> list[Row]:
    """Every row to check. `grants`: scope ("*" for the whole cluster, else a namespace) → what is granted there."""
    rows: list[Row] = []
    everywhere = grants.get("*", set())
    for kind in CATALOG:
        for where in list(namespaces) if kind.namespaced else [None]:
            given = everywhere | (grants.get(where, set()) if where else set())
            for verb, resource in _verbs(kind):
                names = {name for group, res, v, name in given if (group, res, v) == (kind.group, resource, verb)}
                if "" in names:
                    any_name = ABSENT if verb in NAMED_VERBS else ""
                    rows.append(Row(verb, kind.group, resource, any_name, where, True, kind))
                    continue
                rows.extend(Row(verb, kind.group, resource, name, where, True, kind) for name in sorted(names))
                unlisted = UNLISTED if verb in NAMED_VERBS else ""
                rows.append(Row(verb, kind.group, resource, unlisted, where, False, kind))
    rows.extend(Row("impersonate", "", resource, name, where, False) for resource, name, where in IMPERSONATED)
    return rows


def uncatalogued(grants: dict[str, set[Grant]]) -> set[tuple[str, str]]:
    """Granted resources the catalog lacks: a new kind the operator touches must be added to it."""
    known = {(kind.group, kind.resource) for kind in CATALOG}
    return {(group, resource.split("/")[0]) for scoped in grants.values() for group, resource, _, _ in scoped} - known


def review(api: client.ApiClient, user: str, groups: list[str], row: Row) -> bool:
    """The authorizer's answer to a SubjectAccessReview for `row`."""
    resource, _, subresource = row.resource.partition("/")
    attributes = {"verb": row.verb, "group": row.group, "resource": resource, "subresource": subresource}
    attributes["name"] = row.name
    if row.namespace is not None:
        attributes["namespace"] = row.namespace
    spec = {"user": user, "groups": groups, "resourceAttributes": attributes}
    return bool(client.AuthorizationV1Api(api).create_subject_access_review({"spec": spec}).status.allowed)


@dataclass(frozen=True)
class Caller:
    """Real requests to the API server with a bearer token."""

    server: str
    ca_cert: Path
    token: str

    def call(self, row: Row) -> tuple[int, str]:
        """(status, message) of the request `row` stands for; a 403 is the authorizer's refusal."""
        method, path, body, headers = _request(row)
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **headers}
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as answer:
                return answer.status, ""  # a watch streams: its status is enough, the stream is closed unread
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                return error.code, str(json.loads(text).get("message", text))
            except ValueError:
                return error.code, text


def _request(row: Row) -> tuple[str, str, object, dict[str, str]]:
    if row.kind is None:  # impersonation: any request naming someone else; the impersonation is judged first
        who = f"system:serviceaccount:{row.namespace}:{row.name}" if row.resource == "serviceaccounts" else row.name
        return "GET", "/api/v1/namespaces/default/configmaps", None, {"Impersonate-User": who}
    kind = row.kind
    base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    if row.namespace is not None:
        base += f"/namespaces/{row.namespace}"
    resource, _, subresource = row.resource.partition("/")
    collection = f"{base}/{resource}"
    one = f"{collection}/{row.name}" + (f"/{subresource}" if subresource else "")
    merge = {"Content-Type": "application/merge-patch+json"}
    json_body = {"Content-Type": "application/json"}
    return {
        "get": ("GET", one, None, {}),
        "list": ("GET", collection, None, {}),
        "watch": ("GET", f"{collection}?watch=true&timeoutSeconds=1", None, {}),
        "create": ("POST", f"{collection}?dryRun=All", {}, json_body),
        "update": ("PUT", f"{one}?dryRun=All", {"metadata": {"name": row.name}}, json_body),
        "patch": ("PATCH", f"{one}?dryRun=All", {}, merge),
        "delete": ("DELETE", f"{one}?dryRun=All", None, {}),
        "deletecollection": ("DELETE", f"{collection}?dryRun=All", None, {}),
    }[row.verb]


def judge(api: client.ApiClient, caller: Caller, user: str, groups: list[str], row: Row) -> str | None:
    """None when the authorizer and the real request both answer as `row.allowed` says; else what differs."""
    reviewed = review(api, user, groups, row)
    status, message = caller.call(row)
    refused = status == 403 and "cannot" in message
    wrong = []
    if reviewed != row.allowed:
        wrong.append(f"SubjectAccessReview says {'allowed' if reviewed else 'refused'}")
    if refused == row.allowed:
        wrong.append(f"the real request got {status} {message[:160]}")
    return f"{row.label} (expected {'allowed' if row.allowed else 'refused'}): {'; '.join(wrong)}" if wrong else None


def chart_grants(api: client.ApiClient, user: str) -> dict[str, set[Grant]]:
    """What the installed RBAC objects grant `user` (a ServiceAccount), by scope: "*" for a ClusterRoleBinding."""
    rbac = client.RbacAuthorizationV1Api(api)
    namespace, name = user.split(":")[2:4]
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}

    def bound(binding: client.V1RoleBinding) -> bool:
        subjects = binding.subjects or []
        return any({"kind": s.kind, "name": s.name, "namespace": s.namespace} == subject for s in subjects)

    grants: dict[str, set[Grant]] = {}
    bindings = [("*", b) for b in rbac.list_cluster_role_binding().items if bound(b)]
    bindings += [(b.metadata.namespace, b) for b in rbac.list_role_binding_for_all_namespaces().items if bound(b)]
    for scope, binding in bindings:
        ref = binding.role_ref
        if ref.kind == "ClusterRole":
            rules = rbac.read_cluster_role(ref.name).rules
        else:
            rules = rbac.read_namespaced_role(ref.name, scope).rules
        for rule in rules or []:
            for group in rule.api_groups or []:
                for resource in rule.resources or []:
                    for verb in rule.verbs:
                        for object_name in rule.resource_names or [""]:
                            grants.setdefault(scope, set()).add((group, resource, verb, object_name))
    return grants
