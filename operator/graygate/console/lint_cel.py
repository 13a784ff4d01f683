"""The CRD's CEL rules (`x-kubernetes-validations`) evaluated on the raw manifest, as the API server would.

Why: the models' cross-field validators run only once every field below them is valid, and the spec's own stops at
its first problem; the same rules as CEL, attached to the schema the CRD is generated from, can be evaluated on
the raw document wherever a node has the right type. So `graygate lint` reports every broken rule across fields
in one run, even next to field errors. A rule the evaluator cannot run on the raw value (a field of the wrong type,
a function it lacks such as `isSorted`) is left to the models, which report the same problem in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graygate.api.expressions import evaluate_rule
from graygate.api.validation import field_path
from graygate.console.lint_source import FieldPath

__all__ = ["rule_problems"]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def rule_problems(schema: Mapping[str, Any], value: object, path: FieldPath = ()) -> list[str]:
    """`path: message` for every CEL rule of `schema` (and below) that `value` breaks, under `spec`."""
    kind = schema.get("type")
    if kind in _TYPES and (not isinstance(value, _TYPES[kind]) or (kind != "boolean" and isinstance(value, bool))):
        return []
    found = [
        f"{field_path('spec', path)}: {rule['message']}"
        for rule in schema.get("x-kubernetes-validations", ())
        if evaluate_rule(rule["rule"], value) is False
    ]
    if isinstance(value, dict):
        for key, below in schema.get("properties", {}).items():
            if key in value:
                found.extend(rule_problems(below, value[key], (*path, key)))
    elif isinstance(value, list) and isinstance(items := schema.get("items"), Mapping):
        for index, item in enumerate(value):
            found.extend(rule_problems(items, item, (*path, index)))
    return found
