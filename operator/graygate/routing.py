"""Translations between the CanaryRelease spec/status and the traffic router's port types.

Kept apart from the service so the handler (on deletion) and the CLI build the same target the operator does.
"""

from __future__ import annotations

from collections.abc import Iterable

from graygate.api.header_routes import HeaderRouteMatch
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import OriginalRoute
from graygate.api.traffic import RouteDestination
from graygate.ports.routing import (
    Destination,
    HeaderMatch,
    HeaderRoute,
    HTTPRouteRef,
    RouteSnapshot,
    TrafficTarget,
    VirtualServiceRef,
)


def _destination(destination: RouteDestination) -> Destination:
    return Destination(host=destination.host, subset=destination.subset, port=destination.port)


def target_of(namespace: str, spec: CanaryReleaseSpec, release: str | None = None) -> TrafficTarget:
    """The release's traffic target; give the ``release`` name for its header routes to be read, written and removed."""
    managed = spec.traffic_routing.managed()
    gateway_api = spec.traffic_routing.gateway_api is not None
    return TrafficTarget(
        namespace=namespace,
        virtual_services=() if gateway_api else tuple(VirtualServiceRef(name, routes) for name, routes in managed),
        http_routes=tuple(HTTPRouteRef(name, routes) for name, routes in managed) if gateway_api else (),
        stable=_destination(spec.stable),
        canary=_destination(spec.canary),
        release=release,
    )


def header_routes_of(matches: Iterable[HeaderRouteMatch]) -> tuple[HeaderRoute, ...]:
    """The spec's `setHeaderRoute` matches as the router's port type."""
    routes: list[HeaderRoute] = []
    for match in matches:
        headers: list[HeaderMatch] = []
        for name, value in match.headers.items():
            if value.exact is not None:
                headers.append(HeaderMatch(name, "exact", value.exact))
            elif value.prefix is not None:
                headers.append(HeaderMatch(name, "prefix", value.prefix))
            elif value.regex is not None:
                headers.append(HeaderMatch(name, "regex", value.regex))
        routes.append(HeaderRoute(tuple(headers)))
    return tuple(routes)


def snapshots_to_status(snapshots: Iterable[RouteSnapshot]) -> tuple[OriginalRoute, ...]:
    return tuple(
        OriginalRoute(virtual_service=s.virtual_service, route=s.route, route_json=s.route_json, kind=s.kind)
        for s in snapshots
    )


def snapshots_from_status(snapshots: Iterable[OriginalRoute]) -> tuple[RouteSnapshot, ...]:
    return tuple(
        RouteSnapshot(virtual_service=s.virtual_service, route=s.route, route_json=s.route_json, kind=s.kind)
        for s in snapshots
    )
