"""GatewayAPIRouter against an in-memory store (the same fake that stands for VirtualServices: both stores are
get/replace over plain JSON): reads, economy, conflicts, all-or-nothing, revert, snapshot and restore."""

from __future__ import annotations

import pytest

from graygate.errors import ConflictError, RejectedError, RouteNotFoundError
from graygate.ports.routing import (
    HeaderMatch,
    HeaderRoute,
    HTTPRouteBody,
    HTTPRouteRef,
    RouteWeights,
    RoutingProblemReason,
    TrafficRouter,
    TrafficSplit,
    TrafficTarget,
)
from graygate.routers.gateway_api import GatewayAPIRouter
from tests.http_routes import CANARY, STABLE, backend, http_route, rule
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore

NAMESPACE = "shop"
TARGET = TrafficTarget(
    NAMESPACE,
    (),
    STABLE,
    CANARY,
    release="checkout",
    http_routes=(HTTPRouteRef("public", ("web",)), HTTPRouteRef("internal")),
)
COLOURED = (HeaderRoute((HeaderMatch("x-canary", "exact", "always"),)),)


def public() -> HTTPRouteBody:
    return http_route(
        "public",
        rule("web", backend("checkout")),
        rule("static", backend("assets"), path="/static"),
        resourceVersion="10",
    )


def internal() -> HTTPRouteBody:
    return http_route("internal", rule(None, backend("checkout", 100)), resourceVersion="20")


@pytest.fixture
def store() -> InMemoryVirtualServiceStore:
    return InMemoryVirtualServiceStore(public(), internal())


@pytest.fixture
def router(store: InMemoryVirtualServiceStore) -> GatewayAPIRouter:
    return GatewayAPIRouter(store)


def weights(store: InMemoryVirtualServiceStore) -> list[tuple[int, int]]:
    found = []
    for name, rule_name in (("public", 0), ("internal", 0)):
        refs = store.current(NAMESPACE, name)["spec"]["rules"][rule_name]["backendRefs"]
        by_name = {ref["name"]: ref["weight"] for ref in refs}
        found.append((by_name["checkout"], by_name.get("checkout-v2", 0)))
    return found


def test_it_is_a_traffic_router(store: InMemoryVirtualServiceStore) -> None:
    router: TrafficRouter = GatewayAPIRouter(store)
    assert router is not None
    with pytest.raises(ValueError, match="max_attempts"):
        GatewayAPIRouter(store, max_attempts=0)


async def test_observe_reads_every_managed_rule_and_writes_nothing(
    router: GatewayAPIRouter, store: InMemoryVirtualServiceStore
) -> None:
    reading = await router.observe(TARGET)
    assert reading.problems == ()
    assert [(hr.virtual_service, hr.resource_version, hr.routes) for hr in reading.virtual_services] == [
        ("public", "10", (RouteWeights("web", 100, 0),)),
        ("internal", "20", (RouteWeights(None, 100, 0),)),
    ]
    assert reading.canary_weight == 0
    assert store.replaces == []


async def test_set_split_writes_each_route_once_and_then_nothing(
    router: GatewayAPIRouter, store: InMemoryVirtualServiceStore
) -> None:
    result = await router.set_split(TARGET, TrafficSplit(30))
    assert result.as_asked
    assert [(w.virtual_service, w.attempts, w.previous) for w in result.written] == [
        ("public", 1, (RouteWeights("web", 100, 0),)),
        ("internal", 1, (RouteWeights(None, 100, 0),)),
    ]
    assert weights(store) == [(70, 30), (70, 30)]
    assert store.current(NAMESPACE, "public")["spec"]["rules"][1] == public()["spec"]["rules"][1]
    again = await router.set_split(TARGET, TrafficSplit(30))
    assert (again.written, again.unchanged) == ((), ("public", "internal"))
    assert len(store.replaces) == 2


async def test_a_hand_edit_is_reasserted_on_the_next_split(
    router: GatewayAPIRouter, store: InMemoryVirtualServiceStore
) -> None:
    await router.set_split(TARGET, TrafficSplit(30))
    edited = store.current(NAMESPACE, "public")
    edited["spec"]["rules"][0]["backendRefs"][0]["weight"] = 100
    edited["spec"]["rules"][0]["backendRefs"][1]["weight"] = 0
    store.put(edited)
    assert (await router.observe(TARGET)).canary_weight is None, "the routes disagree"
    result = await router.set_split(TARGET, TrafficSplit(30))
    assert [w.virtual_service for w in result.written] == ["public"]
    assert weights(store) == [(70, 30), (70, 30)]


async def test_a_conflict_is_reread_and_retried_then_given_up(
    router: GatewayAPIRouter, store: InMemoryVirtualServiceStore
) -> None:
    store.concurrent_edits.append(lambda body: body["metadata"].setdefault("labels", {}).update({"team": "web"}))
    result = await router.set_split(TARGET, TrafficSplit(10))
    assert [w.attempts for w in result.written] == [2, 1]
    assert store.current(NAMESPACE, "public")["metadata"]["labels"] == {"team": "web"}, "their edit is kept"
    assert weights(store) == [(90, 10), (90, 10)]

    store.concurrent_edits.extend(lambda body: None for _ in range(3))
    with pytest.raises(ConflictError):
        await router.set_split(TARGET, TrafficSplit(20))


