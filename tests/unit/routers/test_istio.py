"""IstioRouter against an in-memory VirtualServiceStore: reads, economy, conflicts, all-or-nothing, revert."""

from __future__ import annotations

import json

import pytest

from graygate.errors import ConflictError, RouteNotFoundError
from graygate.ports.routing import (
    Destination,
    RouteWeights,
    RoutingProblemReason,
    TrafficRouter,
    TrafficSplit,
    TrafficTarget,
    VirtualServiceBody,
    VirtualServiceRef,
)
from graygate.routers.istio import IstioRouter
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.virtual_services import CANARY, STABLE, checkout, http_route, route, virtual_service

NAMESPACE = "shop"
TARGET = TrafficTarget(
    namespace=NAMESPACE,
    virtual_services=(
        VirtualServiceRef("checkout", ("primary", "api-v2")),
        VirtualServiceRef("checkout-internal", None),
    ),
    stable=STABLE,
    canary=CANARY,
)


def checkout_internal() -> VirtualServiceBody:
    """A second VirtualService of the same release, e.g. for in-mesh callers, with one unnamed route."""
    return virtual_service(
        "checkout-internal", route(None), namespace=NAMESPACE, hosts=("checkout.internal",), resourceVersion="30"
    )


@pytest.fixture
def store() -> InMemoryVirtualServiceStore:
    return InMemoryVirtualServiceStore(checkout(), checkout_internal())


@pytest.fixture
def router(store: InMemoryVirtualServiceStore) -> IstioRouter:
    return IstioRouter(store)


def test_istio_router_is_a_traffic_router(store: InMemoryVirtualServiceStore) -> None:
    router: TrafficRouter = IstioRouter(store)
    assert router is not None


# ---- observe ----


