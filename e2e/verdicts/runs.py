"""One simulated release under one judge, checked every second: when it would have been rolled back or paused.

Why a grid of checks in one pass: calibration asks "at which confidence would this release have been rolled back,
if at all?" for several confidences, and replaying a 30-minute release per confidence would cost minutes. The
checks of a grid are nested (any check that fails a measurement also fails it at every lower confidence: the
interval only widens as the confidence rises), so at each second the lab judges from the lowest confidence that has
not failed yet upwards and stops at the first that does not fail. The release's first failure at every confidence
comes out of one replay, at about one `judge_prometheus` call per second.

The release model is graygate's with a critical gate (`failureLimit: 0`, as `make bench-rollback` uses): the first
`Fail` rolls back. `Inconclusive`, `Waiting` and `Error` never roll back; `inconclusiveLimit` Inconclusive or
Error verdicts in a row would pause the release, which is reported (`paused_at`) but does not stop the replay, so
the rates are about rollbacks only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from e2e.verdicts.judges import Judge, Metric
from e2e.verdicts.simulate import Traffic
from graygate.api.gates.prometheus import Prometheus
from graygate.api.status import Outcome

__all__ = ["INCONCLUSIVE_LIMIT", "Replay", "replay"]

INCONCLUSIVE_LIMIT = 3
"""The API's default `inconclusiveLimit`."""
INTERVAL_S = 1
"""The analysis interval: the gate is checked every second."""


@dataclass(slots=True)
class Replay:
    """What the checks did to one release."""

    fail_at: list[int | None]
    """Per check of the grid, the second (since the release began) of its first `Fail`; None: never."""
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    """The outcomes of the grid's first check over the seconds it was judged."""
    paused_at: int | None = None
    """The second the grid's first check would have paused the release (`inconclusiveLimit` in a row)."""
    reasons: Counter[str] = field(default_factory=Counter)
    """The first check's reasons, their numbers blanked, so the kinds of verdict can be counted."""


def replay(judge: Judge, traffic: Traffic, metric: Metric, checks: Sequence[Prometheus], *, first_s: int = 1) -> Replay:
    """Judge `traffic` every second from `first_s` on with each of `checks`, ordered from the lowest confidence."""
    scenario = traffic.scenario
    result = Replay(fail_at=[None] * len(checks))
    failed = 0
    in_a_row = 0
    for second in range(first_s, scenario.duration_s + 1):
        if failed == len(checks):
            break
        if second - scenario.step_start_s(second) < INTERVAL_S:
            continue  # graygate analyses a new weight only after it has carried traffic for one interval
        at_ms = second * 1000
        judged = judge.measured(traffic, metric, at_ms, scenario.step_start_s(second) * 1000)
        for index in range(failed, len(checks)):
            verdict = judged(checks[index])
            if index == 0:
                result.outcomes[verdict.outcome] += 1
                result.reasons[_kind_of(verdict.reason)] += 1
                in_a_row = in_a_row + 1 if verdict.outcome in (Outcome.INCONCLUSIVE, Outcome.ERROR) else 0
                if in_a_row >= INCONCLUSIVE_LIMIT and result.paused_at is None:
                    result.paused_at = second
            if verdict.outcome is not Outcome.FAIL:
                break
            result.fail_at[index] = second
            failed = index + 1
    return result


def _kind_of(reason: str) -> str:
    """`no data: the canary query found ...` stays; numbers and counts go, so equal kinds count together."""
    words = reason.split(":", 1)[0]
    return words[:60]
