"""Instrumentation parity: does the canary still expose the metrics the stable build exposes, in the same shape?

Why: dashboards, alerts and graygate's own metric gates query stable's metric names and labels. A canary that
renames a family, drops a label or turns a counter into a gauge passes every health check and silently blinds
them. This check compares the two builds' declared families (parsed by `graygate.domain.compare.exposition`) and says
exactly what broke, one finding per family and label.

The rules, from worst to mildest:

- error: a family stable has is absent from the canary (`FamilyMissing`), a required family is absent
  (`RequiredFamilyMissing`), a label name of a family is gone (`LabelDropped`), a family changed type
  (`TypeChanged`; a warning when either side is untyped, as PromQL does not care).
- lint, at the policy's severity: counters end in `_total`, base units (`_seconds` not `_ms`, `_bytes` not
  `_kb`, a ratio not `_percent`), snake_case names and label names. By default only the families the canary adds
  are linted, so a release is not blamed for names it inherited.
- info: families and labels added, HELP text changed, and the two "no traffic yet" cases.

"No traffic yet" is not "missing": a family declared with HELP/TYPE but without samples, or a histogram or summary
whose count is zero, exists; the instrumentation is there and has not been exercised (a canary at 5 % weight may
not have served the route yet). It is reported as `NoTrafficYet` (info) and listed in
`ParityReport.awaiting_traffic`, so a gate can hold instead of passing. A family without samples shows no label
names, so its labels cannot be compared yet: `LabelsUnverified` (info), never `LabelDropped`.

The same goes for the `<name>_created` gauges Python's prometheus_client writes next to a counter, histogram or
summary in the 0.0.4 text format: they appear only with the family's first series, so stable's `_created` gauge
is not missing from a canary whose family has no series yet (it is awaiting traffic). A canary that has series
but no `_created` gauge (created series switched off) gets a warning: the family itself is intact.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from graygate.domain.compare.exposition import MetricFamily
from graygate.domain.compare.findings import Severity, count_by_severity, describe_counts, severity_rank, worst_severity

__all__ = ["ParityCode", "ParityFinding", "ParityPolicy", "ParityReport", "compare_parity", "lint_name", "summarize"]


class ParityCode(enum.StrEnum):
    """What a parity finding is about: a fixed vocabulary, fit for conditions and Events."""

    FAMILY_MISSING = "FamilyMissing"
    REQUIRED_FAMILY_MISSING = "RequiredFamilyMissing"
    LABEL_DROPPED = "LabelDropped"
    TYPE_CHANGED = "TypeChanged"
    COUNTER_WITHOUT_TOTAL = "CounterWithoutTotal"
    NON_BASE_UNIT = "NonBaseUnit"
    NOT_SNAKE_CASE = "NotSnakeCase"
    NO_TRAFFIC_YET = "NoTrafficYet"
    LABELS_UNVERIFIED = "LabelsUnverified"
    FAMILY_ADDED = "FamilyAdded"
    LABEL_ADDED = "LabelAdded"
    HELP_CHANGED = "HelpChanged"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParityFinding:
    """One thing the check found; `label` is set when the finding is about one label name of `family`."""

    severity: Severity
    code: ParityCode
    family: str
    message: str
    label: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParityPolicy:
    """How strict the check is.

    `required`: families the canary must expose whatever stable does. `ignore`: glob patterns of families left
    out of every rule (`go_*` when stable is Go and canary Python). `lint_scope`: which canary families are linted:
    the ones it adds (default), all of them, or none.
    """

    required: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    lint_severity: Severity = "warning"
    lint_scope: Literal["added", "all", "off"] = "added"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParityReport:
    """The findings, worst first, and the canary families that exist but have not seen traffic."""

    findings: tuple[ParityFinding, ...]
    stable_families: int
    canary_families: int
    awaiting_traffic: tuple[str, ...] = ()

    @property
    def worst(self) -> Severity | None:
        return worst_severity(finding.severity for finding in self.findings)

    @property
    def failed(self) -> bool:
        """True when any finding is an error."""
        return self.worst == "error"

    def with_code(self, code: ParityCode) -> tuple[ParityFinding, ...]:
        return tuple(finding for finding in self.findings if finding.code is code)


def compare_parity(
    stable: Mapping[str, MetricFamily],
    canary: Mapping[str, MetricFamily],
    policy: ParityPolicy | None = None,
) -> ParityReport:
    """Compare the canary's families with stable's under `policy` (the defaults when None)."""
    policy = policy or ParityPolicy()

    def kept(families: Mapping[str, MetricFamily]) -> dict[str, MetricFamily]:
        return {name: f for name, f in families.items() if not any(fnmatch.fnmatchcase(name, p) for p in policy.ignore)}

    old, new = kept(stable), kept(canary)
    findings: list[ParityFinding] = []
    awaiting: set[str] = set()
    for name, before in old.items():
        after = new.get(name)
        if after is None and (parent := _created_parent(name, new)) is not None:
            findings.append(_created_finding(name, parent))
            if parent.awaiting_traffic:
                awaiting.add(name)
            continue
        if after is None:
            findings.append(_finding("error", ParityCode.FAMILY_MISSING, name, _missing_message(name, before)))
            continue
        findings.extend(_compare_family(before, after))
        if after.awaiting_traffic:
            awaiting.add(name)
    for name in policy.required:
        if name in old or any(fnmatch.fnmatchcase(name, p) for p in policy.ignore):
            continue  # stable has it: already compared above (missing is FamilyMissing)
        family = new.get(name)
        if family is None:
            message = f"{name} is required but the canary does not expose it"
            findings.append(_finding("error", ParityCode.REQUIRED_FAMILY_MISSING, name, message))
        elif family.awaiting_traffic:
            awaiting.add(name)
    for name in sorted(awaiting):
        if name in new:
            findings.append(_finding("info", ParityCode.NO_TRAFFIC_YET, name, _no_traffic_message(new[name])))
    for name, family in new.items():
        if name not in old:
            message = f"the canary adds {family.type} {name}"
            findings.append(_finding("info", ParityCode.FAMILY_ADDED, name, message))
        if policy.lint_scope == "all" or (policy.lint_scope == "added" and name not in old):
            findings.extend(_lint_family(family, policy.lint_severity))
    ordered = sorted(findings, key=lambda f: (-severity_rank(f.severity), f.family, f.code, f.label or ""))
    return ParityReport(
        findings=tuple(ordered),
        stable_families=len(old),
        canary_families=len(new),
        awaiting_traffic=tuple(sorted(awaiting)),
    )


def summarize(report: ParityReport, limit: int = 3) -> str:
    """One line for a condition message: the counts, then the worst `limit` findings."""
    counts = describe_counts(count_by_severity(finding.severity for finding in report.findings))
    head = f"metric parity: {counts} ({report.canary_families} canary families vs {report.stable_families} stable)"
    notable = [finding for finding in report.findings if finding.severity != "info"][:limit]
    if not notable:
        return head
    more = len([f for f in report.findings if f.severity != "info"]) - len(notable)
    tail = "; ".join(f"{f.code}: {f.message}" for f in notable) + (f"; and {more} more" if more else "")
    return f"{head}: {tail}"


def _finding(
    severity: Severity, code: ParityCode, family: str, message: str, label: str | None = None
) -> ParityFinding:
    return ParityFinding(severity=severity, code=code, family=family, label=label, message=message)


def _missing_message(name: str, before: MetricFamily) -> str:
    return f"stable exposes {before.type} {name}, the canary does not"


def _created_parent(name: str, canary: Mapping[str, MetricFamily]) -> MetricFamily | None:
    """The canary's counter, histogram or summary whose `_created` gauge `name` is, if `name` is one."""
    if not name.endswith("_created"):
        return None
    base = name.removesuffix("_created")
    for candidate in (f"{base}_total", base):
        family = canary.get(candidate)
        if family is not None and family.type in ("counter", "histogram", "summary"):
            return family
    return None


