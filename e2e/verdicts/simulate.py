"""A release's traffic with a known truth, as Istio's sidecars would count it and Prometheus would scrape it.

Why simulated: a judge is only measured against the truth, and real traffic has none. Here each version's error
probability and latency distribution are set, so "the canary is 10 % worse" is a fact, and the only noise is the
one real releases have: Poisson arrivals, Bernoulli errors, random latencies, the scrape's phase against the
checks. Everything comes from one seeded RNG, so a release is reproducible from (scenario, seed).

What is counted, per scrape interval (1 s): requests arrive as a Poisson process at `rps` total, split by the
step's canary weight (10 %, 25 %, 50 % by default); each fails with a 503 with its version's probability at that
time (constant, or rising linearly) and takes a latency drawn from its version's distribution. They land in the
counters Istio reports, cumulative, per (reporter, workload, response_code):

    istio_requests_total{reporter="destination"}   the workload's own sidecar: requests it served
    istio_requests_total{reporter="source"}        the caller's sidecar: what users saw
    istio_request_duration_milliseconds_bucket     destination side, Istio's default buckets (only when asked)

A counter series exists from its first request on, as Istio creates them (so a canary's first 503 creates its
`response_code="503"` series mid-window); the stable's counters carry hours of history, and two minutes of them
are scraped before the release begins. Two plumbing faults:
`canary_unmeasured` (the canary's share is answered by the proxy with 503: the caller side counts them, the
canary's own sidecar counts nothing) and `outage` (seconds during which every query answers an error; traffic goes
on, only the answers are missing).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

from e2e.verdicts.prometheus_answers import Series

__all__ = [
    "ISTIO_BUCKETS_MS",
    "Latency",
    "Scenario",
    "Scraped",
    "Traffic",
    "Version",
    "simulate",
]

ISTIO_BUCKETS_MS: tuple[float, ...] = (
    0.5,
    1,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    300000,
    600000,
    1800000,
    3600000,
    math.inf,
)
"""Istio's default `istio_request_duration_milliseconds` buckets (`le`), +Inf last."""

REQUESTS = "istio_requests_total"
BUCKETS = "istio_request_duration_milliseconds_bucket"
CANARY = "checkout-canary"
STABLE = "checkout-stable"
STABLE_HISTORY = 2_000_000
"""Requests the stable served before the release began: its counters are old and large, as in production."""
WARMUP_S = 120
"""Seconds of stable-only traffic scraped before the release begins, so the stable's series have samples before
the first step starts (a step's counts subtract the value at its start)."""


@dataclass(frozen=True, slots=True)
class Latency:
    """Log-normal around `median_ms`, plus a slow tail: `slow_fraction` of requests take `slow_ms` more."""

    median_ms: float = 50.0
    sigma: float = 0.25
    slow_fraction: float = 0.0
    slow_ms: float = 0.0

    def draw(self, rng: random.Random) -> float:
        value = rng.lognormvariate(math.log(self.median_ms), self.sigma)
        if self.slow_fraction and rng.random() < self.slow_fraction:
            value += self.slow_ms
        return value

    def true_quantile(self, q: float, scale: float = 1.0) -> float:
        """The distribution's own quantile, by bisection on its CDF: the truth a p99 estimate is measured against."""
        normal = math.log(self.median_ms)

        def cdf(x: float) -> float:
            def below(v: float) -> float:
                return 0.0 if v <= 0 else 0.5 * math.erfc(-(math.log(v) - normal) / (self.sigma * math.sqrt(2)))

            return (1 - self.slow_fraction) * below(x / scale) + self.slow_fraction * below(x / scale - self.slow_ms)

        low, high = 0.0, 1e7
        for _ in range(100):
            mid = (low + high) / 2
            low, high = (mid, high) if cdf(mid) < q else (low, mid)
        return high


@dataclass(frozen=True, slots=True)
class Version:
    """One version's behaviour: its 503 probability `error_rate + error_slope * seconds since the release began`
    (capped at 1) and its latency."""

    error_rate: float = 0.005
    error_slope: float = 0.0
    latency: Latency = Latency()
    latency_scale: float = 1.0
    """Every latency multiplied by this (1.2: 20 % slower throughout)."""

    def error_at(self, seconds: float) -> float:
        return min(1.0, self.error_rate + self.error_slope * seconds)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A release with a known truth."""

    name: str
    canary: Version
    stable: Version = Version()
    rps: float = 25.0
    weights: tuple[int, ...] = (10, 25, 50)
    step_s: int = 600
    histograms: bool = False
    canary_unmeasured: bool = False
    outage: tuple[int, int] | None = None
    """[from, to) seconds since the release began during which every query answers an error."""
    should_fail: bool = False
    """The truth: a judge should roll this canary back."""

    @property
    def duration_s(self) -> int:
        return self.step_s * len(self.weights)

    def weight_at(self, seconds: float) -> int:
        return self.weights[min(len(self.weights) - 1, int(seconds // self.step_s))]

    def step_start_s(self, seconds: float) -> int:
        return self.step_s * min(len(self.weights) - 1, int(seconds // self.step_s))


Key = tuple[str, str, str]
"""(metric, reporter, workload): the label sets the queries select; the series under it are keyed by
`response_code` (requests) or `le` (buckets)."""


@dataclass(slots=True)
class Scraped:
    """What Prometheus stored: every series by its key and its varying label's value."""

    series: dict[Key, dict[str, Series]] = field(default_factory=dict)

    def group(self, metric: str, reporter: str, workload: str) -> dict[str, Series]:
        return self.series.get((metric, reporter, workload), {})


