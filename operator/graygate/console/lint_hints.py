"""Hints `graygate lint` adds to an error: the nearest field for a typo, a pointer to the README for a Flagger or an
Argo Rollouts spec pasted in, and the unit a ratio-looking number should have been written in.

Why apart from `lint`: each hint is a small pure rule over the raw manifest or one pydantic error, tested on its own.
The valid fields at a place come from the CRD's structural schema, itself generated from the models, so a hint
can only name a field the operator accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel

from graygate.api.crd import structural_schema
from graygate.console.lint_source import FieldPath

__all__ = ["FOREIGN", "Foreign", "foreign_field", "foreign_spec", "model_schema", "nearest_field", "number_hint"]

FLAGGER_README = '"Coming from Flagger" in the README'
ARGO_README = '"Coming from Argo Rollouts" in the README'

Foreign = tuple[str, str, tuple[FieldPath, ...]]
"""(tool, the README section mapping its fields, paths under `spec` only that tool's spec has)."""

FOREIGN: tuple[Foreign, ...] = (
    (
        "a Flagger Canary",
        FLAGGER_README,
        (
            ("targetRef",),
            ("service",),
            ("autoscalerRef",),
            ("progressDeadlineSeconds",),
            ("skipAnalysis",),
            ("analysis", "threshold"),
            ("analysis", "stepWeight"),
            ("analysis", "stepWeights"),
            ("analysis", "maxWeight"),
            ("analysis", "metrics"),
            ("analysis", "webhooks"),
            ("analysis", "iterations"),
        ),
    ),
    (
        "an Argo Rollouts Rollout",
        ARGO_README,
        (
            ("strategy",),
            ("selector",),
            ("template",),
            ("workloadRef",),
            ("replicas",),
            ("revisionHistoryLimit",),
            ("canary", "steps"),
            ("analysis", "templates"),
            ("analysis", "args"),
        ),
    ),
)


def _held(spec: object, path: FieldPath) -> bool:
    node = spec
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def foreign_spec(spec: object) -> list[str]:
    """For each other tool whose fields `spec` holds, the error (about the whole spec)."""
    found: list[str] = []
    for tool, section, paths in FOREIGN:
        held = [path for path in paths if _held(spec, path)]
        if held:
            named = ", ".join(".".join(str(part) for part in path) for path in held)
            found.append(f"this looks like {tool} spec ({named}), not graygate's: see {section}")
    return found


def foreign_field(path: FieldPath) -> str | None:
    """The README section for a field (path under `spec`) only another tool's spec has, else None."""
    return next((section for _, section, paths in FOREIGN if path in paths), None)


@cache
def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The CRD's structural schema of `model` (computed once)."""
    return structural_schema(model)


def nearest_field(model: type[BaseModel], location: FieldPath) -> str | None:
    """For an unknown field at `location` (a pydantic error's `loc`, under the model), the closest valid field name
    at that place, if one is close enough."""
    node: Mapping[str, Any] | None = model_schema(model)
    for part in location[:-1]:
        if node is None:
            return None
        if isinstance(part, int):
            node = node.get("items")
        else:
            node = node.get("properties", {}).get(part) or node.get("additionalProperties") or None
    if node is None or not isinstance(name := location[-1], str):
        return None
    fields = {field.lower(): field for field in node.get("properties", {})}
    match = difflib.get_close_matches(name.lower(), list(fields), n=1, cutoff=0.6)
    return fields[match[0]] if match else None


def number_hint(location: FieldPath, value: object) -> str | None:
    """What unit a number refused at `location` should have been written in, when it looks like another tool's
    ratio: a weight of 0.2 (20 %), a quantile of 99 (0.99)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    last = location[-1] if location else None
    weight = last == "setWeight" or (len(location) >= 2 and location[-2] == "stepWeights")
    if weight and 0 < value < 1:
        return f"weights are percentages: write {round(value * 100)} for {round(value * 100)} %, not a ratio"
    if last == "quantile" and 1 <= value <= 100:
        return f"quantile is a fraction: write {value / 100:g} for p{value:g}"
    return None
