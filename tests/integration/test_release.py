"""The core story against the real control plane: the operator (a real `graygate run` process) drives a user's
VirtualService through the steps, rolls back on a failing probe, survives being killed, re-asserts drifted
weights, restores the original routes on deletion, and refuses invalid releases without touching traffic."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from graygate.sandbox import ControlPlane
from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    ProbeTarget,
    WeightRecorder,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
    weights,
)


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def user_vs(api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str) -> dict[str, Any]:
    created: dict[str, Any] = custom.create_namespaced_custom_object(
        **ISTIO, namespace=namespace, body=virtual_service("checkout")
    )
    create_destination_rule(api, namespace)
    return created


@pytest.fixture
def recorder(api: client.ApiClient, namespace: str, user_vs: dict[str, Any]) -> Iterator[WeightRecorder]:
    recording = WeightRecorder(api, namespace)
    yield recording
    recording.stop()


def _apply(custom: client.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> None:
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)


def _phase(api: client.ApiClient, namespace: str, name: str, phase: str) -> dict[str, Any] | None:
    found = release(api, namespace, name)
    return found if found.get("status", {}).get("phase") == phase else None


def _untouched_parts(vs: dict[str, Any]) -> dict[str, Any]:
    """Everything graygate must leave alone: the spec with the managed route's weights blanked, and the labels."""
    spec = copy.deepcopy(vs["spec"])
    for http in spec["http"]:
        if http.get("name") == "primary":
            for destination in http["route"]:
                destination.pop("weight", None)
    return {"spec": spec, "labels": vs["metadata"].get("labels")}


def _events(api: client.ApiClient, namespace: str) -> list[str]:
    listed = client.EventsV1Api(api).list_namespaced_event(namespace)
    return [f"{event.reason}: {event.note}" for event in listed.items if event.reporting_controller]


def test_three_weight_steps_then_succeeded(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    recorder: WeightRecorder, operator: OperatorProcess,
) -> None:  # fmt: skip
    steps = [
        {"setWeight": 10}, {"pause": {"duration": "1s"}},
        {"setWeight": 30}, {"pause": {"duration": "1s"}},
        {"setWeight": 60}, {"pause": {"duration": "1s"}},
    ]  # fmt: skip
    _apply(custom, namespace, canary_release("checkout", steps))

    done = eventually(lambda: _phase(api, namespace, "checkout", "Succeeded"), 40, "the release to succeed")
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 10, "the final weights")
    recorder.stop()

    assert recorder.canary_sequence() == [0, 10, 30, 60, 100]
    assert all(stable + canary == 100 for _, (stable, canary) in recorder.changes)
    after = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    assert _untouched_parts(after) == _untouched_parts(user_vs)
    ready = next(c for c in done["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert ready["observedGeneration"] == done["metadata"]["generation"]
    reasons = [entry["reason"] for entry in done["status"]["history"]]
    assert reasons.count("Succeeded") == 1
    assert any(line.startswith("Succeeded") for line in _events(api, namespace))
    # The log is JSON, one object per line, and the release's lines carry where it was.
    lines = [json.loads(line) for line in operator.log().splitlines() if line.strip()]
    mine = [line for line in lines if line.get("release") == f"{namespace}/checkout"]
    assert {"phase", "step", "weight", "verdict", "decision"} <= set(mine[-1])
    advanced = [line["weight"] for line in mine if line.get("decision") == "Advance"]
    assert list(dict.fromkeys(advanced)) == [10, 30, 60]
    assert (mine[-1]["phase"], mine[-1]["weight"]) == ("Succeeded", 100)


def test_failing_probe_rolls_back_within_one_probe_period(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    recorder: WeightRecorder, operator: OperatorProcess, probe_target: ProbeTarget,
) -> None:  # fmt: skip
    gate = {
        "name": "health",
        "critical": True,
        "failureThreshold": 2,
        "httpProbe": {"url": probe_target.url, "expectStatus": [200], "timeout": "500ms"},
    }
    body = canary_release(
        "checkout", [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}], analysis={"interval": "1s", "gates": [gate]}
    )
    _apply(custom, namespace, body)
    eventually(lambda: weights(api, namespace, "checkout") == (80, 20), 30, "20% on the canary")
    eventually(lambda: _phase(api, namespace, "checkout", "Paused"), 10, "the wait-for-promotion pause")

    probe_target.status = 503
    failed = eventually(lambda: _phase(api, namespace, "checkout", "Failed"), 15, "the rollback")
    # The status (the intent) is written before the VirtualService, so the phase can be seen a moment earlier.
    eventually(lambda: weights(api, namespace, "checkout") == (100, 0), 5, "the weights back on stable")
    recorder.stop()
    threshold_reached = probe_target.failing_hits[1]
    back_on_stable = next(t for t, w in recorder.changes if w == (100, 0) and t > recorder.changes[1][0])

    assert back_on_stable - threshold_reached < 1.0, "weights must be 0/100 within one probe period (1 s)"
    ready = next(c for c in failed["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert "health" in ready["message"]
    assert "503" in ready["message"]
    assert "200" in ready["message"]
    assert weights(api, namespace, "checkout") == (100, 0)
    rolled_back = [line for line in _events(api, namespace) if line.startswith("RolledBack")]
    assert len(rolled_back) == 1, rolled_back
    assert "health" in rolled_back[0]
    assert "503" in rolled_back[0], "the Event names what the gate saw"
    assert "200" in rolled_back[0], "and what it expected"


def test_killed_mid_pause_resumes_without_repeating_or_skipping(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    recorder: WeightRecorder, operator: OperatorProcess,
) -> None:  # fmt: skip
    pause_s = 8.0
    steps = [{"setWeight": 20}, {"pause": {"duration": f"{pause_s:.0f}s"}}, {"setWeight": 50}]
    _apply(custom, namespace, canary_release("checkout", steps))
    eventually(
        lambda: release(api, namespace, "checkout").get("status", {}).get("currentStepIndex") == 1,
        30,
        "the timed pause",
    )
    time.sleep(1.0)
    operator.kill()
    time.sleep(1.0)
    operator.start()

    done = eventually(lambda: _phase(api, namespace, "checkout", "Succeeded"), 60, "the release to succeed")
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 10, "the final weights")
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20, 50, 100]
    history = done["status"]["history"]
    entered = [(e["step"], e["weight"]) for e in history if e["reason"] == "StepAdvanced"]
    assert len(entered) == len(set(entered)), f"a step was repeated: {entered}"
    pause_began = _at(next(e for e in history if e["reason"] == "StepAdvanced" and e["step"] == 1))
    pause_ended = _at(next(e for e in history if e["reason"] == "StepAdvanced" and e["step"] == 2))
    # Honoured: the pause ends 8 s after it began, though the operator was down for a second of it. Had the restart
    # reset the pause, it would end 8 s after the restart, at least 10 s after it began.
    assert pause_s <= (pause_ended - pause_began).total_seconds() < pause_s + 2.0


def _at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))


