"""The router registry knows its list and refuses anything else, loudly."""

from __future__ import annotations

import pytest

from graygate.errors import UnknownRouterError
from graygate.ports.routing import (
    Destination,
    HTTPRouteRef,
    TrafficRouter,
    TrafficSplit,
    TrafficTarget,
    VirtualServiceRef,
)
from graygate.routers.gateway_api import GatewayAPIRouter
from graygate.routers.istio import IstioRouter
from graygate.routers.registry import ROUTERS, RouterClients, RouterRegistry, TargetRouter
from tests import http_routes as gateway
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.virtual_services import route, virtual_service

CLIENTS = RouterClients(virtual_services=InMemoryVirtualServiceStore(), http_routes=InMemoryVirtualServiceStore())


def test_istio_and_gateway_api_are_registered() -> None:
    assert ROUTERS.kinds == ("gatewayAPI", "istio")
    assert isinstance(ROUTERS.create("istio", CLIENTS), IstioRouter)
    assert isinstance(ROUTERS.create("gatewayAPI", CLIENTS), GatewayAPIRouter)


async def test_the_target_router_asks_the_store_of_the_targets_kind() -> None:
    """A VirtualService target reads VirtualServices only, an HTTPRoute target HTTPRoutes only."""
    virtual_services, http_routes = InMemoryVirtualServiceStore(), InMemoryVirtualServiceStore()
    router = TargetRouter(ROUTERS, RouterClients(virtual_services=virtual_services, http_routes=http_routes))
    stable, canary = Destination("checkout"), Destination("checkout-v2")
    istio = await router.observe(TrafficTarget("shop", (VirtualServiceRef("vs"),), stable, canary))
    gateway = await router.observe(TrafficTarget("shop", (), stable, canary, http_routes=(HTTPRouteRef("hr"),)))
    assert [p.reason.value for p in istio.problems] == ["VirtualServiceNotFound"]
    assert [p.reason.value for p in gateway.problems] == ["HTTPRouteNotFound"]
    assert (virtual_services.gets, http_routes.gets) == ([("shop", "vs")], [("shop", "hr")])


async def test_a_restore_puts_back_the_objects_of_the_kind_the_target_no_longer_names() -> None:
    """A release moved from Istio to Gateway API mid-run: its restore still puts its VirtualService back."""
    original = virtual_service("checkout", route("primary"), namespace="shop", resourceVersion="3")
    virtual_services = InMemoryVirtualServiceStore(original)
    http_routes = InMemoryVirtualServiceStore(
        gateway.http_route("public", gateway.rule("web", gateway.backend("checkout")))
    )
    router = TargetRouter(ROUTERS, RouterClients(virtual_services=virtual_services, http_routes=http_routes))
    stable, canary = Destination("checkout", subset="stable"), Destination("checkout", subset="canary")
    istio = TrafficTarget("shop", (VirtualServiceRef("checkout", ("primary",)),), stable, canary, release="r")
    saved = await router.snapshot(istio)
    await router.set_split(istio, TrafficSplit(20))
    assert virtual_services.current("shop", "checkout")["spec"] != original["spec"]

    moved = TrafficTarget(
        "shop", (), gateway.STABLE, gateway.CANARY, release="r", http_routes=(HTTPRouteRef("public", ("web",)),)
    )
    result = await router.restore(moved, saved)
    assert result.as_asked
    assert [write.virtual_service for write in result.written] == ["checkout"]
    assert virtual_services.current("shop", "checkout")["spec"] == original["spec"]
    assert http_routes.replaces == []


@pytest.mark.parametrize("kind", ["linkerd", "Istio", "", "istio "])
def test_an_unknown_kind_is_refused_naming_the_known_ones(kind: str) -> None:
    with pytest.raises(UnknownRouterError) as raised:
        ROUTERS.create(kind, CLIENTS)
    assert str(raised.value) == f"unknown traffic router kind {kind!r}; graygate knows: gatewayAPI, istio"
    known = ("gatewayAPI", "istio")
    assert (raised.value.kind, raised.value.known, raised.value.reason) == (kind, known, "UnknownRouterKind")


def test_a_registry_builds_routers_from_the_clients_it_is_given() -> None:
    built: list[RouterClients] = []

    def factory(clients: RouterClients) -> TrafficRouter:
        built.append(clients)
        return IstioRouter(clients.virtual_services, max_attempts=1)

    registry = RouterRegistry({"istio": factory, "fake-mesh": factory})

    registry.create("fake-mesh", CLIENTS)
    assert built == [CLIENTS]
    assert registry.kinds == ("fake-mesh", "istio")
