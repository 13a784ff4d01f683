"""Which traffic router serves which ``kind`` named in a CanaryRelease: the one place that knows the list.

Why a registry that refuses: Flagger quietly falls back to a default mesh when it meets a provider it does not know,
and a typo then shifts no traffic at all while the release reports progress. Here an unknown kind raises
``UnknownRouterError`` naming the kinds that exist. Adding a mesh is one module plus one line in ``ROUTERS`` (and a
store field in ``RouterClients`` if it reads a new kind of object).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from graygate.errors import UnknownRouterError
from graygate.ports.routing import TrafficRouter, VirtualServiceStore
from graygate.routers.istio import IstioRouter

__all__ = ["ROUTERS", "RouterClients", "RouterFactory", "RouterRegistry"]


@dataclass(frozen=True)
class RouterClients:
    """The Kubernetes ports a router may need; the composition root fills it once."""

    virtual_services: VirtualServiceStore


RouterFactory = Callable[[RouterClients], TrafficRouter]


class RouterRegistry:
    def __init__(self, factories: Mapping[str, RouterFactory]) -> None:
        self._factories = dict(factories)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))

    def create(self, kind: str, clients: RouterClients) -> TrafficRouter:
        """The router for ``kind`` (matched exactly); raises ``UnknownRouterError`` for any other name."""
        factory = self._factories.get(kind)
        if factory is None:
            raise UnknownRouterError(kind, self.kinds)
        return factory(clients)


def _istio(clients: RouterClients) -> TrafficRouter:
    return IstioRouter(clients.virtual_services)


ROUTERS = RouterRegistry({"istio": _istio})