def _created_finding(name: str, parent: MetricFamily) -> ParityFinding:
    if parent.awaiting_traffic:
        message = f"{name} appears with the first series of {parent.name}, which has none yet in the canary"
        return _finding("info", ParityCode.NO_TRAFFIC_YET, name, message)
    message = f"stable exposes {name}, the canary's {parent.name} has series but no _created gauge"
    return _finding("warning", ParityCode.FAMILY_MISSING, name, message)


def _no_traffic_message(family: MetricFamily) -> str:
    if family.sample_count == 0:
        return f"{family.name} is declared by the canary but has no samples yet"
    return f"{family.name} is exposed by the canary but has counted no observations yet"


def _compare_family(before: MetricFamily, after: MetricFamily) -> Iterable[ParityFinding]:
    name = before.name
    if before.type != after.type:
        severity: Severity = "warning" if "untyped" in (before.type, after.type) else "error"
        message = f"{name} changed type from {before.type} to {after.type}"
        yield _finding(severity, ParityCode.TYPE_CHANGED, name, message)
    if before.help is not None and after.help is not None and before.help != after.help:
        yield _finding("info", ParityCode.HELP_CHANGED, name, f"{name} changed its HELP text")
    if after.sample_count == 0:
        if before.label_names:
            labels = ", ".join(sorted(before.label_names))
            message = f"{name} has no samples in the canary yet, so its labels ({labels}) cannot be compared"
            yield _finding("info", ParityCode.LABELS_UNVERIFIED, name, message)
        return
    if before.sample_count == 0:
        return  # stable shows no labels to compare against
    for label in sorted(before.label_names - after.label_names):
        message = f"{name} lost label {label!r}: queries grouping or filtering by it break"
        yield _finding("error", ParityCode.LABEL_DROPPED, name, message, label)
    for label in sorted(after.label_names - before.label_names):
        yield _finding("info", ParityCode.LABEL_ADDED, name, f"{name} gained label {label!r}", label)


