"""Reading an Istio VirtualService: which routes graygate manages, their weights, and their snapshot.

Why pure: every decision about a VirtualService (which route is ours, which destination is stable, is it safe to
shift weight) can be tested as a table, with no API server and no clock; ``istio.py`` only adds the get/replace loop.
Reads use the typed view in ``virtualservice_view.py``, where destination matching, short hosts included, is
described; the rewrites built on these findings are in ``virtualservice_write.py``.

Header-based traffic colouring (``header_routes.py``) inserts, directly above each managed route, a route of its own
name that sends matching requests to the canary. Route selection (``select_routes``) is by name, and a lone unnamed
managed route is found among the routes that are not header routes, so such a route never becomes "managed" by
accident.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from graygate.errors import InvalidRouteError, RouteNotFoundError, RouterError
from graygate.ports.routing import (
    Destination,
    RouteSnapshot,
    RouteWeights,
    RoutingProblem,
    RoutingProblemReason,
    VirtualServiceBody,
)
from graygate.routers import header_routes
from graygate.routers.virtualservice_view import (
    DEFAULT_CLUSTER_DOMAIN,
    DestinationMatcher,
    HttpRouteView,
    VirtualServiceView,
    describe_destination,
    effective_weights,
    parse_view,
    route_label,
)

__all__ = ["Inspection", "ManagedRoute", "inspect_routes", "read_weights", "routing_error", "select_routes", "snapshot"]

_Reason = RoutingProblemReason


# ---- what reads and writes both find out first ----


@dataclass(frozen=True)
class ManagedRoute:
    """A route graygate manages, as found: where it and its two destinations are, and the weights Envoy applies."""

    index: int  # position in spec.http
    name: str | None
    stable_index: int  # position in the route's destinations
    canary_index: int | None
    weights: tuple[int, ...]  # the effective weight of every destination, as Envoy will apply it

    @property
    def stable_weight(self) -> int:
        return self.weights[self.stable_index]

    @property
    def canary_weight(self) -> int:
        return 0 if self.canary_index is None else self.weights[self.canary_index]


def select_routes(
    view: VirtualServiceView, route_names: Sequence[str] | None
) -> list[tuple[int, HttpRouteView]] | RoutingProblem:
    """The http routes graygate manages, chosen by name only (see the colouring seam in the module docstring)."""
    http = view.spec.http
    labels = ", ".join(route_label(route, i) for i, route in enumerate(http)) or "none"
    if not route_names:
        own = [(i, route) for i, route in enumerate(http) if not header_routes.is_header_route(route.name)]
        if len(own) == 1:
            return own
        return RoutingProblem(
            view.metadata.name,
            _Reason.AMBIGUOUS_ROUTE,
            f"VirtualService {view.display_name} has {len(http)} http routes ({labels}); "
            "name the routes graygate should manage in the release",
        )
    selected: list[tuple[int, HttpRouteView]] = []
    for name in dict.fromkeys(route_names):
        indices = [i for i, route in enumerate(http) if route.name == name]
        if not indices:
            return RoutingProblem(
                view.metadata.name,
                _Reason.ROUTE_NOT_FOUND,
                f"VirtualService {view.display_name} has no http route named '{name}' (its routes: {labels})",
            )
        if len(indices) > 1:
            return RoutingProblem(
                view.metadata.name,
                _Reason.AMBIGUOUS_ROUTE,
                f"VirtualService {view.display_name} has {len(indices)} http routes named '{name}'; "
                "route names must be unique for graygate to know which one to shift",
            )
        selected.append((indices[0], http[indices[0]]))
    return selected


def _inspect_route(
    view: VirtualServiceView,
    index: int,
    route: HttpRouteView,
    stable: Destination,
    canary: Destination,
    matcher: DestinationMatcher,
) -> ManagedRoute | RoutingProblem:
    where = f"route {route_label(route, index)} of VirtualService {view.display_name}"

    def problem(reason: RoutingProblemReason, message: str) -> RoutingProblem:
        return RoutingProblem(view.metadata.name, reason, f"{where} {message}")

    stable_hits = [i for i, entry in enumerate(route.route) if matcher.matches(entry.destination, stable)]
    canary_hits = [i for i, entry in enumerate(route.route) if matcher.matches(entry.destination, canary)]
    routed = ", ".join(describe_destination(entry.destination) for entry in route.route) or "nothing"
    for i in set(stable_hits) & set(canary_hits):
        described = describe_destination(route.route[i].destination)
        return problem(
            _Reason.DUPLICATE_DESTINATION,
            f"has destination {described} matching both stable ({stable}) and canary ({canary}); "
            "give them distinct subsets or hosts",
        )
    if not stable_hits:
        return problem(
            _Reason.STABLE_NOT_ROUTED,
            f"does not route to the stable destination {stable} (it routes to: {routed})",
        )
    for wanted, hits in (("stable", stable_hits), ("canary", canary_hits)):
        if len(hits) > 1:
            return problem(
                _Reason.DUPLICATE_DESTINATION,
                f"lists the {wanted} destination {len(hits)} times ({routed}); keep one entry per destination",
            )
    weights = effective_weights(route)
    for i, entry in enumerate(route.route):
        if i not in stable_hits and i not in canary_hits and weights[i] > 0:
            return problem(
                _Reason.FOREIGN_WEIGHT,
                f"also sends weight {weights[i]} to {describe_destination(entry.destination)}, which is neither "
                "stable nor canary; graygate cannot keep the weights summing to 100 without taking traffic from it. "
                "Set its weight to 0 or move it to a route of its own",
            )
    return ManagedRoute(
        index=index,
        name=route.name,
        stable_index=stable_hits[0],
        canary_index=canary_hits[0] if canary_hits else None,
        weights=weights,
    )


@dataclass(frozen=True)
class Inspection:
    """A VirtualService whose managed routes can all be shifted, with those routes."""

    view: VirtualServiceView
    routes: list[ManagedRoute]


def inspect_routes(
    vs: VirtualServiceBody,
    route_names: Sequence[str] | None,
    stable: Destination,
    canary: Destination,
    cluster_domain: str,
) -> Inspection | RoutingProblem:
    """The managed routes of `vs`, or the first reason graygate cannot shift their weights."""
    view = parse_view(vs)
    if isinstance(view, RoutingProblem):
        return view
    selected = select_routes(view, route_names)
    if isinstance(selected, RoutingProblem):
        return selected
    matcher = DestinationMatcher(view.metadata.namespace, cluster_domain)
    managed: list[ManagedRoute] = []
    for index, route in selected:
        inspected = _inspect_route(view, index, route, stable, canary, matcher)
        if isinstance(inspected, RoutingProblem):
            return inspected
        managed.append(inspected)
    return Inspection(view, managed)


def routing_error(problem: RoutingProblem) -> RouterError:
    """`problem` as the error a write raises (a read returns the problem instead)."""
    not_found = {_Reason.VIRTUAL_SERVICE_NOT_FOUND, _Reason.ROUTE_NOT_FOUND}
    error_type = RouteNotFoundError if problem.reason in not_found else InvalidRouteError
    return error_type(problem.message, reason=problem.reason)


# ---- the reads ----


def read_weights(
    vs: VirtualServiceBody,
    route_names: Sequence[str] | None,
    stable: Destination,
    canary: Destination,
    *,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
    release: str | None = None,
) -> tuple[RouteWeights, ...] | RoutingProblem:
    """The actual (stable, canary) split of each managed route, or the first reason it cannot be trusted.

    A canary destination that is not listed reads as weight 0. ``route_names`` None or empty: the VirtualService
    must have exactly one http route (header routes aside). With ``release``, each reading also says whether that
    release's header route for the route exists.
    """
    inspection = inspect_routes(vs, route_names, stable, canary, cluster_domain)
    if isinstance(inspection, RoutingProblem):
        return inspection
    view = inspection.view
    for route in inspection.routes:
        if sum(route.weights) != 100:
            label = route_label(view.spec.http[route.index], route.index)
            return RoutingProblem(
                view.metadata.name,
                _Reason.WEIGHTS_NOT_100,
                f"route {label} of VirtualService {view.display_name} has weights {list(route.weights)} "
                f"summing to {sum(route.weights)}, not 100, so the canary's share is not what it says; "
                "setting a canary weight rewrites them",
            )
    names = {route.name for route in view.spec.http}
    return tuple(
        RouteWeights(
            route.name,
            route.stable_weight,
            route.canary_weight,
            header_route=release is not None and header_routes.header_route_name(release, route.name) in names,
        )
        for route in inspection.routes
    )


def snapshot(vs: VirtualServiceBody, route_names: Sequence[str] | None) -> list[RouteSnapshot]:
    """The managed routes exactly as they are now, as JSON text fit for the release status."""
    view = parse_view(vs)
    if isinstance(view, RoutingProblem):
        raise routing_error(view)
    selected = select_routes(view, route_names)
    if isinstance(selected, RoutingProblem):
        raise routing_error(selected)
    http = vs["spec"]["http"]
    return [
        RouteSnapshot(
            virtual_service=view.metadata.name,
            route=route.name,
            route_json=json.dumps(http[index], separators=(",", ":"), ensure_ascii=False, allow_nan=False),
        )
        for index, route in selected
    ]
