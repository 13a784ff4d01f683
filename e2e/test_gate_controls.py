"""Per-gate controls with the real operator and the traffic lab: a `dryRun` gate that fails at every analysis is
reported (status results marked `dryRun`, a Warning Event saying it did not count) while the release is promoted;
a gate with an `initialDelay` longer than the interval is first measured no earlier than the step's start plus
its delay."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from kubernetes import client

from e2e.lab import TrafficLab
from e2e.support import StatusRecorder, apply_release, describe_results, in_phase, lab_release
from tests.cluster_support import OperatorProcess


def _probe(name: str, lab: TrafficLab, probe: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    check = {"url": lab.backend_url("canary") + "/healthz", "timeout": "500ms", **(probe or {})}
    return {"name": name, "httpProbe": check, **fields}


async def _events(api: client.ApiClient, namespace: str, reason: str) -> list[str]:
    # core/v1: the operator's Events carry no eventTime, which the events.k8s.io client model refuses
    listed = await asyncio.to_thread(client.CoreV1Api(api).list_namespaced_event, namespace)
    return [event.message or "" for event in listed.items if event.reason == reason]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_failing_dry_run_gate_is_reported_while_the_release_is_promoted(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    gates = [
        _probe("health", lab, critical=True),
        # an answer the canary never gives: it fails at every analysis, and would roll back at once if it counted
        _probe("teapot", lab, {"expectStatus": [418]}, critical=True, dryRun=True),
        {
            "name": "scrapes",
            "critical": True,
            "dryRun": True,
            "prometheus": {"source": {"address": lab.prometheus_url, "timeout": "800ms"}, "query": {"expr": "up"}},
            "failureCondition": "result.series.exists(s, s.value == 1.0)",
        },
    ]
    steps = [{"setWeight": 30}, {"pause": {"duration": "2s"}}, {"setWeight": 60}]
    recorder = StatusRecorder(api, namespace, "trial")
    recorder.start()
    try:
        await apply_release(api, namespace, lab_release("trial", steps, gates))
        done = await recorder.until(in_phase("Succeeded", "Failed"), 40, "the release to finish")
    finally:
        await recorder.stop()

    results = recorder.results()
    assert done.status["phase"] == "Succeeded", f"{done.status['message']}\n{describe_results(results)}"
    assert done.status["failureCount"] == 0
    for gate, reason in (("teapot", "status 200"), ("scrapes", "failureCondition is true")):
        failed = [r for r in results if r["gate"] == gate and r["verdict"] == "Fail"]
        assert failed, describe_results(results)
        assert all(r.get("dryRun") is True for r in results if r["gate"] == gate), describe_results(results)
        assert any(reason in r["reason"] for r in failed), describe_results(failed)
    assert all(r.get("dryRun") is None for r in results if r["gate"] == "health")
    reported = await _events(api, namespace, "GateFailed")
    assert any("dry-run gate teapot (not counted) failed" in message for message in reported), reported
    assert any("dry-run gate scrapes (not counted) failed" in message for message in reported), reported


async def test_a_gate_is_first_measured_after_its_initial_delay(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    delay = timedelta(seconds=4)
    gates = [_probe("health", lab, critical=True), _probe("late", lab, critical=True, initialDelay="4s")]
    steps = [{"setWeight": 20}, {"setWeight": 60}]
    recorder = StatusRecorder(api, namespace, "delayed", every_s=0.1)
    recorder.start()
    try:
        await apply_release(api, namespace, lab_release("delayed", steps, gates))
        done = await recorder.until(in_phase("Succeeded", "Failed"), 40, "the release to finish")
    finally:
        await recorder.stop()

    results = recorder.results()
    assert done.status["phase"] == "Succeeded", f"{done.status['message']}\n{describe_results(results)}"
    started = {
        seen.status["currentStepIndex"]: _time(seen.status["stepStartedAt"])
        for seen in recorder.seen
        if seen.status.get("phase") == "Progressing" and seen.status.get("stepStartedAt")
    }
    assert sorted(started) == [0, 1], started
    late = [r for r in results if r["gate"] == "late"]
    counted = [r for r in late if r["verdict"] != "Waiting"]
    waiting = [r for r in late if r["verdict"] == "Waiting"]
    assert {r["step"] for r in counted} == {0, 1}, describe_results(late)
    for result in counted:
        assert _time(result["at"]) >= started[result["step"]] + delay, describe_results(late)
    assert waiting, describe_results(late)
    assert all(r["reason"].startswith("initial delay 4s: not measured before") for r in waiting)
    # the gate without a delay was measured in the delay too: the delay is the gate's own
    health = [r for r in results if r["gate"] == "health" and r["step"] == 0]
    assert any(_time(r["at"]) < started[0] + delay for r in health), describe_results(health)
