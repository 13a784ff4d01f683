"""More than one operator, live against the sandbox: two `graygate run` processes with Kopf peering, the active one
SIGKILLed mid-release and the standby finishing it with every step once; and shards (`--shard`), each acting only
on the releases labelled for it, with a release moved from one shard to another mid-run handed over cleanly."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from graygate.domain.release.shards import SHARD_LABEL
from graygate.sandbox import ControlPlane
from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    WeightRecorder,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
    weights,
)

REPO = Path(__file__).resolve().parents[2]
PEERING_CRD = REPO / "charts" / "graygate" / "crds" / "kopf.dev_kopfpeerings.yaml"
PEERING = {"group": "kopf.dev", "version": "v1", "plural": "kopfpeerings"}
# A peer's keep-alive is valid this long: Kopf renews it every second at this lifetime, and a standby takes over at
# most this long after the active one's last renewal.
LIFETIME_S = 3
# Several steps with pauses, so the active operator dies mid-release and the standby has steps left to do.
STEPS = [
    {"setWeight": 10}, {"pause": {"duration": "2s"}},
    {"setWeight": 30}, {"pause": {"duration": "2s"}},
    {"setWeight": 50}, {"pause": {"duration": "2s"}},
    {"setWeight": 70}, {"pause": {"duration": "2s"}},
]  # fmt: skip
WEIGHTS = [0, 10, 30, 50, 70, 100]


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def routes(api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str) -> None:
    for name in ("checkout", "checkout-2"):
        custom.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=virtual_service(name))
    create_destination_rule(api, namespace)


@pytest.fixture
def operators(sandbox: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[dict[str, OperatorProcess]]:
    """Operators a test starts by name (`start`); each logs to its own file; all are stopped at the end."""
    started: dict[str, OperatorProcess] = {}
    yield started
    for process in started.values():
        process.stop()


def start(
    operators: dict[str, OperatorProcess], sandbox: ControlPlane, namespace: str, tmp_path: Path, name: str,
    *args: str,
) -> OperatorProcess:  # fmt: skip
    process = OperatorProcess(sandbox.kubeconfig, namespace, tmp_path / f"{name}.log", extra_args=args)
    process.start()
    operators[name] = process
    return process


@pytest.fixture
def peering(api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str) -> str:
    """Kopf's KopfPeering CRD (the chart's copy; the sandbox installs only graygate's CRDs) and one peering object."""
    extensions = client.ApiextensionsV1Api(api)
    try:
        extensions.create_custom_resource_definition(yaml.safe_load(PEERING_CRD.read_text()))
    except ApiException as error:
        if error.status != 409:
            raise

    def established() -> bool:
        crd = extensions.read_custom_resource_definition("kopfpeerings.kopf.dev")
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    eventually(established, 20, "the KopfPeering CRD")
    body = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "graygate"}}
    eventually(lambda: _created(custom, namespace, body), 20, "the KopfPeering object")
    return "graygate"


