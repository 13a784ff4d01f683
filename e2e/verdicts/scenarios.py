"""The releases the verdict lab replays, each with its truth, and how many seeded copies of each.

Why these: each asks one question a judge can get wrong in production.

    identical     both versions fail 0.5 % of requests: every rollback is a false one (long releases, checked
                  every second: the multiple-looks problem of a sliding window)
    boundary      the canary fails 1.5 %: exactly stable + the allowance, the hardest case the check must pass
                  (its rollbacks are false by the check's own definition; the one alpha is promised for)
    small         the canary fails 2.5 %: 2 points worse, against an allowance of 1 point
    large         the canary fails 10 %: how many seconds and requests until it is rolled back
    rising        the canary starts as good as stable and gets 1 point worse every 5 minutes (one step): the
                  weight it reaches before it is rolled back
    p99           3 % of the canary's requests take 400 ms longer: p99 moves, p50 does not
    latency-identical  both versions equally fast: every latency rollback is a false one
    coarse        the canary is 20 % slower throughout, around 50 ms where Istio's buckets are 25/50/100/250 ms
    unmeasured    the canary's share is answered with 503 by the proxy; its own sidecar reports nothing
    outage        identical versions, Prometheus answers errors for two minutes mid-step
"""

from __future__ import annotations

from dataclasses import dataclass

from e2e.verdicts.judges import Metric
from e2e.verdicts.simulate import Latency, Scenario, Version

__all__ = ["CATALOGUE", "Planned"]

STEP_S = 300
BASE = Version(error_rate=0.005)


@dataclass(frozen=True, slots=True)
class Planned:
    """A scenario, the metric its gate checks, and how many seeded releases of it to replay."""

    scenario: Scenario
    metric: Metric
    releases: int
    grid: bool = True
    """Judge at every confidence of the calibration grid (else only at the calibrated or nominal one)."""


CATALOGUE: tuple[Planned, ...] = (
    Planned(Scenario("identical", canary=BASE, step_s=STEP_S), "errors", 260),
    Planned(Scenario("boundary", canary=Version(error_rate=0.015), step_s=STEP_S), "errors", 100),
    Planned(Scenario("small", canary=Version(error_rate=0.025), step_s=STEP_S, should_fail=True), "errors", 100),
    Planned(Scenario("large", canary=Version(error_rate=0.10), step_s=STEP_S, should_fail=True), "errors", 1000),
    Planned(
        Scenario("rising", canary=Version(error_rate=0.005, error_slope=1 / 30_000), step_s=STEP_S, should_fail=True),
        "errors",
        100,
    ),
    Planned(
        Scenario(
            "p99",
            canary=Version(latency=Latency(slow_fraction=0.03, slow_ms=400)),
            step_s=STEP_S,
            histograms=True,
            should_fail=True,
        ),
        "latency",
        40,
        grid=False,
    ),
    Planned(Scenario("latency-identical", canary=BASE, step_s=STEP_S, histograms=True), "latency", 30, grid=False),
    Planned(
        Scenario("coarse", canary=Version(latency_scale=1.2), step_s=STEP_S, histograms=True, should_fail=True),
        "latency",
        40,
        grid=False,
    ),
    Planned(
        Scenario("unmeasured", canary=BASE, step_s=STEP_S, weights=(10,), canary_unmeasured=True, should_fail=True),
        "errors",
        30,
        grid=False,
    ),
    Planned(Scenario("outage", canary=BASE, step_s=STEP_S, weights=(10,), outage=(120, 240)), "errors", 30, grid=False),
)
