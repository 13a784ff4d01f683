"""Generate the CanaryRelease CustomResourceDefinition from the pydantic models.

Why: the models are the single source of truth, so the CRD is derived, never hand-edited. Kubernetes wants a
*structural* schema (OpenAPI v3 without `$ref`, every node typed, no `anyOf` with `null`, no
`additionalProperties: false` next to `properties`), so this module turns pydantic's JSON Schema into one:
references are inlined, nullable unions collapse to the non-null branch (an omitted field is how Kubernetes says
"none"), titles go, descriptions and CEL rules stay. The result is byte-stable so a unit test can fail when the
committed YAML lags behind the models.

Regenerate with `python -m graygate.api.crd` from the repository root; `--check` only compares.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from graygate.api.durations import format_duration
from graygate.api.resource import CATEGORIES, GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus

__all__ = [
    "CRD_PATH",
    "REGENERATE",
    "build_crd",
    "main",
    "render_crd",
    "render_document",
    "rendered_crds",
    "structural_schema",
]

CRD_PATH = Path("crds") / f"{PLURAL}.{GROUP}.yaml"
REGENERATE = "python -m graygate.api.crd"
_HEADER = f"# Generated from the pydantic models in operator/graygate/api by `{REGENERATE}`. Do not edit.\n"
_DROPPED = {"title", "additionalProperties"}
_EXCLUSIVE = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}
"""JSON Schema 2020-12 writes `exclusiveMinimum: 0`; a CRD (OpenAPI 3.0) wants `minimum: 0, exclusiveMinimum: true`."""

PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "Where the release is."},
    {"name": "Step", "type": "string", "jsonPath": ".status.stepDisplay", "description": "Current step, n/m."},
    {"name": "Weight", "type": "integer", "jsonPath": ".status.canaryWeight", "description": "Canary weight, %."},
    {
        "name": "Verdict",
        "type": "string",
        "jsonPath": ".status.lastVerdict",
        "description": "Worst verdict of the latest analysis.",
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
)


class _Generator(GenerateJsonSchema):
    """pydantic's generator, with durations' defaults written the way the manifest writes them."""

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def structural_schema(model: type[BaseModel], *, keep_defaults: bool = True) -> dict[str, Any]:
    """The model's schema as Kubernetes accepts it in a CRD (structural, no references)."""
    schema = model.model_json_schema(by_alias=True, schema_generator=_Generator)
    definitions = schema.pop("$defs", {})
    result = _structural(schema, definitions, keep_defaults=keep_defaults)
    assert isinstance(result, dict)
    return result


def _structural(node: Any, definitions: Mapping[str, Any], *, keep_defaults: bool) -> Any:
    if isinstance(node, list):
        return [_structural(item, definitions, keep_defaults=keep_defaults) for item in node]
    if not isinstance(node, dict):
        return node
    node = _inline(node, definitions)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED and not (key == "additionalProperties" and isinstance(value, dict)):
            continue
        if key == "default" and (value is None or not keep_defaults):
            continue
        if key == "description":
            out[key] = _prose(value)
        elif key == "const":
            out["enum"] = [value]
        elif key in _EXCLUSIVE:
            out[_EXCLUSIVE[key]] = value
            out[key] = True
        elif key == "properties":
            out[key] = {name: _structural(sub, definitions, keep_defaults=keep_defaults) for name, sub in value.items()}
        elif key.startswith("x-kubernetes") or key in ("enum", "required", "pattern", "format"):
            out[key] = value
        else:
            out[key] = _structural(value, definitions, keep_defaults=keep_defaults)
    return _ordered(out)


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    """Description and type first, the rest alphabetically: a stable, readable key order."""
    first = [key for key in ("description", "type") if key in node]
    return {key: node[key] for key in first + sorted(key for key in node if key not in first)}


