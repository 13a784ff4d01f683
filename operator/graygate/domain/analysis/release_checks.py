"""Judges of the build-comparison checks: `metricParity` and `apiCompat`.

Why apart from `judges`: these two fold a list of findings (from `parity` and `openapi_diff`) into one verdict,
and the rules of that fold are what a user reads in the condition: any error finding fails and is named (family and
label, or JSON pointer), warnings and additions are counted in the passing reason. Messages are bounded, so a
canary that broke a hundred things still yields a readable status.

What the canary serves is judged; what stable serves is only the reference. So an unreadable canary document
fails the gate, an unreadable stable document makes it an `Error` (the gate could not measure).

"No traffic yet" depends on the weight: at 0 % (a pre-check) a family the canary declares but has not used is
expected, and the gate passes on what it could compare; once the canary carries traffic, it waits for the family
to be exercised before passing.
"""

from __future__ import annotations

from collections.abc import Sequence

from graygate.api.gates import ApiCompat, MetricParity
from graygate.api.status import Outcome
from graygate.domain.analysis.measurements import ApiCompatMeasurement, MetricParityMeasurement
from graygate.domain.analysis.verdicts import Verdict, VerdictFor
from graygate.domain.compare.findings import count_by_severity, describe_counts
from graygate.domain.compare.jsonpath import Found, lookup, render
from graygate.domain.compare.openapi_diff import diff_openapi, summarize_api
from graygate.domain.compare.parity import ParityCode, ParityPolicy, compare_parity, summarize
from graygate.domain.compare.semver import SemverError, satisfies

__all__ = ["MAX_REASON", "bounded_list", "judge_api_compat", "judge_metric_parity"]

MAX_REASON = 600
"""The longest reason a release check writes; the rest is counted, not shown."""
_SHOWN = 3


def bounded_list(items: Sequence[str], limit: int = _SHOWN, budget: int = MAX_REASON) -> str:
    """The first `limit` items joined by `; `, cut to `budget` characters, with `and N more` for the rest."""
    shown = "; ".join(items[:limit])
    if len(shown) > budget:
        shown = shown[: budget - 1] + "…"
    more = len(items) - min(limit, len(items))
    return shown + (f"; and {more} more" if more else "")


def judge_metric_parity(check: MetricParity, seen: MetricParityMeasurement, weight: int | None = None) -> Verdict:
    """Fail on any error finding; wait while the canary carries traffic its families have not seen; else pass."""
    inputs = {"canary": check.canary_url} | ({"stable": check.stable_url} if check.stable_url else {})
    wanted = "no family, label or type lost" + (", names linted as errors" if check.lint_severity == "error" else "")

    verdict = VerdictFor(seen.gate, seen.kind, seen.observed_at, inputs, wanted)

    if seen.error is not None or seen.canary is None:
        return verdict(Outcome.ERROR, seen.error or "the canary's metrics were not fetched")
    if seen.stable is not None and seen.stable.content is None:
        why = _why(seen.stable.url, seen.stable.error)
        return verdict(Outcome.ERROR, f"cannot read the stable's metrics to compare with: {why}")
    if seen.canary.content is None:
        return verdict(Outcome.FAIL, f"cannot read the canary's metrics: {_why(seen.canary.url, seen.canary.error)}")
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
        value = ", ".join(sorted({f.family + (f"{{{f.label}}}" if f.label else "") for f in errors})[:_SHOWN])
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


def judge_api_compat(check: ApiCompat, seen: ApiCompatMeasurement) -> Verdict:
    """Fail on a version outside the range or on any breaking change, naming the first JSON pointers."""
    inputs = {"stable": check.stable_url, "canary": check.canary_url}
    wanted = "no breaking change" + (f", version in {check.version.range}" if check.version else "")

    verdict = VerdictFor(seen.gate, seen.kind, seen.observed_at, inputs, wanted)

    if seen.error is not None or seen.stable is None or seen.canary is None:
        return verdict(Outcome.ERROR, seen.error or "the OpenAPI documents were not fetched")
    version = ""
    if check.version is not None:
        handshake = _version_verdict(check, seen)
        if isinstance(handshake, tuple):
            outcome, reason = handshake
            return verdict(outcome, reason)
        version = handshake
    if seen.stable.content is None:
        why = _why(seen.stable.url, seen.stable.error)
        return verdict(Outcome.ERROR, f"cannot read the stable's OpenAPI document: {why}")
    if seen.canary.content is None:
        why = _why(seen.canary.url, seen.canary.error)
        return verdict(Outcome.FAIL, f"cannot read the canary's OpenAPI document: {why}")
    report = diff_openapi(seen.stable.content, seen.canary.content)
    if breaking := report.breaking:
        named = [f"{finding.code} at {finding.pointer}: {finding.message}" for finding in breaking]
        pointers = ", ".join(finding.pointer for finding in breaking[:_SHOWN])
        changes = "1 breaking change" if len(breaking) == 1 else f"{len(breaking)} breaking changes"
        return verdict(Outcome.FAIL, f"{changes}: {bounded_list(named)}", pointers)
    summary = summarize_api(report)
    return verdict(Outcome.PASS, summary + (f"; {version}" if version else ""), version or None)


def _version_verdict(check: ApiCompat, seen: ApiCompatMeasurement) -> str | tuple[Outcome, str]:
    """`version 1.4.2 in ^1.4` when the handshake holds, else the (outcome, reason) that stops the gate."""
    handshake = check.version
    assert handshake is not None
    try:
        satisfies("0.0.0", handshake.range)
    except SemverError as error:
        return Outcome.ERROR, f"versionRange {handshake.range!r} is not a semver range: {error}"
    answer = seen.version
    if answer is None or answer.content is None:
        why = _why(answer.url, answer.error) if answer is not None else "it was not fetched"
        return Outcome.FAIL, f"the canary does not report its API version: {why}"
    found = lookup(answer.content, handshake.json_path)
    if not isinstance(found, Found):
        return Outcome.FAIL, f"the canary's version answer has no {handshake.json_path}: {found.why} at {found.where}"
    reported = render(found.value)
    try:
        accepted = satisfies(reported, handshake.range)
    except SemverError:
        return Outcome.FAIL, f"the canary reports API version {reported!r}, which is not a semantic version"
    if not accepted:
        return Outcome.FAIL, f"the canary reports API version {reported}, outside the accepted range {handshake.range}"
    return f"version {reported} in {handshake.range}"


def _why(url: str, error: str | None) -> str:
    return f"{url}: {error or 'no content'}"
