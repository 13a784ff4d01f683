"""The `etcdConfig` gate's measurement and judge: the configuration the canary reports running against the one
etcd holds under a prefix, compared by content hash or by revision.

Why the difference is the verdict: the person on call needs both sides at once ("expected sha256:…, the canary
reports sha256:…"). The etcd side failing is an `Error` (the gate could not measure); the canary side failing is a
`Fail`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from graygate.api.gates import EtcdConfig, GateCheck
from graygate.api.status import Outcome
from graygate.domain.analysis.measurements import DocumentReading, Measurement, checked
from graygate.domain.analysis.reasons import short
from graygate.domain.analysis.verdicts import Verdict, VerdictFor
from graygate.domain.compare.jsonpath import Found, lookup, render

__all__ = ["EtcdConfigMeasurement", "PrefixReading", "judge_etcd_config"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefixReading:
    """What etcd holds under a prefix, in one consistent read at store revision `revision`: the content hash, the
    highest `mod_revision` of its keys (0 when there are none) and how many keys there are."""

    prefix: str
    hash: str
    last_modified: int
    revision: int
    keys: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdConfigMeasurement(Measurement):
    """One `etcdConfig` check: etcd's current state of the prefix and what the canary's config endpoint answered
    (parsed JSON). `error` is set, and `state` None, when etcd could not be read."""

    kind: ClassVar[str] = "etcdConfig"

    state: PrefixReading | None = None
    report: DocumentReading[object] | None = None

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        return judge_etcd_config(checked(check, EtcdConfig, self), self)


def judge_etcd_config(check: EtcdConfig, seen: EtcdConfigMeasurement) -> Verdict:
    """Pass when the canary reports the configuration etcd holds now; fail showing expected against reported."""
    inputs = {"prefix": check.prefix, "url": check.url, "jsonPath": check.json_path}
    state = seen.state
    expected = _expected(check, state) if state is not None else None

    verdict = VerdictFor(seen.gate, seen.kind, seen.observed_at, inputs, expected)

    if seen.error is not None or state is None:
        return verdict(Outcome.ERROR, f"cannot read {check.prefix} from etcd: {seen.error or 'no state'}")
    if state.keys == 0:
        return verdict(Outcome.ERROR, f"etcd holds no key under {check.prefix}: nothing to compare with")
    report = seen.report
    if report is None or report.content is None:
        why = f"{report.url}: {report.error or 'no content'}" if report is not None else "it was not asked"
        return verdict(Outcome.FAIL, f"the canary does not report its configuration: {why}")
    found = lookup(report.content, check.json_path)
    if not isinstance(found, Found) or found.value is None:
        where = f"{found.why} at {found.where}" if not isinstance(found, Found) else "it is null"
        return verdict(Outcome.FAIL, f"the canary's config answer has no {check.json_path}: {where}")
    reported = render(found.value)
    if check.compare == "hash":
        return _judge_hash(check, state, reported, verdict)
    return _judge_revision(check, state, reported, verdict)


def _expected(check: EtcdConfig, state: PrefixReading) -> str:
    if check.compare == "hash":
        return state.hash
    return f">= {state.last_modified} (the last change under {check.prefix})"


class _Make(Protocol):
    def __call__(self, outcome: Outcome, reason: str, value: str | None = None) -> Verdict: ...


def _judge_hash(check: EtcdConfig, state: PrefixReading, reported: str, verdict: _Make) -> Verdict:
    keys = "1 key" if state.keys == 1 else f"{state.keys} keys"
    if _bare(reported) == _bare(state.hash):
        return verdict(Outcome.PASS, f"the canary runs the current {check.prefix} ({keys}, {state.hash})", reported)
    reason = (
        f"the canary runs another configuration than etcd holds under {check.prefix}: "
        f"expected {state.hash} ({keys} at revision {state.revision}), the canary reports {short(reported)}"
    )
    return verdict(Outcome.FAIL, reason, reported)


def _judge_revision(check: EtcdConfig, state: PrefixReading, reported: str, verdict: _Make) -> Verdict:
    try:
        revision = int(reported)
    except ValueError:
        return verdict(Outcome.FAIL, f"the canary reports {short(reported)!r} as its revision, not a number", reported)
    if revision > state.revision:
        reason = (
            f"the canary reports revision {revision}, newer than etcd's current revision {state.revision}: "
            "it reads another etcd cluster"
        )
        return verdict(Outcome.FAIL, reason, reported)
    if revision < state.last_modified:
        reason = (
            f"the canary runs configuration read at revision {revision}, but {check.prefix} last changed at "
            f"revision {state.last_modified}: expected >= {state.last_modified}, reported {revision}"
        )
        return verdict(Outcome.FAIL, reason, reported)
    reason = f"the canary read {check.prefix} at revision {revision}, after its last change ({state.last_modified})"
    return verdict(Outcome.PASS, reason, reported)


def _bare(digest: str) -> str:
    return digest.strip().lower().removeprefix("sha256:")
