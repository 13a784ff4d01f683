"""The followed workload's adapter against the sandbox, where Deployments roll out for real (ReplicaSets and kwok
pods): revisions, readiness mid-rollout, the primary it cuts, a stale promotion refused, scaling that touches
nothing else, and trackConfig: the revision, and the primary's copies of the ConfigMaps and Secrets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from kubernetes import client

from graygate.api.spec import FollowedWorkload
from graygate.domain.release.observations import FollowedState
from graygate.domain.release.revisions import PRIMARY_REVISION_ANNOTATION, config_refs, revision_of
from graygate.errors import KubeError
from graygate.kube.followed import KubeFollowedWorkloads
from graygate.kube.workloads import KubeWorkloads
from graygate.sandbox import HOLD_NOT_READY_LABEL
from tests.cluster_support import eventually

GIT_LABELS = {"app": "checkout", "argocd.argoproj.io/instance": "shop"}
GIT_ANNOTATIONS = {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/checkout"}


def create_checkout(api: client.ApiClient, namespace: str, replicas: int = 1, **pod_spec: Any) -> None:
    labels = {"app": "checkout", "tier": "web"}
    spec = {"containers": [{"name": "app", "image": "shop/checkout:1"}], **pod_spec}
    client.AppsV1Api(api).create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "checkout", "labels": GIT_LABELS, "annotations": GIT_ANNOTATIONS},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "checkout"}},
                "template": {"metadata": {"labels": labels}, "spec": spec},
            },
        },
    )


def raw(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = api.sanitize_for_serialization(
        client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
    )
    return found


def read(adapter: KubeFollowedWorkloads, namespace: str, workload: FollowedWorkload) -> FollowedState:
    return asyncio.run(adapter.read(namespace, workload))


def new_image(api: client.ApiClient, namespace: str, image: str, hold: bool = False) -> None:
    labels = {"app": "checkout", "tier": "web", **({HOLD_NOT_READY_LABEL: "true"} if hold else {})}
    client.AppsV1Api(api).patch_namespaced_deployment(
        "checkout",
        namespace,
        {
            "spec": {
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}}
            }
        },
    )


CHECKOUT = FollowedWorkload.model_validate({"name": "checkout"})


def test_a_rolled_out_deployment_reads_ready_at_its_revision(api: client.ApiClient, namespace: str) -> None:
    adapter = KubeFollowedWorkloads(api)
    create_checkout(api, namespace, replicas=2)
    state = eventually(lambda: (s := read(adapter, namespace, CHECKOUT)).canary.ready and s, 60, "the rollout")
    assert state.canary.revision == revision_of(raw(api, namespace, "checkout")["spec"]["template"])
    assert state.canary.replicas == 2
    assert state.canary.message == "Deployment checkout: 2 of 2 replicas run the current template and are available"
    assert (state.primary.name, state.primary.exists, state.primary.revision) == ("checkout-primary", False, None)
    assert read(adapter, namespace, CHECKOUT).canary.revision == state.canary.revision, "stable across reads"


def test_mid_rollout_with_the_older_pods_still_serving_is_not_ready(api: client.ApiClient, namespace: str) -> None:
    adapter = KubeFollowedWorkloads(api)
    create_checkout(api, namespace)
    before = eventually(lambda: (s := read(adapter, namespace, CHECKOUT)).canary.ready and s, 60, "the rollout")

    new_image(api, namespace, "shop/checkout:2", hold=True)
    older = "Deployment checkout: 1 pod of an older ReplicaSet remains"
    state = eventually(
        lambda: (s := read(adapter, namespace, CHECKOUT)).canary.message == older and s, 60, "the rollout to stall"
    )
    assert not state.canary.ready
    assert state.canary.revision != before.canary.revision
    time.sleep(2)  # a rollout that is not held would be long done
    assert read(adapter, namespace, CHECKOUT).canary.message == older, "the held pod keeps the rollout stalled"
    held = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"{HOLD_NOT_READY_LABEL}=true").items
    assert len(held) == 1
    assert held[0].status.phase == "Running"
    assert {c.type: c.status for c in held[0].status.conditions}["Ready"] == "False"
    status = raw(api, namespace, "checkout")["status"]
    assert status.get("availableReplicas") == 1, "the older pod keeps the Deployment Available"
    availability = asyncio.run(KubeWorkloads(api).deployment_availability(namespace, "checkout"))
    assert (availability.available, availability.reason) == (False, older), "nor is a canaryWorkload available"


def test_promote_cuts_the_primary_then_refuses_a_stale_revision(api: client.ApiClient, namespace: str) -> None:
    adapter = KubeFollowedWorkloads(api)
    create_checkout(api, namespace, replicas=0)
    revision = read(adapter, namespace, CHECKOUT).canary.revision
    assert revision is not None
    assert asyncio.run(adapter.promote(namespace, CHECKOUT, revision))

    primary = raw(api, namespace, "checkout-primary")
    assert primary["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "graygate",
        "graygate.dev/workload": "checkout",
    }
    assert primary["metadata"]["annotations"][PRIMARY_REVISION_ANNOTATION] == revision
    assert not set(GIT_ANNOTATIONS) & set(primary["metadata"]["annotations"]), "no tracking annotation copied"
    assert "ownerReferences" not in primary["metadata"]
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "checkout-primary"}}
    assert primary["spec"]["template"]["metadata"]["labels"] == {"app": "checkout-primary", "tier": "web"}
    assert primary["spec"]["replicas"] == 1, "a followed Deployment at 0 gives the primary one replica"
    state = eventually(lambda: (s := read(adapter, namespace, CHECKOUT)).primary.ready and s, 60, "the primary")
    assert state.primary.revision == revision
    assert asyncio.run(adapter.promote(namespace, CHECKOUT, revision)), "promoting again is a no-op success"

    asyncio.run(adapter.scale(namespace, "checkout-primary", 3))  # as an autoscaler would
    new_image(api, namespace, "shop/checkout:2")
    # Status writes move the resourceVersion; generation and spec move only with a write of ours.
    written = raw(api, namespace, "checkout-primary")
    assert not asyncio.run(adapter.promote(namespace, CHECKOUT, revision)), "the template moved on"
    unchanged = raw(api, namespace, "checkout-primary")
    assert unchanged["metadata"]["generation"] == written["metadata"]["generation"], "nothing written"
    assert (unchanged["spec"], unchanged["metadata"]["annotations"]) == (
        written["spec"],
        written["metadata"]["annotations"],
    )

    newer = read(adapter, namespace, CHECKOUT).canary.revision
    assert newer not in (None, revision)
    assert asyncio.run(adapter.promote(namespace, CHECKOUT, newer))
    primary = raw(api, namespace, "checkout-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/checkout:2"
    assert primary["metadata"]["annotations"][PRIMARY_REVISION_ANNOTATION] == newer
    assert primary["spec"]["replicas"] == 3, "a promotion never touches the primary's replicas"


def test_scale_changes_the_replicas_and_nothing_else(api: client.ApiClient, namespace: str) -> None:
    adapter = KubeFollowedWorkloads(api)
    create_checkout(api, namespace, replicas=2)
    # Once rolled out, the controller has written its own annotation: what follows is ours alone.
    eventually(lambda: read(adapter, namespace, CHECKOUT).canary.ready, 60, "the rollout")
    before = raw(api, namespace, "checkout")
    asyncio.run(adapter.scale(namespace, "checkout", 0))
    after = raw(api, namespace, "checkout")
    assert after["spec"]["replicas"] == 0
    assert {**after["spec"], "replicas": 2} == before["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert after["metadata"]["annotations"] == before["metadata"]["annotations"]
    state = eventually(
        lambda: (s := read(adapter, namespace, CHECKOUT)).canary.message == "Deployment checkout: scaled to 0" and s,
        30,
        "the scaled-down state",
    )
    assert (state.canary.replicas, state.canary.ready) == (0, False)


def test_track_config_folds_the_used_configmaps_and_secrets_into_the_revision(
    api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings"}, "data": {"level": "info"}})
    create_checkout(
        api,
        namespace,
        volumes=[{"name": "settings", "configMap": {"name": "settings"}}],
        containers=[
            {
                "name": "app",
                "image": "shop/checkout:1",
                "volumeMounts": [{"name": "settings", "mountPath": "/etc/checkout"}],
                "env": [
                    {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "api-key", "key": "k", "optional": True}}}
                ],
            }
        ],
    )
    tracking = FollowedWorkload.model_validate({"name": "checkout", "trackConfig": True})
    adapter = KubeFollowedWorkloads(api)
    first = read(adapter, namespace, tracking).canary.revision
    plain = read(adapter, namespace, CHECKOUT).canary.revision
    assert first != plain

    core.patch_namespaced_config_map("settings", namespace, {"data": {"level": "debug"}})
    edited = read(adapter, namespace, tracking).canary.revision
    assert edited != first, "an edited ConfigMap is a new revision"
    assert read(adapter, namespace, CHECKOUT).canary.revision == plain, "without trackConfig it is not"

    core.create_namespaced_secret(namespace, {"metadata": {"name": "api-key"}, "stringData": {"k": "v"}})
    assert read(adapter, namespace, tracking).canary.revision not in (first, edited), "a missing Secret appeared"
    assert asyncio.run(adapter.promote(namespace, tracking, read(adapter, namespace, tracking).canary.revision or ""))
    assert not asyncio.run(adapter.promote(namespace, tracking, edited)), "a stale config revision is refused"


def config(api: client.ApiClient, namespace: str, kind: str, name: str) -> dict[str, Any]:
    core = client.CoreV1Api(api)
    read_one = core.read_namespaced_config_map if kind == "ConfigMap" else core.read_namespaced_secret
    found: dict[str, Any] = api.sanitize_for_serialization(read_one(name, namespace))
    return found


def test_track_config_promotes_onto_copies_the_original_never_written(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    git = {"labels": GIT_LABELS, "annotations": GIT_ANNOTATIONS}
    core.create_namespaced_config_map(
        namespace,
        {"metadata": {"name": "settings", **git}, "data": {"level": "info"}, "binaryData": {"blob": "AAE="}},
    )
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "db", **git}, "type": "Opaque", "stringData": {"pw": "one"}}
    )
    create_checkout(
        api,
        namespace,
        volumes=[{"name": "settings", "configMap": {"name": "settings"}}],
        containers=[
            {
                "name": "app",
                "image": "shop/checkout:1",
                "volumeMounts": [{"name": "settings", "mountPath": "/etc/checkout"}],
                "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}],
                "envFrom": [{"configMapRef": {"name": "settings"}}],
            }
        ],
    )
    tracking = FollowedWorkload.model_validate({"name": "checkout", "trackConfig": True})
    adapter = KubeFollowedWorkloads(api)
    revision = read(adapter, namespace, tracking).canary.revision
    assert revision is not None
    assert asyncio.run(adapter.promote(namespace, tracking, revision))

    ours = {"app.kubernetes.io/managed-by": "graygate", "graygate.dev/workload": "checkout"}
    settings, settings_copy = (
        config(api, namespace, "ConfigMap", "settings"),
        config(api, namespace, "ConfigMap", "settings-primary"),
    )
    assert (settings_copy["data"], settings_copy["binaryData"]) == ({"level": "info"}, {"blob": "AAE="})
    assert settings_copy["metadata"]["labels"] == ours
    assert "annotations" not in settings_copy["metadata"], "no tracking annotation copied"
    assert "ownerReferences" not in settings_copy["metadata"]
    db, db_copy = config(api, namespace, "Secret", "db"), config(api, namespace, "Secret", "db-primary")
    assert (db_copy["data"], db_copy["type"], db_copy["metadata"]["labels"]) == (db["data"], "Opaque", ours)
    primary = raw(api, namespace, "checkout-primary")
    template = primary["spec"]["template"]
    assert config_refs(template) == (("settings-primary",), ("db-primary",))
    assert config_refs(raw(api, namespace, "checkout")["spec"]["template"]) == (("settings",), ("db",))
    assert template["metadata"]["annotations"] == {PRIMARY_REVISION_ANNOTATION: revision}
    eventually(lambda: read(adapter, namespace, tracking).primary.ready, 60, "the primary's rollout")

    core.patch_namespaced_config_map("settings", namespace, {"data": {"level": "debug"}})
    settings = config(api, namespace, "ConfigMap", "settings")
    newer = read(adapter, namespace, tracking).canary.revision
    assert newer not in (None, revision), "a config-only change is a new revision"
    assert not asyncio.run(adapter.promote(namespace, tracking, revision)), "the stale revision is refused"
    assert config(api, namespace, "ConfigMap", "settings-primary")["data"] == {"level": "info"}, "nothing copied"

    assert asyncio.run(adapter.promote(namespace, tracking, newer or ""))
    assert config(api, namespace, "ConfigMap", "settings-primary")["data"] == {"level": "debug"}
    promoted = raw(api, namespace, "checkout-primary")
    assert promoted["metadata"]["annotations"][PRIMARY_REVISION_ANNOTATION] == newer
    assert promoted["spec"]["template"]["metadata"]["annotations"] == {PRIMARY_REVISION_ANNOTATION: newer}
    assert promoted["metadata"]["generation"] > primary["metadata"]["generation"], "the primary's pods roll"
    assert (
        config(api, namespace, "Secret", "db-primary")["metadata"]["resourceVersion"]
        == (db_copy["metadata"]["resourceVersion"])
    ), "an unchanged copy is not rewritten"
    state = eventually(
        lambda: (s := read(adapter, namespace, tracking)).primary.ready and s, 60, "the primary's new pods"
    )
    assert state.primary.revision == newer
    sets = client.AppsV1Api(api).list_namespaced_replica_set(namespace, label_selector="app=checkout-primary").items
    assert len(sets) == 2, "a config-only promotion rolled the primary onto a new ReplicaSet"

    for kind, before in (("ConfigMap", settings), ("Secret", db)):
        after = config(api, namespace, kind, before["metadata"]["name"])
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], (
            "the original is never written"
        )


def test_track_config_leaves_an_object_of_the_copys_name_that_is_not_its_copy(
    api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings"}, "data": {"level": "info"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings-primary"}, "data": {"mine": "yes"}})
    create_checkout(
        api,
        namespace,
        containers=[{"name": "app", "image": "shop/checkout:1", "envFrom": [{"configMapRef": {"name": "settings"}}]}],
    )
    tracking = FollowedWorkload.model_validate({"name": "checkout", "trackConfig": True})
    adapter = KubeFollowedWorkloads(api)
    revision = read(adapter, namespace, tracking).canary.revision or ""
    with pytest.raises(KubeError, match="settings-primary exists and is not graygate's copy for the workload checkout"):
        asyncio.run(adapter.promote(namespace, tracking, revision))
    assert config(api, namespace, "ConfigMap", "settings-primary")["data"] == {"mine": "yes"}
    assert read(adapter, namespace, tracking).primary.exists is False, "no primary without its copies"
