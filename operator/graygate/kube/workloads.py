"""Whether the canary's workload can take traffic: its Deployment's rollout is complete (`rollout_state`), not
merely Available, which a Deployment stays mid-rollout while its older ReplicaSet's pods still serve."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from graygate.domain.release.revisions import rollout_state
from graygate.errors import NotFoundError
from graygate.kube.caches import ScopedCaches, deployment_projection
from graygate.kube.client import kube_errors


@dataclass(frozen=True)
class WorkloadAvailability:
    available: bool
    reason: str
    pod_labels: tuple[tuple[str, str], ...] | None = None
    """Its pod template's labels, sorted (None when the Deployment does not exist)."""


class KubeWorkloads:
    """With `cache`, a Deployment is read from memory when the cache holds it, else from the API server (see
    `graygate.kube.caches` for when each is used)."""

    def __init__(self, api: client.ApiClient, cache: ScopedCaches | None = None) -> None:
        self._apps: Any = client.AppsV1Api(api)
        self._cache = cache

    async def deployment_availability(self, namespace: str, name: str) -> WorkloadAvailability:
        cached = self._cache.read(namespace, name) if self._cache is not None else None
        if cached is not None:
            return _availability(cached)
        return await asyncio.to_thread(self._deployment_availability, namespace, name)

    def _deployment_availability(self, namespace: str, name: str) -> WorkloadAvailability:
        try:
            with kube_errors(f"Deployment {namespace}/{name}"):
                response = self._apps.read_namespaced_deployment_status(name, namespace, _preload_content=False)
        except NotFoundError:
            return WorkloadAvailability(False, f"Deployment {name} does not exist")
        deployment = json.loads(response.data)
        if self._cache is not None:
            self._cache.put(namespace, deployment_projection(deployment))
        return _availability(deployment)


def _availability(deployment: dict[str, Any]) -> WorkloadAvailability:
    available, reason = rollout_state(deployment)
    return WorkloadAvailability(available, reason, pod_labels(deployment))


def pod_labels(deployment: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The labels of a Deployment's pod template, sorted: what a DestinationRule subset must select."""
    labels = ((deployment.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    return tuple(sorted((str(key), str(value)) for key, value in labels.items()))
