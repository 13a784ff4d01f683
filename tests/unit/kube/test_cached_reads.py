"""Reads from the cache, writes from a fresh read: the cache-backed route store, the read-modify-write loop over it,
and the workload probe's cached Deployment."""

from __future__ import annotations

from typing import Any

from graygate.domain.release.revisions import rollout_state
from graygate.kube.caches import CachedRouteStore, ScopedCaches, deployment_projection
from graygate.kube.watch_cache import WatchCache
from graygate.ports.release import ReleaseRef
from graygate.routers.converge import Converger
from graygate.wakeups import Wakeups
from tests.unit.fakes.event_source import ScriptedSource, obj
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore

NS = "team-a"


def with_weight(weight: int) -> Any:
    def change(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "spec": {**body["spec"], "weight": weight}}

    return change


def store_over(
    *objects: dict[str, Any], ready: bool = True
) -> tuple[CachedRouteStore, InMemoryVirtualServiceStore, WatchCache]:
    direct = InMemoryVirtualServiceStore(*objects)
    cache = WatchCache("VirtualService", ScriptedSource(objects))
    if ready:
        cache.relist()
    return CachedRouteStore(direct, ScopedCaches("VirtualService", everywhere=cache)), direct, cache  # type: ignore[arg-type]


async def test_a_ready_cache_answers_without_the_api_server() -> None:
    store, direct, _ = store_over(obj("vs", 1, weight=0))
    assert await store.get(NS, "vs") == obj("vs", 1, weight=0)
    assert direct.gets == []


async def test_before_the_first_list_and_on_a_miss_the_api_server_answers() -> None:
    store, direct, cache = store_over(obj("vs", 1), ready=False)
    assert await store.get(NS, "vs") == obj("vs", 1)
    assert direct.gets == [(NS, "vs")]
    cache.relist()
    direct.put(obj("new", 2))  # created after the list, its ADDED event not in yet
    assert await store.get(NS, "new") == obj("new", 2)
    assert await store.get(NS, "missing") is None
    assert direct.gets == [(NS, "vs"), (NS, "new"), (NS, "missing")]
    assert await store.get(NS, "new") == obj("new", 2)
    assert len(direct.gets) == 3, "what a fresh read found is cached"


async def test_a_namespace_no_cache_covers_is_read_from_the_api_server() -> None:
    direct = InMemoryVirtualServiceStore(obj("vs", 1, namespace="team-b"))
    cache = WatchCache("VirtualService", ScriptedSource())
    cache.relist()
    store = CachedRouteStore(direct, ScopedCaches("VirtualService", by_namespace={NS: cache}))  # type: ignore[arg-type]
    assert await store.get("team-b", "vs") == obj("vs", 1, namespace="team-b")
    assert direct.gets == [("team-b", "vs")]


async def test_no_write_due_means_no_api_call_at_all() -> None:
    store, direct, _ = store_over(obj("vs", 1, weight=10))
    result = await Converger(store, "VirtualService", max_attempts=3).set_all(
        NS, [("vs", with_weight(10))], all_or_nothing=True, previous=lambda name, body: ()
    )
    assert result.unchanged == ("vs",)
    assert direct.gets == []
    assert direct.replaces == []


async def test_a_write_is_computed_from_a_fresh_read_and_its_answer_is_cached() -> None:
    store, direct, cache = store_over(obj("vs", 1, weight=10))
    # Someone edited the object; the watch has not said so yet: the cache is stale.
    direct.put({**obj("vs", 5, weight=10), "spec": {"weight": 10, "hand": "edit"}})
    result = await Converger(store, "VirtualService", max_attempts=3).set_all(
        NS, [("vs", with_weight(20))], all_or_nothing=True, previous=lambda name, body: ()
    )
    assert [write.virtual_service for write in result.written] == ["vs"]
    assert direct.gets == [(NS, "vs")], "one fresh read before the write"
    assert direct.current(NS, "vs")["spec"] == {"weight": 20, "hand": "edit"}, "the hand edit is not lost"
    assert cache.get(NS, "vs") == direct.current(NS, "vs"), "the write's answer is in the cache"


