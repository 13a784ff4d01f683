"""Destinations that exist, and writes that are refused, against the real control plane: the operator (a real
`graygate run`) sends no traffic to a subset no DestinationRule defines, or whose labels select none of the
canary's pods, and says what is missing; a DestinationRule applied a moment after the release (GitOps ordering) lets
it go on. A VirtualService write the API server refuses is reported with its words and changes nothing."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.cluster_support import (
    DESTINATION_RULES,
    ISTIO,
    RELEASES,
    OperatorProcess,
    WeightRecorder,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
)


@pytest.fixture
def custom(api: client.ApiClient, namespace: str) -> client.CustomObjectsApi:
    objects = client.CustomObjectsApi(api)
    objects.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=virtual_service("checkout"))
    return objects


@pytest.fixture
def recorder(api: client.ApiClient, namespace: str, custom: client.CustomObjectsApi) -> Iterator[WeightRecorder]:
    recording = WeightRecorder(api, namespace)
    yield recording
    recording.stop()


def _status(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = release(api, namespace, "checkout").get("status", {})
    return found


def _saying(api: client.ApiClient, namespace: str, text: str) -> dict[str, Any] | None:
    status = _status(api, namespace)
    return status if text in status.get("message", "") else None


def _events(api: client.ApiClient, namespace: str) -> list[str]:
    listed = client.EventsV1Api(api).list_namespaced_event(namespace)
    return [f"{event.type} {event.reason}: {event.note}" for event in listed.items if event.reporting_controller]


def test_a_missing_subset_holds_the_canary_at_zero_until_its_destination_rule_is_applied(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    custom.create_namespaced_custom_object(
        **RELEASES, namespace=namespace, body=canary_release("checkout", [{"setWeight": 30}], progressDeadline="5m")
    )
    host = f"checkout.{namespace}.svc.cluster.local"
    held = eventually(lambda: _saying(api, namespace, f"no DestinationRule for host {host}"), 20, "the missing rule")
    assert held["phase"] == "Pending"
    assert "DestinationRules seen: none" in held["message"]
    assert f"create one in namespace {namespace} with spec.host: checkout and a subset named canary" in held["message"]
    warned = eventually(
        lambda: [line for line in _events(api, namespace) if "DestinationRuleMissing" in line] or None, 10, "an Event"
    )
    assert warned[0].startswith("Warning DestinationRuleMissing: ")

    create_destination_rule(api, namespace, subsets={"stable": {}})
    eventually(lambda: _saying(api, namespace, "has no subset canary (its subsets: stable)"), 20, "the missing subset")
    time.sleep(1.0)
    assert recorder.canary_sequence() == [0], "no traffic while a subset is missing"

    rule = custom.get_namespaced_custom_object(**DESTINATION_RULES, namespace=namespace, name="checkout")
    rule["spec"]["subsets"].append({"name": "canary"})
    custom.replace_namespaced_custom_object(**DESTINATION_RULES, namespace=namespace, name="checkout", body=rule)
    eventually(lambda: _status(api, namespace).get("phase") == "Succeeded" or None, 30, "the release to succeed")
    eventually(lambda: recorder.canary_sequence()[-1:] == [100] or None, 10, "the canary at 100%")
    recorder.stop()
    assert recorder.canary_sequence() == [0, 30, 100]


def test_a_subset_that_selects_no_canary_pod_fails_the_release_at_zero(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    labels = {"app": "app-canary", "version": "v2"}
    client.AppsV1Api(api).create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "app-canary"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "a:2"}]}},
            },
        },
    )
    create_destination_rule(api, namespace, subsets={"stable": {"version": "v1"}, "canary": {"version": "v3"}})
    body = canary_release("checkout", [{"setWeight": 30}], canaryWorkload={"name": "app-canary"}, progressDeadline="6s")
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)

    held = eventually(lambda: _saying(api, namespace, "select no pod of Deployment/app-canary"), 20, "the refusal")
    assert held["phase"] == "Pending"
    assert "version=v3" in held["message"]
    assert "app=app-canary, version=v2" in held["message"]
    failed = eventually(lambda: _status(api, namespace).get("phase") == "Failed" or None, 20, "the release to fail")
    assert failed
    status = _status(api, namespace)
    assert status["history"][-1]["reason"] == "PreCheckFailed"
    assert "past progressDeadline 6s" in status["message"]
    assert "failed with the canary never having had traffic" in status["message"]
    assert "select no pod of Deployment/app-canary" in status["message"]
    recorder.stop()
    assert recorder.canary_sequence() == [0], "the canary never had traffic"


def test_a_virtualservice_write_the_api_server_refuses_is_reported_and_changes_nothing(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    """An admission policy stands in for Istio's validating webhook: both answer a refused write with the API
    server's `Status` and its message, which is what graygate reports."""
    create_destination_rule(api, namespace)
    admission = client.AdmissionregistrationV1Api(api)
    name = f"no-canary-{namespace}"
    said = "configuration is invalid: the test refuses canary weight"
    admission.create_validating_admission_policy(
        {
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {"apiGroups": ["networking.istio.io"], "apiVersions": ["v1"], "operations": ["UPDATE"],
                         "resources": ["virtualservices"]}
                    ]
                },
                "validations": [
                    {
                        "expression": f"object.metadata.namespace != '{namespace}' || "
                        "object.spec.http.all(h, !has(h.route) || "
                        "h.route.all(r, !has(r.destination.subset) || r.destination.subset != 'canary' || "
                        "!has(r.weight) || r.weight == 0))",
                        "message": said,
                    }
                ],
            },
        }
    )  # fmt: skip
    admission.create_validating_admission_policy_binding(
        {"metadata": {"name": name}, "spec": {"policyName": name, "validationActions": ["Deny"]}}
    )
    try:
        vs = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")

        def refused() -> bool:
            trial = copy.deepcopy(vs)
            primary = next(http for http in trial["spec"]["http"] if http.get("name") == "primary")
            primary["route"][1]["weight"], primary["route"][0]["weight"] = 10, 90
            try:
                custom.replace_namespaced_custom_object(
                    **ISTIO, namespace=namespace, name="checkout", body=trial, dry_run="All"
                )
            except ApiException as error:
                return error.status in (400, 422)
            return False

        eventually(refused, 20, "the admission policy to refuse canary weight")
        custom.create_namespaced_custom_object(
            **RELEASES, namespace=namespace, body=canary_release("checkout", [{"setWeight": 30}])
        )
        held = eventually(lambda: _saying(api, namespace, said), 20, "the refusal in the status")
        assert held["phase"] == "Pending"
        assert "WriteRefused" in held["message"]
        stalled = next(c for c in held["conditions"] if c["type"] == "Stalled")
        assert (stalled["status"], stalled["reason"]) == ("True", "RouteUnavailable")
        assert said in stalled["message"]
        warned = eventually(
            lambda: [line for line in _events(api, namespace) if said in line] or None, 10, "the refusal's Event"
        )
        assert warned[0].startswith("Warning RouteUnavailable: ")
        time.sleep(1.0)
        assert recorder.canary_sequence() == [0], "the refused write changed nothing"
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)
    eventually(lambda: _status(api, namespace).get("phase") == "Succeeded" or None, 40, "the release to go on")
    # the status is written before the routes (the intent first), so the last weight follows it by a moment
    eventually(lambda: recorder.canary_sequence()[-1:] == [100] or None, 10, "the canary at 100%")
    recorder.stop()
    assert recorder.canary_sequence() == [0, 30, 100]


