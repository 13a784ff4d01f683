"""The router registry knows its list and refuses anything else, loudly."""

from __future__ import annotations

import pytest

from graygate.errors import UnknownRouterError
from graygate.ports.routing import Destination, HTTPRouteRef, TrafficRouter, TrafficTarget, VirtualServiceRef
from graygate.routers.gateway_api import GatewayAPIRouter
from graygate.routers.istio import IstioRouter
from graygate.routers.registry import ROUTERS, RouterClients, RouterRegistry, TargetRouter
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore

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