def test_hand_edited_weight_is_reasserted_and_reported(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    operator: OperatorProcess,
) -> None:  # fmt: skip
    _apply(custom, namespace, canary_release("checkout", [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]))
    eventually(lambda: _phase(api, namespace, "checkout", "Paused"), 30, "the wait-for-promotion pause")
    assert weights(api, namespace, "checkout") == (80, 20)

    vs = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    vs["spec"]["http"][1]["route"][0]["weight"] = 50
    vs["spec"]["http"][1]["route"][1]["weight"] = 50
    custom.replace_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout", body=vs)

    eventually(lambda: weights(api, namespace, "checkout") == (80, 20), 5, "the weights re-asserted")
    eventually(lambda: any("DriftCorrected" in line for line in _events(api, namespace)), 5, "a drift Event")


def test_deleting_mid_way_restores_the_original_routes(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    operator: OperatorProcess,
) -> None:  # fmt: skip
    _apply(custom, namespace, canary_release("checkout", [{"setWeight": 40}, {"pause": {}}, {"setWeight": 100}]))
    eventually(lambda: weights(api, namespace, "checkout") == (60, 40), 30, "40% on the canary")

    custom.delete_namespaced_custom_object(**RELEASES, namespace=namespace, name="checkout")

    def gone() -> bool:
        try:
            release(api, namespace, "checkout")
        except ApiException as error:
            return error.status == 404
        return False

    eventually(gone, 20, "the release to be deleted (finalizer removed)")
    after = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    assert after["spec"] == user_vs["spec"]


def test_weights_over_100_are_refused_by_the_api_server(custom: client.CustomObjectsApi, namespace: str) -> None:
    with pytest.raises(ApiException) as refused:
        _apply(custom, namespace, canary_release("checkout", [{"setWeight": 120}]))
    assert refused.value.status == 422
    assert "setWeight" in refused.value.body
    assert "100" in refused.value.body


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        ([{"key": "/app/a", "value": "1", "delete": True}], "give either value or delete: true"),
        ([{"key": "/app/a"}], "give either value or delete: true"),
        ([{"key": "/app/a", "value": "1"}, {"key": "/app/a", "value": "2"}], "Duplicate value"),
        ([{"key": "/app/a", "value": "x" * 8193}], "8192"),
    ],
)
def test_bad_config_keys_are_refused_by_the_api_server(
    custom: client.CustomObjectsApi, namespace: str, keys: list[dict[str, Any]], said: str
) -> None:
    body = canary_release("checkout", [{"setWeight": 10}])
    body["spec"]["config"] = {"etcd": {"endpoints": ["127.0.0.1:2379"]}, "keys": keys}
    with pytest.raises(ApiException) as refused:
        _apply(custom, namespace, body)
    assert refused.value.status == 422
    assert said in refused.value.body


