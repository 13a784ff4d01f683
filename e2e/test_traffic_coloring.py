"""Traffic colouring, verified: a `setHeaderRoute` step sends `x-canary: always` requests to the canary through a real
Envoy while the rest stays on stable at 0 %, a `routingCheck` gate proves it from the answers, and the header route
is gone once the release ends (promoted, or aborted: then coloured requests are back on stable)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kubernetes import client

from e2e.lab import TrafficLab
from e2e.support import StatusRecorder, apply_release, lab_release, wait_phase
from tests.cluster_support import ISTIO, RELEASES, OperatorProcess

COLOUR = {"x-canary": "always"}
HEADER_ROUTE = "graygate-app-header-primary"


def coloured_release(lab: TrafficLab) -> dict[str, Any]:
    steps = [{"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "always"}}}]}}, {"pause": {}}]
    gate = {
        "name": "routing",
        "critical": True,
        "routingCheck": {
            "url": lab.entry_url + "/",
            "coloredHeaders": COLOUR,
            "coloredRequests": 10,
            "uncoloredRequests": 20,
            "timeout": "800ms",
        },
    }
    return lab_release("app", steps, [gate])


async def route_names(api: client.ApiClient, namespace: str) -> list[str | None]:
    custom = client.CustomObjectsApi(api)
    vs = await asyncio.to_thread(custom.get_namespaced_custom_object, **ISTIO, namespace=namespace, name="app")
    return [route.get("name") for route in vs["spec"]["http"]]


async def command(api: client.ApiClient, namespace: str, action: str) -> None:
    custom = client.CustomObjectsApi(api)
    patch = {"metadata": {"annotations": {"graygate.dev/command": action}}}
    await asyncio.to_thread(
        custom.patch_namespaced_custom_object, **RELEASES, namespace=namespace, name="app", body=patch
    )


def paused_with_a_passing_routing_check(recorder: StatusRecorder) -> Any:
    def ready(status: dict[str, Any]) -> bool:
        passed = any(r["gate"] == "routing" and r["verdict"] == "Pass" for r in status.get("recentResults", []))
        return status.get("phase") == "Paused" and status.get("currentStepIndex") == 1 and passed

    return ready


async def coloured_and_plain(lab: TrafficLab, seconds: float) -> tuple[dict[str | None, int], dict[str | None, int]]:
    coloured = lab.load(rate_per_s=40, max_requests=400, max_duration_s=seconds, headers=COLOUR)
    plain = lab.load(rate_per_s=40, max_requests=400, max_duration_s=seconds)
    coloured.start()
    plain.start()
    results = await asyncio.gather(coloured.finished(), plain.finished())
    for result in results:
        assert not result.failures(), result.statuses()
    return results[0].counts(), results[1].counts()


async def colour_the_canary(api: client.ApiClient, namespace: str, lab: TrafficLab) -> StatusRecorder:
    recorder = StatusRecorder(api, namespace, "app")
    recorder.start()
    await apply_release(api, namespace, coloured_release(lab))
    await recorder.until(paused_with_a_passing_routing_check(recorder), 30, "a pause with a passing routingCheck")
    assert await route_names(api, namespace) == [HEADER_ROUTE, "primary"]
    coloured, plain = await coloured_and_plain(lab, 2.0)
    assert set(coloured) == {"canary"}, f"coloured requests: {coloured}"
    assert set(plain) == {"stable"}, f"uncoloured requests at 0%: {plain}"
    verdicts = {r["verdict"] for r in recorder.results("routing")}
    assert verdicts == {"Pass"}, recorder.results("routing")
    return recorder


async def test_coloured_requests_reach_the_canary_at_zero_and_the_route_goes_on_success(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    recorder = await colour_the_canary(api, namespace, lab)
    try:
        await command(api, namespace, "promote")
        done = await wait_phase(api, namespace, "app", {"Succeeded", "Failed"}, 20)
    finally:
        await recorder.stop()
    assert done["status"]["phase"] == "Succeeded", done["status"]["message"]
    await routes_become(api, namespace, ["primary"])
    await asyncio.sleep(0.5)  # istiod pushes the VirtualService to the lab's Envoy within some 0.2 s
    coloured, plain = await coloured_and_plain(lab, 1.0)
    assert set(coloured) == {"canary"}, coloured  # 100 % now: everyone is on the canary
    assert set(plain) == {"canary"}, plain


async def test_an_aborted_release_takes_the_header_route_away(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess
) -> None:
    recorder = await colour_the_canary(api, namespace, lab)
    try:
        await command(api, namespace, "abort")
        done = await wait_phase(api, namespace, "app", {"Aborted", "Failed", "Succeeded"}, 20)
    finally:
        await recorder.stop()
    assert done["status"]["phase"] == "Aborted", done["status"]["message"]
    await routes_become(api, namespace, ["primary"])
    deadline = time.monotonic() + 5
    while True:  # istiod pushes the VirtualService to the lab's Envoy within some 0.2 s
        coloured, plain = await coloured_and_plain(lab, 0.5)
        if set(coloured) == {"stable"} or time.monotonic() > deadline:
            break
    assert set(coloured) == {"stable"}, f"coloured requests after the abort: {coloured}"
    assert set(plain) == {"stable"}, plain


async def routes_become(api: client.ApiClient, namespace: str, wanted: list[str], timeout_s: float = 5.0) -> None:
    """The status (the intent) is written before the VirtualService, so the routes follow the phase by a moment."""
    deadline = time.monotonic() + timeout_s
    names = await route_names(api, namespace)
    while names != wanted and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        names = await route_names(api, namespace)
    assert names == wanted, f"routes after the release ended: {names}"
