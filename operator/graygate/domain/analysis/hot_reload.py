"""The `hotReload` gate's measurement and judge: a nonce written to etcd, and whether the canary reported it in
time, so a configuration change is proven to reach the canary without a restart.

Why the split of blame: the etcd side failing (unreachable, refused, an unreadable Secret) is an `Error`: the gate
could not measure, and the release is not blamed for graygate's plumbing. The canary side failing (no answer, no
value at the path, an old value) is a `Fail`, and the reason shows what the canary reports instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Self

from graygate.api.durations import format_duration
from graygate.api.gates import GateCheck, HotReload
from graygate.api.status import Outcome
from graygate.domain.analysis.measurements import Measurement, checked
from graygate.domain.analysis.reasons import short
from graygate.domain.analysis.verdicts import Verdict, VerdictFor

__all__ = ["HotReloadMeasurement", "judge_hot_reload"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HotReloadMeasurement(Measurement):
    """One `hotReload` probe: the `nonce` written under `key`, then `polls` requests to the canary's config
    endpoint over `waited`, the last of which reported `reported` at `json_path` (or failed: `report_error`).

    `error` is set when the nonce could not be written (no etcd, an unreadable Secret): then nothing was polled.
    """

    kind: ClassVar[str] = "hotReload"

    key: str
    url: str
    json_path: str
    deadline: timedelta
    nonce: str | None = None
    waited: timedelta = timedelta()
    polls: int = 0
    reported: str | None = None
    report_error: str | None = None

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        return judge_hot_reload(checked(check, HotReload, self), self)

    @classmethod
    def unmeasured(cls, gate: str, check: GateCheck, now: datetime, why: str) -> Self:
        if not isinstance(check, HotReload):
            return cls(gate=gate, observed_at=now, key="", url="", json_path="", deadline=timedelta(), error=why)
        key, url, path, deadline = check.key, check.url, check.json_path, check.deadline
        return cls(gate=gate, observed_at=now, key=key, url=url, json_path=path, deadline=deadline, error=why)


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
