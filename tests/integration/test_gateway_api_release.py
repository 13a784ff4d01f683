"""A release split by a Gateway API HTTPRoute, against the real control plane with Gateway API's own CRDs: the
operator moves the backendRef weights step by step, colours traffic with a header rule, re-asserts a hand-edited
weight, restores the route on deletion, and rolls back to 100/0 when its gate fails."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.cluster_support import RELEASES, OperatorProcess, ProbeTarget, eventually, release
from tests.http_routes import backend, http_route, rule

GATEWAY_API = {"group": "gateway.networking.k8s.io", "version": "v1", "plural": "httproutes"}
HEADER_RULE = "graygate-checkout-header-web"


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def user_route(custom: client.CustomObjectsApi, namespace: str) -> dict[str, Any]:
    """The user's HTTPRoute: the managed rule 'web' on the stable Service only, and a rule graygate never touches."""
    body = http_route(
        "checkout",
        rule("web", backend("checkout")),
        rule("static", backend("assets", port=80), path="/static"),
        namespace=namespace,
    )
    created: dict[str, Any] = custom.create_namespaced_custom_object(**GATEWAY_API, namespace=namespace, body=body)
    return created


def _route(custom: client.CustomObjectsApi, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = custom.get_namespaced_custom_object(**GATEWAY_API, namespace=namespace, name="checkout")
    return found


def _web(route: dict[str, Any]) -> dict[str, Any]:
    return next(each for each in route["spec"]["rules"] if each.get("name") == "web")


def _weights(custom: client.CustomObjectsApi, namespace: str) -> tuple[int, int]:
    """The managed rule's (stable, canary) weights; a lone backendRef takes everything, whatever its weight."""
    refs = {ref["name"]: ref.get("weight", 1) for ref in _web(_route(custom, namespace))["backendRefs"]}
    if len(refs) == 1:
        return (100, 0) if "checkout" in refs else (0, 100)
    return refs["checkout"], refs.get("checkout-v2", 0)


def _rule_names(custom: client.CustomObjectsApi, namespace: str) -> list[str | None]:
    return [each.get("name") for each in _route(custom, namespace)["spec"]["rules"]]


class _Recorder:
    """Polls the managed rule's weights every 25 ms and keeps each change."""

    def __init__(self, custom: client.CustomObjectsApi, namespace: str) -> None:
        self.seen: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(custom, namespace), daemon=True)
        self._thread.start()

    def _run(self, custom: client.CustomObjectsApi, namespace: str) -> None:
        while not self._stop.is_set():
            self._sample(custom, namespace)
            self._stop.wait(0.025)
        self._sample(custom, namespace)

    def _sample(self, custom: client.CustomObjectsApi, namespace: str) -> None:
        weights = _weights(custom, namespace)
        if not self.seen or self.seen[-1] != weights:
            self.seen.append(weights)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(timeout=5)
        return [canary for _, canary in self.seen]


@pytest.fixture
def recorder(custom: client.CustomObjectsApi, namespace: str, user_route: dict[str, Any]) -> Iterator[_Recorder]:
    recording = _Recorder(custom, namespace)
    yield recording
    recording.stop()


def _release(steps: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": "CanaryRelease",
        "metadata": {"name": "checkout"},
        "spec": {
            "trafficRouting": {"gatewayAPI": {"httpRoutes": [{"name": "checkout", "rules": ["web"]}]}},
            "stable": {"host": "checkout", "port": 8080},
            "canary": {"host": "checkout-v2", "port": 8080},
            "steps": steps,
            "analysis": {"interval": "1s"},
            **spec,
        },
    }


COLOUR = {"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "always"}}}]}}


def _phase(api: client.ApiClient, namespace: str, phase: str) -> dict[str, Any] | None:
    found = release(api, namespace, "checkout")
    return found if found.get("status", {}).get("phase") == phase else None


def test_weights_move_a_drift_is_reasserted_and_deletion_restores_the_route(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_route: dict[str, Any],
    recorder: _Recorder, operator: OperatorProcess,
) -> None:  # fmt: skip
    steps = [COLOUR, {"setWeight": 10}, {"pause": {"duration": "1s"}}, {"setWeight": 30}, {"pause": {}}]
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release(steps))
    eventually(lambda: _phase(api, namespace, "Paused"), 30, "the wait-for-promotion pause at 30 %")
    assert _weights(custom, namespace) == (70, 30)
    assert _rule_names(custom, namespace) == [HEADER_RULE, "web", "static"]
    header = _route(custom, namespace)["spec"]["rules"][0]
    assert [ref["name"] for ref in header["backendRefs"]] == ["checkout-v2"]
    assert header["matches"][0]["headers"] == [{"name": "x-canary", "type": "Exact", "value": "always"}]
    static = _route(custom, namespace)["spec"]["rules"][2]
    assert static == user_route["spec"]["rules"][1], "the rule graygate does not manage is untouched"

    edited = _route(custom, namespace)
    refs = _web(edited)["backendRefs"]
    refs[0]["weight"], refs[1]["weight"] = 50, 50
    custom.replace_namespaced_custom_object(**GATEWAY_API, namespace=namespace, name="checkout", body=edited)
    eventually(lambda: _weights(custom, namespace) == (70, 30), 10, "the hand-edited weight re-asserted")

    custom.delete_namespaced_custom_object(**RELEASES, namespace=namespace, name="checkout")

    def gone() -> bool:
        try:
            release(api, namespace, "checkout")
        except ApiException as error:
            return error.status == 404
        return False

    eventually(gone, 20, "the release to be deleted (finalizer removed)")
    assert _route(custom, namespace)["spec"] == user_route["spec"], "the original rules, header rule gone"
    assert recorder.stop() == [0, 10, 30, 50, 30, 0], "step by step, the drift corrected, then restored"


def test_a_failing_gate_rolls_back_to_stable_and_removes_the_header_rule(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_route: dict[str, Any],
    recorder: _Recorder, operator: OperatorProcess, probe_target: ProbeTarget,
) -> None:  # fmt: skip
    gate = {
        "name": "health",
        "critical": True,
        "httpProbe": {"url": probe_target.url, "expectStatus": [200], "timeout": "500ms"},
    }
    steps = [COLOUR, {"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]
    custom.create_namespaced_custom_object(
        **RELEASES, namespace=namespace, body=_release(steps, analysis={"interval": "1s", "gates": [gate]})
    )
    eventually(lambda: _phase(api, namespace, "Paused"), 30, "the wait-for-promotion pause at 20 %")
    assert _weights(custom, namespace) == (80, 20)
    assert HEADER_RULE in _rule_names(custom, namespace)

    probe_target.status = 503
    failed = eventually(lambda: _phase(api, namespace, "Failed"), 15, "the rollback")
    eventually(lambda: _weights(custom, namespace) == (100, 0), 5, "the weights back on stable")
    time.sleep(0.5)
    assert _rule_names(custom, namespace) == ["web", "static"]
    ready = next(c for c in failed["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert "health" in ready["message"]
    assert recorder.stop() == [0, 20, 0]
    rolled_back = copy.deepcopy(_route(custom, namespace))
    assert rolled_back["spec"]["rules"][1] == user_route["spec"]["rules"][1]