# ---- naming lint ----

_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_SERIES_SUFFIXES = ("_total", "_info", "_created")
# Whole unit words are recognised anywhere in a name; abbreviations only as the unit (the last word).
_UNIT_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "milliseconds": "seconds",
        "microseconds": "seconds",
        "nanoseconds": "seconds",
        "minutes": "seconds",
        "hours": "seconds",
        "days": "seconds",
        "kilobytes": "bytes",
        "megabytes": "bytes",
        "gigabytes": "bytes",
        "terabytes": "bytes",
        "kibibytes": "bytes",
        "mebibytes": "bytes",
        "gibibytes": "bytes",
        "percent": "ratio",
    }
)
_UNIT_ABBREVIATIONS: Mapping[str, str] = MappingProxyType(
    {
        "ms": "seconds",
        "us": "seconds",
        "ns": "seconds",
        "sec": "seconds",
        "secs": "seconds",
        "mins": "seconds",
        "kb": "bytes",
        "mb": "bytes",
        "gb": "bytes",
        "tb": "bytes",
        "kib": "bytes",
        "mib": "bytes",
        "gib": "bytes",
        "pct": "ratio",
    }
)


def lint_name(name: str, metric_type: str) -> tuple[tuple[ParityCode, str], ...]:
    """The naming problems of one family name, as (code, message) pairs; empty when the name is fine."""
    problems: list[tuple[ParityCode, str]] = []
    if not _SNAKE.fullmatch(name):
        problems.append((ParityCode.NOT_SNAKE_CASE, f"{name} is not snake_case{_snake_hint(name)}"))
    if metric_type == "counter" and not name.endswith("_total"):
        problems.append((ParityCode.COUNTER_WITHOUT_TOTAL, f"counter {name} should end in _total"))
    stem = name
    for suffix in _SERIES_SUFFIXES:
        stem = stem.removesuffix(suffix)
    words = stem.lower().split("_")
    unit = next((word for word in words if word in _UNIT_WORDS), None)
    preferred = _UNIT_WORDS.get(unit or "")
    if unit is None and words[-1] in _UNIT_ABBREVIATIONS:
        unit, preferred = words[-1], _UNIT_ABBREVIATIONS[words[-1]]
    if unit is not None:
        hint = "a 0-1 ratio" if preferred == "ratio" else f"_{preferred}"
        problems.append((ParityCode.NON_BASE_UNIT, f"{name} uses _{unit}; prefer base units: {hint}"))
    return tuple(problems)


def _snake_hint(name: str) -> str:
    if ":" in name:
        return " (colons are reserved for recording rules)"
    if name.startswith("__"):
        return " (a leading __ is reserved for Prometheus)"
    return " (lowercase words joined by single underscores)"


def _lint_family(family: MetricFamily, severity: Severity) -> Iterable[ParityFinding]:
    for code, message in lint_name(family.name, family.type):
        yield _finding(severity, code, family.name, message)
    for label in sorted(family.label_names):
        if not _SNAKE.fullmatch(label):
            message = f"{family.name} label {label!r} is not snake_case{_snake_hint(label)}"
            yield _finding(severity, ParityCode.NOT_SNAKE_CASE, family.name, message, label)
