"""Pure helpers for Kubernetes conditions: set one, find one, keep `lastTransitionTime` honest.

Why: `lastTransitionTime` must move only when a condition's status flips, not on every tick, or `kubectl wait`
users and dashboards see noise. Getting that right once, here, keeps it out of the decision code.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from graygate.api.status import Condition, ConditionStatus

__all__ = [
    "FROZEN",
    "GATES_PASSING",
    "READY",
    "RECONCILING",
    "STALLED",
    "TRAFFIC_IN_SYNC",
    "find_condition",
    "set_condition",
]

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
GATES_PASSING = "GatesPassing"
TRAFFIC_IN_SYNC = "TrafficInSync"
FROZEN = "Frozen"


def find_condition(conditions: Iterable[Condition], type_: str) -> Condition | None:
    """The condition of this type, if any."""
    return next((condition for condition in conditions if condition.type == type_), None)


def set_condition(
    conditions: tuple[Condition, ...],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> tuple[Condition, ...]:
    """Return `conditions` with `type_` set; the transition time moves only when the status changes."""
    previous = find_condition(conditions, type_)
    since = previous.last_transition_time if previous is not None and previous.status == status else now
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    if previous is None:
        return (*conditions, updated)
    return tuple(updated if condition.type == type_ else condition for condition in conditions)
