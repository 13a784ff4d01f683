"""Which traffic router serves which ``kind`` named in a CanaryRelease: the one place that knows the list.

Why a registry that refuses: Flagger quietly falls back to a default mesh when it meets a provider it does not know,
and a typo then shifts no traffic at all while the release reports progress. Here an unknown kind raises
``UnknownRouterError`` naming the kinds that exist. Adding a mesh is one module plus one line in ``ROUTERS`` (and a
store field in ``RouterClients`` if it reads a new kind of object).

Each release says in its spec which router splits its traffic, so the operator holds one ``TargetRouter``: it builds
every registered router once and hands each target to the one its kind of object names (``ROUTER_OF_KIND``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from graygate.errors import UnknownRouterError
from graygate.ports.routing import (
    HTTPRouteRef,
    HTTPRouteStore,
    RouteObjectKind,
    RouteSnapshot,
    TrafficReading,
    TrafficRouter,
    TrafficSplit,
    TrafficTarget,
    VirtualServiceRef,
    VirtualServiceStore,
    WriteResult,
)
from graygate.routers.gateway_api import GatewayAPIRouter
from graygate.routers.istio import IstioRouter

__all__ = ["ROUTERS", "ROUTER_OF_KIND", "RouterClients", "RouterFactory", "RouterRegistry", "TargetRouter"]


@dataclass(frozen=True)
class RouterClients:
    """The Kubernetes ports a router may need; the composition root fills it once."""

    virtual_services: VirtualServiceStore
    http_routes: HTTPRouteStore


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


def _gateway_api(clients: RouterClients) -> TrafficRouter:
    return GatewayAPIRouter(clients.http_routes)


ROUTERS = RouterRegistry({"istio": _istio, "gatewayAPI": _gateway_api})

ROUTER_OF_KIND: Mapping[RouteObjectKind, str] = {"VirtualService": "istio", "HTTPRoute": "gatewayAPI"}
"""The router (the spec's ``trafficRouting`` key) that manages each kind of object."""


class TargetRouter:
    """A ``TrafficRouter`` that passes each call to the router of the target's kind of object."""

    def __init__(self, registry: RouterRegistry, clients: RouterClients) -> None:
        self._routers = {kind: registry.create(name, clients) for kind, name in ROUTER_OF_KIND.items()}

    def _of(self, target: TrafficTarget) -> TrafficRouter:
        return self._routers[target.kind]

    async def observe(self, target: TrafficTarget) -> TrafficReading:
        return await self._of(target).observe(target)

    async def set_split(self, target: TrafficTarget, split: TrafficSplit) -> WriteResult:
        return await self._of(target).set_split(target, split)

    async def snapshot(self, target: TrafficTarget) -> tuple[RouteSnapshot, ...]:
        return await self._of(target).snapshot(target)

    async def restore(self, target: TrafficTarget, snapshots: Sequence[RouteSnapshot]) -> WriteResult:
        """Each snapshot restored by the router of its own kind: a release whose spec moved from one kind of
        object to the other still puts back the objects it changed before, which its target no longer names."""
        kinds = dict.fromkeys((target.kind, *(saved.kind for saved in snapshots)))
        results: list[WriteResult] = []
        for kind in kinds:
            own = tuple(saved for saved in snapshots if saved.kind == kind)
            results.append(await self._routers[kind].restore(_of_kind(target, kind, own), own))
        return WriteResult(
            written=tuple(write for result in results for write in result.written),
            unchanged=tuple(name for result in results for name in result.unchanged),
            problems=tuple(problem for result in results for problem in result.problems),
        )


def _of_kind(target: TrafficTarget, kind: RouteObjectKind, snapshots: Sequence[RouteSnapshot]) -> TrafficTarget:
    """``target``, or for the other kind a target naming the objects of ``snapshots``: a restore reads the
    destinations only to report the weights it replaced."""
    if kind == target.kind:
        return target
    names = tuple(dict.fromkeys(saved.virtual_service for saved in snapshots))
    return TrafficTarget(
        namespace=target.namespace,
        virtual_services=tuple(VirtualServiceRef(name) for name in names) if kind == "VirtualService" else (),
        http_routes=tuple(HTTPRouteRef(name) for name in names) if kind == "HTTPRoute" else (),
        stable=target.stable,
        canary=target.canary,
        release=target.release,
    )
