"""What the API-compatibility check reports: one finding per change, each naming its JSON pointer.

Why apart from the diff: the vocabulary (which change is breaking, which is only worth knowing) is the contract
with the gate and with people reading a condition, so it is one table here rather than severities scattered
through the walk. `openapi_diff` walks paths and operations, `openapi_schema` walks schemas; both report with
these types.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from graygate.domain.compare.findings import Severity, count_by_severity, describe_counts, worst_severity

__all__ = ["SEVERITY", "ApiChange", "ApiCompatReport", "ApiFinding", "summarize_api"]


class ApiChange(enum.StrEnum):
    """The kinds of change between stable's and canary's API description."""

    # breaking: a caller written against stable fails against the canary
    PATH_REMOVED = "PathRemoved"
    OPERATION_REMOVED = "OperationRemoved"
    REQUIRED_PARAMETER_ADDED = "RequiredParameterAdded"
    PARAMETER_BECAME_REQUIRED = "ParameterBecameRequired"
    REQUEST_BODY_BECAME_REQUIRED = "RequestBodyBecameRequired"
    REQUEST_MEDIA_TYPE_REMOVED = "RequestMediaTypeRemoved"
    REQUIRED_REQUEST_PROPERTY_ADDED = "RequiredRequestPropertyAdded"
    REQUEST_PROPERTY_BECAME_REQUIRED = "RequestPropertyBecameRequired"
    REQUEST_ENUM_NARROWED = "RequestEnumNarrowed"
    RESPONSE_STATUS_REMOVED = "ResponseStatusRemoved"
    RESPONSE_MEDIA_TYPE_REMOVED = "ResponseMediaTypeRemoved"
    RESPONSE_PROPERTY_REMOVED = "ResponsePropertyRemoved"
    RESPONSE_ENUM_WIDENED = "ResponseEnumWidened"
    TYPE_CHANGED = "TypeChanged"
    # suspicious: breaks callers that relied on something stable did without promising it
    PARAMETER_REMOVED = "ParameterRemoved"
    REQUEST_BODY_REMOVED = "RequestBodyRemoved"
    REQUEST_PROPERTY_REMOVED = "RequestPropertyRemoved"
    RESPONSE_PROPERTY_BECAME_OPTIONAL = "ResponsePropertyBecameOptional"
    # compatible: worth knowing, never blocking
    PATH_ADDED = "PathAdded"
    OPERATION_ADDED = "OperationAdded"
    PARAMETER_ADDED = "ParameterAdded"
    PARAMETER_BECAME_OPTIONAL = "ParameterBecameOptional"
    REQUEST_BODY_ADDED = "RequestBodyAdded"
    REQUEST_PROPERTY_BECAME_OPTIONAL = "RequestPropertyBecameOptional"
    REQUEST_ENUM_WIDENED = "RequestEnumWidened"
    RESPONSE_STATUS_ADDED = "ResponseStatusAdded"
    RESPONSE_ENUM_NARROWED = "ResponseEnumNarrowed"
    PROPERTY_ADDED = "PropertyAdded"
    TYPE_CHANGED_COMPATIBLY = "TypeChangedCompatibly"


_BREAKING = {
    ApiChange.PATH_REMOVED,
    ApiChange.OPERATION_REMOVED,
    ApiChange.REQUIRED_PARAMETER_ADDED,
    ApiChange.PARAMETER_BECAME_REQUIRED,
    ApiChange.REQUEST_BODY_BECAME_REQUIRED,
    ApiChange.REQUEST_MEDIA_TYPE_REMOVED,
    ApiChange.REQUIRED_REQUEST_PROPERTY_ADDED,
    ApiChange.REQUEST_PROPERTY_BECAME_REQUIRED,
    ApiChange.REQUEST_ENUM_NARROWED,
    ApiChange.RESPONSE_STATUS_REMOVED,
    ApiChange.RESPONSE_MEDIA_TYPE_REMOVED,
    ApiChange.RESPONSE_PROPERTY_REMOVED,
    ApiChange.RESPONSE_ENUM_WIDENED,
    ApiChange.TYPE_CHANGED,
}
_SUSPICIOUS = {
    ApiChange.PARAMETER_REMOVED,
    ApiChange.REQUEST_BODY_REMOVED,
    ApiChange.REQUEST_PROPERTY_REMOVED,
    ApiChange.RESPONSE_PROPERTY_BECAME_OPTIONAL,
}

SEVERITY: Mapping[ApiChange, Severity] = MappingProxyType(
    {change: "error" if change in _BREAKING else "warning" if change in _SUSPICIOUS else "info" for change in ApiChange}
)
"""The severity of each change: error = breaking, warning = suspicious, info = compatible."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiFinding:
    """One change. `pointer` is an RFC 6901 pointer to where the change shows in the operation: into stable's
    document for something removed, into the canary's otherwise. A schema reached through `$ref` is written as if
    inlined (`.../schema/properties/email`), and `definition` then points at where that schema node is really
    defined (`/components/schemas/User/properties/email`), so the finding names both the affected operation and
    the line to fix."""

    code: ApiChange
    pointer: str
    message: str
    definition: str | None = None

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.code]

    @property
    def breaking(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiCompatReport:
    """Every finding, breaking ones first, each group in document order."""

    findings: tuple[ApiFinding, ...]

    @property
    def breaking(self) -> tuple[ApiFinding, ...]:
        return tuple(finding for finding in self.findings if finding.breaking)

    @property
    def compatible(self) -> bool:
        """True when nothing breaks a caller written against stable."""
        return not self.breaking

    @property
    def worst(self) -> Severity | None:
        return worst_severity(finding.severity for finding in self.findings)


def summarize_api(report: ApiCompatReport, limit: int = 3) -> str:
    """One line for a condition message: the counts, then the first `limit` breaking or suspicious findings."""
    counts = describe_counts(count_by_severity(finding.severity for finding in report.findings))
    notable = [finding for finding in report.findings if finding.severity != "info"]
    head = f"API compatibility: {counts}"
    if not notable:
        return head
    shown = "; ".join(f"{f.code} at {f.pointer}: {f.message}" for f in notable[:limit])
    more = len(notable) - limit
    return f"{head}: {shown}" + (f"; and {more} more" if more > 0 else "")
