"""Metric analysis on a real Prometheus, proven with real traffic through a real Envoy.

Every test runs the real operator (`graygate run`) against the sandbox API server, a real Envoy that follows the
VirtualService the operator writes, stable and canary backends that count every answer in Istio's standard series,
and a Prometheus scraping them every second. The gates are the built-in `requestSuccessRate` and `requestDuration`
(canary against stable over the same window), so no PromQL is written here: the operator plans it. Each test is
judged on what the users (the load generator) saw, not only on weights and status.

The backends' faults are deterministic (an error rate of 0.1 fails exactly one request in ten), so the numbers
asserted below do not depend on luck; what a test cannot fix is the machine's timing, hence the generous bounds on
time and the asserts on shares over windows rather than exact instants.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from e2e.lab import TrafficLab
from e2e.lab.loadgen import LoadGenerator, LoadResult
from e2e.support import (
    BAD_AFTER_SECOND_STEP,
    BASELINE_LATENCY,
    TRIPLED_LATENCY,
    StatusRecorder,
    apply_release,
    at_step,
    cannot_measure,
    describe_results,
    errors_gate,
    in_phase,
    latency_gate,
    metric_release,
    prometheus_gate,
)
from tests.cluster_support import OperatorProcess, weights

RATE = 50
"""Requests per second through Envoy."""

ROLLBACK_SLO_S = 20.0
"""From the canary turning bad to the users seeing no canary any more. The errors gate fails a canary only once it
is surely worse than allowed, on the requests since the step began: at 50 % that takes about 290 canary requests
failing 10 % (12 s at 25 requests/s), plus a scrape and an analysis."""

MAX_FAILED_WHILE_BAD = 45
"""The users' failed requests from the canary turning bad to the rollback: a tenth of the 290-400 canary requests
the errors gate needs to be sure (the callers' counts trail the users by a scrape), plus the 2-3 s of analysis and
Envoy update after it."""

ENDED = ("Succeeded", "Failed", "Aborted", "Paused")


async def baseline(lab: TrafficLab) -> None:
    for version in ("stable", "canary"):
        await lab.set_knobs(version, **BASELINE_LATENCY)


def start_load(lab: TrafficLab, duration_s: float, headers: dict[str, str] | None = None) -> LoadGenerator:
    load = lab.load(rate_per_s=RATE, max_requests=int(RATE * duration_s), max_duration_s=duration_s, headers=headers)
    load.start()
    return load


def canary_shares(result: LoadResult) -> list[float]:
    """The canary's share in 1 s windows sliding by 0.25 s."""
    return [s for w in result.windows(width_s=1.0, step_s=0.25) if (s := w.share("canary")) is not None]


# --- 1. a healthy canary ----------------------------------------------------------------------------------------------


async def test_a_healthy_canary_is_promoted_through_every_step_on_prometheus_gates(
    api: client.ApiClient, namespace: str, canary_workload: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    await baseline(lab)
    load = start_load(lab, duration_s=60)
    steps: list[dict[str, Any]] = [{"setWeight": 25}, {"setWeight": 50}, {"setWeight": 75}]
    gates = [errors_gate(lab.prometheus_url), latency_gate(lab.prometheus_url)]
    # Each step is Waiting until its own ~160 clean canary requests clear it (13 s at 25 %); Waiting never pauses.
    await apply_release(api, namespace, metric_release("app", steps, gates, inconclusiveLimit=20))
    recorder = StatusRecorder(api, namespace, "app")
    recorder.start()
    try:
        done = await recorder.until(in_phase(*ENDED), 45, "the release to finish")
        await asyncio.sleep(1.5)
    finally:
        result = await load.stop()
        await recorder.stop()

    results = recorder.results()
    print(f"\ngate results:\n{describe_results(results)}\nusers: {result.counts()}")
    assert done.status["phase"] == "Succeeded", done.status.get("message")
    for weight in (25, 50, 75):
        passed = {r["gate"] for r in results if r["weight"] == weight and r["verdict"] == "Pass"}
        assert passed >= {"errors", "latency"}, f"no passing analysis of both gates at {weight}%"
    assert not [r for r in results if r["verdict"] in ("Fail", "Error")]
    assert not result.failures(), result.statuses()
    shares = canary_shares(result.between(end=done.at))
    for low, high in ((0.15, 0.35), (0.4, 0.6), (0.65, 0.85)):
        assert any(low <= s <= high for s in shares), f"users never saw {low:.0%}-{high:.0%} canary: {shares}"
    after = result.between(start=done.at + 0.5)
    assert after.counts(), "the load generator stopped sending before success"
    assert after.share("canary") == 1.0, after.counts()


# --- 2, 3. a canary that goes bad after the second step ---------------------------------------------------------------


@dataclass(frozen=True)
class BadCanary:
    """What happened after the canary turned bad, as the operator and the users saw it."""

    status: dict[str, Any]
    results: list[dict[str, Any]]
    load: LoadResult
    bad_at: float
    back_on_stable_at: float | None

    @property
    def during(self) -> LoadResult:
        """Requests sent between the canary turning bad and the users' last canary answer."""
        return self.load.between(self.bad_at, self.back_on_stable_at or float("inf"))

    def summary(self) -> str:
        seconds = "never" if self.back_on_stable_at is None else f"{self.back_on_stable_at - self.bad_at:.2f} s"
        return (
            f"\n{self.status.get('message')}\ngate results:\n{describe_results(self.results)}\n"
            f"users back on stable after {seconds}; while bad: {self.during.counts()}, "
            f"{len(self.during.failures())} failed requests"
        )


async def canary_goes_bad(
    api: client.ApiClient, namespace: str, lab: TrafficLab, bad: dict[str, float], gates: list[dict[str, Any]]
) -> BadCanary:
    """Promote to 25 %, then 50 %, then hold (a long observation pause, gates still running); once the second step
    is done, turn the canary bad and wait for the release to end."""
    await baseline(lab)
    load = start_load(lab, duration_s=60)
    await apply_release(api, namespace, metric_release("app", BAD_AFTER_SECOND_STEP, gates, inconclusiveLimit=20))
    recorder = StatusRecorder(api, namespace, "app")
    recorder.start()
    try:
        await recorder.until(at_step(2), 35, "the second step to be done")
        await lab.set_knobs("canary", **bad)
        bad_at = time.monotonic()
        done = await recorder.until(in_phase(*ENDED), 20, "the release to end after the canary went bad")
        await asyncio.sleep(2.0)
    finally:
        result = await load.stop()
        await recorder.stop()
    outcome = BadCanary(done.status, recorder.results(), result, bad_at, result.zero_share_since("canary", bad_at))
    print(outcome.summary())
    assert done.status["phase"] == "Failed", done.status.get("message")
    assert done.status["canaryWeight"] == 0
    assert outcome.back_on_stable_at is not None, "the users still reached the canary at the end"
    assert outcome.back_on_stable_at - bad_at <= ROLLBACK_SLO_S
    after = result.between(start=outcome.back_on_stable_at)
    assert set(after.counts()) == {"stable"}, after.counts()
    assert not after.failures()
    assert not result.between(end=bad_at).failures(), "users saw failures before the canary went bad"
    assert {s.version for s in outcome.during.failures()} <= {"canary"}, "stable was blamed for the canary"
    assert weights(api, namespace, "app") == (100, 0)
    return outcome


async def test_a_canary_failing_ten_percent_after_the_second_step_is_rolled_back(
    api: client.ApiClient, namespace: str, canary_workload: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    gates = [errors_gate(lab.prometheus_url), latency_gate(lab.prometheus_url)]
    outcome = await canary_goes_bad(api, namespace, lab, {"error_rate": 0.1}, gates)

    message = outcome.status["message"]
    assert "critical gate errors failed" in message, message
    assert "so worse than allowed" in message, message
    served = outcome.during.counts().get("canary", 0)
    failed = outcome.during.failures()
    assert served >= 10, f"the canary served only {served} requests while bad"
    assert abs(len(failed) - served / 10) <= 2, f"{len(failed)} failures of {served} canary answers, not 10 %"
    assert len(failed) <= MAX_FAILED_WHILE_BAD, f"users saw {len(failed)} failed requests before the rollback"
    failing = [r for r in outcome.results if r["gate"] == "errors" and r["verdict"] == "Fail"]
    assert failing, describe_results(outcome.results)
    assert failing[-1]["weight"] == 50, describe_results(outcome.results)


async def test_a_canary_whose_p99_latency_triples_is_rolled_back(
    api: client.ApiClient, namespace: str, canary_workload: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    gates = [errors_gate(lab.prometheus_url), latency_gate(lab.prometheus_url)]
    outcome = await canary_goes_bad(api, namespace, lab, TRIPLED_LATENCY, gates)

    message = outcome.status["message"]
    assert "critical gate latency failed" in message, message
    assert "x the stable's p99 bucket bound" in message, message
    assert not outcome.load.failures(), "a slow canary must not fail requests"
    # The users' medians, not their p99s: on a shared machine one stall in a hundred requests moves a p99 of the
    # few hundred requests here by tens of ms on either side, while the medians stay 3x apart.
    slow, normal = outcome.during.latency_quantile(0.5, "canary"), outcome.during.latency_quantile(0.5, "stable")
    assert slow is not None
    assert normal is not None
    print(f"users' median while bad: canary {slow * 1000:.0f} ms, stable {normal * 1000:.0f} ms")
    assert slow >= 2 * normal, "the users did not see a slower canary"
    failing = [r for r in outcome.results if r["gate"] == "latency" and r["verdict"] == "Fail"]
    assert failing, describe_results(outcome.results)
    assert failing[-1]["weight"] == 50, describe_results(outcome.results)


# --- 4. no traffic reaches the canary ---------------------------------------------------------------------------------


async def test_a_canary_that_receives_no_traffic_is_not_promoted_and_the_status_says_why(
    api: client.ApiClient, namespace: str, canary_workload: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    # Every client sends `x-pinned: stable`, and a header route ahead of the managed one catches them all: the
    # operator moves the weights of `primary`, but no request ever reaches that route.
    pinned = TrafficLab.weighted_virtualservice(
        {"stable": 100, "canary": 0}, header_routes={"stable": ("x-pinned", "stable")}
    )
    custom = client.CustomObjectsApi(api)
    await asyncio.to_thread(
        custom.patch_namespaced_custom_object,
        group="networking.istio.io",
        version="v1",
        namespace=namespace,
        plural="virtualservices",
        name="app",
        body={"spec": pinned["spec"]},
    )
    await asyncio.sleep(0.5)  # istiod pushes the new route to the lab's Envoy within some 0.2 s
    load = start_load(lab, duration_s=40, headers={"x-pinned": "stable"})
    steps = [{"setWeight": 20}, {"setWeight": 50}]
    gates = [errors_gate(lab.prometheus_url), latency_gate(lab.prometheus_url)]
    await apply_release(api, namespace, metric_release("app", steps, gates, inconclusiveLimit=3))
    recorder = StatusRecorder(api, namespace, "app")
    recorder.start()
    try:
        done = await recorder.until(in_phase(*ENDED), 25, "the release to stop")
        await asyncio.sleep(1.5)
        still = recorder.latest()
    finally:
        result = await load.stop()
        await recorder.stop()

    results = recorder.results()
    print(f"\n{done.status.get('message')}\ngate results:\n{describe_results(results)}\nusers: {result.counts()}")
    assert done.status["phase"] == "Paused", done.status.get("message")
    assert done.status.get("pauseReason") == "Inconclusive"
    message = done.status["message"]
    assert "could not decide" in message, message
    assert "no data: the canary query found no series" in message, message
    assert still["phase"] == "Paused", still
    assert still["canaryWeight"] == 20, still
    assert max(seen.status.get("canaryWeight", 0) for seen in recorder.seen) == 20, "promoted past the first step"
    assert weights(api, namespace, "app") == (80, 20)
    assert not [r for r in results if r["verdict"] in ("Pass", "Fail") and r["gate"] in ("errors", "latency")]
    assert set(result.counts()) == {"stable"}, result.counts()
    assert not result.failures()


# --- 5. Prometheus goes away ------------------------------------------------------------------------------------------

LIMIT = 4
"""consecutiveErrorLimit: analyses in a row that could not measure (here: could not reach Prometheus) before the
release says it is Stalled; it keeps holding the weight (errorPolicy hold) rather than pausing or rolling back."""


async def test_prometheus_going_away_mid_release_holds_it_and_says_itcannot_measure(
    api: client.ApiClient, namespace: str, canary_workload: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    await baseline(lab)
    load = start_load(lab, duration_s=50)
    steps: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {"duration": "60s"}}, {"setWeight": 75}]
    # Small samples suffice here (this test is about the plumbing), so the first step passes within the limit.
    gates = [errors_gate(lab.prometheus_url), latency_gate(lab.prometheus_url, min_requests=20, window="5s")]
    release = metric_release("app", steps, gates, inconclusiveLimit=2, consecutiveErrorLimit=LIMIT)
    await apply_release(api, namespace, release)
    recorder = StatusRecorder(api, namespace, "app")
    recorder.start()
    prometheus = lab.prometheus.process
    assert prometheus is not None
    try:
        await recorder.until(at_step(1), 35, "the first step to pass its analysis")
        await asyncio.to_thread(prometheus.stop)
        gone_at = time.monotonic()
        done = await recorder.until(cannot_measure, 20, "the release to say it cannot measure")
        await asyncio.sleep(2.0)
        still = recorder.latest()
    finally:
        result = await load.stop()
        await recorder.stop()

    results = recorder.results()
    print(f"\n{done.status.get('message')}\ngate results:\n{describe_results(results)}")
    # errors are not inconclusive: inconclusiveLimit 2 never paused it, and nothing rolled it back
    assert done.status["phase"] == "Progressing", done.status.get("message")
    assert done.status.get("consecutiveErrors", 0) >= LIMIT
    assert done.status.get("inconclusiveCount", 0) < 2
    message = done.status["message"]
    assert f"cannot connect to {lab.prometheus_url}" in message, message
    assert still["phase"] == "Progressing", still
    assert still["canaryWeight"] == 50, still
    held = [seen.status for seen in recorder.seen if seen.at >= gone_at]
    assert {s.get("canaryWeight") for s in held} == {50}, "the weight moved while Prometheus was away"
    assert {s.get("phase") for s in held} == {"Progressing"}
    errors = [r for r in results if r["verdict"] == "Error"]
    assert {r["gate"] for r in errors} == {"errors", "latency"}, describe_results(results)
    assert weights(api, namespace, "app") == (50, 50)
    share = result.between(start=gone_at).share("canary")
    assert share is not None, "no requests after Prometheus went away"
    assert 0.35 <= share <= 0.65, f"users did not stay at ~50 % canary: {share:.1%}"
    assert not result.failures()


# --- 6. slightly worse, but not significantly -------------------------------------------------------------------------

_COMPARISON = re.compile(
    r"errors since the step began: canary (?P<c_errors>[\d.]+) of (?P<c_requests>[\d.]+) \((?P<c_rate>[\d.]+)%\), "
    r"stable (?P<s_errors>[\d.]+) of (?P<s_requests>[\d.]+) \((?P<s_rate>[\d.]+)%\): "
    r"(?P<difference>[+-]\d+\.\d+) pts, allowed \+(?P<allowance>\d+\.\d+); "
    r"anytime-valid bounds at alpha (?P<alpha>[\d.]+): (?P<lower>[+-]\d+\.\d+) to (?P<upper>[+-]\d+\.\d+) pts"
)
SMALL_SAMPLE_LIMIT = 3
"""inconclusiveLimit: low, because an undecided comparison (Waiting) must not count toward it."""

UNSURE_ANALYSES = 10
"""Analyses in a row that saw the canary worse than allowed on 300+ canary requests and could not tell."""


def _worse_but_unsure(results: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The errors results whose counts put the canary worse than stable by more than the allowance."""
    found = []
    for r in results:
        match = _COMPARISON.search(r["reason"])
        if match is not None and float(match["difference"]) > float(match["allowance"]):
            found.append((r, match.groupdict()))
    return found


async def test_a_slightly_worse_canary_on_a_small_sample_is_not_failed_by_the_relative_gate(
    api: client.ApiClient, namespace: str, canary_workload: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    # Canary 2 % errors against stable's 1 %, 0.5 points allowed, on the requests since the step began: after 15 s,
    # some 375 requests a side and 8 canary errors against 4. The canary looks 1 point worse, but the anytime-valid
    # bounds for the difference run from about -2 to +4 points: the allowance is inside, so the gate can neither
    # fail the canary (that needs the lower bound above +0.5) nor clear it (the upper bound at or below +0.5). It
    # says so, Waiting, and the release holds at 50 % (more requests will tell) instead of rolling back on noise;
    # a Waiting analysis is not an inconclusive one, so a low inconclusiveLimit does not pause it either.
    await lab.set_knobs("stable", error_rate=0.01)
    await lab.set_knobs("canary", error_rate=0.02)
    load = start_load(lab, duration_s=50)
    rule = {"maxIncreasePoints": 0.5, "confidence": 0.95, "minRequests": 100}
    gates = [prometheus_gate("errors", lab.prometheus_url, {"requestSuccessRate": rule}, window="15s")]
    steps: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {"duration": "12s"}}]
    await apply_release(api, namespace, metric_release("app", steps, gates, inconclusiveLimit=SMALL_SAMPLE_LIMIT))
    recorder = StatusRecorder(api, namespace, "app")
    recorder.start()

    def enough_unsure(status: dict[str, Any]) -> bool:
        full = [n for _, n in _worse_but_unsure(recorder.results("errors")) if float(n["c_requests"]) >= 300]
        return len(full) >= UNSURE_ANALYSES or status.get("phase") in ENDED

    try:
        started = await recorder.until(at_step(0), 20, "the release to start")
        done = await recorder.until(enough_unsure, 45, f"{UNSURE_ANALYSES} analyses that could not tell")
    finally:
        result = await load.stop()
        await recorder.stop()

    results = recorder.results("errors")
    during = result.between(started.at, done.at)
    seen = {
        v: (sum(1 for s in during.samples if s.version == v and s.failed), during.counts().get(v, 0))
        for v in ("canary", "stable")
    }
    print(f"\ngate results:\n{describe_results(results)}")
    print("users: " + ", ".join(f"{v} {f} of {n} failed ({f / max(n, 1):.1%})" for v, (f, n) in seen.items()))
    (c_failed, c_served), (s_failed, s_served) = seen["canary"], seen["stable"]
    assert c_failed / c_served > s_failed / s_served, "the canary was not worse, as users saw it"
    assert not [r for r in results if r["verdict"] in ("Fail", "Pass")], describe_results(results)
    assert done.status["phase"] == "Progressing", done.status.get("message")
    assert done.status["canaryWeight"] == 50, done.status
    assert done.status.get("currentStepIndex") == 0, done.status
    assert done.status.get("inconclusiveCount", 0) == 0, done.status
    assert "not enough requests to tell" in done.status["message"], done.status["message"]
    assert {s.status.get("canaryWeight") for s in recorder.seen if s.at >= started.at} == {50}

    # The point: analyses that saw the canary worse than stable by more than the allowance, on full samples, and
    # neither failed it (the lower bound is within the allowance) nor cleared it (the upper bound is above).
    worse_but_unsure = _worse_but_unsure(results)
    assert len(worse_but_unsure) >= UNSURE_ANALYSES, "too few analyses saw the canary worse than allowed"
    for r, numbers in worse_but_unsure:
        assert r["verdict"] == "Waiting", f"{numbers}: {r}"
        assert float(numbers["lower"]) <= float(numbers["allowance"]) < float(numbers["upper"]), numbers
        print(
            "WAITING  canary {c_errors}/{c_requests} ({c_rate}%), stable {s_errors}/{s_requests} ({s_rate}%): "
            "{difference} pts, allowed +{allowance}, alpha {alpha} bounds {lower} to {upper}".format(**numbers)
        )
