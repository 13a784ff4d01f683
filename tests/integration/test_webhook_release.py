"""The `webhook` gate against the real operator and API server, with a local receiver: a release whose receiver
answers 200 succeeds and the receiver saw the release's data (its labels, its weights) with a header read from a
Secret; a receiver answering 500 rolls the release back; a webhook outside the URL allowlist is Invalid before any
traffic moves and is never called."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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

TOKEN = "t0ken-from-a-secret"


class Receiver:
    """A webhook receiver on 127.0.0.1 answering every POST with `status`; keeps each call's headers and JSON."""

    def __init__(self) -> None:
        self.status = 200
        self.calls: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.calls.append((dict(self.headers), json.loads(self.rfile.read(length))))
                body = b'{"result": "passed"}' if receiver.status < 300 else b"smoke tests failed: 3 of 12"
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json" if receiver.status < 300 else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/smoke"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    serving = Receiver()
    yield serving
    serving.close()


@pytest.fixture
def custom(api: client.ApiClient, namespace: str) -> client.CustomObjectsApi:
    objects = client.CustomObjectsApi(api)
    objects.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=virtual_service("checkout"))
    create_destination_rule(api, namespace)
    client.CoreV1Api(api).create_namespaced_secret(
        namespace, {"metadata": {"name": "hook-token"}, "stringData": {"token": TOKEN}}
    )
    return objects


def _release(url: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    gate = {
        "name": "smoke",
        "critical": True,
        "webhook": {
            "url": url,
            "timeout": "800ms",
            "retries": 1,
            "headers": [{"name": "X-Token", "valueFrom": {"secretKeyRef": {"name": "hook-token", "key": "token"}}}],
            "metadata": {"suite": "checkout-smoke"},
            "expect": [{"path": "$.result", "equals": "passed"}],
        },
    }
    body = canary_release("checkout", steps, analysis={"interval": "1s", "gates": [gate]})
    body["metadata"]["labels"] = {"team": "payments"}
    body["metadata"]["annotations"] = {"owner": "ana"}
    return body


def _phase(api: client.ApiClient, namespace: str, phase: str) -> dict[str, Any] | None:
    found = release(api, namespace, "checkout")
    return found if (found.get("status") or {}).get("phase") == phase else None


def test_a_receiver_answering_200_lets_the_release_succeed_and_sees_its_data(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess,
    receiver: Receiver,
) -> None:  # fmt: skip
    steps = [{"setWeight": 20}, {"pause": {"duration": "2s"}}, {"setWeight": 60}, {"pause": {"duration": "2s"}}]
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release(receiver.url, steps))
    done = eventually(lambda: _phase(api, namespace, "Succeeded"), 40, "the release to succeed")
    # the status is written before the routes (the intent first), so the last weights follow it by a moment
    eventually(lambda: weights(api, namespace, "checkout") == (0, 100), 10, "all traffic on the canary")

    assert receiver.calls, "the webhook was called"
    headers, payload = receiver.calls[0]
    assert headers["X-Token"] == TOKEN, "the header's value was read from the Secret"
    assert headers["Content-Type"] == "application/json"
    assert TOKEN not in json.dumps([payload for _, payload in receiver.calls]), "no Secret's value in the payload"
    assert (payload["name"], payload["namespace"], payload["stage"]) == ("checkout", namespace, "rollout")
    assert payload["labels"] == {"team": "payments"}
    assert payload["annotations"] == {"owner": "ana"}
    assert payload["metadata"] == {"suite": "checkout-smoke"}
    seen = {(call["canaryWeight"], call["stableWeight"], call["step"]) for _, call in receiver.calls}
    assert (20, 80, 1) in seen
    assert {call["phase"] for _, call in receiver.calls} <= {"Progressing", "Paused", "Promoting"}
    results = [result for result in done["status"]["recentResults"] if result["gate"] == "smoke"]
    assert results
    assert results[-1]["verdict"] == "Pass"
    assert "$.result=passed" in results[-1]["value"]


def test_a_receiver_answering_500_rolls_the_release_back(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, operator: OperatorProcess,
    receiver: Receiver,
) -> None:  # fmt: skip
    receiver.status = 500
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release(receiver.url, steps))
    failed = eventually(lambda: _phase(api, namespace, "Failed"), 30, "the rollback")
    eventually(lambda: weights(api, namespace, "checkout") == (100, 0), 10, "the weights back on stable")
    ready = next(c for c in failed["status"]["conditions"] if c["type"] == "Ready")
    assert "smoke" in ready["message"]
    assert "500 smoke tests failed: 3 of 12" in ready["message"], "the status and the first bytes of the answer"
    assert len(receiver.calls) >= 2, "a 5xx is retried"


@pytest.fixture
def restricted_operator(sandbox: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        sandbox.kubeconfig,
        namespace,
        tmp_path / "operator.log",
        extra_args=("--probe-url-allowlist=http://hooks.platform.svc/",),
    )
    process.start()
    yield process
    process.stop()


def test_a_webhook_outside_the_allowlist_is_invalid_before_any_traffic(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, restricted_operator: OperatorProcess,
    receiver: Receiver,
) -> None:  # fmt: skip
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release(receiver.url, steps))
    invalid = eventually(lambda: _phase(api, namespace, "Invalid"), 30, "the release to be refused as Invalid")
    message = invalid["status"]["message"]
    assert f"gate smoke: {receiver.url} is not in the operator's URL allowlist (http://hooks.platform.svc/)" in message
    assert receiver.calls == [], "a refused webhook is never called"
    assert weights(api, namespace, "checkout") == (100, 0)
