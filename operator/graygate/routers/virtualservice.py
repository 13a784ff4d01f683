"""Reading and rewriting the weights of an Istio VirtualService, as pure functions over its JSON.

Why pure: every decision about a VirtualService (which route is ours, which destination is stable, is it safe to
shift weight) can be tested as a table, with no API server and no clock; ``istio.py`` only adds the get/replace loop.

Why writes go through the dict, not the view: reads use the typed view in ``virtualservice_view.py``, but every write
starts from a deep copy of the original JSON and assigns only ``weight`` values (or inserts the canary destination),
so everything graygate does not understand goes back byte-for-byte, key order included. Destination matching, short
hosts included, is described there too.

Header-based traffic colouring (``header_routes.py``) inserts, directly above each managed route, a route of its own
name that sends matching requests to the canary. Route selection (``_select_routes``) is by name, and a lone unnamed
managed route is found among the routes that are not header routes, so such a route never becomes "managed" by
accident; ``restore`` puts back only the snapshotted routes, so it drops the release's header routes explicitly.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from graygate.errors import InvalidRouteError, RouteNotFoundError, RouterError
from graygate.ports import (
    Destination,
    RouteSnapshot,
    RouteWeights,
    RoutingProblem,
    RoutingProblemReason,
    TrafficSplit,
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

__all__ = ["read_weights", "restore", "snapshot", "with_canary_weight", "with_split"]

_Reason = RoutingProblemReason


# ---- analysis shared by reads and writes ----


@dataclass(frozen=True)
class _ManagedRoute:
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


def _select_routes(
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
) -> _ManagedRoute | RoutingProblem:
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
    return _ManagedRoute(
        index=index,
        name=route.name,
        stable_index=stable_hits[0],
        canary_index=canary_hits[0] if canary_hits else None,
        weights=weights,
    )


@dataclass(frozen=True)
class _Inspection:
    view: VirtualServiceView
    routes: list[_ManagedRoute]


def _inspect(
    vs: VirtualServiceBody,
    route_names: Sequence[str] | None,
    stable: Destination,
    canary: Destination,
    cluster_domain: str,
) -> _Inspection | RoutingProblem:
    view = parse_view(vs)
    if isinstance(view, RoutingProblem):
        return view
    selected = _select_routes(view, route_names)
    if isinstance(selected, RoutingProblem):
        return selected
    matcher = DestinationMatcher(view.metadata.namespace, cluster_domain)
    managed: list[_ManagedRoute] = []
    for index, route in selected:
        inspected = _inspect_route(view, index, route, stable, canary, matcher)
        if isinstance(inspected, RoutingProblem):
            return inspected
        managed.append(inspected)
    return _Inspection(view, managed)


def _error(problem: RoutingProblem) -> RouterError:
    not_found = {_Reason.VIRTUAL_SERVICE_NOT_FOUND, _Reason.ROUTE_NOT_FOUND}
    error_type = RouteNotFoundError if problem.reason in not_found else InvalidRouteError
    return error_type(problem.message, reason=problem.reason)


# ---- the public pure functions ----


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
    inspection = _inspect(vs, route_names, stable, canary, cluster_domain)
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


def with_split(
    vs: VirtualServiceBody,
    route_names: Sequence[str] | None,
    stable: Destination,
    canary: Destination,
    split: TrafficSplit,
    *,
    release: str | None,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> VirtualServiceBody:
    """``with_canary_weight``, then (given the ``release``) exactly ``split.header_routes`` above the managed routes:
    inserted, rewritten or removed as needed (see ``header_routes``). Equal to ``vs`` when nothing needs to change."""
    result = with_canary_weight(vs, route_names, stable, canary, split.canary_weight, cluster_domain=cluster_domain)
    if release is None:
        return result
    inspection = _inspect(result, route_names, stable, canary, cluster_domain)
    if isinstance(inspection, RoutingProblem):
        raise _error(inspection)
    matcher = DestinationMatcher(inspection.view.metadata.namespace, cluster_domain)
    http = result["spec"]["http"]
    placements = [
        header_routes.Placement(
            index=route.index,
            name=header_routes.header_route_name(release, route.name),
            own_match=http[route.index].get("match"),
            canary_entry=_new_canary_entry(
                http[route.index]["route"][route.stable_index]["destination"], canary, matcher
            ),
        )
        for route in inspection.routes
    ]
    return header_routes.place(result, release, placements, split.header_routes)


def with_canary_weight(
    vs: VirtualServiceBody,
    route_names: Sequence[str] | None,
    stable: Destination,
    canary: Destination,
    canary_weight: int,
    *,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> VirtualServiceBody:
    """A deep copy of ``vs`` whose managed routes send ``canary_weight`` % to canary and the rest to stable.

    Only those two ``weight`` values change. A missing canary destination is inserted right after the stable one
    (host and port copied from it unless ``canary`` names its own) - but only for a weight above 0, so "back to 0"
    on a route the canary never reached writes nothing. A route already at the asked split is left as it is, so the
    result equals ``vs`` when nothing needs to change. Raises ``RouterError`` for any problem ``read_weights``
    reports, except weights not summing to 100, which this rewrite fixes.
    """
    if isinstance(canary_weight, bool) or not 0 <= canary_weight <= 100:
        raise ValueError(f"canary weight must be an integer from 0 to 100, got {canary_weight!r}")
    inspection = _inspect(vs, route_names, stable, canary, cluster_domain)
    if isinstance(inspection, RoutingProblem):
        raise _error(inspection)
    result = copy.deepcopy(vs)
    matcher = DestinationMatcher(inspection.view.metadata.namespace, cluster_domain)
    for route in inspection.routes:
        if (route.stable_weight, route.canary_weight) == (100 - canary_weight, canary_weight):
            continue
        destinations = result["spec"]["http"][route.index]["route"]
        destinations[route.stable_index]["weight"] = 100 - canary_weight
        if route.canary_index is not None:
            destinations[route.canary_index]["weight"] = canary_weight
        elif canary_weight > 0:
            entry = _new_canary_entry(destinations[route.stable_index]["destination"], canary, matcher)
            entry["weight"] = canary_weight
            destinations.insert(route.stable_index + 1, entry)
    return result


def _new_canary_entry(
    stable_destination: dict[str, JsonValue], canary: Destination, matcher: DestinationMatcher
) -> dict[str, JsonValue]:
    stable_host = str(stable_destination["host"])
    same_service = matcher.host(stable_host) == matcher.host(canary.host)
    destination: dict[str, JsonValue] = {"host": stable_host if same_service else canary.host}
    if canary.subset is not None:
        destination["subset"] = canary.subset
    if canary.port is not None:
        destination["port"] = {"number": canary.port}
    elif "port" in stable_destination:
        destination["port"] = copy.deepcopy(stable_destination["port"])
    return {"destination": destination}


def snapshot(vs: VirtualServiceBody, route_names: Sequence[str] | None) -> list[RouteSnapshot]:
    """The managed routes exactly as they are now, as JSON text fit for the release status."""
    view = parse_view(vs)
    if isinstance(view, RoutingProblem):
        raise _error(view)
    selected = _select_routes(view, route_names)
    if isinstance(selected, RoutingProblem):
        raise _error(selected)
    http = vs["spec"]["http"]
    return [
        RouteSnapshot(
            virtual_service=view.metadata.name,
            route=route.name,
            route_json=json.dumps(http[index], separators=(",", ":"), ensure_ascii=False, allow_nan=False),
        )
        for index, route in selected
    ]


def restore(
    vs: VirtualServiceBody, snapshots: Sequence[RouteSnapshot], *, release: str | None = None
) -> VirtualServiceBody:
    """A deep copy of ``vs`` with each snapshotted route of this VirtualService put back exactly, and without any
    header route of ``release`` (a snapshot predates colouring, so restoring routes by name would leave them).

    Snapshots of other VirtualServices are ignored. A route is found again by its name (an unnamed route: the
    VirtualService must still have exactly one http route); a route gone since the snapshot raises
    ``RouteNotFoundError`` rather than guessing where it belonged.
    """
    view = parse_view(vs)
    if isinstance(view, RoutingProblem):
        raise _error(view)
    result = copy.deepcopy(vs)
    for saved in snapshots:
        if saved.virtual_service != view.metadata.name:
            continue
        selected = _select_routes(view, None if saved.route is None else [saved.route])
        if isinstance(selected, RoutingProblem):
            raise _error(selected)
        [(index, _route)] = selected
        result["spec"]["http"][index] = json.loads(saved.route_json)
    return result if release is None else header_routes.drop(result, release)
