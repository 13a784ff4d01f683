"""A followed Deployment's revision, its rollout state and the primary cut from it, as pure functions of the
objects the API server returns (camelCase JSON, as `ApiClient.sanitize_for_serialization` writes them).

Why a hash of the pod template: the template is everything that makes a pod what it is, and the Deployment's own
`generation` also moves on a change of replicas (which graygate itself makes between runs), so only the template
tells a new version from a rescale. With `trackConfig` the data of the ConfigMaps and Secrets the template uses joins
the hash, so an edited ConfigMap is released like a new image; and the primary then runs on copies of them
(`<name>-primary`, written at each promotion), for the primary's pods would otherwise read the very objects being
released: an edit would reach the stable side at once, ungated, and a rollback could not restore it.

Why the primary's pod template carries the revision too: a release of configuration alone leaves the template as it
was, and only a changed template makes the Deployment roll its pods onto the new copies.

Why readiness is more than the Available condition: a Deployment stays Available mid-rollout while the pods of its
older ReplicaSet still serve, and a canary that is "available" on its old version would be judged as the new one.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Literal

from graygate.domain.errors import UnfollowableWorkload

__all__ = [
    "MANAGED_BY_LABEL",
    "PRIMARY_REVISION_ANNOTATION",
    "WORKLOAD_LABEL",
    "ConfigKind",
    "config_copy",
    "config_key",
    "config_material",
    "config_refs",
    "primary_body",
    "primary_config_name",
    "rename_config_refs",
    "revision_of",
    "rollout_state",
]

ConfigKind = Literal["ConfigMap", "Secret"]

PRIMARY_REVISION_ANNOTATION = "graygate.dev/revision"
"""On the primary Deployment and on its pod template: the revision of the followed Deployment it runs."""
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
WORKLOAD_LABEL = "graygate.dev/workload"

_REVISION_HEX = 16


def config_key(kind: str, name: str) -> str:
    """How a ConfigMap's or Secret's data is named among `revision_of`'s configs: `ConfigMap/settings`."""
    return f"{kind}/{name}"


