"""The plan: a spec's steps as typed values, and the weight the canary carries at each of them.

Why: the manifest's steps are a one-of per item (`setWeight`, `pause` or `setHeaderRoute`) and may come from the
`stepWeights` shorthand. The domain should not care: it walks a `Plan` of `WeightStep`, `PauseStep` and
`HeaderRouteStep` values and asks it which weight a step implies, which header routes (traffic colouring) are wanted
there, and how to show "step n of m".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from graygate.api.header_routes import HeaderRouteMatch
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import Phase

__all__ = ["FULL", "HeaderRouteStep", "PauseStep", "Plan", "PlanStep", "WeightStep", "plan_of", "step_display"]

FULL = 100
"""The canary's weight once the release has Succeeded."""


@dataclass(frozen=True, slots=True)
class WeightStep:
    """Send `weight` percent of traffic to the canary, then wait for one passing analysis."""

    weight: int


@dataclass(frozen=True, slots=True)
class PauseStep:
    """Hold the weight for `duration`, or until promoted when `duration` is None."""

    duration: timedelta | None

    @property
    def indefinite(self) -> bool:
        """True when only a human can end this pause."""
        return self.duration is None


@dataclass(frozen=True, slots=True)
class HeaderRouteStep:
    """From here until the release ends, requests matching any of `match` go to the canary; then wait for one
    passing analysis, like a `WeightStep` that keeps the weight."""

    match: tuple[HeaderRouteMatch, ...]


PlanStep = WeightStep | PauseStep | HeaderRouteStep


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered steps of a release."""

    steps: tuple[PlanStep, ...]

    def __len__(self) -> int:
        return len(self.steps)

    def step(self, index: int) -> PlanStep:
        """The step at `index` (0-based)."""
        return self.steps[index]

    def is_last(self, index: int) -> bool:
        """True when `index` is the plan's final step."""
        return index == len(self.steps) - 1

    def weight_at(self, index: int) -> int:
        """The canary weight while the release is at step `index`: the latest `setWeight` so far, else 0.
        Past the last step the release is complete and the canary carries 100."""
        if index >= len(self.steps):
            return FULL
        for step in reversed(self.steps[: index + 1]):
            if isinstance(step, WeightStep):
                return step.weight
        return 0

    def header_routes_at(self, index: int) -> tuple[HeaderRouteMatch, ...]:
        """The header matches coloured towards the canary at step `index`: the latest `setHeaderRoute` so far, else
        none. Past the last step the release is complete and colouring ends with it."""
        if index >= len(self.steps):
            return ()
        for step in reversed(self.steps[: index + 1]):
            if isinstance(step, HeaderRouteStep):
                return step.match
        return ()


def plan_of(spec: CanaryReleaseSpec) -> Plan:
    """The spec's plan (`steps` as written, or `stepWeights` expanded)."""
    steps: list[PlanStep] = []
    for step in spec.plan_steps():
        if step.set_weight is not None:
            steps.append(WeightStep(step.set_weight))
        elif step.pause is not None:
            steps.append(PauseStep(step.pause.duration))
        elif step.set_header_route is not None:
            steps.append(HeaderRouteStep(step.set_header_route.match))
    return Plan(tuple(steps))


def step_display(phase: Phase, index: int, total: int) -> str:
    """The step as `kubectl get` shows it: `0/m` before the start, `n/m` (1-based) after, `m/m` when done and
    `-` while the spec is invalid."""
    if phase is Phase.INVALID:
        return "-"
    if phase is Phase.PENDING:
        return f"0/{total}"
    if phase is Phase.SUCCEEDED:
        return f"{total}/{total}"
    return f"{min(index + 1, total)}/{total}"
