"""Helpers that attach Kubernetes CEL rules (`x-kubernetes-validations`) to the models' JSON schema.

Why: a cross-field rule that CEL can express should fail at `kubectl apply`, not minutes later in the operator.
The rule lives next to the model it guards (and next to the pydantic validator saying the same thing), and the CRD
generator only copies what the schema already carries.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Rule", "exactly_one", "rules"]

Rule = dict[str, str]


def rules(*pairs: tuple[str, str]) -> dict[str, Any]:
    """`json_schema_extra` carrying CEL rules: each pair is (rule, message)."""
    return {"x-kubernetes-validations": [{"rule": rule, "message": message} for rule, message in pairs]}


def exactly_one(*fields: str) -> str:
    """A CEL expression true when exactly one of `fields` (camelCase) is set on `self`."""
    if len(fields) == 1:
        return f"has(self.{fields[0]})"
    return " + ".join(f"(has(self.{field}) ? 1 : 0)" for field in fields) + " == 1"
