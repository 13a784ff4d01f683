"""The planted-secret scan: a unique token in every Secret the operator reads, a release that makes it read them
all, and a search for the token in everything the operator shows.

The operator runs as the chart runs it, logged in with the namespaced install's ServiceAccount token (so it reads
each Secret by name, as the chart grants, and can list none). The Secrets: a webhook gate's header
(`valueFrom.secretKeyRef`), a Prometheus gate's bearer token and another's basic-auth user name and password, an
etcdConfig gate's etcd user name and password (a real etcd, whose auth is off: it refuses the login), and two
notification URLs. The gates' targets are hostile: the webhook receivers echo the header they got (in a 500
text answer and in a JSON answer), the Prometheus stand-in is an auth proxy that refuses the credentials and
quotes them, and one notification receiver answers 500 quoting the URL and the body it got.

Searched: the operator's log, the namespace's Events (both APIs), the release object (spec and status), the
operator's /metrics page, every request body the receivers got (notification payloads, webhook payloads,
Prometheus queries), and the output of `graygate get` (view, wide, one release) and `graygate status`. Searched
for: each planted value, the token's common prefix (a cut-off part of a value), and each value's base64 at every
alignment (a Secret's `data`, a basic-auth header). The one place a value may appear is the one it is meant for:
the request header of the webhook gate and of the Prometheus query, and the path of the notification URL.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from graygate.sandbox import ControlPlane
from graygate.sandbox.kubeconfig import write_kubeconfig
from graygate.sandbox.processes import free_port
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
from tests.etcd_server import Etcd
from tests.integration.chart_install import SCANNED_SECRETS, Installed

PREFIX = f"planted{uuid.uuid4().hex[:12]}"
PLANTED = {
    ("hook-token", "token"): f"{PREFIX}-hook-{uuid.uuid4().hex}",
    ("prometheus-bearer", "token"): f"{PREFIX}-bearer-{uuid.uuid4().hex}",
    ("prometheus-basic", "username"): f"{PREFIX}-user-{uuid.uuid4().hex[:8]}",
    ("prometheus-basic", "password"): f"{PREFIX}-password-{uuid.uuid4().hex}",
    ("etcd-credentials", "username"): f"{PREFIX}-etcd-user-{uuid.uuid4().hex[:8]}",
    ("etcd-credentials", "password"): f"{PREFIX}-etcd-password-{uuid.uuid4().hex}",
}


class Echo:
    """Every target of the release on 127.0.0.1, each answering with what it got; keeps every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._handle(b"")

            def do_POST(self) -> None:
                self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _handle(self, body: bytes) -> None:
                echo.requests.append((self.command, self.path, dict(self.headers), body))
                status, content_type, text = echo.answer(self.path, dict(self.headers), body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def answer(path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
        if path.startswith("/hooks/text"):
            return 500, "text/plain", f"rejected: X-Token was {headers.get('X-Token')}"
        if path.startswith("/hooks/json"):
            return 200, "application/json", json.dumps({"result": "failed", "echo": headers.get("X-Token")})
        if path.startswith("/prometheus/"):
            scheme, _, value = headers.get("Authorization", "").partition(" ")
            said = base64.b64decode(value).decode() if scheme == "Basic" else value
            error = f"credentials not accepted: {said} ({scheme} {value})"
            return 401, "application/json", json.dumps({"status": "error", "errorType": "auth", "error": error})
        if path.startswith("/broken/"):
            return 500, "text/plain", f"cannot deliver to {path}: {body[:200].decode(errors='replace')}"
        return 200, "text/plain", "ok"

    def got(self, prefix: str) -> list[tuple[str, str, dict[str, str], bytes]]:
        return [request for request in self.requests if request[1].startswith(prefix)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo() -> Iterator[Echo]:
    serving = Echo()
    yield serving
    serving.close()


def base64_forms(value: str) -> set[str]:
    """What `value` looks like inside any base64 text holding it: the part of its encoding that does not depend on
    the bytes around it, at each of the three alignments."""
    forms = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + value.encode()).decode()
        forms.add(encoded[-(-pad * 8 // 6) : (pad + len(value)) * 8 // 6])
    return forms


def leaks(text: str, planted: dict[str, str]) -> list[str]:
    """Which planted values (by name) `text` holds, as given or inside base64; and whether it holds the prefix."""
    found = [name for name, value in planted.items() if any(f in text for f in {value} | base64_forms(value))]
    return found + (["the common prefix"] if PREFIX in text else [])


def _release(echo: Echo, etcd: Etcd) -> dict[str, Any]:
    header = [{"name": "X-Token", "valueFrom": {"secretKeyRef": {"name": "hook-token", "key": "token"}}}]
    webhook = {"timeout": "800ms", "headers": header}
    query = {"expr": "sum(up)", "max": 1}
    bearer = {"address": f"{echo.base}/prometheus/bearer", "timeout": "500ms"}
    bearer["bearerToken"] = {"secretRef": {"name": "prometheus-bearer"}}
    basic = {"address": f"{echo.base}/prometheus/basic", "timeout": "500ms"}
    basic["basicAuth"] = {"secretRef": {"name": "prometheus-basic"}}
    gates = [
        {"name": "echo-text", "critical": True, "webhook": {"url": f"{echo.base}/hooks/text", **webhook}},
        {"name": "echo-json", "webhook": {"url": f"{echo.base}/hooks/json", **webhook}},
        {"name": "errors-bearer", "prometheus": {"source": bearer, "query": query}},
        {"name": "errors-basic", "prometheus": {"source": basic, "query": query}},
        {"name": "config-etcd", "etcdConfig": {
            "etcd": {"endpoints": [etcd.endpoint], "dialTimeout": "500ms",
                     "auth": {"secretRef": {"name": "etcd-credentials"}}},
            "prefix": "/checkout/", "url": f"{echo.base}/config", "jsonPath": "$.configHash", "timeout": "500ms",
        }},
    ]  # fmt: skip
    gates[1]["webhook"]["expect"] = [{"path": "$.result", "equals": "passed"}]
    channels = [
        {"name": name, "kind": "webhook", "urlFrom": {"secretKeyRef": {"name": secret, "key": "url"}}}
        for name, secret in (("audit", "notification-url"), ("broken", "notification-broken"))
    ]
    steps = [{"setWeight": 20}, {"pause": {"duration": "3s"}}, {"setWeight": 50}]
    return canary_release(
        "checkout", steps, analysis={"interval": "1s", "gates": gates}, notifications={"channels": channels}
    )


def _plant(api: client.ApiClient, namespace: str, echo: Echo) -> dict[str, str]:
    planted = {f"{name}/{key}": value for (name, key), value in PLANTED.items()}
    planted["notification-url/url"] = f"{echo.base}/notify/{PREFIX}-url-{uuid.uuid4().hex}"
    planted["notification-broken/url"] = f"{echo.base}/broken/{PREFIX}-broken-{uuid.uuid4().hex}"
    secrets: dict[str, dict[str, str]] = {}
    for where, value in planted.items():
        name, key = where.split("/")
        secrets.setdefault(name, {})[key] = value
    assert set(secrets) == set(SCANNED_SECRETS), "every Secret the chart lets the operator read holds the token"
    for name, data in secrets.items():
        client.CoreV1Api(api).create_namespaced_secret(namespace, {"metadata": {"name": name}, "stringData": data})
    return planted


def _cli(sandbox: ControlPlane, namespace: str, *args: str) -> str:
    argv = [sys.executable, "-m", "graygate.cli", *args, f"--kubeconfig={sandbox.kubeconfig}", "-n", namespace]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    shown = result.stdout + result.stderr
    assert "checkout" in shown, f"graygate {' '.join(args)} did not show the release: {shown}"
    return shown


def _events(api: client.ApiClient, namespace: str) -> str:
    new = client.EventsV1Api(api).list_namespaced_event(namespace)
    old = client.CoreV1Api(api).list_namespaced_event(namespace)
    return json.dumps([api.sanitize_for_serialization(found.items) for found in (new, old)])


def test_no_planted_secret_shows_anywhere_but_where_it_is_sent(
    request: pytest.FixtureRequest, sandbox: ControlPlane, api: client.ApiClient, namespaced: Installed,
    echo: Echo, etcd: Etcd, tmp_path: Path,
) -> None:  # fmt: skip
    namespace = namespaced.watched[1]
    planted = _plant(api, namespace, echo)
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=virtual_service("checkout"))
    create_destination_rule(api, namespace)
    kubeconfig = tmp_path / "operator.kubeconfig"
    write_kubeconfig(kubeconfig, sandbox.server, sandbox.workdir / "pki" / "ca.crt", namespaced.token, "graygate")
    metrics_port = free_port()
    operator = OperatorProcess(
        kubeconfig, namespace, tmp_path / "operator.log", extra_args=(f"--metrics-port={metrics_port}",)
    )
    operator.start()
    try:
        custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=_release(echo, etcd))
        eventually(
            lambda: (release(api, namespace, "checkout").get("status") or {}).get("phase") == "Failed",
            40,
            "the rollback",
        )
        eventually(lambda: len(echo.got("/broken/")) >= 3, 20, "the broken receiver's retries")
        eventually(lambda: echo.got("/notify/"), 10, "the notifications")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    except AssertionError as error:
        raise AssertionError(f"{error}\noperator log:\n{operator.log()[-4000:]}") from None
    finally:
        operator.stop()

    # Each Secret was read and sent where it is meant to go: the scan below covers real reads.
    assert {r[2].get("X-Token") for r in echo.got("/hooks/")} == {planted["hook-token/token"]}
    bearer = {r[2].get("Authorization") for r in echo.got("/prometheus/bearer")}
    assert bearer == {f"Bearer {planted['prometheus-bearer/token']}"}
    pair = f"{planted['prometheus-basic/username']}:{planted['prometheus-basic/password']}"
    basic = {r[2].get("Authorization") for r in echo.got("/prometheus/basic")}
    assert basic == {f"Basic {base64.b64encode(pair.encode()).decode()}"}
    assert {r[1] for r in echo.got("/notify/")} == {planted["notification-url/url"].removeprefix(echo.base)}
    assert {r[1] for r in echo.got("/broken/")} == {planted["notification-broken/url"].removeprefix(echo.base)}
    assert "Forbidden" not in operator.log(), "every Secret was read by name, as the chart grants"

    meant = {"X-Token", "Authorization"}
    searched = {
        "operator log": operator.log(),
        "Events": _events(api, namespace),
        "release (spec and status)": json.dumps(release(api, namespace, "checkout")),
        "/metrics": metrics,
        "notification payloads": "\n".join(r[3].decode() for r in echo.got("/notify/") + echo.got("/broken/")),
        "webhook gate payloads": "\n".join(r[3].decode() for r in echo.got("/hooks/")),
        "Prometheus query strings": "\n".join(r[1] for r in echo.got("/prometheus/")),
        "other request headers": json.dumps([{k: v for k, v in r[2].items() if k not in meant} for r in echo.requests]),
    }
    commands = {
        "graygate get": ("get",),
        "graygate get -o wide": ("get", "-o", "wide"),
        "graygate get checkout": ("get", "checkout"),
        "graygate status checkout": ("status", "checkout", "--timeout=5s"),
    }
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        outputs = pool.map(lambda args: _cli(sandbox, namespace, *args), commands.values())
        searched |= dict(zip(commands, outputs, strict=True))
    shown = searched["release (spec and status)"]
    for gate in ("echo-text", "echo-json", "errors-bearer", "errors-basic", "config-etcd"):
        assert f'"gate": "{gate}"' in shown, f"gate {gate} ran: its result is in the status"
    found = {where: leaks(text, planted) for where, text in searched.items()}
    lines = ["| searched | bytes | planted values found |", "|---|---|---|"]
    lines += [f"| {where} | {len(text)} | {', '.join(found[where]) or 'none'} |" for where, text in searched.items()]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{len(planted)} planted values in {len(SCANNED_SECRETS)} Secrets\n" + "\n".join(lines))
    assert {where: names for where, names in found.items() if names} == {}