async def test_a_stale_cache_that_wants_a_write_the_server_does_not_need_writes_nothing() -> None:
    store, direct, _ = store_over(obj("vs", 1, weight=10))
    direct.put(obj("vs", 6, weight=20))  # already at the wanted weight
    result = await Converger(store, "VirtualService", max_attempts=3).set_all(
        NS, [("vs", with_weight(20))], all_or_nothing=True, previous=lambda name, body: ()
    )
    assert result.unchanged == ("vs",)
    assert direct.replaces == []


async def test_a_conflict_re_reads_from_the_api_server() -> None:
    store, direct, _ = store_over(obj("vs", 1, weight=10))
    direct.concurrent_edits.append(lambda body: body["spec"].update(other=1))
    result = await Converger(store, "VirtualService", max_attempts=3).set_all(
        NS, [("vs", with_weight(20))], all_or_nothing=True, previous=lambda name, body: ()
    )
    assert [write.attempts for write in result.written] == [2]
    assert direct.current(NS, "vs")["spec"] == {"weight": 20, "other": 1}


def test_a_deployments_projection_keeps_what_the_probe_reads() -> None:
    deployment = {
        "metadata": {"name": "web", "namespace": NS, "resourceVersion": "9", "generation": 3, "labels": {"a": "b"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}},
        },
        "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
    }
    kept = deployment_projection(deployment)
    assert rollout_state(kept) == rollout_state(deployment)
    assert kept["spec"]["template"] == {"metadata": {"labels": {"app": "web"}}}
    assert kept["metadata"]["resourceVersion"] == "9"


async def test_the_workload_probe_reads_a_cached_deployment() -> None:
    from kubernetes import client

    from graygate.kube.workloads import KubeWorkloads

    web = {
        "metadata": {"name": "web", "namespace": NS, "resourceVersion": "9", "generation": 1},
        "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "web"}}}},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
    }
    cache = WatchCache("Deployment", ScriptedSource([web]), trim=deployment_projection)
    cache.relist()
    # An ApiClient pointing nowhere: a read that reached it would fail.
    probe = KubeWorkloads(client.ApiClient(), ScopedCaches("Deployment", everywhere=cache))
    availability = await probe.deployment_availability(NS, "web")
    assert availability.available
    assert availability.pod_labels == (("app", "web"),)


async def test_a_newer_version_one_release_reads_fresh_or_writes_wakes_every_release_that_reads_it() -> None:
    """Two releases managing different routes of one VirtualService: a hand edit that release `a`'s tick fetches
    fresh, or `a`'s own write, is news to `b`, and the watch's later event for that version is no news (held)."""
    a, b = ReleaseRef("team-a", "a", "uid-a"), ReleaseRef("team-a", "b", "uid-b")
    wakeups = Wakeups()
    direct = InMemoryVirtualServiceStore(obj("vs", 1, weight=0))
    cache = WatchCache("VirtualService", ScriptedSource([obj("vs", 1, weight=0)]), on_change=wakeups.touch)
    cache.relist()
    store = CachedRouteStore(direct, ScopedCaches("VirtualService", everywhere=cache))  # type: ignore[arg-type]
    for ref in (a, b):
        wakeups.register(ref, [("VirtualService", NS, "vs")])

    direct.put(obj("vs", 2, weight=30))  # a hand edit of b's route
    await store.get_fresh(NS, "vs")  # a's tick reads it fresh before the watch brings it
    assert await wakeups.wait(b, 0.5), "b was not told of the edit a's fresh read found"
    cache.apply("MODIFIED", obj("vs", 2, weight=30))
    assert not await wakeups.wait(b, 0.02), "the watch's event for a version already held woke b again"

    await store.replace(NS, "vs", obj("vs", 2, weight=40))
    assert await wakeups.wait(b, 0.5), "b was not told of a's write"
    await store.get_fresh(NS, "vs")
    assert not await wakeups.wait(b, 0.02), "a fresh read of the version held is no news"
