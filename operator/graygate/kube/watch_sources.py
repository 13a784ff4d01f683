"""The API server behind a `WatchCache`: list and watch VirtualServices, HTTPRoutes, DestinationRules and
Deployments, in every namespace or in one, as raw JSON (no client models: the routers read the objects as the server
sent them, and building models for every event of every Deployment costs CPU for nothing).

Each list and each watch is its own call in its own function, so tests/kube_access.py can pair it with the
permission it needs (list, watch).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client

from graygate.kube.client import kube_errors
from graygate.kube.destinationrules import _ISTIO as _DESTINATION_RULES
from graygate.kube.httproutes import _GATEWAY_API
from graygate.kube.virtualservices import _ISTIO
from graygate.kube.watch_cache import Body, Gone

Request = Callable[..., Any]
"""A client method called with the list's or watch's keyword arguments, returning the raw HTTP response."""

_CONNECT_TIMEOUT_S = 10.0


class ApiSource:
    """An `EventSource` over two requests: `lister(**kwargs)` and `watcher(**kwargs)`."""

    def __init__(self, what: str, lister: Request, watcher: Request) -> None:
        self._what = what
        self._lister = lister
        self._watcher = watcher
        self._lock = threading.Lock()
        self._response: Any = None

    def list(self) -> tuple[list[Body], str]:
        with kube_errors(f"list {self._what}"):
            response = self._lister(_preload_content=False, _request_timeout=(_CONNECT_TIMEOUT_S, 60.0))
        listed = json.loads(response.data)
        items: list[Body] = listed.get("items") or []
        return items, str((listed.get("metadata") or {}).get("resourceVersion") or "")

    def watch(self, resource_version: str, timeout_s: float) -> Iterator[tuple[str, Body]]:
        try:
            with kube_errors(f"watch {self._what}"):
                response = self._watcher(
                    watch=True,
                    resource_version=resource_version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=int(timeout_s),
                    _preload_content=False,
                    _request_timeout=(_CONNECT_TIMEOUT_S, timeout_s + 10.0),
                )
        except Exception as error:
            if getattr(error.__cause__, "status", None) == 410:
                raise Gone(str(error)) from error
            raise
        with self._lock:
            self._response = response
        try:
            for line in _lines(response):
                if not line.strip():
                    continue
                event = json.loads(line)
                yield str(event.get("type")), event.get("object") or {}
        finally:
            with self._lock:
                self._response = None
            response.release_conn()

    def interrupt(self) -> None:
        with self._lock:
            response = self._response
        if response is not None:
            try:
                response.shutdown()
            except Exception:
                response.close()


def _lines(response: Any) -> Iterator[bytes]:
    """The watch's newline-separated JSON events, as they arrive."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk if isinstance(chunk, bytes) else str(chunk).encode()
        *lines, buffer = buffer.split(b"\n")
        yield from lines
    if buffer.strip():
        yield buffer


def virtual_services(api: client.ApiClient, namespace: str | None) -> ApiSource:
    custom: Any = client.CustomObjectsApi(api)

    def lister(**kwargs: Any) -> Any:
        if namespace is None:
            return custom.list_cluster_custom_object(**_ISTIO, **kwargs)
        return custom.list_namespaced_custom_object(**_ISTIO, namespace=namespace, **kwargs)

    def watcher(**kwargs: Any) -> Any:
        if namespace is None:
            return custom.list_cluster_custom_object(**_ISTIO, **kwargs)
        return custom.list_namespaced_custom_object(**_ISTIO, namespace=namespace, **kwargs)

    return ApiSource(f"VirtualServices in {namespace or 'every namespace'}", lister, watcher)


def http_routes(api: client.ApiClient, namespace: str | None) -> ApiSource:
    custom: Any = client.CustomObjectsApi(api)

    def lister(**kwargs: Any) -> Any:
        if namespace is None:
            return custom.list_cluster_custom_object(**_GATEWAY_API, **kwargs)
        return custom.list_namespaced_custom_object(**_GATEWAY_API, namespace=namespace, **kwargs)

    def watcher(**kwargs: Any) -> Any:
        if namespace is None:
            return custom.list_cluster_custom_object(**_GATEWAY_API, **kwargs)
        return custom.list_namespaced_custom_object(**_GATEWAY_API, namespace=namespace, **kwargs)

    return ApiSource(f"HTTPRoutes in {namespace or 'every namespace'}", lister, watcher)


def destination_rules(api: client.ApiClient, namespace: str | None) -> ApiSource:
    custom: Any = client.CustomObjectsApi(api)

    def lister(**kwargs: Any) -> Any:
        if namespace is None:
            return custom.list_cluster_custom_object(**_DESTINATION_RULES, **kwargs)
        return custom.list_namespaced_custom_object(**_DESTINATION_RULES, namespace=namespace, **kwargs)

    def watcher(**kwargs: Any) -> Any:
        if namespace is None:
            return custom.list_cluster_custom_object(**_DESTINATION_RULES, **kwargs)
        return custom.list_namespaced_custom_object(**_DESTINATION_RULES, namespace=namespace, **kwargs)

    return ApiSource(f"DestinationRules in {namespace or 'every namespace'}", lister, watcher)


def deployments(api: client.ApiClient, namespace: str | None) -> ApiSource:
    apps: Any = client.AppsV1Api(api)

    def lister(**kwargs: Any) -> Any:
        if namespace is None:
            return apps.list_deployment_for_all_namespaces(**kwargs)
        return apps.list_namespaced_deployment(namespace, **kwargs)

    def watcher(**kwargs: Any) -> Any:
        if namespace is None:
            return apps.list_deployment_for_all_namespaces(**kwargs)
        return apps.list_namespaced_deployment(namespace, **kwargs)

    return ApiSource(f"Deployments in {namespace or 'every namespace'}", lister, watcher)
