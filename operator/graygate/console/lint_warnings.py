"""The likely mistakes `graygate lint` warns about: a manifest the operator accepts that probably does not say what
its author meant. Pure: each rule reads a parsed spec and returns (field path, message) pairs.

`RULES` is the table; each rule is tested on its own. Considered and left out on purpose, because the operator
does the expected thing there (a warning that is not true trains people to ignore warnings):

- a timed pause (or `stepInterval`) longer than `progressDeadline`: a timed pause is progress as planned, and the
  deadline's clock starts only once its time is up (`domain/release/deadline.py`); an indefinite pause does not
  count at all. So the deadline never fires because a pause is long.
- weights that never reach 100: when the last step is done the release completes and the canary carries 100 %
  (`domain/release/plan.py`, `FULL`), as in Argo Rollouts; a last `setWeight: 100` only gets the gates checked
  at 100 % first. What is surprising is a plan that never sends the canary anything (`no_traffic_before_full`).
- a built-in Prometheus metric without the workloads it needs (`requestSuccessRate` counts what each side's pods
  served by `destination_workload`, `requestDuration` reads the pods' histograms): not a warning but an error,
  which the spec's own validation reports (`the built-in Prometheus metrics need canaryWorkload and
  stableWorkload`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graygate.api.spec import CanaryReleaseSpec

__all__ = ["RULES", "Rule", "Warning", "warnings_of"]


@dataclass(frozen=True)
class Warning:
    """One likely mistake: the field it is about (`spec.…`) and what to check."""

    path: str
    message: str


Rule = Callable[[CanaryReleaseSpec], list[Warning]]


def success_rate_min_ratio(spec: CanaryReleaseSpec) -> list[Warning]:
    """`requestSuccessRate.min` is a percentage; below 1 it is almost surely a ratio (Argo Rollouts' and many
    PromQL examples' `0.99`), which would pass a canary failing 99 % of its requests."""
    found = []
    for index, gate in enumerate(spec.analysis.gates):
        rate = gate.prometheus.request_success_rate if gate.prometheus is not None else None
        if rate is not None and rate.min is not None and 0 < rate.min < 1:
            found.append(
                Warning(
                    f"spec.analysis.gates[{index}].prometheus.requestSuccessRate.min",
                    f"{rate.min:g} is a percentage here ({rate.min:g} %, passing a canary that fails almost every "
                    f"request); for a ratio of {rate.min:g} write {rate.min * 100:g}",
                )
            )
    return found


def no_traffic_before_full(spec: CanaryReleaseSpec) -> list[Warning]:
    """A plan with no `setWeight` above 0 and no `setHeaderRoute` sends the canary nothing while it runs, so its
    gates never see it serve, and then completes: the canary goes from 0 to 100 % at once."""
    steps = spec.plan_steps()
    if any((step.set_weight or 0) > 0 or step.set_header_route is not None for step in steps):
        return []
    where = "spec.stepWeights" if spec.steps is None else "spec.steps"
    return [
        Warning(
            where,
            "no step sends the canary any traffic: its gates never see it serve, and when the last step is done "
            "the release completes with all traffic on it at once; add a setWeight step (e.g. setWeight: 10)",
        )
    ]


RULES: tuple[tuple[str, Rule], ...] = (
    ("success-rate-min-ratio", success_rate_min_ratio),
    ("no-traffic-before-full", no_traffic_before_full),
)
"""(name, rule), in the order their warnings are reported."""


def warnings_of(spec: CanaryReleaseSpec) -> list[Warning]:
    """Every rule's warnings about `spec`."""
    return [warning for _, rule in RULES for warning in rule(spec)]
