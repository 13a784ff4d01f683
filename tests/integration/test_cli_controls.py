"""The `graygate` command against the real operator and the sandbox, as a user runs it: the manual controls drive
one release through every phase they can reach, each refused action says why and exits 1, `kubectl wait` sees the
Ready condition, and `graygate get` prints what a pipe, a JSON or YAML reader and a watcher expect."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
from typing import Any

import pytest
import yaml
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


def _apply(custom: client.CustomObjectsApi, namespace: str, steps: list[dict[str, Any]]) -> None:
    body = canary_release("checkout", steps)
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)


def _status(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = release(api, namespace, "checkout").get("status", {})
    return found


def _at(api: client.ApiClient, namespace: str, phase: str, step: int | None = None) -> bool:
    status = _status(api, namespace)
    return status.get("phase") == phase and (step is None or status.get("currentStepIndex") == step)


def test_the_manual_controls_drive_one_release_through_every_phase(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, sandbox: ControlPlane,
    operator: OperatorProcess, cli: Any,
) -> None:  # fmt: skip
    steps = [{"setWeight": 20}, {"pause": {"duration": "1h"}}, {"setWeight": 40}, {"pause": {}}, {"setWeight": 60}]
    _apply(custom, namespace, steps)
    eventually(lambda: _at(api, namespace, "Progressing", 1), 30, "the timed pause at 20%")
    eventually(lambda: weights(api, namespace, "checkout") == (80, 20), 10, "20% on the canary")
    where = f"{namespace}/checkout"

    def refused(*args: str, why: str) -> None:
        done = cli(*args)
        assert done.returncode == 1, done
        assert done.stdout == ""
        assert done.stderr == f"graygate: {args[0]} refused for {where}: {why}\n"

    def applied(*args: str) -> str:
        """What the operator said it did; asserts the command's whole conversation on the way."""
        done = cli(*args)
        assert done.returncode == 0, done
        action = "promote-full" if "--full" in args else args[0]
        sent, handled = done.stdout.splitlines()
        assert re.fullmatch(rf"{action}: sent to {where} as {action}/\d{{8}}T\d{{6}}\.\d{{6}}", sent)
        assert done.stderr == f"{action}: waiting for the operator to take the command (up to 30 s)…\n"
        assert handled.startswith(f"{action}: applied: ")
        return handled.removeprefix(f"{action}: applied: ")

    refused("resume", "checkout", why="only a Paused release can be resumed; this one is Progressing")
    refused("retry", "checkout", why="only a Failed or Aborted release can be retried; this one is Progressing")

    assert applied("pause", "checkout") == "paused by hand at 20%; resume to continue"
    assert _at(api, namespace, "Paused", 1)
    assert weights(api, namespace, "checkout") == (80, 20)
    refused("pause", "checkout", why="only a Progressing release can be paused; this one is Paused")

    assert applied("resume", "checkout") == "resumed at 20%"
    assert _at(api, namespace, "Progressing", 1)
    assert weights(api, namespace, "checkout") == (80, 20)

    applied("promote", "checkout")
    eventually(lambda: _at(api, namespace, "Paused", 3), 20, "the wait-for-promotion pause at 40%")
    eventually(lambda: weights(api, namespace, "checkout") == (60, 40), 10, "40% on the canary")

    assert applied("abort", "checkout") == "aborted by hand: all traffic is back on the stable destination"
    assert _at(api, namespace, "Aborted")
    eventually(lambda: weights(api, namespace, "checkout") == (100, 0), 10, "all traffic back on stable")
    refused("resume", "checkout", why="only a Paused release can be resumed; this one is Aborted")

    assert applied("retry", "checkout") == "retried by hand: starting over from step 1"
    eventually(lambda: _at(api, namespace, "Progressing", 1), 20, "the timed pause at 20% again")
    eventually(lambda: weights(api, namespace, "checkout") == (80, 20), 10, "20% on the canary again")

    applied("promote", "checkout", "--full")
    assert _at(api, namespace, "Succeeded")
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 10, "all traffic on the canary")
    refused("abort", "checkout", why="a Succeeded release has nothing to abort")

    wait = subprocess.run(
        ["kubectl", "wait", "--for=condition=Ready", "canaryrelease/checkout", "-n", namespace, "--timeout=30s"],
        env={**os.environ, "KUBECONFIG": str(sandbox.kubeconfig)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert wait.returncode == 0, wait.stderr
    assert wait.stdout == "canaryrelease.graygate.dev/checkout condition met\n"


def test_get_prints_a_table_a_view_json_and_yaml_and_stops_on_ctrl_c(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, sandbox: ControlPlane,
    operator: OperatorProcess, cli: Any,
) -> None:  # fmt: skip
    _apply(custom, namespace, [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}])
    eventually(lambda: _at(api, namespace, "Paused", 1), 30, "the wait-for-promotion pause at 20%")
    where = f"{namespace}/checkout"
    outputs = {name: cli("get", *args) for name, args in {
        "table": [], "view": ["checkout"], "json": ["checkout", "-o", "json"], "yaml": ["checkout", "-o", "yaml"],
        "list json": ["-o", "json"],
    }.items()}  # fmt: skip
    for name, done in outputs.items():
        assert (done.returncode, done.stderr) == (0, ""), name
        assert "\033[" not in done.stdout, f"{name}: colour in a pipe"

    header, row = outputs["table"].stdout.splitlines()
    assert header.split() == ["NAMESPACE/NAME", "PHASE", "STEP", "CANARY", "VERDICT"]
    # The release has no gates; an analysis while paused (every second) records a Pass, so the verdict is "-"
    # only if the table was read within a second of the pause.
    *columns, verdict = row.split()
    assert columns == [where, "Paused", "2/3", "[##........]", "20%"]
    assert verdict in {"-", "Pass"}
    view = outputs["view"].stdout.splitlines()
    assert view[:3] == [f"{where}  Paused", "step 2/3  " + "[" + "#" * 8 + "." * 32 + "]", "stable  80%   canary  20%"]
    assert max(len(line) for line in view) <= 80
    for document in (json.loads(outputs["json"].stdout), yaml.safe_load(outputs["yaml"].stdout)):
        assert document["kind"] == "CanaryRelease"
        assert (document["status"]["phase"], document["status"]["canaryWeight"]) == ("Paused", 20)
    assert [item["metadata"]["name"] for item in json.loads(outputs["list json"].stdout)["items"]] == ["checkout"]

    watching = subprocess.Popen(
        [sys.executable, "-m", "graygate.cli", "get", "checkout", "--watch", f"--kubeconfig={sandbox.kubeconfig}",
         "-n", namespace], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert watching.stdout is not None
    assert watching.stdout.readline() == f"{where}  Paused\n"
    watching.send_signal(signal.SIGINT)
    _, stderr = watching.communicate(timeout=30)
    assert (watching.returncode, stderr) == (130, "")


def test_get_watch_redraws_in_a_pipe_until_the_release_is_done(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess, cli: Any
) -> None:
    _apply(custom, namespace, [{"setWeight": 20}, {"pause": {"duration": "4s"}}, {"setWeight": 60}])
    eventually(lambda: _status(api, namespace).get("phase") == "Progressing", 30, "the release to start")
    done = cli("get", "checkout", "--watch", "--until-done")
    assert (done.returncode, done.stderr) == (0, "")
    first_lines = [line for line in done.stdout.splitlines() if line.startswith(f"{namespace}/checkout  ")]
    frames = ("\n\n" + done.stdout).split(f"\n\n{namespace}/checkout  ")[1:]
    assert len(first_lines) == len(frames) >= 2, done.stdout
    assert first_lines[0].endswith("Progressing")
    assert first_lines[-1].endswith("Succeeded")
    assert "stable   0%   canary 100%" in frames[-1]
    assert all(before != after for before, after in itertools.pairwise(frames)), "a frame repeated"
