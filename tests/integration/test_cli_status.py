"""`graygate status NAME` and `graygate get NAME --watch --until-done` against the real operator and the sandbox, one
release per outcome: succeeded exits 0, rolled back or aborted 1, paused (at a `pause: {}` step, or by hand) or
waiting for a `confirmRollout` approval 2, and a run that outlasts `--timeout` 3 (`get --until-done` too). Each
prints the run's transitions as they happen and ends with the release's last state."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from kubernetes import client

from graygate.sandbox import ControlPlane
from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    ProbeTarget,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
)


@pytest.fixture
def cli(sandbox: ControlPlane, namespace: str) -> Any:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "graygate.cli", *args, f"--kubeconfig={sandbox.kubeconfig}", "-n", namespace]
        return subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)

    return run


@pytest.fixture
def custom(api: client.ApiClient, namespace: str) -> client.CustomObjectsApi:
    objects = client.CustomObjectsApi(api)
    objects.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=virtual_service("checkout"))
    create_destination_rule(api, namespace)
    return objects


def _apply(custom: client.CustomObjectsApi, namespace: str, steps: list[dict[str, Any]], **spec: Any) -> None:
    body = canary_release("checkout", steps, **spec)
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)


def _phase(api: client.ApiClient, namespace: str) -> str | None:
    phase: str | None = release(api, namespace, "checkout").get("status", {}).get("phase")
    return phase


def test_a_release_that_succeeds_exits_0_and_a_new_spec_is_waited_for(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess, cli: Any
) -> None:
    _apply(custom, namespace, [{"setWeight": 50}, {"pause": {"duration": "1s"}}, {"setWeight": 100}])
    done = cli("status", "checkout", "--timeout", "60s")
    assert (done.returncode, done.stderr) == (0, ""), done
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{namespace}/checkout: ")
    assert any("-> Progressing" in line for line in lines[1:-1]), done.stdout
    assert lines[-1].startswith(f"{namespace}/checkout: Succeeded")
    watched = cli("get", "checkout", "--watch", "--until-done")
    assert (watched.returncode, watched.stderr) == (0, "")

    # A new spec: its run is the one waited for, never the Succeeded of the previous one.
    patch = {"spec": {"steps": [{"setWeight": 30}, {"pause": {}}, {"setWeight": 100}]}}
    custom.patch_namespaced_custom_object(**RELEASES, namespace=namespace, name="checkout", body=patch)
    again = cli("status", "checkout", "--timeout", "60s")
    assert again.returncode == 2, again
    assert again.stdout.splitlines()[-1].startswith(f"{namespace}/checkout: Paused (AwaitingPromotion)")


def test_a_release_rolled_back_exits_1(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess, cli: Any,
    probe_target: ProbeTarget,
) -> None:  # fmt: skip
    probe_target.status = 503
    gate = {"name": "health", "critical": True, "httpProbe": {"url": probe_target.url, "timeout": "500ms"}}
    steps = [{"setWeight": 20}, {"pause": {"duration": "1h"}}]
    _apply(custom, namespace, steps, analysis={"interval": "1s", "gates": [gate]})
    done = cli("status", "checkout", "--timeout", "60s")
    assert (done.returncode, done.stderr) == (1, ""), done
    assert done.stdout.splitlines()[-1].startswith(f"{namespace}/checkout: Failed")
    assert any("-> Failed" in line for line in done.stdout.splitlines()), done.stdout
    watched = cli("get", "checkout", "--watch", "--until-done")
    assert (watched.returncode, watched.stderr) == (1, "")


def test_a_release_paused_for_a_human_exits_2(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess, cli: Any
) -> None:
    _apply(custom, namespace, [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}])
    done = cli("status", "checkout", "--timeout", "60s")
    assert (done.returncode, done.stderr) == (2, ""), done
    assert done.stdout.splitlines()[-1].startswith(f"{namespace}/checkout: Paused (AwaitingPromotion)")
    watched = cli("get", "checkout", "--watch", "--until-done")
    assert (watched.returncode, watched.stderr) == (2, "")
    assert _phase(api, namespace) == "Paused"


def test_a_run_longer_than_the_timeout_exits_3(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess, cli: Any
) -> None:
    _apply(custom, namespace, [{"setWeight": 20}, {"pause": {"duration": "1h"}}])
    eventually(lambda: _phase(api, namespace) == "Progressing", 30, "the release to start")
    done = cli("status", "checkout", "--timeout", "2s")
    assert (done.returncode, done.stderr) == (3, ""), done
    assert done.stdout.splitlines()[-1] == f"{namespace}/checkout: still Progressing after 2 s: timed out"


def test_an_aborted_release_exits_1(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess, cli: Any
) -> None:
    _apply(custom, namespace, [{"setWeight": 20}, {"pause": {"duration": "1h"}}])
    eventually(lambda: _phase(api, namespace) == "Progressing", 30, "the release to start")
    aborted = cli("abort", "checkout")
    assert aborted.returncode == 0, aborted
    done = cli("status", "checkout", "--timeout", "60s")
    assert (done.returncode, done.stderr) == (1, ""), done
    assert done.stdout.splitlines()[-1].startswith(f"{namespace}/checkout: Aborted")


def test_a_release_paused_by_hand_exits_2_and_get_until_done_times_out_with_3_before(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess, cli: Any
) -> None:
    _apply(custom, namespace, [{"setWeight": 20}, {"pause": {"duration": "1h"}}])
    eventually(lambda: _phase(api, namespace) == "Progressing", 30, "the release to start")
    watched = cli("get", "checkout", "--watch", "--until-done", "--timeout", "2s")
    assert (watched.returncode, watched.stderr) == (3, ""), watched
    assert watched.stdout.splitlines()[-1] == "still not done after 2 s: timed out"
    paused = cli("pause", "checkout")
    assert paused.returncode == 0, paused
    done = cli("status", "checkout", "--timeout", "60s")
    assert (done.returncode, done.stderr) == (2, ""), done
    assert done.stdout.splitlines()[-1].startswith(f"{namespace}/checkout: Paused")


def test_a_release_waiting_for_a_confirm_rollout_approval_exits_2(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess, cli: Any,
    probe_target: ProbeTarget,
) -> None:  # fmt: skip
    probe_target.status = 503  # the approval hook says no (not yet)
    hook = {"name": "approve", "stage": "confirmRollout", "webhook": {"url": probe_target.url, "timeout": "500ms"}}
    _apply(custom, namespace, [{"setWeight": 20}, {"setWeight": 100}], hooks=[hook])
    done = cli("status", "checkout", "--timeout", "60s")
    assert (done.returncode, done.stderr) == (2, ""), done
    assert done.stdout.splitlines()[-1].startswith(f"{namespace}/checkout: Pending")
    assert _phase(api, namespace) == "Pending"


def _deployment(api: client.ApiClient, namespace: str, image: str, *, create: bool) -> None:
    template = {"metadata": {"labels": {"app": "checkout"}}, "spec": {"containers": [{"name": "app", "image": image}]}}
    apps = client.AppsV1Api(api)
    if create:
        body = {
            "metadata": {"name": "checkout"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "checkout"}}, "template": template},
        }
        apps.create_namespaced_deployment(namespace, body)
    else:
        apps.patch_namespaced_deployment(
            "checkout", namespace, [{"op": "replace", "path": "/spec/template", "value": template}]
        )


def test_with_a_followed_workload_the_new_revision_is_waited_for_not_the_last_success(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess, cli: Any
) -> None:
    _deployment(api, namespace, "shop/checkout:1", create=True)
    steps = [{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]
    _apply(custom, namespace, steps, workload={"name": "checkout", "scaleDownDelay": "1s"})
    adopted = cli("status", "checkout", "--timeout", "60s")
    assert adopted.returncode == 0, adopted  # v1 adopted as stable: nothing to release
    revision = release(api, namespace, "checkout")["status"]["revision"]

    # The next commit, the release's spec unchanged, while the operator is down: the status still says v1's
    # Succeeded, which `status` must not take for v2's end.
    operator.stop()
    _deployment(api, namespace, "shop/checkout:2", create=False)
    argv = [sys.executable, "-m", "graygate.cli", "status", "checkout", "--timeout=60s", "-n", namespace,
            f"--kubeconfig={operator.kubeconfig}"]  # fmt: skip
    waiting = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        assert waiting.poll() is None, waiting.communicate()
        operator.start()
        stdout, stderr = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert (waiting.returncode, stderr) == (2, ""), stdout  # v2's run, paused at `pause: {}`
    assert release(api, namespace, "checkout")["status"]["revision"] != revision
    assert stdout.splitlines()[-1].startswith(f"{namespace}/checkout: Paused (AwaitingPromotion)")
