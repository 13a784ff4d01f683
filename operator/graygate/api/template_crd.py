"""The GateTemplate and ClusterGateTemplate CustomResourceDefinitions, generated from `gate_templates`.

Why apart from `crd`: the two kinds share one schema and differ only in scope; `crd` writes them next to the
CanaryRelease CRD (`python -m graygate.api.crd`), with the same structural schema rules. A template's gates are
kept as objects with a `name` (`x-kubernetes-preserve-unknown-fields`): their values may be argument references
that only the expansion can check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graygate.api.crd import structural_schema
from graygate.api.gate_templates import CLUSTER_TEMPLATE_KIND, TEMPLATE_KIND, GateTemplateSpec
from graygate.api.resource import CATEGORIES, GROUP, VERSION

__all__ = ["TEMPLATE_CRDS", "build_template_crd", "template_crd_path"]

TEMPLATE_CRDS: dict[str, tuple[str, str]] = {
    TEMPLATE_KIND: ("gatetemplates", "Namespaced"),
    CLUSTER_TEMPLATE_KIND: ("clustergatetemplates", "Cluster"),
}
"""Kind → (plural, scope)."""

_SHORT_NAMES = {TEMPLATE_KIND: ["gtpl"], CLUSTER_TEMPLATE_KIND: ["cgtpl"]}
_WHERE = {
    TEMPLATE_KIND: "Used by the CanaryReleases of its own namespace.",
    CLUSTER_TEMPLATE_KIND: "Used by the CanaryReleases of every namespace.",
}


def template_crd_path(kind: str, directory: Path = Path("crds")) -> Path:
    """Where the kind's CRD is committed."""
    return directory / f"{TEMPLATE_CRDS[kind][0]}.{GROUP}.yaml"


def build_template_crd(kind: str) -> dict[str, Any]:
    """The CRD of `GateTemplate` or `ClusterGateTemplate` as a plain dict."""
    plural, scope = TEMPLATE_CRDS[kind]
    spec = structural_schema(GateTemplateSpec)
    root: dict[str, Any] = {
        "type": "object",
        "description": f"{spec.pop('description')} {_WHERE[kind]}",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": f"The API version: {GROUP}/{VERSION}."},
            "kind": {"type": "string", "description": f"The kind: {kind}."},
            "metadata": {"type": "object"},
            "spec": {**spec, "description": "The template's arguments and gates."},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": _SHORT_NAMES[kind],
                "categories": list(CATEGORIES),
            },
            "scope": scope,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "additionalPrinterColumns": [
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                    ],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }
