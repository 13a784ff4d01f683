"""Gateway API HTTPRoutes as graygate reads and writes them: whole objects in, whole objects out.

Writes are PUTs carrying the resourceVersion that was read, so a concurrent edit (a person, a GitOps sync) turns into
a ConflictError for the router to re-read and retry, never into a lost update. The client is blocking, so every call
runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client

from graygate.errors import NotFoundError
from graygate.kube.client import kube_errors
from graygate.ports.routing import HTTPRouteBody

_GATEWAY_API = {"group": "gateway.networking.k8s.io", "version": "v1", "plural": "httproutes"}


class KubeHTTPRouteStore:
    """Implements `graygate.ports.HTTPRouteStore` against the API server."""

    def __init__(self, api: client.ApiClient) -> None:
        self._custom: Any = client.CustomObjectsApi(api)

    async def get(self, namespace: str, name: str) -> HTTPRouteBody | None:
        return await asyncio.to_thread(self._get, namespace, name)

    async def replace(self, namespace: str, name: str, body: HTTPRouteBody) -> HTTPRouteBody:
        return await asyncio.to_thread(self._replace, namespace, name, body)

    def _get(self, namespace: str, name: str) -> HTTPRouteBody | None:
        try:
            with kube_errors(f"HTTPRoute {namespace}/{name}"):
                found: HTTPRouteBody = self._custom.get_namespaced_custom_object(
                    **_GATEWAY_API, namespace=namespace, name=name
                )
                return found
        except NotFoundError:
            return None

    def _replace(self, namespace: str, name: str, body: HTTPRouteBody) -> HTTPRouteBody:
        with kube_errors(f"HTTPRoute {namespace}/{name}"):
            written: HTTPRouteBody = self._custom.replace_namespaced_custom_object(
                **_GATEWAY_API, namespace=namespace, name=name, body=body
            )
            return written
