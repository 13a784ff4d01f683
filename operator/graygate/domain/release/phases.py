"""The phase machine of a release, as a table of data: (phase, trigger) -> next phase.

Why: a table is read in one glance, tested row by row (illegal moves included) and drawn for the README by
`mermaid()`; nothing else in graygate may change a phase except through `transition()`, so a move that is not
in the table is a bug that raises `IllegalTransition` instead of a release in a state nobody designed.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from graygate.api.status import Phase
from graygate.domain.errors import IllegalTransition

__all__ = ["ACTIVE", "TABLE", "TERMINAL", "Trigger", "allowed_triggers", "mermaid", "transition"]


class Trigger(StrEnum):
    """What can happen to a release."""

    START = "start"  # the canary may get traffic: the first step begins
    ADVANCE = "advance"  # the current step is done, the next begins
    PAUSE = "pause"  # an indefinite pause step, inconclusive analyses, or a manual pause
    RESUME = "resume"  # a human lets a paused release go on
    PROMOTE = "promote"  # a human skips the rest of the current step
    COMPLETE = "complete"  # the plan is done (or promote-full), or the primary runs the promoted revision
    PROMOTE_STABLE = "promote-stable"  # the plan is done with a followed workload: the primary takes its template
    ROLLBACK = "rollback"  # a check failed (a pre-check included): all traffic back to stable
    ABORT = "abort"  # a human stops the release: all traffic back to stable
    RETRY = "retry"  # a human starts a Failed or Aborted release again
    RESTART = "restart"  # the spec changed (or became valid again): start over
    INVALIDATE = "invalidate"  # the spec cannot be used: nothing touches traffic
    REVISION = "revision"  # the followed workload has a new revision: start over with it
    ADOPT = "adopt"  # the followed workload's revision is already the stable one: nothing to release


P, T = Phase, Trigger

TABLE: Mapping[tuple[Phase, Trigger], Phase] = MappingProxyType(
    {
        (P.PENDING, T.START): P.PROGRESSING,
        (P.PENDING, T.ROLLBACK): P.FAILED,
        (P.PENDING, T.ABORT): P.ABORTED,
        (P.PENDING, T.RESTART): P.PENDING,
        (P.PENDING, T.INVALIDATE): P.INVALID,
        (P.PENDING, T.REVISION): P.PENDING,
        (P.PENDING, T.ADOPT): P.SUCCEEDED,
        (P.PROGRESSING, T.ADVANCE): P.PROGRESSING,
        (P.PROGRESSING, T.PAUSE): P.PAUSED,
        (P.PROGRESSING, T.PROMOTE): P.PROGRESSING,
        (P.PROGRESSING, T.COMPLETE): P.SUCCEEDED,
        (P.PROGRESSING, T.ROLLBACK): P.FAILED,
        (P.PROGRESSING, T.ABORT): P.ABORTED,
        (P.PROGRESSING, T.RESTART): P.PENDING,
        (P.PROGRESSING, T.INVALIDATE): P.INVALID,
        (P.PROGRESSING, T.PROMOTE_STABLE): P.PROMOTING,
        (P.PROGRESSING, T.REVISION): P.PENDING,
        (P.PAUSED, T.RESUME): P.PROGRESSING,
        (P.PAUSED, T.PROMOTE): P.PROGRESSING,
        (P.PAUSED, T.COMPLETE): P.SUCCEEDED,
        (P.PAUSED, T.ROLLBACK): P.FAILED,
        (P.PAUSED, T.ABORT): P.ABORTED,
        (P.PAUSED, T.RESTART): P.PENDING,
        (P.PAUSED, T.INVALIDATE): P.INVALID,
        (P.PAUSED, T.PROMOTE_STABLE): P.PROMOTING,
        (P.PAUSED, T.REVISION): P.PENDING,
        (P.PROMOTING, T.COMPLETE): P.SUCCEEDED,
        (P.PROMOTING, T.REVISION): P.PENDING,
        (P.PROMOTING, T.RESTART): P.PENDING,
        (P.PROMOTING, T.INVALIDATE): P.INVALID,
        (P.SUCCEEDED, T.RESTART): P.PENDING,
        (P.SUCCEEDED, T.INVALIDATE): P.INVALID,
        (P.SUCCEEDED, T.REVISION): P.PENDING,
        (P.FAILED, T.RETRY): P.PENDING,
        (P.FAILED, T.RESTART): P.PENDING,
        (P.FAILED, T.INVALIDATE): P.INVALID,
        (P.FAILED, T.REVISION): P.PENDING,
        (P.ABORTED, T.RETRY): P.PENDING,
        (P.ABORTED, T.RESTART): P.PENDING,
        (P.ABORTED, T.INVALIDATE): P.INVALID,
        (P.ABORTED, T.REVISION): P.PENDING,
        (P.INVALID, T.RESTART): P.PENDING,
    }
)

TERMINAL = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED})
"""Phases a release stays in until a human (retry), a spec change or a new revision of its workload moves it."""

ACTIVE = frozenset({Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING})
"""Phases in which the release is still working toward an end."""


def transition(phase: Phase, trigger: Trigger) -> Phase:
    """The phase after `trigger`; raises `IllegalTransition` when the table has no such move."""
    try:
        return TABLE[(phase, trigger)]
    except KeyError:
        raise IllegalTransition(phase.value, trigger.value) from None


def allowed_triggers(phase: Phase) -> tuple[Trigger, ...]:
    """The triggers the table accepts in `phase`, in declaration order."""
    return tuple(trigger for trigger in Trigger if (phase, trigger) in TABLE)


def mermaid() -> str:
    """The table as a Mermaid `stateDiagram-v2`; edges between the same two phases share one arrow."""
    edges: dict[tuple[Phase, Phase], list[str]] = {}
    for (source, trigger), target in TABLE.items():
        edges.setdefault((source, target), []).append(trigger.value)
    lines = ["stateDiagram-v2", f"    [*] --> {Phase.PENDING.value}"]
    lines += [f"    {source.value} --> {target.value}: {', '.join(names)}" for (source, target), names in edges.items()]
    return "\n".join(lines) + "\n"
