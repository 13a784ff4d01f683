"""Destinations that exist, shown with the real control plane: a route to a subset no DestinationRule defines is
what istiod and Envoy answer with 503s for that share, and graygate refuses to send a canary's users there.

First without graygate: the VirtualService is edited by hand to send 30 % to subset `canary` of a DestinationRule
that defines only `stable`. Istio's webhook accepts the write (it judges a route on its own, not against other
objects), istiod pushes it, and the users see the canary's share fail. Then with graygate: the same release it
would have run holds at 0 %, says which subset is missing, and the users see nothing fail."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kubernetes import client

from e2e.lab import TrafficLab
from e2e.support import apply_release, lab_release
from tests.cluster_support import DESTINATION_RULES, ISTIO, OperatorProcess, weights

RATE = 50


def _without_canary_subset(custom: client.CustomObjectsApi, namespace: str) -> None:
    rule: dict[str, Any] = custom.get_namespaced_custom_object(**DESTINATION_RULES, namespace=namespace, name="app")
    rule["spec"]["subsets"] = [s for s in rule["spec"]["subsets"] if s["name"] != "canary"]
    custom.replace_namespaced_custom_object(**DESTINATION_RULES, namespace=namespace, name="app", body=rule)


def _set_weights(custom: client.CustomObjectsApi, namespace: str, stable: int, canary: int) -> None:
    vs: dict[str, Any] = custom.get_namespaced_custom_object(**ISTIO, namespace=namespace, name="app")
    primary = next(route for route in vs["spec"]["http"] if route.get("name") == "primary")
    for destination in primary["route"]:
        destination["weight"] = canary if destination["destination"].get("subset") == "canary" else stable
    custom.replace_namespaced_custom_object(**ISTIO, namespace=namespace, name="app", body=vs)


async def test_a_subset_no_destination_rule_defines_fails_its_share_and_graygate_refuses_to_start(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    custom = client.CustomObjectsApi(api)
    _without_canary_subset(custom, namespace)

    # Without the check: 30 % to the undefined subset, by hand.
    _set_weights(custom, namespace, 70, 30)
    await asyncio.sleep(1.0)  # istiod's debounce and push, with room for a busy machine
    by_hand = await lab.load(rate_per_s=RATE, max_requests=RATE * 6, max_duration_s=6).run()
    failed = by_hand.failures()
    share = len(failed) / len(by_hand.samples)
    print(f"\nby hand, 30 % to an undefined subset: {by_hand.statuses()} ({share:.0%} failed)")
    assert {sample.status for sample in failed} == {503}, by_hand.statuses()
    assert 0.18 <= share <= 0.42, f"{share:.0%} of the users' requests failed, not about 30 %"
    assert by_hand.counts().get("canary", 0) == 0, "the canary's backend was reached through an undefined subset"

    # With graygate: the release that would send the canary 30 % holds at 0 % and names what is missing.
    _set_weights(custom, namespace, 100, 0)
    await asyncio.sleep(1.0)
    load = lab.load(rate_per_s=RATE, max_requests=RATE * 10, max_duration_s=10)
    load.start()
    await apply_release(api, namespace, lab_release("app", [{"setWeight": 30}, {"setWeight": 100}], []))
    deadline = time.monotonic() + 8
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = (
            await asyncio.to_thread(
                custom.get_namespaced_custom_object,
                "graygate.dev", "v1alpha1", namespace, "canaryreleases", "app",
            )
        ).get("status", {})  # fmt: skip
        # In a thread: a blocking read here would stall the load generator's schedule on this event loop.
        seen_weights = await asyncio.to_thread(weights, api, namespace, "app")
        assert seen_weights == (100, 0), "graygate sent traffic to the undefined subset"
        await asyncio.sleep(0.25)
    result = await load.stop()
    assert seen.get("phase") == "Pending", seen
    assert "subset canary" in seen.get("message", ""), seen.get("message")
    assert not result.failures(), result.statuses()
    assert result.counts().get("canary", 0) == 0
