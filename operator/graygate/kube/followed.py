"""The followed workload's two Deployments on the API server: read both, give the primary a revision, scale one.

Objects are read as the raw JSON the server sent, not through the client's models: the revision hashes the pod
template exactly as stored, and a field the client's models do not know yet still counts (and still reaches the
primary). Of the followed Deployment, which Git owns, only the scale subresource is ever written. Of the primary,
a promotion replaces the pod template and the revision annotation and never the replicas, which an autoscaler
may own.
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
    PRIMARY_REVISION_ANNOTATION,
    config_key,
    config_refs,
    primary_body,
    revision_of,
    rollout_state,
)
from graygate.errors import ForbiddenError, KubeError, NotFoundError
from graygate.kube.client import kube_errors

Body = dict[str, Any]


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

    def _read(self, namespace: str, workload: FollowedWorkload) -> FollowedState:
        followed = self._deployment(namespace, workload.name)
        primary_name = workload.primary_name()
        primary = self._deployment(namespace, primary_name)
        canary = (
            _state(workload.name, followed, self._revision(namespace, followed, workload.track_config))
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

    def _revision(self, namespace: str, followed: Body, track_config: bool) -> str:
        template = followed.get("spec", {}).get("template") or {}
        if not track_config:
            return revision_of(template)
        config_maps, secrets = config_refs(template)
        configs: dict[str, Body] = {}
        for kind, names in (("ConfigMap", config_maps), ("Secret", secrets)):
            for name in names:
                found = self._config(namespace, kind, name)
                if found is not None:
                    configs[config_key(kind, name)] = found
        return revision_of(template, configs)

    def _config(self, namespace: str, kind: str, name: str) -> Body | None:
        """The object's data and binaryData; None when it does not exist (absent is part of the revision: creating
        it later starts a run)."""
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
        found = _json(response)
        return {"data": found.get("data") or {}, "binaryData": found.get("binaryData") or {}}

    # ---- writing ----

    def _promote(self, namespace: str, workload: FollowedWorkload, revision: str) -> bool:
        followed = self._deployment(namespace, workload.name)
        if followed is None or self._revision(namespace, followed, workload.track_config) != revision:
            return False
        primary_name = workload.primary_name()
        try:
            wanted_replicas = int(followed.get("spec", {}).get("replicas") or 0)
            body = primary_body(
                followed, primary_name, revision, replicas=wanted_replicas if wanted_replicas > 0 else 1
            )
        except UnfollowableWorkload as error:
            raise KubeError(str(error)) from error
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

    def _scale(self, namespace: str, name: str, replicas: int) -> None:
        with kube_errors(f"Deployment {namespace}/{name} scale"):
            self._apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})


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
    )


def _missing(name: str) -> DeploymentState:
    return DeploymentState(name=name, exists=False, message=f"Deployment {name} does not exist")


def _json(response: Any) -> Body:
    body: Body = json.loads(response.data)
    return body


def _pointer(key: str) -> str:
    """`key` as one JSON Pointer segment (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")
