"""A healthy canary behind a real Envoy is promoted step by step, and the users (the load generator) see the
traffic follow the steps with no failed request."""

from __future__ import annotations

import asyncio
import time

from kubernetes import client

from e2e.lab import TrafficLab
from e2e.support import apply_release, lab_release, wait_phase
from tests.cluster_support import OperatorProcess


async def test_a_healthy_canary_is_promoted_and_users_follow_the_steps(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    probe = {
        "name": "health",
        "critical": True,
        "httpProbe": {"url": lab.backend_url("canary") + "/healthz", "timeout": "500ms"},
    }
    steps = [{"setWeight": 20}, {"pause": {"duration": "3s"}}, {"setWeight": 60}, {"pause": {"duration": "3s"}}]
    load = lab.load(rate_per_s=50, max_requests=2000, max_duration_s=35)
    load.start()

    await apply_release(api, namespace, lab_release("app", steps, [probe]))
    done = await wait_phase(api, namespace, "app", {"Succeeded", "Failed"}, 30)
    succeeded_at = time.monotonic()
    await asyncio.sleep(1.5)
    result = await load.stop()

    assert done["status"]["phase"] == "Succeeded", done["status"]["message"]
    assert not result.failures(), result.statuses()
    shares = [w.share("canary") for w in result.windows(width_s=1.0) if w.share("canary") is not None]
    assert any(0.1 <= share <= 0.3 for share in shares), f"never saw ~20% canary: {shares}"
    assert any(0.5 <= share <= 0.7 for share in shares), f"never saw ~60% canary: {shares}"
    after = result.between(start=succeeded_at + 0.5)
    assert after.counts(), "the load generator kept sending after success"
    assert after.share("canary") == 1.0, f"after success: {after.counts()}"
