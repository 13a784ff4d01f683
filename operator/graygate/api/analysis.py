"""When a release's gates run and how their results add up: `spec.analysis`.

Why a module of its own: the analysis is the part of the spec every gate kind meets (each kind's bounded wait must
stay below the interval, checked here by CEL and by validation in the same words), and it reads best apart from the
plan and the routing it serves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from graygate.api.base import SpecModel
from graygate.api.cel import rules
from graygate.api.durations import Interval, format_duration
from graygate.api.gate_templates import GateRef
from graygate.api.gates import CHECK_MODELS, MAX_GATES, Gate

__all__ = ["Analysis"]


_BOUNDED_WAITS = tuple((model.kind, model.bounded_wait) for model in CHECK_MODELS if model.bounded_wait)
"""(gate kind, field path): how long one analysis of that kind may wait, which must be shorter than the interval."""


def _shorter_than_interval(kind: str, path: tuple[str, ...]) -> tuple[str, str]:
    """The CEL rule (and its message) keeping `kind`'s wait at `path` below the analysis interval."""
    fields = [f"g.{kind}" + "".join(f".{name}" for name in path[: depth + 1]) for depth in range(len(path))]
    absent = " || ".join(f"!has({field})" for field in fields)
    rule = (
        f"!has(self.gates) || !has(self.interval) || self.gates.all(g, !has(g.{kind}) || {absent} || "
        f"duration({fields[-1]}) < duration(self.interval))"
    )
    return rule, f"every {kind} {' '.join(path)} must be shorter than the analysis interval"


def _wait_of(check: object, path: tuple[str, ...]) -> timedelta | None:
    """The duration at `path` in `check`, or None where a part of the path is unset."""
    value = check
    for name in path:
        value = getattr(value, name, None)
    return value if isinstance(value, timedelta) else None


class Analysis(SpecModel):
    """When the gates run and how their results add up."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            *(_shorter_than_interval(kind, path) for kind, path in _BOUNDED_WAITS),
        )
    )

    interval: Interval = timedelta(seconds=30)
    """How often the gates run. A new weight is analysed only after it has carried traffic for one interval."""

    failure_limit: int = Field(default=2, ge=0, le=100)
    """How many failed non-critical gate results are tolerated over the release; one more rolls it back."""

    inconclusive_limit: int = Field(default=3, ge=1, le=100)
    """After this many inconclusive analyses in a row, the release pauses and asks a human to `resume`, `promote`
    or `abort`: at its weight when no gate saw users failing on the canary, otherwise with the canary at 0 %. An
    analysis where a gate could not measure (`Error`) counts toward `consecutiveErrorLimit` instead."""

    consecutive_error_limit: int = Field(default=4, ge=1, le=100)
    """After this many analyses in a row with a gate that could not measure (`Error`: its provider unreachable or
    answering nonsense), `errorPolicy` applies. Until then such an analysis holds the step at its weight; the
    first analysis that measures again resets the count and the step's normal rules go on."""

    error_policy: Literal["hold", "rollback"] = "hold"
    """What reaching `consecutiveErrorLimit` does: `hold` keeps the weight and sets the `Stalled` condition
    (naming the gate that cannot measure and why) until an analysis measures again; `rollback` rolls the release
    back as a failure would."""

    gates: tuple[Gate, ...] = Field(
        default=(),
        max_length=MAX_GATES,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The checks to run at every analysis. Without gates, steps advance as soon as their weight is in place."""

    gate_refs: tuple[GateRef, ...] = Field(default=(), max_length=MAX_GATES)
    """Gates from templates (`GateTemplate` in the release's namespace, or `ClusterGateTemplate`), with their
    arguments: each expands to the template's gates, under the template's gate names, after `gates`. They are
    expanded when a run starts and kept in `status.expandedGates` until it ends."""

    @model_validator(mode="after")
    def _consistent(self) -> Analysis:
        names = [gate.name for gate in self.gates]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"gates must have unique names; repeated: {', '.join(repeated)}")
        for gate in self.gates:
            for kind, path in _BOUNDED_WAITS:
                wait = _wait_of(gate.check, path) if gate.check.kind == kind else None
                if wait is not None and wait >= self.interval:
                    raise ValueError(
                        f"gate {gate.name}: {kind} {' '.join(path)} {format_duration(wait)} must be "
                        f"shorter than the analysis interval {format_duration(self.interval)}"
                    )
        return self
