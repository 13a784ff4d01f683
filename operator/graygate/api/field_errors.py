"""An error a model's validator raises about one of its fields (or a field further down), so the problem names
the field's path: `spec.analysis.gates[2].successCondition: …` rather than `spec.analysis.gates[2]: …`.

Why: a rule that needs several fields (a condition checked against the gate's kind, a delay against the spec's
deadline) runs in a model validator, whose errors pydantic locates at the model; `validation.describe_errors`
appends the path this error carries.
"""

from __future__ import annotations

from pydantic_core import PydanticCustomError

__all__ = ["AT_FIELD", "at_field"]

AT_FIELD = "at_field"
"""The error type `validation.describe_errors` reads `ctx["at"]` from."""


def at_field(path: str, why: str) -> PydanticCustomError:
    """The error to raise for the field at `path`, camelCase, below the model (`analysis.gates[0].initialDelay`)."""
    return PydanticCustomError(AT_FIELD, "{at}: {why}", {"at": path, "why": why})
