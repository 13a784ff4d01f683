"""The order of verdicts on real traffic: which weight a release reached, which verdict came first, and what the
users saw before and after.

Each test drives one situation through the real operator, Envoy and Prometheus (see `test_metric_gates.py`) and
asserts on the order of events, never on how long they took: a canary whose share reaches no pod, an error rate
that rises while the release moves, and Prometheus restarting in the middle of a step.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from kubernetes import client

from e2e.lab import TrafficLab
from e2e.lab.loadgen import LoadGenerator
from e2e.support import (
    BASELINE_LATENCY,
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
    wait_weights,
)
from graygate.api.commands import COMMAND_ANNOTATION
from tests.cluster_support import OperatorProcess, release, weights

RATE = 50
"""Requests per second through Envoy."""

ENDED = ("Succeeded", "Failed", "Aborted", "Paused")

INTERVAL = "2s"
"""Analyses of a healthy canary every 2 s, twice the lab's scrape interval, so the first analysis at a new weight
finds the weight in Prometheus: at 1 s the counts since the step began can hold the stable's traffic from before
the step and none of the canary's yet, which the judge reads as a canary share reaching no pod."""


async def _baseline(lab: TrafficLab) -> None:
    for version in ("stable", "canary"):
        await lab.set_knobs(version, **BASELINE_LATENCY)


def _load(lab: TrafficLab, duration_s: float) -> LoadGenerator:
    load = lab.load(rate_per_s=RATE, max_requests=int(RATE * duration_s), max_duration_s=duration_s)
    load.start()
    return load


async def _events(api: client.ApiClient, namespace: str, reason: str) -> list[str]:
    # core/v1: the operator's Events carry no eventTime, which the events.k8s.io client model refuses
    listed = await asyncio.to_thread(client.CoreV1Api(api).list_namespaced_event, namespace)
    return [event.message or "" for event in listed.items if event.reason == reason]


def _weights_reached(recorder: StatusRecorder) -> list[int]:
    """The canary weights of the status, in the order seen, each change once."""
    reached: list[int] = []
    for seen in recorder.seen:
        weight = seen.status.get("canaryWeight")
        if weight is not None and (not reached or reached[-1] != weight):
            reached.append(weight)
    return reached


def _measured_at(result: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(result["at"]).replace("Z", "+00:00")).timestamp()


# --- a. the canary's share reaches no pod -----------------------------------------------------------------------------


