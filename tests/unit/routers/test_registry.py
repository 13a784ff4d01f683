"""The router registry knows its list and refuses anything else, loudly."""

from __future__ import annotations

import pytest

from graygate.errors import UnknownRouterError
from graygate.ports.routing import TrafficRouter
from graygate.routers.istio import IstioRouter
from graygate.routers.registry import ROUTERS, RouterClients, RouterRegistry
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore

CLIENTS = RouterClients(virtual_services=InMemoryVirtualServiceStore())


def test_istio_is_registered() -> None:
    assert ROUTERS.kinds == ("istio",)
    assert isinstance(ROUTERS.create("istio", CLIENTS), IstioRouter)


@pytest.mark.parametrize("kind", ["linkerd", "Istio", "", "istio "])
def test_an_unknown_kind_is_refused_naming_the_known_ones(kind: str) -> None:
    with pytest.raises(UnknownRouterError) as raised:
        ROUTERS.create(kind, CLIENTS)
    assert str(raised.value) == f"unknown traffic router kind {kind!r}; graygate knows: istio"
    assert (raised.value.kind, raised.value.known, raised.value.reason) == (kind, ("istio",), "UnknownRouterKind")


def test_a_registry_builds_routers_from_the_clients_it_is_given() -> None:
    built: list[RouterClients] = []

    def factory(clients: RouterClients) -> TrafficRouter:
        built.append(clients)
        return IstioRouter(clients.virtual_services, max_attempts=1)

    registry = RouterRegistry({"istio": factory, "fake-mesh": factory})

    registry.create("fake-mesh", CLIENTS)
    assert built == [CLIENTS]
    assert registry.kinds == ("fake-mesh", "istio")