def _inline(node: dict[str, Any], definitions: Mapping[str, Any]) -> dict[str, Any]:
    """Replace `$ref` with its definition and `anyOf: [X, null]` with `X`; the outer keys win."""
    while True:
        if "$ref" in node:
            target = definitions[node["$ref"].rsplit("/", 1)[-1]]
            outer = {key: value for key, value in node.items() if key != "$ref"}
            node = {**target, **outer}
            if "description" in outer:
                node["description"] = outer["description"]
        elif "anyOf" in node:
            branches = [branch for branch in node["anyOf"] if branch != {"type": "null"}]
            if len(branches) != 1:
                raise ValueError(f"a union cannot be expressed in a structural schema: {node['anyOf']}")
            outer = {key: value for key, value in node.items() if key != "anyOf"}
            node = {**branches[0], **outer}
        else:
            return node


def _prose(text: str) -> str:
    """Docstring text as one paragraph per blank-line-separated block."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def _untyped_paths(node: Mapping[str, Any], path: str = "") -> list[str]:
    found = [] if "type" in node else [path or "."]
    for name, sub in node.get("properties", {}).items():
        found += _untyped_paths(sub, f"{path}.{name}")
    if isinstance(node.get("items"), Mapping):
        found += _untyped_paths(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), Mapping):
        found += _untyped_paths(node["additionalProperties"], f"{path}{{}}")
    return found


def build_crd() -> dict[str, Any]:
    """The CustomResourceDefinition as a plain dict."""
    spec = structural_schema(CanaryReleaseSpec)
    status = structural_schema(CanaryReleaseStatus, keep_defaults=False)
    root: dict[str, Any] = {
        "type": "object",
        "description": spec.pop("description"),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "The API version: graygate.dev/v1alpha1."},
            "kind": {"type": "string", "description": "The kind: CanaryRelease."},
            "metadata": {"type": "object"},
            "spec": {**spec, "description": "What the release should do."},
            "status": {**status, "description": "What the release is doing; written only by graygate."},
        },
    }
    untyped = _untyped_paths(root)
    if untyped:
        raise ValueError(f"not structural, these schema nodes have no type: {', '.join(untyped)}")
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": list(CATEGORIES),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(column) for column in PRINTER_COLUMNS],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no `&id001` anchors where two schema nodes happen to share a list."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_crd() -> str:
    """The CRD as the YAML text committed under `crds/`."""
    return render_document(build_crd())


def render_document(document: dict[str, Any]) -> str:
    """A generated document as the YAML text committed under `crds/`."""
    return _HEADER + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def rendered_crds(directory: Path) -> list[tuple[Path, str]]:
    """Every graygate CRD (the CanaryRelease's, then the gate templates') as (path in `directory`, text)."""
    from graygate.api.template_crd import TEMPLATE_CRDS, build_template_crd, template_crd_path

    files = [(directory / CRD_PATH.name, render_crd())]
    files += [(template_crd_path(kind, directory), render_document(build_template_crd(kind))) for kind in TEMPLATE_CRDS]
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m graygate.api.crd [--check] [--output PATH]`: write (or compare) the CRD files: the CanaryRelease's
    at PATH, the gate templates' beside it."""
    parser = argparse.ArgumentParser(prog=REGENERATE, description="Generate graygate's CRDs from the models.")
    parser.add_argument("--output", type=Path, default=CRD_PATH, help=f"where the CRD lives (default {CRD_PATH})")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a file is out of date")
    arguments = parser.parse_args(argv)
    path: Path = arguments.output
    files = [(path, render_crd()), *rendered_crds(path.parent)[1:]]
    if arguments.check:
        stale = [p for p, text in files if (p.read_text(encoding="utf-8") if p.exists() else "") != text]
        for p in stale:
            print(f"{p} is out of date; regenerate it with `{REGENERATE}`", file=sys.stderr)
        return 1 if stale else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    for p, text in files:
        p.write_text(text, encoding="utf-8")
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