def test_istios_own_webhook_refuses_a_header_route_and_the_release_reports_its_words(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    """The sandbox's istiod judges every VirtualService write. A header regex that Python's `re` compiles but Go's
    RE2 does not (a lookahead) passes graygate's own checks and is refused by Istio: the release holds at 0 % with
    Istio's message, and the VirtualService keeps no trace of the refused write."""
    create_destination_rule(api, namespace)
    before = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    lookahead = {"setHeaderRoute": {"match": [{"headers": {"x-canary": {"regex": "(?=yes).*"}}}]}}
    custom.create_namespaced_custom_object(
        **RELEASES, namespace=namespace, body=canary_release("checkout", [lookahead, {"setWeight": 30}])
    )
    held = eventually(lambda: _saying(api, namespace, "validation.istio.io"), 30, "Istio's refusal in the status")
    assert held["phase"] == "Pending"
    assert "WriteRefused" in held["message"]
    assert 'admission webhook "validation.istio.io" denied the request' in held["message"]
    warned = eventually(
        lambda: [line for line in _events(api, namespace) if "validation.istio.io" in line] or None, 10, "the Event"
    )
    assert warned[0].startswith("Warning RouteUnavailable: ")
    time.sleep(1.0)
    after = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    assert after["spec"] == before["spec"], "the refused write changed nothing"
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    recorder.stop()
    assert recorder.canary_sequence() == [0]
