"""Revisions, rollout states and the primary, as tables over Deployment objects as the API server returns them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from graygate.domain.errors import UnfollowableWorkload
from graygate.domain.release.revisions import (
    PRIMARY_REVISION_ANNOTATION,
    config_copy,
    config_key,
    config_material,
    config_refs,
    primary_body,
    primary_config_name,
    rename_config_refs,
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


def test_config_material_is_the_data_and_binary_data_alone() -> None:
    found = {"metadata": {"name": "s", "labels": {"a": "b"}}, "data": {"k": "v"}, "type": "Opaque"}
    assert config_material(found) == {"data": {"k": "v"}, "binaryData": {}}
    assert config_material({"binaryData": {"b": "AA=="}}) == {"data": {}, "binaryData": {"b": "AA=="}}


# ---- rename_config_refs ----

RENAMES = {"settings": "settings-primary", "shared": "shared-cm"}
SECRET_RENAMES = {"db": "db-primary", "shared": "shared-secret"}


def pod_spec(**parts: Any) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "app", "image": "x"}], **parts}}


@pytest.mark.parametrize(
    ("where", "before", "after"),
    [
        pytest.param(
            "volumes",
            [{"name": "a", "configMap": {"name": "settings", "items": [{"key": "k", "path": "p"}]}}],
            [{"name": "a", "configMap": {"name": "settings-primary", "items": [{"key": "k", "path": "p"}]}}],
            id="configMap volume",
        ),
        pytest.param(
            "volumes",
            [{"name": "a", "secret": {"secretName": "db", "defaultMode": 256}}],
            [{"name": "a", "secret": {"secretName": "db-primary", "defaultMode": 256}}],
            id="secret volume",
        ),
        pytest.param(
            "volumes",
            [
                {
                    "name": "p",
                    "projected": {"sources": [{"configMap": {"name": "shared"}}, {"secret": {"name": "shared"}}]},
                }
            ],
            [
                {
                    "name": "p",
                    "projected": {
                        "sources": [{"configMap": {"name": "shared-cm"}}, {"secret": {"name": "shared-secret"}}]
                    },
                }
            ],
            id="projected sources, a ConfigMap and a Secret of one name",
        ),
        pytest.param(
            "volumes",
            [{"name": "a", "configMap": {"name": "flags"}}, {"name": "b", "emptyDir": {}}],
            [{"name": "a", "configMap": {"name": "flags"}}, {"name": "b", "emptyDir": {}}],
            id="an unmapped name stays",
        ),
        pytest.param(
            "volumes",
            [{"name": "a", "secret": {"secretName": "settings"}}],
            [{"name": "a", "secret": {"secretName": "settings"}}],
            id="a Secret is not renamed by the ConfigMaps' mapping",
        ),
    ],
)
def test_rename_config_refs_in_volumes(where: str, before: Any, after: Any) -> None:
    assert rename_config_refs(pod_spec(**{where: before}), RENAMES, SECRET_RENAMES) == pod_spec(**{where: after})


@pytest.mark.parametrize("containers", ["containers", "initContainers"])
@pytest.mark.parametrize(
    ("field", "before", "after"),
    [
        pytest.param(
            "env",
            [{"name": "L", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "level"}}}],
            [{"name": "L", "valueFrom": {"configMapKeyRef": {"name": "settings-primary", "key": "level"}}}],
            id="configMapKeyRef",
        ),
        pytest.param(
            "env",
            [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw", "optional": True}}}],
            [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db-primary", "key": "pw", "optional": True}}}],
            id="secretKeyRef",
        ),
        pytest.param(
            "env",
            [{"name": "V", "value": "settings"}, {"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
            [{"name": "V", "value": "settings"}, {"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
            id="plain values and field refs stay",
        ),
        pytest.param(
            "envFrom",
            [{"configMapRef": {"name": "shared"}, "prefix": "C_"}, {"secretRef": {"name": "shared"}}],
            [{"configMapRef": {"name": "shared-cm"}, "prefix": "C_"}, {"secretRef": {"name": "shared-secret"}}],
            id="configMapRef and secretRef",
        ),
    ],
)
def test_rename_config_refs_in_containers(containers: str, field: str, before: Any, after: Any) -> None:
    def spec(value: Any) -> dict[str, Any]:
        return {"spec": {containers: [{"name": "one", "image": "x"}, {"name": "two", "image": "y", field: value}]}}

    original = spec(before)
    assert rename_config_refs(original, RENAMES, SECRET_RENAMES) == spec(after)
    assert original == spec(before), "the template given is not changed"


def test_renaming_every_reference_leaves_no_original_name() -> None:
    spec = {
        "volumes": [{"name": "a", "configMap": {"name": "settings"}}, {"name": "b", "secret": {"secretName": "db"}}],
        "containers": [{"name": "app", "envFrom": [{"configMapRef": {"name": "settings"}}]}],
        "initContainers": [{"name": "init", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db"}}}]}],
    }
    renamed = rename_config_refs({"spec": spec}, RENAMES, SECRET_RENAMES)
    assert config_refs(renamed) == (("settings-primary",), ("db-primary",))
    assert rename_config_refs({"spec": spec}, {}, {}) == {"spec": spec}


# ---- config_copy ----


def test_a_config_maps_copy_keeps_its_data_and_nothing_of_its_metadata() -> None:
    original = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "settings",
            "namespace": "shop",
            "uid": "u",
            "resourceVersion": "7",
            "labels": {"argocd.argoproj.io/instance": "shop"},
            "annotations": {"argocd.argoproj.io/tracking-id": "shop:/ConfigMap:shop/settings"},
            "ownerReferences": [{"kind": "Application", "name": "shop"}],
        },
        "data": {"level": "info"},
        "binaryData": {"blob": "AAE="},
        "immutable": True,
    }
    before = copy.deepcopy(original)
    assert primary_config_name("settings") == "settings-primary"
    assert config_copy("ConfigMap", original, "settings-primary", "checkout") == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "settings-primary",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/managed-by": "graygate", "graygate.dev/workload": "checkout"},
        },
        "data": {"level": "info"},
        "binaryData": {"blob": "AAE="},
    }
    assert original == before


@pytest.mark.parametrize(
    ("original", "fields"),
    [
        ({"data": {"pw": "c2VjcmV0"}, "type": "Opaque"}, {"data": {"pw": "c2VjcmV0"}, "type": "Opaque"}),
        ({"data": {"tls.crt": "YQ==", "tls.key": "Yg=="}, "type": "kubernetes.io/tls"}, None),
        ({"type": "Opaque"}, {"type": "Opaque"}),
    ],
)
def test_a_secrets_copy_keeps_its_data_and_type(original: dict[str, Any], fields: dict[str, Any] | None) -> None:
    body = config_copy("Secret", {"metadata": {"name": "db", "namespace": "shop"}, **original}, "db-primary", "c")
    assert body["kind"] == "Secret"
    assert body["metadata"]["name"] == "db-primary"
    assert {k: v for k, v in body.items() if k in ("data", "binaryData", "type")} == (fields or original)


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
    assert body["spec"]["template"]["metadata"] == {
        "labels": {"app": "checkout-primary", "tier": "web"},
        "annotations": {PRIMARY_REVISION_ANNOTATION: "abc123"},
    }
    assert body["spec"]["template"]["spec"] == followed["spec"]["template"]["spec"]
    assert body["spec"]["replicas"] == 3
    assert body["spec"]["strategy"] == {"type": "RollingUpdate"}


def test_every_revision_changes_the_primarys_pod_template() -> None:
    """A release of configuration alone leaves the followed template as it was: the annotation still rolls the
    primary's pods. The pod template's own annotations are kept."""
    followed = deployment()
    followed["spec"]["template"]["metadata"]["annotations"] = {"prometheus.io/scrape": "true"}
    first, second = (primary_body(followed, "p", revision, replicas=None) for revision in ("r1", "r2"))
    assert first["spec"]["template"] != second["spec"]["template"]
    assert second["spec"]["template"]["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        PRIMARY_REVISION_ANNOTATION: "r2",
    }
    assert followed["spec"]["template"]["metadata"]["annotations"] == {"prometheus.io/scrape": "true"}


def test_the_primary_references_the_copies_it_is_given() -> None:
    followed = deployment()
    followed["spec"]["template"]["spec"]["volumes"] = [
        {"name": "a", "configMap": {"name": "settings"}},
        {"name": "b", "secret": {"secretName": "db"}},
        {"name": "c", "configMap": {"name": "missing", "optional": True}},
    ]
    body = primary_body(
        followed,
        "checkout-primary",
        "r",
        replicas=1,
        config_maps={"settings": "settings-primary"},
        secrets={"db": "db-primary"},
    )
    assert config_refs(body["spec"]["template"]) == (("missing", "settings-primary"), ("db-primary",))
    assert config_refs(followed["spec"]["template"]) == (("missing", "settings"), ("db",)), (
        "the followed one keeps its own"
    )
    assert config_refs(primary_body(followed, "p", "r", replicas=1)["spec"]["template"]) == (
        ("missing", "settings"),
        ("db",),
    )


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