async def test_a_canary_route_that_reaches_no_pod_is_rolled_back_naming_the_failing_users(
    api: client.ApiClient, namespace: str, canary_workload: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    # The canary's subset selects no pod: Envoy answers its share with 503 UH and the canary's pods hear nothing.
    # The absolute rule needs 50 requests in its window before it judges, so the first to speak is the check that
    # compares what the canary's pods served with what the callers sent it.
    await _baseline(lab)
    await lab.set_subset_endpoints("canary", False)
    load = _load(lab, duration_s=30)
    rule = {"min": 99, "minRequests": 50}
    gates = [prometheus_gate("success-rate", lab.prometheus_url, {"requestSuccessRate": rule}, window="8s")]
    steps: list[dict[str, Any]] = [{"setWeight": 20}, {"setWeight": 50}, {"setWeight": 80}]
    await apply_release(api, namespace, metric_release("app", steps, gates, inconclusiveLimit=20))
    recorder = StatusRecorder(api, namespace, "app")
    recorder.start()
    try:
        done = await recorder.until(in_phase(*ENDED), 25, "the release to end")
        await wait_weights(api, namespace, "app", (100, 0), 5)
        back_at = time.monotonic()
        await asyncio.sleep(3.0)
    finally:
        result = await load.stop()
        await recorder.stop()

    results = recorder.results("success-rate")
    print(f"\n{done.status.get('message')}\ngate results:\n{describe_results(results)}\nusers: {result.statuses()}")
    assert done.status["phase"] == "Failed", done.status.get("message")
    assert done.status["canaryWeight"] == 0
    assert weights(api, namespace, "app") == (100, 0)
    message = done.status["message"]
    assert "users are failing: the callers sent the canary" in message, message
    assert "its share reaches no pod" in message, message
    rolled_back = await _events(api, namespace, "RolledBack")
    assert any("users are failing" in note for note in rolled_back), rolled_back

    # the order: 20 %, judged failing there, never a pass, and back to 0 %
    reached = _weights_reached(recorder)
    assert reached[-2:] == [20, 0], reached
    assert max(reached) == 20, reached
    verdicts = [r["verdict"] for r in results]
    assert "Pass" not in verdicts, describe_results(results)
    first_fail = next(r for r in results if r["verdict"] == "Fail")
    assert first_fail["weight"] == 20, describe_results(results)
    assert "users are failing" in first_fail["reason"], first_fail

    # the users: the canary's share failed (Envoy's 503, no backend) until the rollback, and nothing failed after
    failed = result.failures()
    assert failed, "the users saw no failures while the canary's share reached no pod"
    assert {(s.status, s.version) for s in failed} == {(503, None)}, result.statuses()
    assert not result.between(end=failed[0].sent_at).counts().get("canary"), "a canary pod answered"
    after = result.between(start=back_at + 0.5)
    assert after.counts().get("stable", 0) >= 50, after.counts()
    assert not after.failures(), f"users still failing after the rollback: {after.statuses()}"


# --- b. a rising error rate -------------------------------------------------------------------------------------------

RAMP_PER_S = 0.01
"""The canary's error rate climbs by one point a second from 0 %."""

ALLOWANCE = 0.03
"""errors_gate's maxIncreasePoints, as a rate; stable fails nothing, so the canary crosses at 3 %."""


async def test_a_rising_error_rate_is_stopped_before_the_weight_after_the_one_where_it_crossed(
    api: client.ApiClient, namespace: str, canary_workload: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    # The ramp starts as the release takes its second step, so the canary crosses the allowance 3 s into it. A judge
    # of a sliding window reaching back into the first step (some 160 clean canary requests) would clear the
    # second step at once and go on; counts since the step began can only say "wait" until they show the canary
    # surely worse, so the release must fail at the second step's weight.
    await _baseline(lab)
    load = _load(lab, duration_s=75)
    steps: list[dict[str, Any]] = [{"setWeight": 40}, {"setWeight": 60}, {"setWeight": 80}, {"setWeight": 90}]
    body = metric_release("app", steps, [errors_gate(lab.prometheus_url)], interval=INTERVAL)
    await apply_release(api, namespace, body)
    recorder = StatusRecorder(api, namespace, "app")
    recorder.start()
    try:
        await recorder.until(at_step(1), 40, "the first step to pass")
        await lab.set_knobs("canary", error_ramp_per_s=RAMP_PER_S)
        ramp_from, ramp_from_wall = time.monotonic(), time.time()
        crossed_at, crossed_wall = ramp_from + ALLOWANCE / RAMP_PER_S, ramp_from_wall + ALLOWANCE / RAMP_PER_S
        done = await recorder.until(in_phase(*ENDED), 45, "the release to end after the error rate crossed")
        await wait_weights(api, namespace, "app", (100, 0), 5)
        back_at = time.monotonic()
        await asyncio.sleep(2.0)
    finally:
        result = await load.stop()
        await recorder.stop()

    results = recorder.results("errors")
    reached = _weights_reached(recorder)
    held = [s.status.get("canaryWeight") for s in recorder.seen if s.at <= crossed_at][-1]
    print(f"\n{done.status.get('message')}\ngate results:\n{describe_results(results)}\nweights: {reached}")
    print(f"held {held}% when the error rate crossed {ALLOWANCE:.0%}")
    assert done.status["phase"] == "Failed", done.status.get("message")
    assert done.status["canaryWeight"] == 0
    assert weights(api, namespace, "app") == (100, 0)
    assert "pts over stable" in done.status["message"] or "worse than allowed" in done.status["message"]
    assert held in (40, 60), f"the rate crossed at {held}%: the plan had no weight after it to guard"
    next_weight = {40: 60, 60: 80}[held]
    assert next_weight not in reached, f"reached {next_weight}% after the rate crossed at {held}%: {reached}"
    assert reached[-1] == 0, reached
    after_crossing = [r for r in results if _measured_at(r) >= crossed_wall]
    assert after_crossing, describe_results(results)
    assert "Pass" not in {r["verdict"] for r in after_crossing}, describe_results(results)
    first_fail = next(r for r in results if r["verdict"] == "Fail")
    assert _measured_at(first_fail) >= crossed_wall, "failed before the rate crossed the allowance"
    assert first_fail["weight"] == held, describe_results(results)

    # the users: failures only from the canary, only once the ramp began, none after the rollback
    assert not result.between(end=ramp_from).failures(), "users saw failures before the ramp began"
    assert {s.version for s in result.failures()} == {"canary"}, result.statuses()
    assert not result.between(start=back_at + 0.5).failures()


# --- c. Prometheus restarts mid-release -------------------------------------------------------------------------------

OUTAGE_S = 15.0


async def test_prometheus_stopped_and_restarted_mid_release_ends_in_promotion_with_no_human(
    api: client.ApiClient, namespace: str, canary_workload: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    # Errors (no answer from Prometheus) hold the step and count toward consecutiveErrorLimit only: inconclusiveLimit
    # 3 would pause the release within the outage if they counted there. errorPolicy hold keeps the weight, says
    # Stalled, and lets the release go on by itself once Prometheus answers again, with the counts since the step
    # began intact (its TSDB survives the restart).
    await _baseline(lab)
    load = _load(lab, duration_s=90)
    steps: list[dict[str, Any]] = [{"setWeight": 25}, {"setWeight": 50}, {"setWeight": 75}]
    gates = [errors_gate(lab.prometheus_url), latency_gate(lab.prometheus_url)]
    analysis = {"interval": INTERVAL, "inconclusiveLimit": 3, "consecutiveErrorLimit": 4, "errorPolicy": "hold"}
    body = metric_release("app", steps, gates, **analysis)
    await apply_release(api, namespace, body)
    recorder = StatusRecorder(api, namespace, "app")
    recorder.start()
    try:
        await recorder.until(at_step(1), 40, "the first step to pass")
        outage = asyncio.create_task(lab.prometheus_outage(OUTAGE_S))
        stalled = await recorder.until(cannot_measure, OUTAGE_S + 5, "the release to say it cannot measure")
        stopped_wall, back_wall = await outage
        done = await recorder.until(in_phase(*ENDED), 60, "the release to end after Prometheus came back")
    finally:
        result = await load.stop()
        await recorder.stop()

    results = recorder.results()
    found = await asyncio.to_thread(release, api, namespace, "app")
    print(f"\n{done.status.get('message')}\ngate results:\n{describe_results(results)}")
    assert done.status["phase"] == "Succeeded", done.status.get("message")
    assert weights(api, namespace, "app") == (0, 100)
    assert COMMAND_ANNOTATION not in (found["metadata"].get("annotations") or {}), "a command was sent"
    assert not found.get("status", {}).get("lastCommand"), found.get("status")
    assert not await _events(api, namespace, "Paused"), "the release paused for a human"

    # the order: 25 % passed, then Prometheus went away at 50 % (errors, Stalled, the weight held), then passes
    # again at 50 %, then 75 % and 100 %
    assert _weights_reached(recorder)[-4:] == [25, 50, 75, 100], _weights_reached(recorder)
    assert stalled.status["canaryWeight"] == 50, stalled.status
    phases = {s.status.get("phase") for s in recorder.seen if s.at <= done.at} - {None}
    assert phases <= {"Pending", "Progressing", "Succeeded"}, phases
    errors = [r for r in results if r["verdict"] == "Error"]
    assert errors, describe_results(results)
    assert {r["weight"] for r in errors} == {50}, describe_results(results)
    assert all(stopped_wall - 1 <= _measured_at(r) <= back_wall + 2 for r in errors), describe_results(results)
    last_error = max(_measured_at(r) for r in errors)
    resumed = [r for r in results if r["weight"] == 50 and r["verdict"] == "Pass" and _measured_at(r) > last_error]
    assert {r["gate"] for r in resumed} >= {"errors", "latency"}, describe_results(results)
    assert not [r for r in results if r["verdict"] == "Fail"], describe_results(results)
    assert not cannot_measure(done.status), done.status.get("conditions")
    assert not result.failures(), result.statuses()
