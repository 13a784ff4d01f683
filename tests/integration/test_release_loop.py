"""The release loop against the real control plane: a release follows a Deployment (kube-controller-manager and
kwok roll it out for real, with ReplicaSets and pods), adopts its first revision, releases each new one, promotes
the winner to the primary it creates, rolls a loser back, and never sends traffic to a canary mid-rollout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from graygate.sandbox import HOLD_NOT_READY_LABEL
from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    WeightRecorder,
    canary_release,
    eventually,
    release,
    virtual_service,
    weights,
)

APP = "checkout"
PRIMARY = "checkout-primary"


def deployment(image: str, replicas: int = 2, *, hold: bool = False) -> dict[str, Any]:
    """The Deployment as Git holds it: selector `app: checkout`, one container."""
    labels = {"app": APP} | ({HOLD_NOT_READY_LABEL: "true"} if hold else {})
    return {
        "metadata": {"name": APP, "labels": {"app.kubernetes.io/instance": "shop"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": APP}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}},
        },
    }


def followed_release(**spec: Any) -> dict[str, Any]:
    body = canary_release(
        APP,
        [{"setWeight": 20}, {"setWeight": 50}],
        workload={"name": APP, "scaleDownDelay": "1s"},
        **spec,
    )
    return body


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def recorder(api: client.ApiClient, namespace: str) -> Iterator[WeightRecorder]:
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        **ISTIO, namespace=namespace, body=virtual_service(APP)
    )
    recording = WeightRecorder(api, namespace)
    yield recording
    recording.stop()


def status(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = release(api, namespace, APP).get("status", {})
    return found


def in_phase(api: client.ApiClient, namespace: str, phase: str, revision: str | None = None) -> dict[str, Any] | None:
    seen = status(api, namespace)
    if seen.get("phase") != phase or (revision is not None and seen.get("revision") != revision):
        return None
    return seen


def image_of(apps: client.AppsV1Api, namespace: str, name: str) -> str:
    found = apps.read_namespaced_deployment(name, namespace)
    return str(found.spec.template.spec.containers[0].image)


def replicas_of(apps: client.AppsV1Api, namespace: str, name: str) -> int:
    return int(apps.read_namespaced_deployment(name, namespace).spec.replicas)


def set_image(apps: client.AppsV1Api, namespace: str, image: str, *, hold: bool = False) -> None:
    apps.patch_namespaced_deployment(APP, namespace, {"spec": deployment(image, hold=hold)["spec"]})


def test_the_first_revision_is_adopted_and_the_next_one_promoted(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    apps.create_namespaced_deployment(namespace, deployment("app:v1"))
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        **RELEASES, namespace=namespace, body=followed_release()
    )
    adopted = eventually(lambda: in_phase(api, namespace, "Succeeded"), 60, "the first revision to be adopted")
    assert adopted["stableRevision"] == adopted["revision"]
    assert image_of(apps, namespace, PRIMARY) == "app:v1"
    primary = apps.read_namespaced_deployment(PRIMARY, namespace)
    assert primary.spec.selector.match_labels == {"app": PRIMARY}
    assert "app.kubernetes.io/instance" not in (primary.metadata.labels or {}), "Argo CD would prune it"
    eventually(lambda: replicas_of(apps, namespace, APP) == 0, 30, "the followed Deployment scaled to 0")

    set_image(apps, namespace, "app:v2")
    running = eventually(
        lambda: (s := status(api, namespace)).get("revision") != adopted["revision"] and s, 30, "a run of v2"
    )
    assert "new revision" in running["runCause"]
    done = eventually(lambda: in_phase(api, namespace, "Succeeded", running["revision"]), 90, "v2 promoted")
    assert done["stableRevision"] == running["revision"]
    assert image_of(apps, namespace, PRIMARY) == "app:v2"
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 10, "all traffic back on stable")
    eventually(lambda: replicas_of(apps, namespace, APP) == 0, 30, "the canary scaled to 0 after the run")
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20, 50, 100, 0]
    phases = [entry["to"] for entry in done["history"]]
    assert phases[-2:] == ["Promoting", "Succeeded"]


def test_a_canary_mid_rollout_gets_no_traffic_and_a_stuck_one_hits_the_deadline(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    apps.create_namespaced_deployment(namespace, deployment("app:v1"))
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        **RELEASES, namespace=namespace, body=followed_release(progressDeadline="8s")
    )
    adopted = eventually(lambda: in_phase(api, namespace, "Succeeded"), 60, "the first revision to be adopted")
    set_image(apps, namespace, "app:v2", hold=True)  # kwok keeps these pods Running but never Ready
    failed = eventually(lambda: in_phase(api, namespace, "Failed"), 60, "the deadline to fail the run")
    assert failed["revision"] != adopted["revision"]
    assert "progressDeadline 8s" in failed["message"], failed["message"]
    assert "before step 1" in failed["message"], failed["message"]
    recorder.stop()
    assert set(recorder.canary_sequence()) == {0}, "a canary that never became ready got traffic"
    assert image_of(apps, namespace, PRIMARY) == "app:v1"
    eventually(lambda: replicas_of(apps, namespace, APP) == 0, 30, "the failed canary scaled to 0")
    time.sleep(1.0)
    assert status(api, namespace)["phase"] == "Failed", "a failed run waits for the next revision"
