"""The verdict lab's replay: judging a grid of confidences in one pass gives what one pass per confidence gives,
and the plumbing faults reach the judges as the verdicts graygate would give them."""

from __future__ import annotations

import pytest

from e2e.verdicts.judges import Judge, NewJudge, TodayJudge, Tuning
from e2e.verdicts.runs import replay
from e2e.verdicts.simulate import Scenario, Version, simulate

CONFIDENCES = (0.5, 0.8, 0.95, 0.999)


@pytest.mark.parametrize("judge", [TodayJudge(Tuning()), NewJudge(Tuning())], ids=lambda j: j.name)
@pytest.mark.parametrize("seed", [1, 2])
def test_one_pass_over_a_grid_equals_one_pass_per_confidence(judge: Judge, seed: int) -> None:
    scenario = Scenario("regression", canary=Version(error_rate=0.05), step_s=90, weights=(10, 25))
    traffic = simulate(scenario, seed)
    checks = [judge.check("errors", confidence) for confidence in CONFIDENCES]
    together = replay(judge, traffic, "errors", checks).fail_at
    apart = [replay(judge, traffic, "errors", [check]).fail_at[0] for check in checks]
    assert together == apart
    assert together[0] is not None


def test_an_outage_is_an_error_for_both_judges_never_a_failure() -> None:
    traffic = simulate(Scenario("outage", canary=Version(), step_s=60, weights=(10,), outage=(10, 20)), seed=1)
    for judge in (TodayJudge(Tuning()), NewJudge(Tuning())):
        verdict = judge.measured(traffic, "errors", 15_000, 0)(judge.check("errors", 0.95))
        assert verdict.outcome == "Error", judge.name


def test_an_unreachable_canary_is_no_data_for_the_window_judge_and_a_failure_for_the_new_one() -> None:
    scenario = Scenario("unmeasured", canary=Version(), step_s=60, weights=(25,), canary_unmeasured=True)
    traffic = simulate(scenario, seed=1)
    today, new = TodayJudge(Tuning()), NewJudge(Tuning())
    assert today.measured(traffic, "errors", 30_000, 0)(today.check("errors", 0.95)).outcome == "Inconclusive"
    assert new.measured(traffic, "errors", 30_000, 0)(new.check("errors", 0.95)).outcome == "Fail"