@pytest.mark.parametrize(
    ("case", "virtual_services", "expected"),
    [
        ("unknown route", [{"name": "checkout", "routes": ["nope"]}], ["nope"]),
        ("missing VirtualService", [{"name": "absent", "routes": ["primary"]}], ["absent"]),
    ],
)
def test_unusable_routes_stall_with_a_specific_message_and_change_nothing(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    operator: OperatorProcess, case: str, virtual_services: list[dict[str, Any]], expected: list[str],
) -> None:  # fmt: skip
    body = canary_release("checkout", [{"setWeight": 50}])
    body["spec"]["trafficRouting"]["istio"]["virtualServices"] = virtual_services
    _apply(custom, namespace, body)

    def stalled() -> dict[str, Any] | None:
        conditions = release(api, namespace, "checkout").get("status", {}).get("conditions", [])
        found = next((c for c in conditions if c["type"] == "Stalled" and c["status"] == "True"), None)
        return found

    condition = eventually(stalled, 20, f"a Stalled condition for the {case}")
    assert all(word in condition["message"] for word in expected), condition
    time.sleep(1.5)
    after = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    assert after["spec"] == user_vs["spec"]
    assert after["metadata"]["resourceVersion"] == user_vs["metadata"]["resourceVersion"]


def test_a_second_release_on_the_same_route_changes_nothing(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    recorder: WeightRecorder, operator: OperatorProcess,
) -> None:  # fmt: skip
    _apply(custom, namespace, canary_release("first", [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]))
    eventually(lambda: _phase(api, namespace, "first", "Paused"), 30, "the first release to hold at 20%")
    _apply(custom, namespace, canary_release("second", [{"setWeight": 70}]))

    def contested() -> str | None:
        message: str = release(api, namespace, "second").get("status", {}).get("message", "")
        return message if "first" in message and "already managed" in message else None

    eventually(contested, 20, "the second release to name the first")
    time.sleep(1.5)
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20]
    second = release(api, namespace, "second")["status"]
    assert second.get("canaryWeight", 0) == 0
    conditions = {condition["type"]: condition for condition in second["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Stalled"]["status"] == "True", "kstatus readers (Argo CD, Helm --wait) see it stuck"
    assert "first" in conditions["Stalled"]["message"]
    assert "already managed" in conditions["Stalled"]["message"]


def test_no_traffic_until_the_canary_workload_is_available(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    recorder: WeightRecorder, operator: OperatorProcess,
) -> None:  # fmt: skip
    _apply(custom, namespace, canary_release("checkout", [{"setWeight": 30}], canaryWorkload={"name": "app-canary"}))
    waiting = eventually(
        lambda: "app-canary" in release(api, namespace, "checkout").get("status", {}).get("message", ""),
        20,
        "the release to wait for the workload",
    )
    assert waiting
    time.sleep(1.0)
    assert weights(api, namespace, "checkout") == (100, 0)

    labels = {"app": "app-canary"}
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
    eventually(lambda: _phase(api, namespace, "checkout", "Succeeded"), 40, "the release to succeed")
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 10, "the final weights")
    recorder.stop()
    assert recorder.canary_sequence() == [0, 30, 100]


def test_a_gitops_reapply_of_the_virtualservice_mid_release_does_not_break_it(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, sandbox: ControlPlane,
    operator: OperatorProcess, tmp_path: Path,
) -> None:  # fmt: skip
    """What Argo CD does on a sync without ignoreDifferences: `kubectl apply` of the manifest in Git, which puts the
    weights back to 100/0 mid-release. graygate re-asserts its weights within a tick and the release goes on."""
    manifest = tmp_path / "virtualservice.yaml"
    manifest.write_text(yaml.safe_dump(virtual_service("checkout")))

    def kubectl_apply() -> None:
        subprocess.run(
            ["kubectl", "apply", "-n", namespace, "-f", str(manifest)],
            env={**os.environ, "KUBECONFIG": str(sandbox.kubeconfig)},
            check=True,
            capture_output=True,
            timeout=60,
        )

    kubectl_apply()
    create_destination_rule(api, namespace)
    _apply(custom, namespace, canary_release("checkout", [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]))
    eventually(lambda: _phase(api, namespace, "checkout", "Paused"), 30, "the wait-for-promotion pause")

    kubectl_apply()
    eventually(lambda: any("DriftCorrected" in line for line in _events(api, namespace)), 5, "a drift Event")
    eventually(lambda: weights(api, namespace, "checkout") == (80, 20), 5, "the weights re-asserted")

    custom.patch_namespaced_custom_object(
        **RELEASES, namespace=namespace, name="checkout",
        body={"metadata": {"annotations": {"graygate.dev/command": "promote/after-sync"}}},
    )  # fmt: skip
    eventually(lambda: _phase(api, namespace, "checkout", "Succeeded"), 20, "the release to finish after the sync")
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 10, "the final weights")
