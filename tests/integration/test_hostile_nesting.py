"""A release nested as deep as the API server accepts (a gate template argument, a field the CRD keeps as free
JSON): the operator must neither crash nor stall, refuse that release as Invalid with the field named, and keep
running the others. The API server accepts JSON nested up to 10,000 levels; Python's JSON decoder stops at about
1,000 by default, in Kopf's watch as much as anywhere. The test writes and reads the deep release with kubectl,
whose decoder goes as deep as the API server's.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from kubernetes import client

from graygate.sandbox import ControlPlane
from tests.cluster_support import RELEASES, OperatorProcess, canary_release, eventually, release

DEPTH = 5_000


def _kubectl(sandbox: ControlPlane, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig)}
    done = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _phase(api: client.ApiClient, namespace: str, name: str) -> str | None:
    phase = (release(api, namespace, name).get("status") or {}).get("phase")
    return str(phase) if phase else None


def test_bug_a_release_nested_5000_deep_stopped_the_operator(
    sandbox: ControlPlane, api: client.ApiClient, namespace: str, operator: OperatorProcess, tmp_path: Path
) -> None:
    deep = canary_release("deep", [{"setWeight": 20}], analysis={"interval": "1s", "gateRefs": [{"name": "t"}]})
    text = json.dumps(deep).replace('{"name": "t"}', '{"name": "t", "args": {"x": ' + "[" * DEPTH + "]" * DEPTH + "}}")
    (tmp_path / "deep.json").write_text(text)
    _kubectl(sandbox, "create", "-n", namespace, "-f", str(tmp_path / "deep.json"))
    custom = client.CustomObjectsApi(api)
    plain = canary_release("plain", [{"setWeight": 20}])
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=plain)
    eventually(lambda: _phase(api, namespace, "plain"), 30, "the plain release to get a phase")

    def deep_status() -> dict[str, Any] | None:
        out = _kubectl(sandbox, "get", "canaryrelease", "deep", "-n", namespace, "-o", "jsonpath={.status}")
        return json.loads(out) if out.strip() else None

    status = eventually(deep_status, 30, "the deep release to get a status")
    assert operator.popen is not None
    assert operator.popen.poll() is None, "the operator is still running"
    assert status.get("phase") == "Invalid", status
    assert "spec.analysis.gateRefs[0].args.x[0][0]" in status["message"], status
    assert "nested more than 64 levels deep; graygate reads at most 64" in status["message"], status