async def test_observe_reads_every_managed_route_and_writes_nothing(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    observation = await router.observe(TARGET)

    assert observation.problems == ()
    assert [(vs.virtual_service, vs.resource_version, vs.routes) for vs in observation.virtual_services] == [
        ("checkout", "4711", (RouteWeights("primary", 100, 0), RouteWeights("api-v2", 90, 10))),
        ("checkout-internal", "30", (RouteWeights(None, 100, 0),)),
    ]
    assert observation.canary_weight is None, "routes disagree (0 and 10), so there is no single weight"
    assert store.gets == [(NAMESPACE, "checkout"), (NAMESPACE, "checkout-internal")]
    assert store.replaces == []


async def test_observe_reports_a_missing_virtual_service(router: IstioRouter) -> None:
    target = TrafficTarget(
        NAMESPACE, (VirtualServiceRef("ghost"), VirtualServiceRef("checkout-internal")), STABLE, CANARY
    )

    observation = await router.observe(target)

    [problem] = observation.problems
    assert problem.virtual_service == "ghost"
    assert problem.reason is RoutingProblemReason.VIRTUAL_SERVICE_NOT_FOUND
    assert problem.message == "VirtualService shop/ghost does not exist"
    assert [vs.virtual_service for vs in observation.virtual_services] == ["checkout-internal"]
    assert observation.canary_weight is None


async def test_observe_reports_a_route_problem_per_virtual_service(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    broken = checkout()
    http_route(broken, "api-v2")["route"][2]["weight"] = 5
    http_route(broken, "api-v2")["route"][0]["weight"] = 85
    store.put(broken)

    observation = await router.observe(TARGET)

    [problem] = observation.problems
    assert (problem.virtual_service, problem.reason) == ("checkout", RoutingProblemReason.FOREIGN_WEIGHT)
    assert [vs.virtual_service for vs in observation.virtual_services] == ["checkout-internal"]


# ---- set_split ----


async def test_set_canary_weight_writes_each_virtual_service_once(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    result = await router.set_split(TARGET, TrafficSplit(20))

    assert result.as_asked
    assert [(w.virtual_service, w.resource_version, w.attempts) for w in result.written] == [
        ("checkout", "4712", 1),
        ("checkout-internal", "31", 1),
    ]
    assert result.written[0].previous == (RouteWeights("primary", 100, 0), RouteWeights("api-v2", 90, 10))
    assert store.replaces == [(NAMESPACE, "checkout"), (NAMESPACE, "checkout-internal")]
    assert (await router.observe(TARGET)).canary_weight == 20


async def test_a_tick_that_changes_nothing_writes_nothing(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    await router.set_split(TARGET, TrafficSplit(20))
    writes_before = len(store.replaces)

    again = await router.set_split(TARGET, TrafficSplit(20))

    assert again.written == ()
    assert again.unchanged == ("checkout", "checkout-internal")
    assert len(store.replaces) == writes_before


async def test_only_the_virtual_services_that_differ_are_written(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    target = TrafficTarget(
        NAMESPACE,
        (VirtualServiceRef("checkout", ("api-v2",)), VirtualServiceRef("checkout-internal")),
        STABLE,
        CANARY,
    )

    result = await router.set_split(target, TrafficSplit(10))  # api-v2 is at 10 already; checkout-internal is at 0

    assert [w.virtual_service for w in result.written] == ["checkout-internal"]
    assert result.unchanged == ("checkout",)
    assert store.replaces == [(NAMESPACE, "checkout-internal")]


async def test_a_conflict_is_reread_and_retried_keeping_the_other_writers_change(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    store.concurrent_edits.append(lambda vs: vs["metadata"]["labels"].update({"team": "payments"}))
    target = TrafficTarget(NAMESPACE, (VirtualServiceRef("checkout", ("primary", "api-v2")),), STABLE, CANARY)

    result = await router.set_split(target, TrafficSplit(30))

    [write] = result.written
    assert write.attempts == 2
    assert store.replaces == [(NAMESPACE, "checkout"), (NAMESPACE, "checkout")]
    assert store.gets == [(NAMESPACE, "checkout"), (NAMESPACE, "checkout")]
    stored = store.current(NAMESPACE, "checkout")
    assert stored["metadata"]["labels"]["team"] == "payments"
    assert [entry["weight"] for entry in http_route(stored, "api-v2")["route"]] == [70, 30, 0]
    assert write.resource_version == stored["metadata"]["resourceVersion"] == "4713"


async def test_conflicts_beyond_the_bound_propagate(store: InMemoryVirtualServiceStore) -> None:
    router = IstioRouter(store, max_attempts=3)
    store.concurrent_edits.extend(lambda vs: None for _ in range(3))

    with pytest.raises(ConflictError):
        await router.set_split(TARGET, TrafficSplit(30))
    assert len(store.replaces) == 3


async def test_an_advance_writes_nothing_when_any_virtual_service_is_unmanageable(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    del store.objects[(NAMESPACE, "checkout-internal")]

    result = await router.set_split(TARGET, TrafficSplit(20))

    assert not result.as_asked
    assert [p.virtual_service for p in result.problems] == ["checkout-internal"]
    assert (result.written, result.unchanged) == ((), ())
    assert store.replaces == []


async def test_a_revert_writes_every_virtual_service_it_can(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    await router.set_split(TARGET, TrafficSplit(40))
    broken = store.current(NAMESPACE, "checkout-internal")
    broken["spec"]["http"][0]["route"][0]["destination"]["subset"] = "v1"
    store.put(broken)

    result = await router.set_split(TARGET, TrafficSplit(0))

    assert [w.virtual_service for w in result.written] == ["checkout"]
    [problem] = result.problems
    assert (problem.virtual_service, problem.reason) == ("checkout-internal", RoutingProblemReason.STABLE_NOT_ROUTED)
    assert [entry["weight"] for entry in http_route(store.current(NAMESPACE, "checkout"), "api-v2")["route"]] == [
        100,
        0,
        0,
    ]


@pytest.mark.parametrize("weight", [-5, 101])
async def test_set_canary_weight_rejects_impossible_weights(router: IstioRouter, weight: int) -> None:
    with pytest.raises(ValueError, match="from 0 to 100"):
        await router.set_split(TARGET, TrafficSplit(weight))


# ---- snapshot and restore ----


async def test_restore_puts_back_the_snapshot_byte_for_byte_then_stops_writing(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    snapshots = await router.snapshot(TARGET)
    assert [(s.virtual_service, s.route) for s in snapshots] == [
        ("checkout", "primary"),
        ("checkout", "api-v2"),
        ("checkout-internal", None),
    ]
    await router.set_split(TARGET, TrafficSplit(50))
    store.replaces.clear()

    restored = await router.restore(TARGET, snapshots)

    assert [w.virtual_service for w in restored.written] == ["checkout", "checkout-internal"]
    assert restored.written[0].previous == (RouteWeights("primary", 50, 50), RouteWeights("api-v2", 50, 50))
    assert json.dumps(store.current(NAMESPACE, "checkout")["spec"]) == json.dumps(checkout()["spec"])
    assert json.dumps(store.current(NAMESPACE, "checkout-internal")["spec"]) == json.dumps(checkout_internal()["spec"])

    again = await router.restore(TARGET, snapshots)
    assert (again.written, again.unchanged) == ((), ("checkout", "checkout-internal"))
    assert len(store.replaces) == 2


async def test_restore_follows_the_snapshots_not_the_current_target(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    snapshots = await router.snapshot(TARGET)
    await router.set_split(TARGET, TrafficSplit(50))
    narrowed = TrafficTarget(NAMESPACE, (VirtualServiceRef("checkout", ("primary",)),), STABLE, CANARY)

    restored = await router.restore(narrowed, snapshots)

    assert [w.virtual_service for w in restored.written] == ["checkout", "checkout-internal"]
    assert restored.written[1].previous == (), "not in the target, so its weights were not read"


async def test_restore_reports_a_deleted_virtual_service(
    router: IstioRouter, store: InMemoryVirtualServiceStore
) -> None:
    snapshots = await router.snapshot(TARGET)
    del store.objects[(NAMESPACE, "checkout")]

    result = await router.restore(TARGET, snapshots)

    [problem] = result.problems
    assert problem.reason is RoutingProblemReason.VIRTUAL_SERVICE_NOT_FOUND
    assert result.unchanged == ("checkout-internal",)


async def test_snapshot_of_a_missing_virtual_service_raises(router: IstioRouter) -> None:
    target = TrafficTarget(NAMESPACE, (VirtualServiceRef("ghost"),), STABLE, CANARY)
    with pytest.raises(RouteNotFoundError, match="VirtualService shop/ghost does not exist"):
        await router.snapshot(target)


# ---- the target itself ----


@pytest.mark.parametrize(
    ("refs", "stable", "canary", "message"),
    [
        ((), STABLE, CANARY, "at least one VirtualService"),
        ((VirtualServiceRef("a"), VirtualServiceRef("a", ("x",))), STABLE, CANARY, "listed twice"),
        ((VirtualServiceRef("a"),), STABLE, Destination("checkout", "stable"), "the same destination"),
    ],
)
def test_a_traffic_target_refuses_nonsense(
    refs: tuple[VirtualServiceRef, ...], stable: Destination, canary: Destination, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TrafficTarget(NAMESPACE, refs, stable, canary)


def test_max_attempts_must_allow_one_write(store: InMemoryVirtualServiceStore) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        IstioRouter(store, max_attempts=0)
