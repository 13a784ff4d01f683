"""Helpers for tests that run the real operator against the sandbox: the operator as a child process (so a test
can kill it mid-step), a probe target whose health a test flips, and polling with a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client

from tests import virtual_services as bodies

T = TypeVar("T")

RELEASES = {"group": "graygate.dev", "version": "v1alpha1", "plural": "canaryreleases"}
ISTIO = {"group": "networking.istio.io", "version": "v1", "plural": "virtualservices"}
DESTINATION_RULES = {"group": "networking.istio.io", "version": "v1", "plural": "destinationrules"}


def eventually(probe: Callable[[], T | None], timeout_s: float, what: str, every_s: float = 0.1) -> T:
    """Polls `probe` until it returns something truthy, or fails naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; last seen: {last!r}")


@dataclass
class OperatorProcess:
    """`graygate run` scoped to one namespace, logging JSON to a file."""

    kubeconfig: Path
    namespace: str
    log_path: Path
    tick_interval_s: float = 0.25
    extra_args: tuple[str, ...] = ()
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        argv = [
            sys.executable, "-m", "graygate.cli", "run",
            f"--kubeconfig={self.kubeconfig}", f"--namespace={self.namespace}",
            f"--tick-interval={self.tick_interval_s}", "--metrics-port=0", "--liveness-port=0", "--log-format=json",
            *self.extra_args,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, as a crashed or evicted pod."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class ProbeTarget:
    """An HTTP endpoint on 127.0.0.1 whose status code a test sets; counts the probes it answered."""

    def __init__(self) -> None:
        self.status = 200
        self.hits = 0
        self.failing_hits: list[float] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.hits += 1
                if target.status != 200:
                    target.failing_hits.append(time.monotonic())
                body = b'{"status": "ok"}' if target.status == 200 else b'{"status": "broken"}'
                self.send_response(target.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/healthz"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def virtual_service(name: str, *, extra_route: bool = True) -> dict[str, Any]:
    """A VirtualService as a user owns it: a managed weighted route plus fields graygate must leave alone."""
    http: list[dict[str, Any]] = []
    if extra_route:
        http.append(
            {
                "name": "admin",
                "match": [{"uri": {"prefix": "/admin"}}],
                "route": [{"destination": {"host": "checkout-admin", "port": {"number": 9000}}}],
                "timeout": "3s",
            }
        )
    http.append(
        bodies.route("primary", stable=100, canary=0, port=8080) | {"retries": {"attempts": 2, "perTryTimeout": "1s"}}
    )
    return bodies.virtual_service(name, *http, gateways=("mesh",), labels={"team": "shop"})


def create_destination_rule(api: client.ApiClient, namespace: str, **changes: Any) -> dict[str, Any]:
    """Create the DestinationRule the `checkout` routes need (see `virtual_services.destination_rule`)."""
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        **DESTINATION_RULES, namespace=namespace, body=bodies.destination_rule(**changes)
    )
    return created


def weights(api: client.ApiClient, namespace: str, name: str, route: str = "primary") -> tuple[int, int]:
    """(stable, canary) weights of `route` as stored in the API server."""
    vs = client.CustomObjectsApi(api).get_namespaced_custom_object(**ISTIO, namespace=namespace, name=name)
    for http in vs["spec"]["http"]:
        if http.get("name") == route:
            by_subset = {r["destination"].get("subset"): r.get("weight", 0) for r in http["route"]}
            return by_subset.get("stable", 0), by_subset.get("canary", 0)
    raise AssertionError(f"route {route} not in {name}")


def release(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
        **RELEASES, namespace=namespace, name=name
    )
    return found


def canary_release(name: str, steps: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A release of the `checkout` VirtualService's `primary` route, analysed every second; `spec` adds or
    replaces top-level spec fields (`analysis=None` leaves the field out, for the API's default)."""
    body: dict[str, Any] = {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": "CanaryRelease",
        "metadata": {"name": name},
        "spec": {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout", "routes": ["primary"]}]}},
            "stable": {"host": "checkout", "subset": "stable", "port": 8080},
            "canary": {"host": "checkout", "subset": "canary", "port": 8080},
            "steps": steps,
            "analysis": {"interval": "1s"},
        },
    }
    body["spec"].update(spec)
    body["spec"] = {key: value for key, value in body["spec"].items() if value is not None}
    return body


class WeightRecorder:
    """Polls the managed route every 25 ms and keeps each change of (stable, canary) weights with its time."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str = "checkout") -> None:
        self.changes: list[tuple[float, tuple[int, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(api, namespace, name), daemon=True)
        self._thread.start()

    def _run(self, api: client.ApiClient, namespace: str, name: str) -> None:
        while not self._stop.is_set():
            self._sample(api, namespace, name)
            self._stop.wait(0.025)
        # One last reading after the caller saw the end state, so a change made between two polls is never lost.
        self._sample(api, namespace, name)

    def _sample(self, api: client.ApiClient, namespace: str, name: str) -> None:
        seen = weights(api, namespace, name)
        if not self.changes or self.changes[-1][1] != seen:
            self.changes.append((time.monotonic(), seen))

    def canary_sequence(self) -> list[int]:
        return [canary for _, (_, canary) in self.changes]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
