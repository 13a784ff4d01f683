"""Reading one Deployment as the API server returns it (camelCase JSON), for the command line: `graygate status`
compares its pod template's revision with the one a release is running."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from graygate.errors import NotFoundError
from graygate.kube.client import kube_errors

__all__ = ["read_deployment"]


def read_deployment(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    """The Deployment, or None when there is none."""
    apps: Any = client.AppsV1Api(api)
    try:
        with kube_errors(f"Deployment {namespace}/{name}"):
            response = apps.read_namespaced_deployment(name, namespace, _preload_content=False)
    except NotFoundError:
        return None
    body: dict[str, Any] = json.loads(response.data)
    return body
