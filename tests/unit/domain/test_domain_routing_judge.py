"""The routingCheck judge as a table: coloured requests must all reach the canary, the rest must follow the weight
within a binomial tolerance."""

from __future__ import annotations

import pytest
from release_builders import T0

from graygate.api.gates.routing_check import RoutingCheck
from graygate.api.status import Outcome
from graygate.domain.analysis.routing_check import RoutingCheckMeasurement, judge_routing_check, plausible_range

CHECK = RoutingCheck(url="http://app.lab/")
C, S = "canary", "stable"


def seen(colored: tuple[str | None, ...], uncolored: tuple[str | None, ...], **extra: str) -> RoutingCheckMeasurement:
    return RoutingCheckMeasurement(
        gate="routing", observed_at=T0, url=CHECK.url, colored=colored, uncolored=uncolored, **extra
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("requests", "weight", "low", "high"),
    [(20, 0, 0, 0), (20, 100, 20, 20), (20, 10, 0, 7), (100, 50, 34, 66), (1000, 5, 29, 71)],
)
def test_plausible_range(requests: int, weight: int, low: int, high: int) -> None:
    assert plausible_range(requests, weight, 3.0) == (low, high)


@pytest.mark.parametrize(
    ("measurement", "weight", "outcome", "words"),
    [
        (seen((C,) * 10, (S,) * 20), 0, Outcome.PASS, "10/10 coloured requests reached the canary; 0/20"),
        (seen((C,) * 10, (C,) + (S,) * 19), 0, Outcome.FAIL, "the weights are not in effect"),
        (seen((C,) * 9 + (S,), (S,) * 20), 0, Outcome.FAIL, "only 9 of 10 coloured requests reached the canary"),
        (seen((C,) * 10, (C,) * 3 + (S,) * 17), 10, Outcome.PASS, "3/20 uncoloured"),
        (seen((C,) * 10, (C,) * 12 + (S,) * 8), 10, Outcome.FAIL, "outside 0..7 at weight 10%"),
        (seen((C,) * 10, (C,) * 20), 100, Outcome.PASS, "20/20 uncoloured"),
        (seen((C,) * 10, ()), None, Outcome.PASS, "10/10 coloured"),
        (seen((C,) * 10, (S,) * 20), None, Outcome.INCONCLUSIVE, "weight is unknown"),
        (seen((C, None), (S,), failure="ClientConnectorError: refused"), 0, Outcome.FAIL, "1 of 3 requests"),
        (seen((C, ""), (S,)), 0, Outcome.FAIL, "no x-served-by header"),
        (seen((), (), error="no session"), 0, Outcome.ERROR, "could not run: no session"),
    ],
)
def test_judge(measurement: RoutingCheckMeasurement, weight: int | None, outcome: Outcome, words: str) -> None:
    verdict = judge_routing_check(CHECK, measurement, weight)
    assert verdict.outcome is outcome, verdict.reason
    assert words in verdict.reason
    assert verdict.gate == "routing"
    assert verdict.at == T0
