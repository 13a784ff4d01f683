"""The `apiCompat` gate's measurement and judge: the canary's OpenAPI document against the stable's.

Why: `compare.openapi_diff` lists every change; the judge fails on any change that breaks an existing caller and
names the first JSON pointers, so the person on call sees where. With a version handshake, the canary's reported
API version must fall in the accepted semver range first. An unreadable canary document fails the gate; an
unreadable stable one is an `Error` (the gate could not measure).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from graygate.api.gates import ApiCompat, GateCheck
from graygate.api.status import Outcome
from graygate.domain.analysis.measurements import DocumentReading, Measurement, checked
from graygate.domain.analysis.metric_parity import unreadable
from graygate.domain.analysis.reasons import SHOWN, bounded_list
from graygate.domain.analysis.verdicts import Verdict, VerdictFor
from graygate.domain.compare.jsonpath import Found, lookup, render
from graygate.domain.compare.openapi_diff import diff_openapi, summarize_api
from graygate.domain.compare.semver import SemverError, satisfies

__all__ = ["ApiCompatMeasurement", "judge_api_compat"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiCompatMeasurement(Measurement):
    """The two OpenAPI documents of one `apiCompat` gate (parsed JSON or YAML) and, with a version handshake, the
    canary's version answer (parsed JSON)."""

    kind: ClassVar[str] = "apiCompat"

    stable: DocumentReading[Mapping[str, object]] | None = None
    canary: DocumentReading[Mapping[str, object]] | None = None
    version: DocumentReading[object] | None = None

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        return judge_api_compat(checked(check, ApiCompat, self), self)


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
        why = unreadable(seen.stable.url, seen.stable.error)
        return verdict(Outcome.ERROR, f"cannot read the stable's OpenAPI document: {why}")
    if seen.canary.content is None:
        why = unreadable(seen.canary.url, seen.canary.error)
        return verdict(Outcome.FAIL, f"cannot read the canary's OpenAPI document: {why}")
    report = diff_openapi(seen.stable.content, seen.canary.content)
    if breaking := report.breaking:
        named = [f"{finding.code} at {finding.pointer}: {finding.message}" for finding in breaking]
        pointers = ", ".join(finding.pointer for finding in breaking[:SHOWN])
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
        why = unreadable(answer.url, answer.error) if answer is not None else "it was not fetched"
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
