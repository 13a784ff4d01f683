"""The followed workload's two Deployments on the API server: read both, give the primary a revision, scale one.

Objects are read as the raw JSON the server sent, not through the client's models: the revision hashes the pod
template exactly as stored, and a field the client's models do not know yet still counts (and still reaches the
primary). Of the followed Deployment, which Git owns, only the scale subresource is ever written. Of the primary,
a promotion replaces the pod template and the revision annotation and never the replicas, which an autoscaler
may own. With trackConfig a promotion first writes the primary's copies of the ConfigMaps and Secrets the revision
was computed from (`<name>-primary`), and the originals, which Git owns, are only read.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kubernetes import client

from graygate.api.spec import FollowedWorkload
from graygate.domain.errors import UnfollowableWorkload
from graygate.domain.release.observations import DeploymentState, FollowedState
from graygate.domain.release.revisions import (
    MANAGED_BY_LABEL,
    PRIMARY_REVISION_ANNOTATION,
    WORKLOAD_LABEL,
    ConfigKind,
    config_copy,
    config_key,
    config_material,
    config_refs,
    primary_body,
    primary_config_name,
    revision_of,
    rollout_state,
)
from graygate.errors import ForbiddenError, KubeError, NotFoundError
from graygate.kube.client import kube_errors
from graygate.kube.workloads import pod_labels

Body = dict[str, Any]
Configs = dict[tuple[ConfigKind, str], Body]
"""The ConfigMaps and Secrets a pod template uses that exist, by kind and name, as the API server returned them."""


class KubeFollowedWorkloads:
    """`ports.release.FollowedWorkloads` on the API server."""

    def __init__(self, api: client.ApiClient) -> None:
        self._apps: Any = client.AppsV1Api(api)
        self._core: Any = client.CoreV1Api(api)

    async def read(self, namespace: str, workload: FollowedWorkload) -> FollowedState:
        return await asyncio.to_thread(self._read, namespace, workload)

    async def promote(self, namespace: str, workload: FollowedWorkload, revision: str) -> bool:
        return await asyncio.to_thread(self._promote, namespace, workload, revision)

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        await asyncio.to_thread(self._scale, namespace, name, replicas)

    # ---- reading ----

    def canary_revision(self, namespace: str, workload: FollowedWorkload) -> str | None:
        """The revision of the followed Deployment as it is now (its pod template, and with trackConfig the
        ConfigMaps and Secrets it uses), exactly as `read` computes it; None when there is no Deployment.
        Synchronous: for the command line (`graygate status`)."""
        followed = self._deployment(namespace, workload.name)
        return None if followed is None else _revision(followed, self._configs(namespace, followed, workload))

    def _read(self, namespace: str, workload: FollowedWorkload) -> FollowedState:
        followed = self._deployment(namespace, workload.name)
        primary_name = workload.primary_name()
        primary = self._deployment(namespace, primary_name)
        canary = (
            _state(workload.name, followed, _revision(followed, self._configs(namespace, followed, workload)))
            if followed is not None
            else _missing(workload.name)
        )
        if primary is None:
            return FollowedState(canary=canary, primary=_missing(primary_name))
        annotations = primary.get("metadata", {}).get("annotations") or {}
        return FollowedState(
            canary=canary, primary=_state(primary_name, primary, annotations.get(PRIMARY_REVISION_ANNOTATION))
        )

    def _deployment(self, namespace: str, name: str) -> Body | None:
        try:
            with kube_errors(f"Deployment {namespace}/{name}"):
                return _json(self._apps.read_namespaced_deployment(name, namespace, _preload_content=False))
        except NotFoundError:
            return None

    def _configs(self, namespace: str, followed: Body, workload: FollowedWorkload) -> Configs:
        """With trackConfig, the ConfigMaps and Secrets the pod template uses that exist; else none."""
        if not workload.track_config:
            return {}
        config_maps, secrets = config_refs(followed.get("spec", {}).get("template") or {})
        configs: Configs = {}
        kinds: tuple[tuple[ConfigKind, tuple[str, ...]], ...] = (("ConfigMap", config_maps), ("Secret", secrets))
        for kind, names in kinds:
            for name in names:
                found = self._config(namespace, kind, name)
                if found is not None:
                    configs[(kind, name)] = found
        return configs

    def _config(self, namespace: str, kind: ConfigKind, name: str) -> Body | None:
        """The object as the server returned it; None when it does not exist (absent is part of the revision:
        creating it later starts a run)."""
        values = "configMapNames" if kind == "ConfigMap" else "secretNames"
        try:
            with kube_errors(f"{kind} {namespace}/{name}"):
                if kind == "ConfigMap":
                    response = self._core.read_namespaced_config_map(name, namespace, _preload_content=False)
                else:
                    response = self._core.read_namespaced_secret(name, namespace, _preload_content=False)
        except NotFoundError:
            return None
        except ForbiddenError as error:
            # The chart grants ConfigMaps and Secrets by name only.
            raise ForbiddenError(
                f"{error}; trackConfig reads the {kind}s the pod template uses: add {name} to the chart's {values}"
            ) from error
        return _json(response)

    # ---- writing ----

    def _promote(self, namespace: str, workload: FollowedWorkload, revision: str) -> bool:
        followed = self._deployment(namespace, workload.name)
        if followed is None:
            return False
        # The copies hold exactly what the revision was computed from: what is read here, hashed again.
        configs = self._configs(namespace, followed, workload)
        if _revision(followed, configs) != revision:
            return False
        primary_name = workload.primary_name()
        renames: dict[ConfigKind, dict[str, str]] = {"ConfigMap": {}, "Secret": {}}
        for kind, name in configs:
            renames[kind][name] = primary_config_name(name)
        try:
            wanted_replicas = int(followed.get("spec", {}).get("replicas") or 0)
            body = primary_body(
                followed,
                primary_name,
                revision,
                replicas=wanted_replicas if wanted_replicas > 0 else 1,
                config_maps=renames["ConfigMap"],
                secrets=renames["Secret"],
            )
        except UnfollowableWorkload as error:
            raise KubeError(str(error)) from error
        # The copies first, so the primary's new pods find them.
        for (kind, name), found in sorted(configs.items()):
            self._write_copy(namespace, kind, config_copy(kind, found, primary_config_name(name), workload.name))
        primary = self._deployment(namespace, primary_name)
        what = f"Deployment {namespace}/{primary_name}"
        if primary is None:
            with kube_errors(what):
                self._apps.create_namespaced_deployment(namespace, body)
            return True
        metadata = primary.get("metadata", {})
        annotations = metadata.get("annotations") or {}
        template = body["spec"]["template"]
        if annotations.get(PRIMARY_REVISION_ANNOTATION) == revision and primary["spec"].get("template") == template:
            return True
        # A JSON patch, so the template is replaced whole: a merge would keep a label or a container the new one
        # dropped.
        patch: list[Body] = [
            {"op": "replace", "path": "/spec/template", "value": template},
            (
                {
                    "op": "add",
                    "path": f"/metadata/annotations/{_pointer(PRIMARY_REVISION_ANNOTATION)}",
                    "value": revision,
                }
                if "annotations" in metadata and metadata["annotations"] is not None
                else {"op": "add", "path": "/metadata/annotations", "value": {PRIMARY_REVISION_ANNOTATION: revision}}
            ),
        ]
        with kube_errors(what):
            self._apps.patch_namespaced_deployment(primary_name, namespace, patch)
        return True

    def _write_copy(self, namespace: str, kind: ConfigKind, body: Body) -> None:
        """Creates the primary's copy of a ConfigMap or Secret, or replaces it when its data or type differ (guarded
        by its resourceVersion, so a concurrent write fails and the next tick tries again).

        Raises KubeError when an object of the copy's name exists that is not this workload's copy."""
        name = body["metadata"]["name"]
        what = f"{kind} {namespace}/{name}"
        secret = kind == "Secret"
        try:
            try:
                with kube_errors(what):
                    if secret:
                        response = self._core.read_namespaced_secret(name, namespace, _preload_content=False)
                    else:
                        response = self._core.read_namespaced_config_map(name, namespace, _preload_content=False)
                existing: Body | None = _json(response)
            except NotFoundError:
                existing = None
            if existing is None:
                with kube_errors(what):
                    if secret:
                        self._core.create_namespaced_secret(namespace, body)
                    else:
                        self._core.create_namespaced_config_map(namespace, body)
                return
            labels = existing.get("metadata", {}).get("labels") or {}
            workload = body["metadata"]["labels"][WORKLOAD_LABEL]
            if (labels.get(MANAGED_BY_LABEL), labels.get(WORKLOAD_LABEL)) != ("graygate", workload):
                # Someone else's object, or another followed workload's copy of a shared original: writing it
                # would change what other pods run, ungated.
                raise KubeError(
                    f"{what} exists and is not graygate's copy for the workload {workload}: it is left alone, "
                    "and the promotion waits until it is renamed or removed"
                )
            if _copy_fields(existing) == _copy_fields(body):
                return
            body = {
                **body,
                "metadata": {**body["metadata"], "resourceVersion": existing["metadata"]["resourceVersion"]},
            }
            with kube_errors(what):
                if secret:
                    self._core.replace_namespaced_secret(name, namespace, body)
                else:
                    self._core.replace_namespaced_config_map(name, namespace, body)
        except ForbiddenError as error:
            # The chart grants create on ConfigMaps and Secrets, and the rest by name only, behind one switch.
            values = "configMapNames" if kind == "ConfigMap" else "secretNames"
            raise ForbiddenError(
                f"{error}; trackConfig writes the primary's copy {name}: set the chart's trackConfig.enabled and "
                f"list the original in its {values}"
            ) from error

    def _scale(self, namespace: str, name: str, replicas: int) -> None:
        with kube_errors(f"Deployment {namespace}/{name} scale"):
            self._apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})


def _revision(followed: Body, configs: Configs) -> str:
    template = followed.get("spec", {}).get("template") or {}
    return revision_of(
        template, {config_key(kind, name): config_material(found) for (kind, name), found in configs.items()}
    )


def _copy_fields(config: Body) -> tuple[Any, ...]:
    """What of a copy a promotion sets besides its labels: a difference in any of it is a replace."""
    return (config.get("data") or {}, config.get("binaryData") or {}, config.get("type") or "")


def _state(name: str, deployment: Body, revision: str | None) -> DeploymentState:
    ready, message = rollout_state(deployment)
    replicas = deployment.get("spec", {}).get("replicas")
    conditions = deployment.get("status", {}).get("conditions") or []
    available = any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)
    return DeploymentState(
        name=name,
        revision=revision,
        replicas=int(replicas if replicas is not None else 1),
        ready=ready,
        available=ready or available,
        message=message,
        pod_labels=pod_labels(deployment),
    )


def _missing(name: str) -> DeploymentState:
    return DeploymentState(name=name, exists=False, message=f"Deployment {name} does not exist")


def _json(response: Any) -> Body:
    body: Body = json.loads(response.data)
    return body


def _pointer(key: str) -> str:
    """`key` as one JSON Pointer segment (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")
