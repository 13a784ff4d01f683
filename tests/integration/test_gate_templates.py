"""Gate templates with the real operator and API server: one ClusterGateTemplate (Istio's success rate, a
`prometheus` gate) used by two releases in two namespaces with their own arguments, each release's status showing
the gates it expanded to; a missing argument and a GateTemplate of another namespace refused as Invalid, with the
field path, before any traffic moves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from graygate.sandbox import ControlPlane
from tests.cluster_support import RELEASES, OperatorProcess, canary_release, eventually, release

TEMPLATES = {"group": "graygate.dev", "version": "v1alpha1", "plural": "gatetemplates"}
CLUSTER_TEMPLATES = {"group": "graygate.dev", "version": "v1alpha1", "plural": "clustergatetemplates"}


def success_rate(name: str, kind: str = "ClusterGateTemplate") -> dict[str, Any]:
    return {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "description": "Istio's request success rate of the canary, against the stable version",
            "args": [
                {"name": "minSuccessRate", "type": "number", "description": "lowest acceptable rate, %"},
                {"name": "window", "type": "duration", "default": "1m"},
            ],
            "gates": [
                {
                    "name": "success-rate",
                    "critical": True,
                    "prometheus": {
                        "window": "{{ args.window }}",
                        "requestSuccessRate": {"min": "{{ args.minSuccessRate }}"},
                    },
                }
            ],
        },
    }


def templated_release(name: str, ref: dict[str, Any]) -> dict[str, Any]:
    return canary_release(
        name,
        [{"setWeight": 20}],
        canaryWorkload={"name": "checkout-canary"},
        stableWorkload={"name": "checkout-stable"},
        analysis={"interval": "1s", "gateRefs": [ref]},
    )


@pytest.fixture
def other_namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture
def cluster_template(api: client.ApiClient) -> Iterator[str]:
    name = f"istio-success-rate-{uuid.uuid4().hex[:6]}"
    custom = client.CustomObjectsApi(api)
    custom.create_cluster_custom_object(**CLUSTER_TEMPLATES, body=success_rate(name))
    yield name
    custom.delete_cluster_custom_object(**CLUSTER_TEMPLATES, name=name)


@pytest.fixture
def two_namespace_operator(
    sandbox: ControlPlane, namespace: str, other_namespace: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        sandbox.kubeconfig, namespace, tmp_path / "operator.log", extra_args=(f"--namespace={other_namespace}",)
    )
    process.start()
    yield process
    process.stop()


def _status(api: client.ApiClient, namespace: str, name: str, phase: str) -> dict[str, Any] | None:
    status: dict[str, Any] = release(api, namespace, name).get("status") or {}
    return status if status.get("phase") == phase else None


def test_a_cluster_template_serves_two_namespaces_each_with_its_own_arguments(
    api: client.ApiClient,
    namespace: str,
    other_namespace: str,
    cluster_template: str,
    two_namespace_operator: OperatorProcess,
) -> None:
    custom = client.CustomObjectsApi(api)
    given = {namespace: {"minSuccessRate": 99}, other_namespace: {"minSuccessRate": 95.5, "window": "2m"}}
    for where, args in given.items():
        ref = {"name": cluster_template, "kind": "ClusterGateTemplate", "args": args}
        custom.create_namespaced_custom_object(**RELEASES, namespace=where, body=templated_release("checkout", ref))
    seen = {
        where: eventually(
            lambda where=where: (_status(api, where, "checkout", "Pending") or {}).get("expandedGates"),
            30,
            f"the gates expanded in {where}",
        )
        for where in given
    }
    expected = {namespace: ("99", "1m", 99), other_namespace: ("95.5", "2m", 95.5)}
    for where, (rate, window, minimum) in expected.items():
        (ref,) = seen[where]["refs"]
        assert ref["template"] == f"ClusterGateTemplate/{cluster_template}"
        assert ref["args"] == {"minSuccessRate": rate, "window": window}
        (gate,) = ref["gates"]
        assert gate["name"] == "success-rate"
        assert gate["critical"] is True
        assert gate["prometheus"]["window"] == window
        assert gate["prometheus"]["requestSuccessRate"]["min"] == minimum
        assert seen[where]["generation"] == 1


def test_a_missing_argument_and_another_namespaces_template_are_refused_with_the_field_path(
    api: client.ApiClient, namespace: str, other_namespace: str, cluster_template: str, operator: OperatorProcess
) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        **TEMPLATES, namespace=other_namespace, body=success_rate("team-rate", kind="GateTemplate")
    )
    missing = {"name": cluster_template, "kind": "ClusterGateTemplate", "args": {"window": "30s"}}
    elsewhere = {"name": "team-rate", "kind": "GateTemplate", "args": {"minSuccessRate": 99}}
    for name, ref in (("missing-arg", missing), ("elsewhere", elsewhere)):
        custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=templated_release(name, ref))
    refused = eventually(lambda: _status(api, namespace, "missing-arg", "Invalid"), 30, "missing-arg Invalid")
    assert "spec.analysis.gateRefs[0].args.minSuccessRate: required argument missing" in refused["message"]
    assert refused["canaryWeight"] == 0
    assert "expandedGates" not in refused
    refused = eventually(lambda: _status(api, namespace, "elsewhere", "Invalid"), 30, "elsewhere Invalid")
    assert f"spec.analysis.gateRefs[0]: GateTemplate team-rate not found in namespace {namespace}" in refused["message"]
