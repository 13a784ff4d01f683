"""PromQL templates: `{{ variable }}` placeholders that graygate fills in with the release's own names.

Why here, in the contract: a query with a typo in a variable name must be refused when the manifest is parsed by
graygate (the operator marks the release Invalid; `kubectl apply` itself accepts it, the CRD has no such rule),
never sent to Prometheus with an empty string where the name should be. So the template is a pydantic type that
checks its placeholders, and rendering is a pure function that refuses to leave one unfilled.

The variables (`VARIABLES`) and what they become:

    namespace        the release's namespace
    release          the release's name
    canaryHost       spec.canary.host              stableHost       spec.stable.host
    canarySubset     spec.canary.subset            stableSubset     spec.stable.subset
    canaryWorkload   spec.canaryWorkload.name      stableWorkload   spec.stableWorkload.name
    interval         the query window as a PromQL duration (`30s`, `1500ms`)

Values are written for the place their placeholder stands (`promql_quote`): escaped inside a string, matched literally
after `=~`, a single token outside quotes; so a name can never end a label matcher early. A value that cannot be
written where it stands is refused (`UnsafeValue`), never sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

from graygate.api.gates.promql_quote import UnsafeValue, fill

__all__ = [
    "VARIABLES",
    "PromQLTemplate",
    "UnresolvedVariable",
    "UnsafeValue",
    "check_template",
    "promql_duration",
    "render_template",
    "variables_in",
]

VARIABLES: tuple[str, ...] = (
    "namespace",
    "release",
    "canaryHost",
    "canarySubset",
    "stableHost",
    "stableSubset",
    "canaryWorkload",
    "stableWorkload",
    "interval",
)
"""Every variable a template may use."""

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class UnresolvedVariable(ValueError):
    """A template uses a variable that has no value for this release (e.g. `canarySubset` without a subset)."""


def variables_in(template: str) -> tuple[str, ...]:
    """The variable names a template uses, in order of first use."""
    return tuple(dict.fromkeys(match.group(1) for match in _PLACEHOLDER.finditer(template)))


def check_template(template: str) -> str:
    """Refuse unknown variables and malformed placeholders; return the template unchanged."""
    unknown = [name for name in variables_in(template) if name not in VARIABLES]
    if unknown:
        listed = ", ".join(f"{{{{ {name} }}}}" for name in unknown)
        raise ValueError(f"unknown template variable {listed}; known: {', '.join(VARIABLES)}")
    if "{{" in _PLACEHOLDER.sub("", template):
        raise ValueError("malformed placeholder: write {{ name }} with a variable name between double braces")
    return template


PromQLTemplate = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(check_template)]
"""A PromQL query with `{{ variable }}` placeholders, checked when the manifest is parsed."""


def render_template(template: str, values: Mapping[str, str | None]) -> str:
    """The template with every placeholder replaced by its value, written for the place it stands.

    Raises `UnresolvedVariable` when a used variable is missing from `values`, None or empty: a query is never
    sent with an empty name in it; `UnsafeValue` when a value cannot be written where its placeholder stands.
    """
    missing = [name for name in variables_in(template) if not values.get(name)]
    if missing:
        raise UnresolvedVariable(f"no value for {', '.join(f'{{{{ {name} }}}}' for name in missing)}")
    return fill(template, _PLACEHOLDER, lambda match: values[match.group(1)] or "")


def promql_duration(value: timedelta) -> str:
    """A window as PromQL writes it: whole seconds (`90s`) when it is whole, else milliseconds (`1500ms`)."""
    millis = value // timedelta(milliseconds=1)
    if millis <= 0:
        raise ValueError(f"a query window must be positive, got {value}")
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"
