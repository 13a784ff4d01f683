"""The two base classes every CanaryRelease model derives from.

Why: one place decides how Python names meet Kubernetes names. Python code uses snake_case, the manifest uses
camelCase; every field is documented by the docstring under it (those docstrings become the CRD's descriptions
and the README's reference, so the code, the schema and the docs cannot drift apart). Models are frozen: the domain
computes a new status rather than mutating the one it was given.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["SpecModel", "StatusModel"]


class SpecModel(BaseModel):
    """Base of the user-written half: unknown fields are an error, not something silently ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        extra="forbid",
        frozen=True,
    )


class StatusModel(BaseModel):
    """Base of the operator-written half: tolerant of fields a newer operator version may have written."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        extra="ignore",
        frozen=True,
    )
