"""The release freeze switch: an etcd key the operator watches. Setting it holds a running release within a second
(a Frozen condition on the release, no weight going up); clearing it lets the release go on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from graygate.sandbox import ControlPlane
from graygate.store import EtcdSettings
from graygate.store.etcd.store import EtcdStore
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

FREEZE_KEY = "/graygate-test/freeze"


@pytest.fixture
def frozen_operator(sandbox: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator watching the freeze key in a real etcd (the sandbox's own, under a key of its own)."""
    endpoint = sandbox.etcd_url.removeprefix("http://")
    process = OperatorProcess(
        sandbox.kubeconfig,
        namespace,
        tmp_path / "operator.log",
        extra_args=(f"--etcd-endpoints={endpoint}", f"--freeze-key={FREEZE_KEY}"),
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def etcd(sandbox: ControlPlane) -> Iterator[EtcdStore]:
    store = EtcdStore(EtcdSettings(endpoints=(sandbox.etcd_url.removeprefix("http://"),)))
    store.apply_sync({FREEZE_KEY: None})
    yield store
    store.apply_sync({FREEZE_KEY: None})
    store.close()


def _frozen_condition(api: client.ApiClient, namespace: str) -> dict[str, Any] | None:
    conditions = release(api, namespace, "checkout").get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == "Frozen"), None)


def test_freezing_holds_a_release_within_a_second_and_thawing_resumes_it(
    api: client.ApiClient, namespace: str, etcd: EtcdStore, frozen_operator: OperatorProcess
) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=virtual_service("checkout"))
    create_destination_rule(api, namespace)
    steps = [{"setWeight": 10}, {"pause": {"duration": "2s"}}, {"setWeight": 50}]
    body = canary_release("checkout", steps, analysis=None)
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)
    eventually(lambda: weights(api, namespace, "checkout") == (90, 10), 30, "10% on the canary")

    etcd.apply_sync({FREEZE_KEY: "incident-4711"})
    frozen_at = time.monotonic()
    condition = eventually(
        lambda: (c := _frozen_condition(api, namespace)) is not None and c["status"] == "True" and c, 5, "Frozen"
    )
    assert time.monotonic() - frozen_at < 1.5, "the freeze shows on the release within about a second"
    assert "rollbacks still happen" in condition["message"]
    time.sleep(3.0)  # well past the 2 s pause: a thawed release would have moved to 50 %
    assert weights(api, namespace, "checkout") == (90, 10)
    assert release(api, namespace, "checkout")["status"]["phase"] == "Progressing"

    etcd.apply_sync({FREEZE_KEY: None})
    eventually(
        lambda: release(api, namespace, "checkout")["status"]["phase"] == "Succeeded", 10, "the release to go on"
    )
    assert _frozen_condition(api, namespace)["status"] == "False"  # type: ignore[index]
