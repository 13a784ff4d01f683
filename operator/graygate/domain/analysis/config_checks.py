"""Judges of the etcd configuration checks: `hotReload` and `etcdConfig`.

Why apart from `judges`: these compare what the canary says about its configuration with what etcd holds, and
the interesting part of the verdict is the difference, written so the person on call sees both sides at once
("canary did not reload within 10s (it reports 'a1b2')", "expected sha256:…, the canary reports sha256:…").

The etcd side failing (unreachable, refused, an unreadable Secret) is an `Error`: the gate could not measure, and
the release is not blamed for graygate's plumbing. The canary side failing (no answer, no value at the path, an
old value) is a `Fail`.
"""

from __future__ import annotations

from typing import Protocol

from graygate.api.durations import format_duration
from graygate.api.gates import EtcdConfig, HotReload
from graygate.api.status import Outcome
from graygate.domain.analysis.measurements import EtcdConfigMeasurement, HotReloadMeasurement, PrefixReading
from graygate.domain.analysis.verdicts import Verdict, VerdictFor
from graygate.domain.compare.jsonpath import Found, lookup, render

__all__ = ["judge_etcd_config", "judge_hot_reload", "short"]

_SHORT = 80


def short(text: str, limit: int = _SHORT) -> str:
    """A reported value as a message quotes it: at most `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def judge_hot_reload(check: HotReload, seen: HotReloadMeasurement) -> Verdict:
    """Pass when the canary reported the nonce before the deadline; fail naming what it reports instead."""
    deadline = format_duration(check.deadline)
    inputs = {"key": check.key, "url": check.url, "jsonPath": check.json_path}
    threshold = f"{check.json_path} == the nonce within {deadline}"
    verdict = VerdictFor(seen.gate, seen.kind, seen.observed_at, inputs, threshold)

    if seen.error is not None or seen.nonce is None:
        return verdict(Outcome.ERROR, f"could not write the probe key {check.key}: {seen.error or 'no nonce'}")
    took = f"{seen.waited.total_seconds():.1f}s"
    if seen.reported == seen.nonce:
        return verdict(Outcome.PASS, f"the canary reloaded in {took}: it reports the new {check.key}", took)
    if seen.reported is not None:
        reports = f"it reports {short(seen.reported)!r}, not {seen.nonce!r}"
    else:
        reports = f"its config endpoint: {seen.report_error or 'no answer'}"
    polls = "1 poll" if seen.polls == 1 else f"{seen.polls} polls"
    return verdict(Outcome.FAIL, f"canary did not reload within {deadline} ({reports}; {polls})", seen.reported)


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
