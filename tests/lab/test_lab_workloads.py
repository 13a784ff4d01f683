"""Backends that follow workloads: pods (an in-memory list the test edits, standing in for the API server) become
backends and Envoy endpoints, with real Envoy, real backend processes and, once, real Prometheus."""

from __future__ import annotations

import copy
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest

from e2e.lab import LabError, Revision, TrafficLab, WorkloadSide, wait_for
from e2e.lab.workloads import counts, image_version, knobs_from_env, plan

pytestmark = pytest.mark.timeout(60)

PRIMARY = WorkloadSide("stable", "app-primary", {"app": "app-primary"})
CANARY = WorkloadSide("canary", "app", {"app": "app"})


def pod(
    name: str,
    deployment: str,
    template_hash: str,
    image: str,
    *,
    ready: bool = True,
    env: Mapping[str, str] | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """A pod as the API server shows it (only the fields the lab reads)."""
    return {
        "metadata": {
            "name": name,
            "labels": {"app": deployment, "pod-template-hash": template_hash},
            "ownerReferences": [{"kind": "ReplicaSet", "name": owner or f"{deployment}-{template_hash}"}],
        },
        "spec": {
            "containers": [
                {"name": "app", "image": image, "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}
            ]
        },
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


class FakePods:
    """The pods of the namespace; `list_pods` answers as the API server does for a label selector."""

    def __init__(self, *pods: dict[str, Any]) -> None:
        self.pods = list(pods)

    async def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(p) for p in self.pods if all(p["metadata"]["labels"].get(k) == v for k, v in selector.items())
        ]

    def named(self, name: str) -> dict[str, Any]:
        return next(p for p in self.pods if p["metadata"]["name"] == name)


# --- pure ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("example/app:v2", "v2"),
        ("app:1.4.0", "1.4.0"),
        ("registry:5000/team/app:v3", "v3"),
        ("registry:5000/team/app", "registry:5000/team/app"),
        ("app", "app"),
        ("app:v2@sha256:abc", "v2"),
        ("app@sha256:abc", "app@sha256:abc"),
    ],
)
def test_the_version_is_the_image_tag(image: str, version: str) -> None:
    assert image_version(image) == version


def test_knobs_come_from_the_env_and_a_bad_value_is_refused() -> None:
    knobs = knobs_from_env([{"name": "LAB_ERROR_RATE", "value": "0.5"}, {"name": "LAB_LATENCY_MS", "value": "30"}])
    assert (knobs.error_rate, knobs.latency_ms) == (0.5, 30.0)
    assert knobs_from_env([{"name": "OTHER", "value": "x"}]) == knobs_from_env([])
    with pytest.raises(ValueError, match="error_rate"):
        knobs_from_env([{"name": "LAB_ERROR_RATE", "value": "2"}])


