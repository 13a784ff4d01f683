"""CanaryRelease objects: the status subresource the operator writes, and listing releases for the CLI.

Status is written with a JSON merge patch on the `status` subresource only, so a status write can never change the
user's spec and never races a spec edit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client

from graygate.kube.client import kube_errors

GROUP, VERSION, PLURAL = "graygate.dev", "v1alpha1", "canaryreleases"
_RELEASES = {"group": GROUP, "version": VERSION, "plural": PLURAL}


class KubeReleases:
    def __init__(self, api: client.ApiClient) -> None:
        self._custom: Any = client.CustomObjectsApi(api)

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await asyncio.to_thread(self._patch_status, namespace, name, status)

    def _patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        with kube_errors(f"CanaryRelease {namespace}/{name} status"):
            self._custom.patch_namespaced_custom_object_status(
                **_RELEASES, namespace=namespace, name=name, body={"status": status}
            )

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        with kube_errors(f"CanaryRelease {namespace}/{name}"):
            found: dict[str, Any] = self._custom.get_namespaced_custom_object(
                **_RELEASES, namespace=namespace, name=name
            )
            return found

    def list(self, namespace: str | None) -> list[dict[str, Any]]:
        with kube_errors("CanaryReleases"):
            if namespace is None:
                listed = self._custom.list_cluster_custom_object(**_RELEASES)
            else:
                listed = self._custom.list_namespaced_custom_object(**_RELEASES, namespace=namespace)
        items: list[dict[str, Any]] = listed["items"]
        return items

    def annotate(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        with kube_errors(f"CanaryRelease {namespace}/{name}"):
            self._custom.patch_namespaced_custom_object(
                **_RELEASES, namespace=namespace, name=name, body={"metadata": {"annotations": annotations}}
            )
