"""The verdict lab's gated replay: the weight moves when, and only when, the judge passes the step; a Fail rolls
back; a step with no Pass is held; the traffic follows the weights, paired so judges share their luck."""

from __future__ import annotations

import pytest

from e2e.verdicts.gated import Gated, crossed_at, gated_replay
from e2e.verdicts.gated_figures import GatedRecord
from e2e.verdicts.judges import EPOCH, Judged, Metric, NewJudge, Tuning
from e2e.verdicts.scenarios import CATALOGUE
from e2e.verdicts.simulate import Release, Scenario, Traffic, Version
from graygate.api.gates.prometheus import Prometheus
from graygate.api.status import Outcome
from graygate.domain.analysis.verdicts import Verdict

SCENARIO = Scenario("gated", canary=Version(), weights=(10, 25, 50))
CHECK = NewJudge(Tuning()).check("errors", 0.95)


class Stub:
    """A judge that answers by the clock: Pass once the step is `pass_after_s` old, Fail at `fail_at_s` since
    the release began, Waiting otherwise; it records what it was asked and the weight the traffic carried."""

    name = "stub"

    def __init__(self, *, pass_after_s: int | None = None, fail_at_s: int | None = None) -> None:
        self.pass_after_s = pass_after_s
        self.fail_at_s = fail_at_s
        self.asked: list[tuple[int, int, int]] = []
        """(second, second the step began, the weight of the traffic the judge sees)."""

    def check(self, metric: Metric, confidence: float) -> Prometheus:
        return CHECK

    def measured(self, traffic: Traffic, metric: Metric, at_ms: int, step_start_ms: int) -> Judged:
        second, began = at_ms // 1000, step_start_ms // 1000
        self.asked.append((second, began, traffic.weight_at(second)))
        outcome = Outcome.WAITING
        if self.fail_at_s is not None and second >= self.fail_at_s:
            outcome = Outcome.FAIL
        elif self.pass_after_s is not None and second - began >= self.pass_after_s:
            outcome = Outcome.PASS
        verdict = Verdict(gate="stub", kind="stub", outcome=outcome, reason="by the clock", at=EPOCH)
        return lambda check: verdict


def test_a_pass_moves_the_weight_at_that_second_and_the_last_one_promotes() -> None:
    stub = Stub(pass_after_s=40)
    gated = gated_replay(stub, SCENARIO, seed=1, metric="errors", check=CHECK)
    assert gated == Gated("promoted", 120, ((0, 10), (40, 25), (80, 50)), gated.failed_users)
    # Each step is first judged one interval after it began, on traffic at its own weight.
    assert [asked for asked in stub.asked if asked[0] - asked[1] == 1] == [(1, 0, 10), (41, 40, 25), (81, 80, 50)]
    # Asked at second k, the judge sees the traffic through second k - 1: the weight of its own step.
    assert all(weight == gated.weight_at(second - 1) for second, _, weight in stub.asked)
    assert (gated.weight_at(39), gated.weight_at(40), gated.weight_at(120), gated.weight_at(121)) == (10, 25, 50, None)


def test_a_fail_rolls_back_at_the_weight_it_was_judged_at() -> None:
    gated = gated_replay(Stub(pass_after_s=30, fail_at_s=45), SCENARIO, seed=1, metric="errors", check=CHECK)
    assert (gated.ending, gated.end_s, gated.weight, gated.steps) == ("rolled back", 45, 25, ((0, 10), (30, 25)))


@pytest.mark.parametrize("pass_after_s", [None, 31])
def test_no_pass_within_the_bound_holds_the_step(pass_after_s: int | None) -> None:
    gated = gated_replay(Stub(pass_after_s=pass_after_s), SCENARIO, seed=1, metric="errors", check=CHECK, hold_s=30)
    assert (gated.ending, gated.end_s, gated.weight, gated.steps) == ("held", 30, 10, ((0, 10),))


def test_paired_traffic_gives_a_larger_weight_the_same_requests_and_more() -> None:
    """A request sent to the canary at 10 % goes there at 25 % too, with the same luck."""
    low, high = Release(SCENARIO, 3, paired=True), Release(SCENARIO, 3, paired=True)
    for _ in range(300):
        low.advance(10)
        high.advance(25)
    pairs = list(zip(low.traffic.canary_requests, high.traffic.canary_requests, strict=True))
    assert all(a <= b for a, b in pairs)
    assert sum(a for a, _ in pairs) < sum(b for _, b in pairs)
    failures = zip(low.traffic.canary_failures, high.traffic.canary_failures, strict=True)
    assert all(a <= b for a, b in failures)
    again = Release(SCENARIO, 3, paired=True)
    for _ in range(300):
        again.advance(10)
    assert again.traffic.canary_requests == low.traffic.canary_requests
    assert again.traffic.scraped == low.traffic.scraped


def test_the_rising_canary_crosses_the_allowance_just_after_five_minutes_and_the_boundary_one_never() -> None:
    by_name = {planned.scenario.name: planned.scenario for planned in CATALOGUE}
    assert crossed_at(by_name["rising"], 1.0, 3600) == 301
    assert crossed_at(by_name["boundary"], 1.0, 3600) is None
    assert crossed_at(by_name["large"], 1.0, 3600) == 0


def test_the_new_judge_gated_rolls_a_ten_percent_canary_back_at_the_first_weight() -> None:
    scenario = Scenario("large", canary=Version(error_rate=0.10))
    judge = NewJudge(Tuning())
    gated = gated_replay(judge, scenario, seed=1, metric="errors", check=judge.check("errors", 0.95))
    assert (gated.ending, gated.weight) == ("rolled back", 10)
    assert gated.end_s < 120


@pytest.mark.parametrize(
    ("ending", "weight", "crossed_weight", "stopped"),
    [
        ("rolled back", 10, 10, True),
        ("held", 25, 25, True),
        ("rolled back", 50, 25, False),  # it went past the weight where it crossed
        ("promoted", 50, 50, False),
        ("rolled back", 10, None, False),  # over before it crossed: not counted among those that crossed
    ],
)
def test_stopped_where_it_crossed(ending: str, weight: int, crossed_weight: int | None, stopped: bool) -> None:
    record = GatedRecord(
        scenario="rising",
        judge="new",
        seed=0,
        ending=ending,  # type: ignore[arg-type]
        end_s=600,
        weight=weight,
        steps=((0, 10),),
        crossed_s=None if crossed_weight is None else 301,
        crossed_weight=crossed_weight,
        failed_users=0,
    )
    assert record.stopped_where_it_crossed is stopped