def revision_of(template: Mapping[str, Any], configs: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A short hash of the pod template and, when given (non-empty), the configs' data by `config_key`.

    Canonical JSON (sorted keys) makes it independent of key order; without configs it is the template's alone,
    so turning `trackConfig` on for a template that uses no ConfigMap or Secret starts no run.
    """
    material: Mapping[str, Any] = {"template": template, "configs": configs} if configs else template
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:_REVISION_HEX]


def config_refs(template: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of the ConfigMaps and of the Secrets the pod template uses (volumes, projected sources, env and
    envFrom of containers and init containers), each sorted and unique. Optional references count too."""
    found: dict[ConfigKind, set[str]] = {"ConfigMap": set(), "Secret": set()}
    for kind, holder, field in _references(template):
        name = holder.get(field)
        if isinstance(name, str) and name:
            found[kind].add(name)
    return tuple(sorted(found["ConfigMap"])), tuple(sorted(found["Secret"]))


def config_material(found: Mapping[str, Any]) -> dict[str, Any]:
    """What of a ConfigMap or Secret, as the API server returns it, joins the revision: its data and binaryData."""
    return {"data": found.get("data") or {}, "binaryData": found.get("binaryData") or {}}


def primary_config_name(name: str) -> str:
    """The name of the primary's copy of the ConfigMap or Secret `name`."""
    return f"{name}-primary"


def rename_config_refs(
    template: Mapping[str, Any], config_maps: Mapping[str, str], secrets: Mapping[str, str]
) -> dict[str, Any]:
    """A copy of the pod template whose every reference to a ConfigMap (Secret) named in `config_maps`
    (`secrets`) names its mapped value instead, wherever `config_refs` finds one; other references stay."""
    renamed = copy.deepcopy(dict(template))
    by_kind: dict[ConfigKind, Mapping[str, str]] = {"ConfigMap": config_maps, "Secret": secrets}
    for kind, holder, field in _references(renamed):
        name = holder.get(field)
        if isinstance(name, str) and name in by_kind[kind] and isinstance(holder, MutableMapping):
            holder[field] = by_kind[kind][name]
    return renamed


def config_copy(kind: ConfigKind, found: Mapping[str, Any], name: str, workload: str) -> dict[str, Any]:
    """The primary's copy, named `name`, of a ConfigMap or Secret as the API server returned it: its data (and
    binaryData, or a Secret's type) with graygate's labels, and none of the original's own labels or annotations (a
    GitOps tool's tracking marks would make it prune the copy). No owner: deleting the release keeps the stable
    pods' configuration."""
    metadata: dict[str, Any] = {"name": name, "labels": {MANAGED_BY_LABEL: "graygate", WORKLOAD_LABEL: workload}}
    namespace = _map(found.get("metadata")).get("namespace")
    if namespace:
        metadata["namespace"] = namespace
    body: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": metadata}
    for field in ("data", "binaryData") if kind == "ConfigMap" else ("data", "type"):
        if found.get(field):
            body[field] = copy.deepcopy(found[field])
    return body


def rollout_state(deployment: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether the Deployment's rollout is complete, and in words why (not).

    Complete: the controller has observed the latest generation, it wants at least one replica, every replica runs
    the current template and is available, and no pod of an older ReplicaSet remains.
    """
    metadata, spec, status = (_map(deployment.get(part)) for part in ("metadata", "spec", "status"))
    name = f"Deployment {metadata.get('name', '?')}"
    generation = int(metadata.get("generation") or 0)
    # The API server defaults a missing `replicas` to 1.
    wanted = int(spec["replicas"]) if spec.get("replicas") is not None else 1
    replicas, updated, available = (
        int(status.get(field) or 0) for field in ("replicas", "updatedReplicas", "availableReplicas")
    )
    if int(status.get("observedGeneration") or 0) < generation:
        return False, f"{name}: the controller has not observed generation {generation} yet"
    if wanted <= 0:
        return False, f"{name}: scaled to 0"
    if updated < wanted:
        return False, f"{name}: {updated} of {wanted} replicas run the current template"
    if replicas > updated:
        old = replicas - updated
        remain = "pod of an older ReplicaSet remains" if old == 1 else "pods of an older ReplicaSet remain"
        return False, f"{name}: {old} {remain}"
    if available < wanted:
        return False, f"{name}: {available} of {wanted} replicas are available"
    return True, f"{name}: {wanted} of {wanted} replicas run the current template and are available"


def primary_body(
    followed: Mapping[str, Any],
    primary: str,
    revision: str,
    replicas: int | None,
    config_maps: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The primary Deployment cut from the followed one: its spec with every selector `matchLabels` entry whose
    value is the workload's name (and the same pod label) renamed to `primary`, the references to the ConfigMaps
    and Secrets named in `config_maps` and `secrets` renamed to their mapped values (the copies), the revision
    annotation on it and on its pod template and graygate's labels, and none of the followed Deployment's own labels
    or annotations (a GitOps tool's tracking marks would make it prune the primary). `replicas` None leaves them out
    (for replacing only the template).

    Raises UnfollowableWorkload when no `matchLabels` entry has the workload's name as its value.
    """
    metadata, spec = _map(followed.get("metadata")), _map(followed.get("spec"))
    name = str(metadata.get("name", ""))
    selector = copy.deepcopy(dict(_map(spec.get("selector"))))
    match_labels = dict(_map(selector.get("matchLabels")))
    renamed = sorted(key for key, value in match_labels.items() if value == name)
    if not renamed:
        raise UnfollowableWorkload(
            f"Deployment {name} cannot be followed: no label of its selector's matchLabels has the value {name!r}, "
            f"so the primary's pods ({primary}) could not be told apart from its own"
        )
    selector["matchLabels"] = {**match_labels, **dict.fromkeys(renamed, primary)}
    template = rename_config_refs(_map(spec.get("template")), config_maps or {}, secrets or {})
    template_metadata = dict(_map(template.get("metadata")))
    template_metadata["labels"] = {**_map(template_metadata.get("labels")), **dict.fromkeys(renamed, primary)}
    template_metadata["annotations"] = {
        **_map(template_metadata.get("annotations")),
        PRIMARY_REVISION_ANNOTATION: revision,
    }
    template["metadata"] = template_metadata

    kept = {key: copy.deepcopy(value) for key, value in spec.items() if key not in ("replicas", "paused")}
    body_spec: dict[str, Any] = {**kept, "selector": selector, "template": template}
    if replicas is not None:
        body_spec["replicas"] = replicas
    body_metadata: dict[str, Any] = {
        "name": primary,
        "labels": {MANAGED_BY_LABEL: "graygate", WORKLOAD_LABEL: name},
        "annotations": {PRIMARY_REVISION_ANNOTATION: revision},
    }
    if metadata.get("namespace"):
        body_metadata["namespace"] = metadata["namespace"]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": body_metadata, "spec": body_spec}


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _maps(value: Any) -> Iterator[Mapping[str, Any]]:
    for item in value if isinstance(value, list) else ():
        if isinstance(item, Mapping):
            yield item


def _references(template: Mapping[str, Any]) -> Iterator[tuple[ConfigKind, Mapping[str, Any], str]]:
    """Every place a pod template may name a ConfigMap or a Secret: its kind, the object that holds the name, and
    the name's field there (the holder is empty where the template has no such reference)."""
    spec = _map(template.get("spec"))
    for volume in _maps(spec.get("volumes")):
        yield "ConfigMap", _map(volume.get("configMap")), "name"
        yield "Secret", _map(volume.get("secret")), "secretName"
        for source in _maps(_map(volume.get("projected")).get("sources")):
            yield "ConfigMap", _map(source.get("configMap")), "name"
            yield "Secret", _map(source.get("secret")), "name"
    for container in [*_maps(spec.get("containers")), *_maps(spec.get("initContainers"))]:
        for variable in _maps(container.get("env")):
            source = _map(variable.get("valueFrom"))
            yield "ConfigMap", _map(source.get("configMapKeyRef")), "name"
            yield "Secret", _map(source.get("secretKeyRef")), "name"
        for source in _maps(container.get("envFrom")):
            yield "ConfigMap", _map(source.get("configMapRef")), "name"
            yield "Secret", _map(source.get("secretRef")), "name"
