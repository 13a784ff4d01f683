"""The watch-fed caches against the real API server: what kubectl changes is in memory, and its callback called,
within about a second; a deleted object goes; an expired resourceVersion (410 Gone) relists."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from graygate.kube import watch_sources
from graygate.kube.caches import Caches, kube_caches
from graygate.kube.watch_cache import Body, Gone, WatchCache
from graygate.sandbox import ControlPlane
from tests.cluster_support import eventually, virtual_service

SOON_S = 1.5
"""'Within about a second', with room for a loaded 2-core machine."""


class Seen:
    """The callback: each change with when it arrived."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str, float]] = []
        self._lock = threading.Lock()

    def __call__(self, kind: str, namespace: str, name: str) -> None:
        with self._lock:
            self.changes.append((kind, namespace, name, time.monotonic()))

    def saw(self, kind: str, name: str, after: float) -> bool:
        with self._lock:
            return any(k == kind and n == name and at >= after for k, _, n, at in self.changes)


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def caches(api: client.ApiClient, namespace: str, seen: Seen) -> Iterator[Caches]:
    made = kube_caches(api, (namespace,), on_change=seen)
    made.start()
    for cache in made.all():
        assert cache.wait_ready(10), f"the {cache.kind} cache never listed"
    yield made
    started = time.monotonic()
    assert made.stop(5)
    assert time.monotonic() - started < 2, "stopping interrupts the watches: no thread waits out its timeout"


def kubectl(sandbox: ControlPlane, namespace: str, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        ["kubectl", "--kubeconfig", str(sandbox.kubeconfig), "-n", namespace, *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )


def cached(caches: Caches, kind: str, namespace: str, name: str) -> Body | None:
    scoped = {"VirtualService": caches.virtual_services, "HTTPRoute": caches.http_routes}.get(kind, caches.deployments)
    return scoped.read(namespace, name)


def http_route(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {"rules": [{"backendRefs": [{"name": "checkout", "port": 8080, "weight": 100}]}]},
    }


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "pause"}]}},
        },
    }


def test_a_kubectl_change_reaches_the_cache_and_the_callback_within_a_second(
    sandbox: ControlPlane, namespace: str, caches: Caches, seen: Seen
) -> None:
    started = time.monotonic()
    kubectl(sandbox, namespace, "apply", "-f", "-", stdin=json.dumps(virtual_service("checkout")))
    eventually(lambda: cached(caches, "VirtualService", namespace, "checkout"), SOON_S, "the VirtualService cached")
    assert eventually(lambda: seen.saw("VirtualService", "checkout", started), SOON_S, "the callback")

    changed = time.monotonic()
    kubectl(sandbox, namespace, "label", "virtualservice", "checkout", "edited=by-hand")
    eventually(
        lambda: (
            (cached(caches, "VirtualService", namespace, "checkout") or {}).get("metadata", {}).get("labels") or {}
        ).get("edited"),
        SOON_S,
        "the hand edit in the cache",
    )
    assert eventually(lambda: seen.saw("VirtualService", "checkout", changed), SOON_S, "the callback of the edit")
    body = cached(caches, "VirtualService", namespace, "checkout")
    assert body is not None
    assert "managedFields" not in body["metadata"]

    deleted = time.monotonic()
    kubectl(sandbox, namespace, "delete", "virtualservice", "checkout")
    eventually(
        lambda: cached(caches, "VirtualService", namespace, "checkout") is None, SOON_S, "the VirtualService gone"
    )
    assert eventually(lambda: seen.saw("VirtualService", "checkout", deleted), SOON_S, "the callback of the delete")


def test_http_routes_and_deployments_are_cached_too(
    sandbox: ControlPlane, namespace: str, caches: Caches, seen: Seen
) -> None:
    started = time.monotonic()
    kubectl(sandbox, namespace, "apply", "-f", "-", stdin=json.dumps(http_route("checkout")))
    kubectl(sandbox, namespace, "apply", "-f", "-", stdin=json.dumps(deployment("web")))
    eventually(lambda: cached(caches, "HTTPRoute", namespace, "checkout"), SOON_S, "the HTTPRoute cached")
    web = eventually(lambda: cached(caches, "Deployment", namespace, "web"), SOON_S, "the Deployment cached")
    assert web["spec"]["template"] == {"metadata": {"labels": {"app": "web"}}}, "only what the probe reads is kept"
    assert seen.saw("HTTPRoute", "checkout", started)
    assert seen.saw("Deployment", "web", started)

    scaled = time.monotonic()
    kubectl(sandbox, namespace, "scale", "deployment", "web", "--replicas=2")
    eventually(
        lambda: (cached(caches, "Deployment", namespace, "web") or {}).get("spec", {}).get("replicas") == 2,
        SOON_S,
        "the scale in the cache",
    )
    assert seen.saw("Deployment", "web", scaled)


def test_a_watch_from_an_expired_resource_version_is_gone(api: client.ApiClient, namespace: str) -> None:
    """The server says so with HTTP 410 or with an ERROR event of code 410 in the stream; the cache takes either."""
    source = watch_sources.virtual_services(api, namespace)
    cache = WatchCache("VirtualService", source)

    def follow() -> None:
        for kind, body in source.watch("1", 5):
            cache.apply(kind, body)

    with pytest.raises(Gone):
        follow()


class _ExpiredOnce:
    """The real source, whose first watch asks for an expired resourceVersion (as after a long disconnect)."""

    def __init__(self, real: watch_sources.ApiSource) -> None:
        self.real = real
        self.expired = False

    def list(self) -> tuple[list[Body], str]:
        return self.real.list()

    def watch(self, resource_version: str, timeout_s: float) -> Iterator[tuple[str, Body]]:
        if not self.expired:
            self.expired = True
            resource_version = "1"
        return self.real.watch(resource_version, timeout_s)

    def interrupt(self) -> None:
        self.real.interrupt()


def test_410_gone_relists_and_the_cache_catches_up(
    sandbox: ControlPlane, api: client.ApiClient, namespace: str
) -> None:
    kubectl(sandbox, namespace, "apply", "-f", "-", stdin=json.dumps(virtual_service("before")))
    source = _ExpiredOnce(watch_sources.virtual_services(api, namespace))
    seen = Seen()
    cache = WatchCache("VirtualService", source, on_change=seen)
    cache.start()
    try:
        eventually(lambda: cache.relists >= 2, 5, "the relist after 410")
        assert cache.get(namespace, "before") is not None
        started = time.monotonic()
        kubectl(sandbox, namespace, "apply", "-f", "-", stdin=json.dumps(virtual_service("after")))
        eventually(lambda: cache.get(namespace, "after"), SOON_S, "an object created after the relist")
        assert seen.saw("VirtualService", "after", started)
    finally:
        assert cache.stop(5)
