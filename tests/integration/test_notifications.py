"""Notifications with the real operator: a local HTTP server stands in for Slack's incoming webhook and for a
generic webhook receiver. A release that runs to Succeeded sends exactly one message per transition to each; a
flapping release (its spec changed over and over) stays within its rate limit; a receiver that hangs delays no
tick: the release still reaches Succeeded. The namespace's ConfigMap and the operator's namespace's (the cluster
default) are read by the real adapter."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kubernetes import client

from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
)


class Receiver:
    """A local stand-in for chat webhooks: keeps each JSON body by path; `/hang` never answers (until closed)."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[Any]] = {}
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.setdefault(self.path, []).append(json.loads(self.rfile.read(length)))
                if self.path == "/hang":
                    receiver.released.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def got(self, path: str) -> list[Any]:
        return list(self.bodies.get(path, []))

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    serving = Receiver()
    yield serving
    serving.close()


@pytest.fixture
def routes(api: client.ApiClient, namespace: str) -> None:
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        **ISTIO, namespace=namespace, body=virtual_service("checkout")
    )
    create_destination_rule(api, namespace)


def secret(api: client.ApiClient, namespace: str, name: str, url: str) -> None:
    client.CoreV1Api(api).create_namespaced_secret(namespace, {"metadata": {"name": name}, "stringData": {"url": url}})


def channel(name: str, kind: str, secret_name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "urlFrom": {"secretKeyRef": {"name": secret_name, "key": "url"}}, **more}


def phase(api: client.ApiClient, namespace: str, wanted: str) -> dict[str, Any] | None:
    found = release(api, namespace, "checkout")
    return found if found.get("status", {}).get("phase") == wanted else None


def at_weight(api: client.ApiClient, namespace: str, weight: int) -> bool:
    found = phase(api, namespace, "Paused")
    return found is not None and found["status"]["canaryWeight"] == weight


def test_one_message_per_transition_from_the_namespace_default(
    api: client.ApiClient, namespace: str, routes: None, receiver: Receiver, operator: OperatorProcess
) -> None:
    secret(api, namespace, "slack", receiver.url("/slack"))
    secret(api, namespace, "hook", receiver.url("/hook"))
    settings = {"channels": [channel("chat", "slack", "slack"), channel("audit", "webhook", "hook")]}
    client.CoreV1Api(api).create_namespaced_config_map(
        namespace,
        {"metadata": {"name": "graygate-notifications"}, "data": {"notifications.yaml": json.dumps(settings)}},
    )
    steps = [{"setWeight": 10}, {"pause": {"duration": "1s"}}, {"setWeight": 50}]
    body = canary_release("checkout", steps)
    body["metadata"]["labels"] = {"team": "payments"}
    body["metadata"]["annotations"] = {"example.com/ticket": "CHG-42"}
    client.CustomObjectsApi(api).create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)
    eventually(lambda: phase(api, namespace, "Succeeded"), 40, "the release to succeed")
    eventually(lambda: len(receiver.got("/hook")) >= 4 and len(receiver.got("/slack")) >= 4, 10, "the messages")
    time.sleep(1.5)  # nothing more comes

    hook, slack = receiver.got("/hook"), receiver.got("/slack")
    assert [body["transition"] for body in hook] == ["started", "stepAdvanced", "stepAdvanced", "succeeded"]
    assert [(body["step"], body["stepDisplay"], body["canaryWeight"], body["phase"]) for body in hook] == [
        (1, "1/3", 10, "Progressing"),
        (2, "2/3", 10, "Progressing"),
        (3, "3/3", 50, "Progressing"),
        (3, "3/3", 100, "Succeeded"),
    ]
    where = f"{namespace}/checkout"
    assert hook[0]["message"] == f"{where} started: step 1/3: 10% to the canary"
    assert hook[-1]["message"] == f"{where} succeeded: all 3 steps done; the canary carries 100%"
    assert all(body["name"] == "checkout" and body["namespace"] == namespace for body in hook)
    assert all(body["labels"] == {"team": "payments"} for body in hook), "the release's own labels"
    assert all(body["annotations"] == {"example.com/ticket": "CHG-42"} for body in hook), "and annotations"
    assert [body["text"] for body in slack] == [body["message"] for body in hook], "Slack gets the same lines"
    assert slack[-1]["blocks"][0]["text"]["text"].startswith(f"*{where}: succeeded*")


@pytest.fixture
def operators_namespace(api: client.ApiClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A namespace standing for the operator's own (POD_NAMESPACE, as the chart sets it), named before `operator`
    in a test's arguments so the operator process inherits it."""
    name = f"op-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    monkeypatch.setenv("POD_NAMESPACE", name)
    yield name
    core.delete_namespace(name)


def test_the_cluster_default_applies_where_nothing_else_is_set(
    api: client.ApiClient, namespace: str, routes: None, receiver: Receiver, operators_namespace: str,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    secret(api, operators_namespace, "platform-hook", receiver.url("/platform"))
    settings = {"channels": [channel("platform", "webhook", "platform-hook", events=["succeeded"])]}
    client.CoreV1Api(api).create_namespaced_config_map(
        operators_namespace,
        {"metadata": {"name": "graygate-notifications"}, "data": {"notifications.yaml": json.dumps(settings)}},
    )
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        **RELEASES, namespace=namespace, body=canary_release("checkout", [{"setWeight": 10}])
    )
    eventually(lambda: phase(api, namespace, "Succeeded"), 30, "the release to succeed")
    eventually(lambda: receiver.got("/platform"), 10, "the platform's message")
    time.sleep(1)
    assert [body["transition"] for body in receiver.got("/platform")] == ["succeeded"]


def test_a_flapping_release_stays_within_its_rate_limit(
    api: client.ApiClient, namespace: str, routes: None, receiver: Receiver, operator: OperatorProcess
) -> None:
    secret(api, namespace, "hook", receiver.url("/hook"))
    notifications = {"channels": [channel("audit", "webhook", "hook")], "rateLimit": {"burst": 3, "perMinute": 1}}
    custom = client.CustomObjectsApi(api)
    body = canary_release("checkout", [{"setWeight": 10}, {"pause": {}}], notifications=notifications)
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)
    for weight in (11, 12, 13, 14):  # each change starts the release over: started, then waiting for approval
        eventually(lambda: phase(api, namespace, "Paused"), 20, "the release to wait at its pause")
        patch = {"spec": {"steps": [{"setWeight": weight}, {"pause": {}}]}}
        custom.patch_namespaced_custom_object(**RELEASES, namespace=namespace, name="checkout", body=patch)
        eventually(lambda weight=weight: at_weight(api, namespace, weight), 20, f"the run at {weight}%")
    time.sleep(1.5)
    hook = receiver.got("/hook")
    assert [body["transition"] for body in hook] == ["started", "waitingForApproval", "started"]


def test_a_hanging_receiver_delays_no_tick(
    api: client.ApiClient, namespace: str, routes: None, receiver: Receiver, operator: OperatorProcess
) -> None:
    secret(api, namespace, "hook", receiver.url("/hang"))
    steps = [{"setWeight": 10}, {"pause": {"duration": "1s"}}, {"setWeight": 50}]
    body = canary_release("checkout", steps, notifications={"channels": [channel("stuck", "webhook", "hook")]})
    started = time.monotonic()
    client.CustomObjectsApi(api).create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)
    eventually(lambda: phase(api, namespace, "Succeeded"), 30, "the release to succeed despite the receiver")
    assert time.monotonic() - started < 20
    assert receiver.got("/hang"), "the receiver was called (and hangs)"