@dataclass(slots=True)
class Traffic:
    """One simulated release: what Prometheus scraped, and the truth per second."""

    scenario: Scenario
    scraped: Scraped
    scrape_phase_ms: int
    canary_requests: list[int]
    """Canary requests in second k (from k to k+1 s after the release began)."""
    canary_failures: list[int]
    """Of those, how many users saw fail."""

    def queries_fail(self, at_ms: int) -> bool:
        outage = self.scenario.outage
        return outage is not None and outage[0] * 1000 <= at_ms < outage[1] * 1000


class _Counters:
    """One workload's live counters, as its sidecar would export them."""

    def __init__(self, history: float, history_errors: float) -> None:
        self.codes: dict[str, float] = {}
        if history:
            self.codes["200"] = history - history_errors
        if history_errors:
            self.codes["503"] = history_errors
        self.buckets: list[float] = [0.0] * len(ISTIO_BUCKETS_MS)
        self.observed = False

    def count(self, code: str, requests: int) -> None:
        if requests:
            self.codes[code] = self.codes.get(code, 0.0) + requests

    def observe(self, latency_ms: float) -> None:
        self.buckets[bisect.bisect_left(ISTIO_BUCKETS_MS, latency_ms)] += 1
        self.observed = True


def simulate(scenario: Scenario, seed: int) -> Traffic:
    """Run one release of `scenario` from its first second to its last, seeded."""
    rng = random.Random(f"{scenario.name}/{seed}")
    phase = rng.randrange(1000)
    stable_history_errors = round(STABLE_HISTORY * scenario.stable.error_rate)
    counters = {
        ("destination", STABLE): _Counters(STABLE_HISTORY, stable_history_errors),
        ("source", STABLE): _Counters(STABLE_HISTORY, stable_history_errors),
        ("destination", CANARY): _Counters(0, 0),
        ("source", CANARY): _Counters(0, 0),
    }
    scraped = Scraped()
    canary_requests: list[int] = []
    canary_failures: list[int] = []
    for second in range(-WARMUP_S, scenario.duration_s + 1):
        weight = scenario.weight_at(second) if second >= 0 else 0
        for workload, version, share in ((CANARY, scenario.canary, weight), (STABLE, scenario.stable, 100 - weight)):
            requests = _poisson(rng, scenario.rps * share / 100)
            unmeasured = workload == CANARY and scenario.canary_unmeasured
            errors = requests if unmeasured else _binomial(rng, requests, version.error_at(second))
            counters["source", workload].count("200", requests - errors)
            counters["source", workload].count("503", errors)
            if not unmeasured:
                served = counters["destination", workload]
                served.count("200", requests - errors)
                served.count("503", errors)
                if scenario.histograms:
                    for _ in range(requests):
                        served.observe(version.latency.draw(rng) * version.latency_scale)
            if workload == CANARY and second >= 0:
                canary_requests.append(requests)
                canary_failures.append(errors)
        _scrape(scraped, counters, second * 1000 + phase, scenario.histograms)
    return Traffic(scenario, scraped, phase, canary_requests, canary_failures)


def _scrape(scraped: Scraped, counters: dict[tuple[str, str], _Counters], at_ms: int, histograms: bool) -> None:
    for (reporter, workload), live in counters.items():
        codes = scraped.series.setdefault((REQUESTS, reporter, workload), {})
        for code, value in live.codes.items():
            codes.setdefault(code, Series()).append(at_ms, value)
        if histograms and reporter == "destination" and live.observed:
            buckets = scraped.series.setdefault((BUCKETS, reporter, workload), {})
            cumulative = 0.0
            for bound, count in zip(ISTIO_BUCKETS_MS, live.buckets, strict=True):
                cumulative += count
                buckets.setdefault(_le(bound), Series()).append(at_ms, cumulative)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else f"{bound:g}"


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the few dozen requests a second of one version brings."""
    if mean <= 0:
        return 0
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def _binomial(rng: random.Random, trials: int, p: float) -> int:
    if p <= 0:
        return 0
    if p >= 1:
        return trials
    return sum(rng.random() < p for _ in range(trials))
