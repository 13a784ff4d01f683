"""One simulated release whose weights follow the judge, as graygate moves them: the next step only after a Pass.

Why apart from `runs`: there, releases move on a timer (every step lasts `step_s` whatever the judge says) and
only rollbacks count, which measures a judge's alarms but not the release it would drive. graygate advances a
`setWeight` step only after a passing analysis, so a canary the judge never passes stays at its weight: a slow
burn is stopped where it starts unless the judge lets it through. Here the traffic is generated second by second
at the weight the verdicts led to (`Release` with paired draws, so two judges replaying one seed see the same
luck), and the release ends in one of

    promoted     a Pass at the last step's weight
    rolled back  a Fail (a critical gate, `failureLimit: 0`, as in `runs`)
    held         no Pass within `hold_s` of the step's start: the progress deadline graygate is getting

A step is first judged one analysis interval after it began, as graygate does, and a Pass judged at second k
moves the weight from second k on (the next step begins at k). `Inconclusive`, `Waiting` and `Error` hold the
step; pauses (`inconclusiveLimit`) are not modelled, as in `runs`. One check, at one confidence: a grid cannot be
judged in one pass here, because each confidence would move the weights differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from e2e.verdicts.judges import Judge, Metric
from e2e.verdicts.runs import INTERVAL_S
from e2e.verdicts.simulate import Release, Scenario
from graygate.api.gates.prometheus import Prometheus
from graygate.api.status import Outcome

__all__ = ["HOLD_S", "Ending", "Gated", "crossed_at", "gated_replay"]

HOLD_S = 900
"""Seconds a step may wait for its Pass before the release counts as held."""

Ending = Literal["promoted", "rolled back", "held"]


@dataclass(frozen=True, slots=True)
class Gated:
    """How one gated release ended, and the weights it went through."""

    ending: Ending
    end_s: int
    """The second (since the release began) of the verdict that ended it: the last Pass, the Fail, or the Waiting
    that reached the hold bound."""
    steps: tuple[tuple[int, int], ...]
    """(the second the step began, its weight), in order: the weights the verdicts led to."""
    failed_users: int
    """Canary requests that failed for users until the release ended."""

    @property
    def weight(self) -> int:
        """The weight the release ended at."""
        return self.steps[-1][1]

    def weight_at(self, second: int) -> int | None:
        """The weight the canary carried in `second`; None after the release ended."""
        if second > self.end_s:
            return None
        return next(weight for began, weight in reversed(self.steps) if began <= second)


def gated_replay(
    judge: Judge, scenario: Scenario, seed: int, metric: Metric, check: Prometheus, *, hold_s: int = HOLD_S
) -> Gated:
    """Release `scenario` (seed `seed`) through its weights, each step left only on a Pass of `check`."""
    release = Release(scenario, seed, paired=True)
    traffic = release.traffic
    weights = scenario.weights
    step, began = 0, 0
    steps = [(0, weights[0])]
    second = 0

    def ended(ending: Ending) -> Gated:
        return Gated(ending, second, tuple(steps), sum(traffic.canary_failures))

    while True:
        if second - began >= INTERVAL_S:
            outcome = judge.measured(traffic, metric, second * 1000, began * 1000)(check).outcome
            if outcome is Outcome.FAIL:
                return ended("rolled back")
            if outcome is Outcome.PASS:
                if step == len(weights) - 1:
                    return ended("promoted")
                step, began = step + 1, second
                steps.append((second, weights[step]))
            elif second - began >= hold_s:
                return ended("held")
        release.advance(weights[step])
        second += 1


def crossed_at(scenario: Scenario, allowance_points: float, until_s: int) -> int | None:
    """The first second before `until_s` at which the canary's true error rate is above the stable's plus the
    allowance; None when it never is (a canary exactly at the allowance never crosses it)."""
    margin = allowance_points / 100 + 1e-12  # a rate that lands on the limit in floating point is at it, not over
    for second in range(until_s):
        if scenario.canary.error_at(second) > scenario.stable.error_at(second) + margin:
            return second
    return None
