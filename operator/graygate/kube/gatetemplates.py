"""GateTemplates and ClusterGateTemplates, read by name: the operator reads only the templates a release names, so
its RBAC is `get` on the two kinds and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from kubernetes import client

from graygate.api.gate_templates import CLUSTER_TEMPLATE_KIND, GateRef
from graygate.api.resource import GROUP, VERSION
from graygate.domain.release.gate_templates import TemplateKey, TemplatesRead
from graygate.errors import NotFoundError
from graygate.kube.client import kube_errors

_TEMPLATES = {"group": GROUP, "version": VERSION, "plural": "gatetemplates"}
_CLUSTER_TEMPLATES = {"group": GROUP, "version": VERSION, "plural": "clustergatetemplates"}


class KubeGateTemplates:
    """Implements `graygate.ports.gatetemplates.GateTemplateReader`."""

    def __init__(self, api: client.ApiClient) -> None:
        self._custom: Any = client.CustomObjectsApi(api)

    async def read(self, namespace: str, refs: Sequence[GateRef]) -> TemplatesRead:
        return await asyncio.to_thread(self._read, namespace, refs)

    def _read(self, namespace: str, refs: Sequence[GateRef]) -> TemplatesRead:
        found: dict[TemplateKey, dict[str, Any] | None] = {}
        for ref in refs:
            key = (ref.kind, ref.name)
            if key not in found:
                found[key] = (
                    self._cluster(ref.name) if ref.kind == CLUSTER_TEMPLATE_KIND else self._own(namespace, ref.name)
                )
        return found

    def _own(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            with kube_errors(f"GateTemplate {namespace}/{name}"):
                body = self._custom.get_namespaced_custom_object(**_TEMPLATES, namespace=namespace, name=name)
        except NotFoundError:
            return None
        return dict(body.get("spec") or {})

    def _cluster(self, name: str) -> dict[str, Any] | None:
        try:
            with kube_errors(f"ClusterGateTemplate {name}"):
                body = self._custom.get_cluster_custom_object(**_CLUSTER_TEMPLATES, name=name)
        except NotFoundError:
            return None
        return dict(body.get("spec") or {})
