"""Gate templates for `graygate lint` and `graygate check`: read from the manifests given on the command line (a
file may hold templates next to releases), and, with `--cluster`, from the cluster for the refs no file defines.

Why a module of its own: both commands expand a release's `analysis.gateRefs` exactly as the operator does
(`domain.release.gate_templates`), from templates found in different places than the operator's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from graygate.api import API_VERSION
from graygate.api.gate_templates import CLUSTER_TEMPLATE_KIND, TEMPLATE_KINDS, GateRef
from graygate.domain.release.gate_templates import TemplateKey, TemplatesRead

__all__ = ["ClusterTemplates", "FileTemplates", "cluster_templates", "is_template"]

ClusterTemplates = Callable[[str, Sequence[GateRef]], TemplatesRead]
"""Reads templates from a cluster: (the release's namespace, refs) → what was found."""


def is_template(document: object) -> bool:
    """Whether a YAML document is a GateTemplate or a ClusterGateTemplate of graygate's API."""
    return (
        isinstance(document, dict)
        and document.get("kind") in TEMPLATE_KINDS
        and document.get("apiVersion") == API_VERSION
    )


class FileTemplates:
    """The templates in some YAML documents. A GateTemplate without a namespace serves a release in any namespace
    (both are applied to the same one), with one it serves only releases of that namespace."""

    def __init__(self, documents: Iterable[object], cluster: ClusterTemplates | None = None) -> None:
        self._found: list[tuple[str, str | None, str, Mapping[str, Any]]] = []
        for document in documents:
            if not is_template(document):
                continue
            assert isinstance(document, dict)
            metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
            assert isinstance(metadata, dict)
            spec = document.get("spec") if isinstance(document.get("spec"), dict) else {}
            assert isinstance(spec, dict)
            namespace = metadata.get("namespace") if document["kind"] != CLUSTER_TEMPLATE_KIND else None
            self._found.append((document["kind"], namespace, str(metadata.get("name") or ""), spec))
        self._cluster = cluster

    def read(self, namespace: str | None, refs: Sequence[GateRef]) -> TemplatesRead:
        """The templates the refs name, for a release in `namespace` (None: unknown, any matches)."""
        read: dict[TemplateKey, Mapping[str, Any] | None] = {}
        for ref in refs:
            read[(ref.kind, ref.name)] = next(
                (
                    spec
                    for kind, where, name, spec in self._found
                    if (kind, name) == (ref.kind, ref.name) and (where is None or namespace in (None, where))
                ),
                None,
            )
        missing = [ref for ref in refs if read[(ref.kind, ref.name)] is None]
        if missing and self._cluster is not None:
            read.update({key: value for key, value in self._cluster(namespace or "default", missing).items()})
        return read


def cluster_templates(kubeconfig: Path | None, context: str | None = None) -> ClusterTemplates:
    """Reads templates from the cluster of `kubeconfig` (the operator's adapter, with the user's credentials)."""
    from graygate.kube.client import api_client
    from graygate.kube.gatetemplates import KubeGateTemplates

    reader = KubeGateTemplates(api_client(kubeconfig, context))

    def read(namespace: str, refs: Sequence[GateRef]) -> TemplatesRead:
        return asyncio.run(reader.read(namespace, refs))

    return read