@pytest.mark.parametrize(
    ("change", "counted"),
    [
        ({}, True),
        ({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, False),
        ({"status": {}}, False),
        ({"metadata": {"name": "p", "deletionTimestamp": "2024-01-01T00:00:00Z"}}, False),
    ],
)
def test_a_pod_counts_when_ready_and_not_terminating(change: dict[str, Any], counted: bool) -> None:
    assert counts({**pod("p", "app", "h1", "app:v1"), **change}) is counted


def test_the_plan_has_a_backend_per_revision_and_an_endpoint_per_counted_pod() -> None:
    pods = {
        "stable": [
            pod("p-2", "app-primary", "h1", "app:v1"),
            pod("p-1", "app-primary", "h1", "app:v1"),
            pod("p-3", "app-primary", "h2", "app:v2", env={"LAB_ERROR_RATE": "0.5"}),
            pod("p-4", "app-primary", "h2", "app:v2", ready=False),
            pod("other", "app-primary", "h3", "app:v9", owner="someone-else-h3"),
        ],
        "canary": [pod("c-1", "app", "h9", "app:v3", env={"LAB_ERROR_RATE": "7"})],
    }
    got = plan([PRIMARY, CANARY], pods)
    h1, h2 = Revision("app-primary", "h1"), Revision("app-primary", "h2")
    assert got.endpoints == {"stable": [h1, h1, h2], "canary": []}
    # the pods behind those endpoints, in the same order, with the labels a DestinationRule subset selects on
    assert {side: [p.name for p in refs] for side, refs in got.pods.items()} == {
        "stable": ["p-1", "p-2", "p-3"],
        "canary": [],
    }
    assert dict(got.pods["stable"][2].labels) == {"app": "app-primary", "pod-template-hash": "h2"}
    assert {r: b.version for r, b in got.backends.items()} == {h1: "v1", h2: "v2"}
    assert got.backends[h2].knobs.error_rate == 0.5
    assert len(got.problems) == 1
    assert got.problems[0].startswith("app-h9: ")


def test_a_side_may_name_the_template_hash_label_argo_rollouts_uses() -> None:
    """Argo Rollouts' ReplicaSets label their pods `rollouts-pod-template-hash`, not `pod-template-hash`."""
    side = WorkloadSide("stable", "app", {"app": "app"}, hash_label="rollouts-pod-template-hash")
    argo = pod("r-1", "app", "h1", "app:v1")
    argo["metadata"]["labels"] = {"app": "app", "rollouts-pod-template-hash": "h1"}
    assert plan([side], {"stable": [argo]}).endpoints == {"stable": [Revision("app", "h1")]}
    assert plan([CANARY], {"canary": [argo]}).endpoints == {"canary": []}


# --- real Envoy and backends ----------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _until(condition: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 10.0) -> None:
    await wait_for(condition, timeout_s, what, interval_s=0.05)


async def test_backends_and_endpoints_follow_the_pods() -> None:
    pods = FakePods(
        pod("p-a1", "app-primary", "aaa", "example/app:v1"), pod("p-a2", "app-primary", "aaa", "example/app:v1")
    )
    async with TrafficLab(workloads=[PRIMARY, CANARY], list_pods=pods.list_pods, workload_grace_s=0.5) as lab:
        envoy = lab.envoy

        async def stable_hosts(n: int) -> bool:
            return len(await envoy.host_addresses("stable") or []) == n

        # the ready pods' revision serves; the canary side selects no pod, so it has no endpoint
        assert len(await envoy.host_addresses("stable") or []) == 2
        assert await envoy.host_addresses("canary") == []
        r = await lab.load(rate_per_s=200, max_requests=40, max_duration_s=5).run()
        assert r.counts() == {"v1": 40}
        v1 = lab.workloads.backends[Revision("app-primary", "aaa")]
        async with aiohttp.ClientSession() as http, http.get(f"{v1.url}/metrics") as resp:
            assert 'destination_workload="app-primary"' in await resp.text()

        # a pod no longer ready loses its endpoint
        pods.named("p-a2")["status"]["conditions"][0]["status"] = "False"
        await _until(lambda: stable_hosts(1), "one stable endpoint")

        # a new revision's pods: a backend serving the new version with its env's knobs, sharing by pod count
        pods.pods += [
            pod("p-b1", "app-primary", "bbb", "example/app:v2", env={"LAB_ERROR_RATE": "0.5"}),
            pod("p-b2", "app-primary", "bbb", "example/app:v2", env={"LAB_ERROR_RATE": "0.5"}),
            pod("p-b3", "app-primary", "bbb", "example/app:v2", env={"LAB_ERROR_RATE": "0.5"}),
        ]
        await _until(lambda: stable_hosts(4), "four stable endpoints")
        r = await lab.load(rate_per_s=400, max_requests=400, max_duration_s=10).run()
        assert r.counts().keys() == {"v1", "v2"}
        assert 0.6 <= (r.share("v2") or 0.0) <= 0.9, r.counts()  # 3 of 4 endpoints

        # the old revision's pods go: only v2 serves, half its answers are 500s; the unused backend is stopped
        pods.pods = [p for p in pods.pods if p["metadata"]["labels"]["pod-template-hash"] == "bbb"]
        await _until(lambda: stable_hosts(3), "three stable endpoints")
        r = await lab.load(rate_per_s=200, max_requests=100, max_duration_s=5).run()
        assert r.counts() == {"v2": 100}
        assert r.statuses() == {200: 50, 500: 50}
        v1_pid = lab.pids()["backend-app-primary-aaa"]

        async def v1_stopped() -> bool:
            return "backend-app-primary-aaa" not in lab.pids()

        await _until(v1_stopped, "the v1 backend to stop")
        assert not _alive(v1_pid)
        assert set(lab.workloads.backends) == {Revision("app-primary", "bbb")}
        assert lab.workloads.last_error is None

        # a side's endpoints are the pods' business, not a test's switch
        with pytest.raises(LabError, match="follow its pods"):
            await lab.set_subset_endpoints("stable", False)
        pids = lab.pids()
    assert not any(_alive(pid) for pid in pids.values())


async def test_a_template_whose_env_a_knob_refuses_gets_no_backend_and_is_reported() -> None:
    pods = FakePods(pod("c-1", "app", "ccc", "app:v3", env={"LAB_ERROR_RATE": "lots"}))
    async with TrafficLab(workloads=[CANARY], list_pods=pods.list_pods) as lab:
        assert lab.workloads.backends == {}
        assert await lab.envoy.host_addresses("canary") == []
        assert lab.workloads.last_error is not None
        assert lab.workloads.last_error.startswith("app-ccc: ")
        r = await lab.load(rate_per_s=100, max_requests=5, max_duration_s=5).run()
        assert r.statuses() == {503: 5}  # Envoy answers for a subset with no endpoint, as Istio's proxy does


WORKLOAD_SERIES = (
    'sum by (destination_version) (istio_requests_total{reporter="destination", destination_workload="app"})'
)


async def test_prometheus_scrapes_the_backends_that_come_and_go() -> None:
    pods = FakePods(pod("c-1", "app", "ddd", "app:v1"))
    async with TrafficLab(workloads=[CANARY], list_pods=pods.list_pods, prometheus=True, workload_grace_s=0) as lab:
        load = lab.load(rate_per_s=40, max_requests=1600, max_duration_s=40)
        load.start()
        try:

            async def versions_seen(wanted: set[str]) -> bool:
                found = await lab.prometheus.query(WORKLOAD_SERIES)
                return {labels.get("destination_version", "") for labels, _ in found} == wanted

            await _until(lambda: versions_seen({"v1"}), "v1 in Prometheus", timeout_s=20)
            pods.pods = [pod("c-2", "app", "eee", "app:v2")]
            # v2's backend is scraped, and v1's series went stale with its target (its backend was stopped)
            await _until(lambda: versions_seen({"v2"}), "only v2 in Prometheus", timeout_s=20)
            await lab.prometheus.wait_targets_up(timeout_s=15)
        finally:
            await load.stop()
