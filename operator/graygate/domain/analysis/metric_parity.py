"""The `metricParity` gate's measurement and judge: the canary's `/metrics` against the stable's.

Why a fold of findings: `compare.parity` lists what differs (family or label lost, type changed, names linted), and
the judge folds that list into one verdict a user reads in the condition: any error finding fails and is named
(family and label), warnings and additions are counted in the passing reason. What the canary serves is judged;
what stable serves is only the reference, so an unreadable canary document fails and an unreadable stable one is
an `Error`. "No traffic yet" depends on the weight: at 0 % (a pre-check) a family the canary declares but has not
used is expected; once the canary carries traffic, the gate waits for the family to be exercised before passing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from graygate.api.gates import GateCheck, MetricParity
from graygate.api.status import Outcome
from graygate.domain.analysis.measurements import DocumentReading, Measurement, checked
from graygate.domain.analysis.reasons import SHOWN, bounded_list
from graygate.domain.analysis.verdicts import Verdict, VerdictFor
from graygate.domain.compare.exposition import MetricFamily
from graygate.domain.compare.findings import count_by_severity, describe_counts
from graygate.domain.compare.parity import ParityCode, ParityPolicy, compare_parity, summarize

__all__ = ["MetricParityMeasurement", "judge_metric_parity", "unreadable"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricParityMeasurement(Measurement):
    """The two expositions of one `metricParity` gate, each parsed into its families. `stable` is None when the
    gate has no stable URL; `error` is set, and no reading, when the gate could not ask at all."""

    kind: ClassVar[str] = "metricParity"

    canary: DocumentReading[Mapping[str, MetricFamily]] | None = None
    stable: DocumentReading[Mapping[str, MetricFamily]] | None = None

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        return judge_metric_parity(checked(check, MetricParity, self), self, weight)


def judge_metric_parity(check: MetricParity, seen: MetricParityMeasurement, weight: int | None = None) -> Verdict:
    """Fail on any error finding; wait while the canary carries traffic its families have not seen; else pass."""
    inputs = {"canary": check.canary_url} | ({"stable": check.stable_url} if check.stable_url else {})
    wanted = "no family, label or type lost" + (", names linted as errors" if check.lint_severity == "error" else "")

    verdict = VerdictFor(seen.gate, seen.kind, seen.observed_at, inputs, wanted)

    if seen.error is not None or seen.canary is None:
        return verdict(Outcome.ERROR, seen.error or "the canary's metrics were not fetched")
    if seen.stable is not None and seen.stable.content is None:
        why = unreadable(seen.stable.url, seen.stable.error)
        return verdict(Outcome.ERROR, f"cannot read the stable's metrics to compare with: {why}")
    if seen.canary.content is None:
        return verdict(
            Outcome.FAIL, f"cannot read the canary's metrics: {unreadable(seen.canary.url, seen.canary.error)}"
        )
    severity = "warning" if check.lint_severity == "off" else check.lint_severity
    policy = ParityPolicy(
        required=check.required,
        ignore=check.ignore,
        lint_severity=severity,
        lint_scope="off" if check.lint_severity == "off" else check.lint_scope,
    )
    stable = seen.stable.content if seen.stable is not None and seen.stable.content is not None else {}
    report = compare_parity(stable, seen.canary.content, policy)
    errors = [finding for finding in report.findings if finding.severity == "error"]
    if errors:
        named = [f"{finding.code}: {finding.message}" for finding in errors]
        value = ", ".join(sorted({f.family + (f"{{{f.label}}}" if f.label else "") for f in errors})[:SHOWN])
        return verdict(Outcome.FAIL, bounded_list(named), value)
    counts = describe_counts(count_by_severity(finding.severity for finding in report.findings))
    if report.awaiting_traffic and weight != 0:
        families = bounded_list(list(report.awaiting_traffic))
        return verdict(Outcome.WAITING, f"no traffic yet: the canary has not used {families}", counts)
    reason = summarize(report)
    if added := [finding.family for finding in report.with_code(ParityCode.FAMILY_ADDED)]:
        reason += f"; adds {bounded_list(added)}"
    if report.awaiting_traffic:
        reason += f"; not used yet at 0% (compared once traffic flows): {bounded_list(list(report.awaiting_traffic))}"
    return verdict(Outcome.PASS, reason, counts)


def unreadable(url: str, error: str | None) -> str:
    """`url: why` for a document that could not be read."""
    return f"{url}: {error or 'no content'}"
