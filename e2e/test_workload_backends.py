"""The lab's backends follow a real Deployment: the sandbox's controllers make its ReplicaSet and pods (kwok marks
them Ready), and the lab serves the version of their image through an Envoy istiod configures (a WorkloadEntry
per ready pod)."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes import client

from e2e.lab import TrafficLab, WorkloadSide, wait_for
from e2e.support import istio_mesh, pod_lister
from graygate.sandbox import ControlPlane

pytestmark = pytest.mark.timeout(90)


def deployment(name: str, image: str, replicas: int) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image=image)]),
            ),
        ),
    )


async def test_a_deployment_s_pods_are_served_by_backends_of_its_image_tag(
    sandbox: ControlPlane, api: client.ApiClient, namespace: str
) -> None:
    apps = client.AppsV1Api(api)
    await asyncio.to_thread(apps.create_namespaced_deployment, namespace, deployment("app", "example/app:v2", 2))
    side = WorkloadSide("canary", "app", {"app": "app"})
    lab = TrafficLab(namespace=namespace, workloads=[side], list_pods=pod_lister(api), mesh=istio_mesh(sandbox))
    async with lab:

        async def a_workload_entry_per_pod() -> bool:
            found = await asyncio.to_thread(
                client.CustomObjectsApi(api).list_namespaced_custom_object,
                "networking.istio.io", "v1", namespace, "workloadentries",
            )  # fmt: skip
            return len(found["items"]) == 2

        async def served_by_the_backend() -> bool:
            return len(await lab.envoy.host_addresses(lab.envoy_cluster("canary")) or []) == 1

        await wait_for(a_workload_entry_per_pod, 30, "a WorkloadEntry per ready pod of Deployment app", interval_s=0.2)
        # The two pods' entries share their revision's backend address: istiod makes them one endpoint.
        await wait_for(served_by_the_backend, 30, "Envoy to hold the revision's backend", interval_s=0.2)
        result = await lab.load(rate_per_s=100, max_requests=50, max_duration_s=10).run()
        assert result.counts() == {"v2": 50}
        assert [r.deployment for r in lab.workloads.backends] == ["app"]
