"""A followed Deployment's revision, its rollout state and the primary cut from it, as pure functions of the
objects the API server returns (camelCase JSON, as `ApiClient.sanitize_for_serialization` writes them).

Why a hash of the pod template: the template is everything that makes a pod what it is, and the Deployment's own
`generation` also moves on a change of replicas (which graygate itself makes between runs), so only the template
tells a new version from a rescale. With `trackConfig` the data of the ConfigMaps and Secrets the template uses joins
the hash, so an edited ConfigMap is released like a new image.

Why readiness is more than the Available condition: a Deployment stays Available mid-rollout while the pods of its
older ReplicaSet still serve, and a canary that is "available" on its old version would be judged as the new one.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from graygate.domain.errors import UnfollowableWorkload

__all__ = [
    "MANAGED_BY_LABEL",
    "PRIMARY_REVISION_ANNOTATION",
    "WORKLOAD_LABEL",
    "config_key",
    "config_refs",
    "primary_body",
    "revision_of",
    "rollout_state",
]

PRIMARY_REVISION_ANNOTATION = "graygate.dev/revision"
"""On the primary Deployment: the revision of the followed Deployment whose pod template it runs."""
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
    config_maps: set[str] = set()
    secrets: set[str] = set()
    spec = _map(template.get("spec"))
    for volume in _maps(spec.get("volumes")):
        _add(config_maps, _map(volume.get("configMap")).get("name"))
        _add(secrets, _map(volume.get("secret")).get("secretName"))
        for source in _maps(_map(volume.get("projected")).get("sources")):
            _add(config_maps, _map(source.get("configMap")).get("name"))
            _add(secrets, _map(source.get("secret")).get("name"))
    for container in [*_maps(spec.get("containers")), *_maps(spec.get("initContainers"))]:
        for variable in _maps(container.get("env")):
            source = _map(variable.get("valueFrom"))
            _add(config_maps, _map(source.get("configMapKeyRef")).get("name"))
            _add(secrets, _map(source.get("secretKeyRef")).get("name"))
        for source in _maps(container.get("envFrom")):
            _add(config_maps, _map(source.get("configMapRef")).get("name"))
            _add(secrets, _map(source.get("secretRef")).get("name"))
    return tuple(sorted(config_maps)), tuple(sorted(secrets))


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


def primary_body(followed: Mapping[str, Any], primary: str, revision: str, replicas: int | None) -> dict[str, Any]:
    """The primary Deployment cut from the followed one: its spec with every selector `matchLabels` entry whose
    value is the workload's name (and the same pod label) renamed to `primary`, the revision annotation and
    graygate's labels, and none of the followed Deployment's own labels or annotations (a GitOps tool's tracking
    marks would make it prune the primary). `replicas` None leaves them out (for replacing only the template).

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
    template = copy.deepcopy(dict(_map(spec.get("template"))))
    template_metadata = dict(_map(template.get("metadata")))
    template_metadata["labels"] = {**_map(template_metadata.get("labels")), **dict.fromkeys(renamed, primary)}
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


def _add(names: set[str], name: Any) -> None:
    if isinstance(name, str) and name:
        names.add(name)
