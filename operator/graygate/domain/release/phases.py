"""The phase machine of a release, as a table of data: (phase, event) -> next phase.

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

__all__ = ["ACTIVE", "TABLE", "TERMINAL", "Event", "allowed_events", "mermaid", "transition"]


class Event(StrEnum):
    """What can happen to a release."""

    START = "start"  # the canary may get traffic: the first step begins
    ADVANCE = "advance"  # the current step is done, the next begins
    PAUSE = "pause"  # an indefinite pause step, inconclusive analyses, or a manual pause
    RESUME = "resume"  # a human lets a paused release go on
    PROMOTE = "promote"  # a human skips the rest of the current step
    COMPLETE = "complete"  # the plan is done (or promote-full): the canary carries 100 %
    ROLLBACK = "rollback"  # a check failed (a pre-check included): all traffic back to stable
    ABORT = "abort"  # a human stops the release: all traffic back to stable
    RETRY = "retry"  # a human starts a Failed or Aborted release again
    RESTART = "restart"  # the spec changed (or became valid again): start over
    INVALIDATE = "invalidate"  # the spec cannot be used: nothing touches traffic


P, E = Phase, Event

TABLE: Mapping[tuple[Phase, Event], Phase] = MappingProxyType(
    {
        (P.PENDING, E.START): P.PROGRESSING,
        (P.PENDING, E.ROLLBACK): P.FAILED,
        (P.PENDING, E.ABORT): P.ABORTED,
        (P.PENDING, E.RESTART): P.PENDING,
        (P.PENDING, E.INVALIDATE): P.INVALID,
        (P.PROGRESSING, E.ADVANCE): P.PROGRESSING,
        (P.PROGRESSING, E.PAUSE): P.PAUSED,
        (P.PROGRESSING, E.PROMOTE): P.PROGRESSING,
        (P.PROGRESSING, E.COMPLETE): P.SUCCEEDED,
        (P.PROGRESSING, E.ROLLBACK): P.FAILED,
        (P.PROGRESSING, E.ABORT): P.ABORTED,
        (P.PROGRESSING, E.RESTART): P.PENDING,
        (P.PROGRESSING, E.INVALIDATE): P.INVALID,
        (P.PAUSED, E.RESUME): P.PROGRESSING,
        (P.PAUSED, E.PROMOTE): P.PROGRESSING,
        (P.PAUSED, E.COMPLETE): P.SUCCEEDED,
        (P.PAUSED, E.ROLLBACK): P.FAILED,
        (P.PAUSED, E.ABORT): P.ABORTED,
        (P.PAUSED, E.RESTART): P.PENDING,
        (P.PAUSED, E.INVALIDATE): P.INVALID,
        (P.SUCCEEDED, E.RESTART): P.PENDING,
        (P.SUCCEEDED, E.INVALIDATE): P.INVALID,
        (P.FAILED, E.RETRY): P.PENDING,
        (P.FAILED, E.RESTART): P.PENDING,
        (P.FAILED, E.INVALIDATE): P.INVALID,
        (P.ABORTED, E.RETRY): P.PENDING,
        (P.ABORTED, E.RESTART): P.PENDING,
        (P.ABORTED, E.INVALIDATE): P.INVALID,
        (P.INVALID, E.RESTART): P.PENDING,
    }
)

TERMINAL = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED})
"""Phases a release stays in until a human (retry) or a spec change moves it."""

ACTIVE = frozenset({Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED})
"""Phases in which the release is still working toward an end."""


def transition(phase: Phase, event: Event) -> Phase:
    """The phase after `event`; raises `IllegalTransition` when the table has no such move."""
    try:
        return TABLE[(phase, event)]
    except KeyError:
        raise IllegalTransition(phase.value, event.value) from None


def allowed_events(phase: Phase) -> tuple[Event, ...]:
    """The events the table accepts in `phase`, in declaration order."""
    return tuple(event for event in Event if (phase, event) in TABLE)


def mermaid() -> str:
    """The table as a Mermaid `stateDiagram-v2`; edges between the same two phases share one arrow."""
    edges: dict[tuple[Phase, Phase], list[str]] = {}
    for (source, event), target in TABLE.items():
        edges.setdefault((source, target), []).append(event.value)
    lines = ["stateDiagram-v2", f"    [*] --> {Phase.PENDING.value}"]
    lines += [f"    {source.value} --> {target.value}: {', '.join(names)}" for (source, target), names in edges.items()]
    return "\n".join(lines) + "\n"
