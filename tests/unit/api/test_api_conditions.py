"""Conditions: `lastTransitionTime` moves only when the status flips."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graygate.api import READY, RECONCILING, Condition, ConditionStatus, find_condition, set_condition

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


def ready(status: ConditionStatus, reason: str = "Progressing") -> tuple[Condition, ...]:
    return set_condition((), READY, status, reason, "", generation=1, now=T0)


@pytest.mark.parametrize(
    ("before", "after", "since"),
    [
        (FALSE, FALSE, T0),
        (FALSE, TRUE, T1),
        (TRUE, FALSE, T1),
        (TRUE, TRUE, T0),
    ],
)
def test_transition_time_moves_only_on_a_flip(before: ConditionStatus, after: ConditionStatus, since: datetime) -> None:
    updated = set_condition(ready(before), READY, after, "Other", "new words", generation=2, now=T1)
    condition = find_condition(updated, READY)
    assert condition is not None
    assert condition.last_transition_time == since
    assert (condition.reason, condition.message, condition.observed_generation) == ("Other", "new words", 2)


def test_other_conditions_are_kept_in_order() -> None:
    both = set_condition(ready(FALSE), RECONCILING, TRUE, "Progressing", "", generation=1, now=T0)
    updated = set_condition(both, READY, TRUE, "Succeeded", "", generation=1, now=T1)
    assert [c.type for c in updated] == [READY, RECONCILING]
    assert find_condition(updated, "Missing") is None
