"""Severities shared by the release checks that report findings (instrumentation parity, API compatibility).

Why: a release check does not answer "pass or fail" but lists what it found, each item with a severity, and the
gate folds the list into one verdict. The order (info < warning < error) is data here so the fold is one tested
function and every check counts its findings the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

__all__ = ["SEVERITIES", "Severity", "count_by_severity", "describe_counts", "severity_rank", "worst_severity"]

Severity = Literal["error", "warning", "info"]

SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")
"""Severities from mildest to worst."""

_RANK: Mapping[Severity, int] = MappingProxyType({severity: rank for rank, severity in enumerate(SEVERITIES)})


def severity_rank(severity: Severity) -> int:
    """0 for info, 2 for error: sort by it, descending, to list the worst first."""
    return _RANK[severity]


def worst_severity(severities: Iterable[Severity]) -> Severity | None:
    """The worst severity of the lot, or None for an empty lot (nothing was found)."""
    return max(severities, key=severity_rank, default=None)


def count_by_severity(severities: Iterable[Severity]) -> Mapping[Severity, int]:
    """How many of each severity, every severity present (zero included), worst first."""
    counts = Counter(severities)
    return MappingProxyType({severity: counts.get(severity, 0) for severity in reversed(SEVERITIES)})


def describe_counts(counts: Mapping[Severity, int]) -> str:
    """`2 errors, 0 warnings, 1 info`: the opening of every check's summary line."""
    parts = []
    for severity, count in counts.items():
        noun = severity if severity == "info" or count == 1 else f"{severity}s"
        parts.append(f"{count} {noun}")
    return ", ".join(parts)
