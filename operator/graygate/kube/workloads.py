"""Whether the canary's workload can take traffic: a Deployment's Available condition, read as the
Deployment controller reports it (observedGeneration caught up, Available=True)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from graygate.errors import NotFoundError
from graygate.kube.client import kube_errors


@dataclass(frozen=True)
class WorkloadAvailability:
    available: bool
    reason: str


class KubeWorkloads:
    def __init__(self, api: client.ApiClient) -> None:
        self._apps: Any = client.AppsV1Api(api)

    async def deployment_availability(self, namespace: str, name: str) -> WorkloadAvailability:
        return await asyncio.to_thread(self._deployment_availability, namespace, name)

    def _deployment_availability(self, namespace: str, name: str) -> WorkloadAvailability:
        try:
            with kube_errors(f"Deployment {namespace}/{name}"):
                deployment = self._apps.read_namespaced_deployment_status(name, namespace)
        except NotFoundError:
            return WorkloadAvailability(False, f"Deployment {name} does not exist")
        status = deployment.status
        if (status.observed_generation or 0) < (deployment.metadata.generation or 0):
            return WorkloadAvailability(False, f"Deployment {name} has not observed its latest spec yet")
        for condition in status.conditions or []:
            if condition.type == "Available":
                ready = f"{status.available_replicas or 0}/{deployment.spec.replicas} replicas available"
                if condition.status == "True":
                    return WorkloadAvailability(True, f"Deployment {name}: {ready}")
                return WorkloadAvailability(False, f"Deployment {name} is not Available: {condition.message} ({ready})")
        return WorkloadAvailability(False, f"Deployment {name} reports no Available condition yet")
