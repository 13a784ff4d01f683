"""A release sleeps until something is due (`wake.next_due`), the resync, or an event: against the real control
plane, a release at rest corrects a hand edit of its VirtualService within the resync, and a command wakes a
sleeping release at once. Once the watch cache feeds `Wakeups.touch`, the drift is corrected sooner than the
resync; this test holds either way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from graygate.sandbox import ControlPlane
from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
    weights,
)

RESYNC_S = 4.0


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


def _operator(sandbox: ControlPlane, namespace: str, tmp_path: Path, resync_s: float) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        sandbox.kubeconfig, namespace, tmp_path / "operator.log", extra_args=(f"--resync-interval={resync_s}",)
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def resyncing(sandbox: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator with a short resync: a release at rest ticks every `RESYNC_S`."""
    yield from _operator(sandbox, namespace, tmp_path, RESYNC_S)


@pytest.fixture
def sleepy(sandbox: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator with the default resync (5 min): only a timer or an event can wake a release in a test."""
    yield from _operator(sandbox, namespace, tmp_path, 300)


def _phase(api: client.ApiClient, namespace: str, phase: str) -> dict[str, Any] | None:
    found = release(api, namespace, "checkout")
    return found if found.get("status", {}).get("phase") == phase else None


def test_a_hand_edit_of_a_release_at_rest_is_corrected_within_the_resync(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    resyncing: OperatorProcess,
) -> None:  # fmt: skip
    custom.create_namespaced_custom_object(
        **RELEASES, namespace=namespace, body=canary_release("checkout", [{"setWeight": 20}])
    )
    eventually(lambda: _phase(api, namespace, "Succeeded"), 30, "the release to succeed")
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 10, "the final weights")

    vs = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout")
    vs["spec"]["http"][1]["route"][0]["weight"] = 50
    vs["spec"]["http"][1]["route"][1]["weight"] = 50
    custom.replace_namespaced_custom_object(**ISTIO, namespace=namespace, name="checkout", body=vs)
    edited = time.monotonic()

    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), RESYNC_S + 3, "the weights re-asserted")
    assert time.monotonic() - edited <= RESYNC_S + 3


def test_a_command_wakes_a_sleeping_release_at_once(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, user_vs: dict[str, Any],
    sleepy: OperatorProcess,
) -> None:  # fmt: skip
    # No gates and an analysis an hour apart: once paused for a promote, nothing is due for an hour.
    body = canary_release(
        "checkout", [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}], analysis={"interval": "1h"},
        progressDeadline="2h",
    )  # fmt: skip
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)
    eventually(lambda: _phase(api, namespace, "Paused"), 30, "the wait-for-promotion pause")
    time.sleep(2)  # asleep by now

    custom.patch_namespaced_custom_object(
        **RELEASES, namespace=namespace, name="checkout",
        body={"metadata": {"annotations": {"graygate.dev/command": "promote/wake-test"}}},
    )  # fmt: skip
    eventually(lambda: _phase(api, namespace, "Succeeded"), 5, "the release promoted, woken by its command")
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 5, "the final weights")
