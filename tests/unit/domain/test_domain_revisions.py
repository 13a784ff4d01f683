"""Revisions, rollout states and the primary, as tables over Deployment objects as the API server returns them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from graygate.domain.errors import UnfollowableWorkload
from graygate.domain.release.revisions import (
    PRIMARY_REVISION_ANNOTATION,
    config_key,
    config_refs,
    primary_body,
    revision_of,
    rollout_state,
)


def template(image: str = "shop/checkout:1", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "checkout", "tier": "web"}},
        "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}]}], **spec},
    }


def deployment(
    generation: int = 2,
    observed: int = 2,
    wanted: int | None = 3,
    replicas: int = 3,
    updated: int = 3,
    available: int = 3,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "checkout"}},
        "template": template(),
        "strategy": {"type": "RollingUpdate"},
    }
    if wanted is not None:
        spec["replicas"] = wanted
    return {
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "generation": generation,
            "labels": {"app": "checkout", "argocd.argoproj.io/instance": "shop"},
            "annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/checkout"},
        },
        "spec": spec,
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }


# ---- revision_of ----


def test_a_revision_is_a_short_hex_hash_independent_of_key_order() -> None:
    forwards = template()
    backwards = {"spec": dict(reversed(list(forwards["spec"].items()))), "metadata": forwards["metadata"]}
    revision = revision_of(forwards)
    assert len(revision) == 16
    assert int(revision, 16) >= 0
    assert revision_of(backwards) == revision
    assert revision_of(copy.deepcopy(forwards)) == revision


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda t: t["spec"]["containers"][0].update(image="shop/checkout:2"), id="image"),
        pytest.param(lambda t: t["metadata"]["labels"].update(tier="api"), id="pod label"),
        pytest.param(lambda t: t["metadata"].update(annotations={"restartedAt": "now"}), id="pod annotation"),
        pytest.param(lambda t: t["spec"]["containers"][0]["ports"][0].update(containerPort=9090), id="nested field"),
        pytest.param(lambda t: t["spec"].update(serviceAccountName="checkout"), id="new field"),
        pytest.param(lambda t: t["spec"]["containers"].append({"name": "sidecar", "image": "x"}), id="container"),
    ],
)
def test_any_change_of_the_template_changes_the_revision(change: Any) -> None:
    changed = template()
    change(changed)
    assert revision_of(changed) != revision_of(template())


def test_config_data_changes_the_revision_only_when_given() -> None:
    settings = {config_key("ConfigMap", "settings"): {"data": {"level": "info"}}}
    edited = {config_key("ConfigMap", "settings"): {"data": {"level": "debug"}}}
    plain = revision_of(template())
    assert revision_of(template(), None) == revision_of(template(), {}) == plain
    assert revision_of(template(), settings) != plain
    assert revision_of(template(), edited) != revision_of(template(), settings)
    assert revision_of(template(), dict(settings)) == revision_of(template(), settings)


# ---- config_refs ----


def test_config_refs_finds_every_use_sorted_and_once() -> None:
    spec = {
        "volumes": [
            {"name": "a", "configMap": {"name": "settings"}},
            {"name": "b", "secret": {"secretName": "tls", "optional": True}},
            {"name": "c", "projected": {"sources": [{"configMap": {"name": "ca"}}, {"secret": {"name": "token"}}]}},
            {"name": "d", "emptyDir": {}},
        ],
        "containers": [
            {
                "name": "app",
                "env": [
                    {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "level"}}},
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw", "optional": True}}},
                    {"name": "PLAIN", "value": "1"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "envFrom": [{"configMapRef": {"name": "flags"}}, {"secretRef": {"name": "api-keys"}}],
            }
        ],
        "initContainers": [
            {"name": "migrate", "envFrom": [{"secretRef": {"name": "db"}}, {"configMapRef": {"name": "zz"}}]}
        ],
    }
    assert config_refs({"spec": spec}) == (("ca", "flags", "settings", "zz"), ("api-keys", "db", "tls", "token"))


def test_a_template_that_uses_no_config_has_no_refs() -> None:
    assert config_refs(template()) == ((), ())
    assert config_refs({}) == ((), ())


# ---- rollout_state ----


ALL_DONE = "3 of 3 replicas run the current template and are available"


@pytest.mark.parametrize(
    ("state", "ready", "message"),
    [
        (deployment(), True, ALL_DONE),
        (deployment(generation=4, observed=3), False, "the controller has not observed generation 4 yet"),
        (deployment(wanted=0, replicas=0, updated=0, available=0), False, "scaled to 0"),
        (deployment(replicas=3, updated=1, available=3), False, "1 of 3 replicas run the current template"),
        # mid-rollout: every new pod is there, the older ReplicaSet's pods still serve (and keep it "Available")
        (deployment(replicas=5, updated=3, available=4), False, "2 pods of an older ReplicaSet remain"),
        (deployment(wanted=1, replicas=2, updated=1, available=1), False, "1 pod of an older ReplicaSet remains"),
        (deployment(available=2), False, "2 of 3 replicas are available"),
        (deployment(wanted=None, replicas=1, updated=1, available=1), True, ALL_DONE.replace("3", "1")),
        (deployment(available=5, replicas=3), True, ALL_DONE),
    ],
)
def test_rollout_state(state: dict[str, Any], ready: bool, message: str) -> None:
    assert rollout_state(state) == (ready, f"Deployment checkout: {message}")


def test_a_deployment_without_status_is_not_ready() -> None:
    state = deployment()
    del state["status"]
    assert rollout_state(state) == (False, "Deployment checkout: the controller has not observed generation 2 yet")


# ---- primary_body ----


def test_the_primary_renames_the_selector_label_that_names_the_workload() -> None:
    followed = deployment()
    followed["spec"]["selector"] = {
        "matchLabels": {"app": "checkout", "tier": "web"},
        "matchExpressions": [{"key": "app", "operator": "Exists"}],
    }
    before = copy.deepcopy(followed)
    body = primary_body(followed, "checkout-primary", "abc123", replicas=3)
    assert followed == before, "the followed Deployment is not changed"
    assert (body["apiVersion"], body["kind"]) == ("apps/v1", "Deployment")
    assert body["metadata"] == {
        "name": "checkout-primary",
        "namespace": "shop",
        "labels": {"app.kubernetes.io/managed-by": "graygate", "graygate.dev/workload": "checkout"},
        "annotations": {PRIMARY_REVISION_ANNOTATION: "abc123"},
    }
    assert body["spec"]["selector"] == {
        "matchLabels": {"app": "checkout-primary", "tier": "web"},
        "matchExpressions": [{"key": "app", "operator": "Exists"}],
    }
    assert body["spec"]["template"]["metadata"]["labels"] == {"app": "checkout-primary", "tier": "web"}
    assert body["spec"]["template"]["spec"] == followed["spec"]["template"]["spec"]
    assert body["spec"]["replicas"] == 3
    assert body["spec"]["strategy"] == {"type": "RollingUpdate"}


def test_without_replicas_the_primary_leaves_them_out() -> None:
    followed = deployment()
    followed["spec"]["paused"] = True
    body = primary_body(followed, "checkout-primary", "abc123", replicas=None)
    assert "replicas" not in body["spec"]
    assert "paused" not in body["spec"]


def test_a_pod_label_the_selector_does_not_name_is_kept() -> None:
    followed = deployment()
    followed["spec"]["template"]["metadata"]["labels"]["component"] = "checkout"
    labels = primary_body(followed, "stable", "r", replicas=1)["spec"]["template"]["metadata"]["labels"]
    assert labels == {"app": "stable", "tier": "web", "component": "checkout"}


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"app": "shop"}},
        {"matchExpressions": [{"key": "app", "operator": "In", "values": ["checkout"]}]},
        {},
    ],
)
def test_a_selector_without_the_workloads_name_is_refused(selector: dict[str, Any]) -> None:
    followed = deployment()
    followed["spec"]["selector"] = selector
    with pytest.raises(UnfollowableWorkload, match="Deployment checkout cannot be followed: no label"):
        primary_body(followed, "checkout-primary", "abc123", replicas=1)