async def test_an_advance_is_all_or_nothing_and_a_revert_is_best_effort(
    router: GatewayAPIRouter, store: InMemoryVirtualServiceStore
) -> None:
    await router.set_split(TARGET, TrafficSplit(30))
    broken = store.current(NAMESPACE, "internal")
    broken["spec"]["rules"][0]["backendRefs"].append(backend("legacy", 5))
    store.put(broken)
    advance = await router.set_split(TARGET, TrafficSplit(50))
    assert advance.written == ()
    assert [p.reason.value for p in advance.problems] == ["ForeignWeightedDestination"]
    assert weights(store)[0] == (70, 30), "the healthy route did not run ahead"
    revert = await router.set_split(TARGET, TrafficSplit(0))
    assert [w.virtual_service for w in revert.written] == ["public"]
    assert [p.reason.value for p in revert.problems] == ["ForeignWeightedDestination"]
    assert weights(store)[0] == (100, 0)


async def test_a_missing_route_is_a_problem_to_observe_and_an_error_to_snapshot(router: GatewayAPIRouter) -> None:
    target = TrafficTarget(NAMESPACE, (), STABLE, CANARY, http_routes=(HTTPRouteRef("ghost"),))
    reading = await router.observe(target)
    assert [(p.virtual_service, p.reason.value) for p in reading.problems] == [("ghost", "HTTPRouteNotFound")]
    assert (await router.set_split(target, TrafficSplit(10))).problems[0].reason.value == "HTTPRouteNotFound"
    with pytest.raises(RouteNotFoundError, match="HTTPRoute shop/ghost does not exist"):
        await router.snapshot(target)


async def test_header_rules_ride_along_and_restore_puts_everything_back(
    router: GatewayAPIRouter, store: InMemoryVirtualServiceStore
) -> None:
    saved = await router.snapshot(TARGET)
    assert [(s.virtual_service, s.route, s.kind) for s in saved] == [
        ("public", "web", "HTTPRoute"),
        ("internal", None, "HTTPRoute"),
    ]
    await router.set_split(TARGET, TrafficSplit(40, COLOURED))
    reading = await router.observe(TARGET)
    assert [route.header_route for hr in reading.virtual_services for route in hr.routes] == [True, True]
    rules = [each.get("name") for each in store.current(NAMESPACE, "public")["spec"]["rules"]]
    assert rules == ["graygate-checkout-header-web", "web", "static"]

    result = await router.restore(TARGET, saved)
    assert result.as_asked
    assert len(result.written) == 2
    for name, original in (("public", public()), ("internal", internal())):
        current = store.current(NAMESPACE, name)
        assert current["spec"] == original["spec"]
    assert (await router.restore(TARGET, saved)).unchanged == ("public", "internal"), "restored: nothing to write"


CEL_SAYS = (
    'HTTPRoute.gateway.networking.k8s.io "public" is invalid: spec.rules: Invalid value: "array": While 16 rules '
    "and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less "
    "than 128"
)


class RefusingStore(InMemoryVirtualServiceStore):
    """The in-memory API server, refusing (400/422, as its schema or CEL rules do) every replace of ``refused``."""

    refused: tuple[str, ...] = ()

    async def replace(self, namespace: str, name: str, body: HTTPRouteBody) -> HTTPRouteBody:
        if name in self.refused:
            self.replaces.append((namespace, name))
            raise RejectedError(f"HTTPRoute {namespace}/{name}: rejected (422): {CEL_SAYS}", message=CEL_SAYS)
        return await super().replace(namespace, name, body)


async def test_a_refused_write_is_a_problem_with_the_api_servers_words_and_changes_nothing() -> None:
    store = RefusingStore(public(), internal())
    store.refused = ("public",)
    result = await GatewayAPIRouter(store).set_split(TARGET, TrafficSplit(30, COLOURED))
    [problem] = result.problems
    assert (problem.virtual_service, problem.reason) == ("public", RoutingProblemReason.WRITE_REFUSED)
    assert problem.message == (
        f"the API server refused the write of HTTPRoute shop/public, which stays as it was: {CEL_SAYS}"
    )
    assert store.current(NAMESPACE, "public") == public()
    assert [w.virtual_service for w in result.written] == ["internal"]


async def test_header_rules_one_http_route_has_no_room_for_leave_every_http_route_unwritten() -> None:
    full = http_route("internal", *(rule(f"r{i}", backend("assets"), path=f"/r{i}") for i in range(15)))
    full["spec"]["rules"].append(rule("checkout", backend("checkout", 100)))
    store = InMemoryVirtualServiceStore(public(), full)
    target = TrafficTarget(
        NAMESPACE,
        (),
        STABLE,
        CANARY,
        release="checkout",
        http_routes=(HTTPRouteRef("public", ("web",)), HTTPRouteRef("internal", ("checkout",))),
    )
    result = await GatewayAPIRouter(store).set_split(target, TrafficSplit(0, COLOURED))
    [problem] = result.problems
    assert (problem.virtual_service, problem.reason) == ("internal", RoutingProblemReason.HEADER_RULES_DO_NOT_FIT)
    assert "17 rules, over the 16 an HTTPRoute holds" in problem.message
    assert (result.written, store.replaces) == ((), [])
    assert store.current(NAMESPACE, "public") == public()
    assert store.current(NAMESPACE, "internal")["spec"] == full["spec"]