def _created(custom: client.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> bool:
    try:
        custom.create_namespaced_custom_object(**PEERING, namespace=namespace, body=body)
    except ApiException as error:
        if error.status == 404:  # the new CRD is not served yet
            return False
        raise
    return True


def _release(name: str, shard: str | None, vs: str = "checkout") -> dict[str, Any]:
    body = canary_release(
        name, STEPS, trafficRouting={"istio": {"virtualServices": [{"name": vs, "routes": ["primary"]}]}}
    )
    if shard is not None:
        body["metadata"]["labels"] = {SHARD_LABEL: shard}
    return body


def _succeeded(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    found = release(api, namespace, name)
    return found if found.get("status", {}).get("phase") == "Succeeded" else None


def _step(api: client.ApiClient, namespace: str, name: str) -> int:
    return int(release(api, namespace, name).get("status", {}).get("currentStepIndex", -1))


def assert_each_step_once_in_order(done: dict[str, Any]) -> None:
    history = done["status"]["history"]
    entered = [e["step"] for e in history if e["reason"] == "StepAdvanced"]
    assert entered == sorted(set(entered)), f"a step was repeated or out of order: {entered}"
    assert entered == list(range(len(STEPS))) or entered == list(range(1, len(STEPS))), entered
    assert [e["reason"] for e in history].count("Succeeded") == 1


def _lines(process: OperatorProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in process.log().splitlines() if line.startswith("{")]


def _names(process: OperatorProcess) -> set[str]:
    """The releases an operator's log lines are about (Kopf's `object`, graygate's `release`)."""
    names = {str((line.get("object") or {}).get("name")) for line in _lines(process)}
    return names | {str(line["release"]).rpartition("/")[2] for line in _lines(process) if "release" in line}


def _at(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00")).timestamp()


def test_standby_takes_over_when_the_active_operator_is_killed(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, routes: None, peering: str,
    operators: dict[str, OperatorProcess], sandbox: ControlPlane, tmp_path: Path,
) -> None:  # fmt: skip
    flags = (f"--peering={peering}", f"--peering-lifetime={LIFETIME_S}")
    active = start(operators, sandbox, namespace, tmp_path, "active", *flags, "--priority=1")
    eventually(lambda: "Resuming operations" in active.log(), 20, "the active operator to start")
    standby = start(operators, sandbox, namespace, tmp_path, "standby", *flags, "--priority=0")
    # A peered operator starts paused and resumes only once no live peer outranks it: the standby stays paused.
    eventually(lambda: len(_peers(custom, namespace)) == 2, 20, "both operators in the peering object")
    recorder = WeightRecorder(api, namespace)
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release("checkout", None))

    eventually(lambda: _step(api, namespace, "checkout") >= 3, 30, "the release to reach 30 % under the active one")
    killed_at, killed_mono = time.time(), time.monotonic()
    active.kill()

    done = eventually(lambda: _succeeded(api, namespace, "checkout"), 60, "the standby to finish the release")
    # The status (the intent) is written before the weights: wait for them before the last reading.
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 10, "the final weights")
    recorder.stop()
    assert recorder.canary_sequence() == WEIGHTS, "no step repeated or skipped"
    assert_each_step_once_in_order(done)
    resumed = next(line for line in _lines(standby) if "Resuming operations" in str(line.get("message")))
    first_write = next(at for at, _ in recorder.changes if at > killed_mono)
    takeover_s = _at(resumed) - killed_at
    print(
        f"\nHA takeover (peering lifetime {LIFETIME_S} s): SIGKILL -> standby resumed {takeover_s:.2f} s, "
        f"-> its first weight write {first_write - killed_mono:.2f} s"
    )
    assert "Resuming operations" not in standby.log().split(str(resumed["message"]))[0], "paused until then"
    assert takeover_s <= LIFETIME_S + 3.0, "at most one lifetime after the last keep-alive, plus starting up"
    mine = [line for line in _lines(standby) if line.get("release") == f"{namespace}/checkout"]
    assert mine
    assert all(_at(line) >= killed_at for line in mine), "the standby did nothing before the takeover"


def _peers(custom: client.CustomObjectsApi, namespace: str) -> dict[str, Any]:
    found = custom.get_namespaced_custom_object(**PEERING, namespace=namespace, name="graygate")
    peers: dict[str, Any] = found.get("status") or {}
    return peers


def test_two_shards_each_act_only_on_their_own_releases(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, routes: None,
    operators: dict[str, OperatorProcess], sandbox: ControlPlane, tmp_path: Path,
) -> None:  # fmt: skip
    shard_a = start(operators, sandbox, namespace, tmp_path, "a", "--shard=a")
    shard_b = start(operators, sandbox, namespace, tmp_path, "b", "--shard=b")
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release("alpha", "a"))
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release("bravo", "b", "checkout-2"))

    for name in ("alpha", "bravo"):
        done = eventually(functools.partial(_succeeded, api, namespace, name), 60, f"{name} to succeed")
        assert_each_step_once_in_order(done)
    assert release(api, namespace, "alpha")["metadata"]["finalizers"] == ["graygate.dev/finalizer-a"]
    assert release(api, namespace, "bravo")["metadata"]["finalizers"] == ["graygate.dev/finalizer-b"]
    assert "alpha" not in _names(shard_b), "shard b never handled (nor logged) shard a's release"
    assert "bravo" not in _names(shard_a)
    assert any(line.get("release") == f"{namespace}/alpha" for line in _lines(shard_a))

    # Alone with a release that is not its own, shard b writes nothing to it: no finalizer, status or annotation.
    shard_a.stop()
    before = release(api, namespace, "alpha")["metadata"]["resourceVersion"]
    time.sleep(3.0)
    assert release(api, namespace, "alpha")["metadata"]["resourceVersion"] == before


def test_a_release_moved_between_shards_mid_run_finishes_with_each_step_once(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, routes: None,
    operators: dict[str, OperatorProcess], sandbox: ControlPlane, tmp_path: Path,
) -> None:  # fmt: skip
    shard_a = start(operators, sandbox, namespace, tmp_path, "a", "--shard=a")
    shard_b = start(operators, sandbox, namespace, tmp_path, "b", "--shard=b")
    recorder = WeightRecorder(api, namespace)
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release("checkout", "a"))
    eventually(lambda: _step(api, namespace, "checkout") >= 3, 30, "the release to reach 30 % on shard a")
    moved_at = time.time()
    custom.patch_namespaced_custom_object(
        **RELEASES, namespace=namespace, name="checkout", body={"metadata": {"labels": {SHARD_LABEL: "b"}}}
    )

    done = eventually(lambda: _succeeded(api, namespace, "checkout"), 60, "shard b to finish the release")
    # The status (the intent) is written before the weights: wait for them before the last reading.
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 10, "the final weights")
    recorder.stop()
    assert recorder.canary_sequence() == WEIGHTS, "no step repeated or skipped across the move"
    assert_each_step_once_in_order(done)
    assert done["metadata"]["finalizers"] == ["graygate.dev/finalizer-b"], "shard a let it go; shard b holds it"
    a_lines = [line for line in _lines(shard_a) if line.get("release") == f"{namespace}/checkout"]
    b_lines = [line for line in _lines(shard_b) if line.get("release") == f"{namespace}/checkout"]
    assert a_lines
    assert b_lines
    # Kopf stopped shard a's daemon when the filter stopped matching (and removed shard a's finalizer).
    stopped = [line for line in _lines(shard_a) if line.get("message") == "Daemon 'reconcile' succeeded."]
    assert [line["object"]["name"] for line in stopped] == ["checkout"]
    assert _at(stopped[0]) >= moved_at
    assert max(map(_at, a_lines)) < min(map(_at, b_lines)), "never both at once: shard a's last line before b's first"
    assert all(_at(line) >= moved_at for line in b_lines), "shard b started only after the move"
