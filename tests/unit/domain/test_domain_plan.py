"""The plan: typed steps, the weight each step implies, and `n/m`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from release_builders import spec

from graygate.api import Phase
from graygate.domain.release.plan import FULL, PauseStep, Plan, WeightStep, plan_of, step_display

PLAN = Plan((PauseStep(None), WeightStep(10), PauseStep(timedelta(minutes=2)), WeightStep(50), PauseStep(None)))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, (WeightStep(10), PauseStep(timedelta(minutes=2)), WeightStep(50), PauseStep(None))),
        ({"steps": None, "stepWeights": [20, 60]}, (WeightStep(20), WeightStep(60))),
        (
            {"steps": None, "stepWeights": [20], "stepInterval": "1m"},
            (WeightStep(20), PauseStep(timedelta(minutes=1))),
        ),
    ],
    ids=["steps", "step-weights", "step-weights-with-interval"],
)
def test_plan_of(changes: dict[str, Any], expected: tuple[object, ...]) -> None:
    assert plan_of(spec(**changes)).steps == expected


@pytest.mark.parametrize(
    ("index", "weight"),
    [(0, 0), (1, 10), (2, 10), (3, 50), (4, 50), (5, FULL), (9, FULL)],
)
def test_weight_at(index: int, weight: int) -> None:
    assert PLAN.weight_at(index) == weight


def test_plan_shape() -> None:
    assert len(PLAN) == 5
    assert PLAN.is_last(4)
    assert not PLAN.is_last(3)
    assert PLAN.step(0) == PauseStep(None)
    assert PauseStep(None).indefinite
    assert not PauseStep(timedelta(seconds=1)).indefinite


@pytest.mark.parametrize(
    ("phase", "index", "shown"),
    [
        (Phase.PENDING, 0, "0/5"),
        (Phase.PROGRESSING, 0, "1/5"),
        (Phase.PAUSED, 3, "4/5"),
        (Phase.FAILED, 2, "3/5"),
        (Phase.ABORTED, 0, "1/5"),
        (Phase.SUCCEEDED, 4, "5/5"),
        (Phase.SUCCEEDED, 1, "5/5"),
        (Phase.PROGRESSING, 9, "5/5"),
        (Phase.INVALID, 0, "-"),
    ],
)
def test_step_display(phase: Phase, index: int, shown: str) -> None:
    assert step_display(phase, index, len(PLAN)) == shown
