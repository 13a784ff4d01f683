"""Rewriting the weights and header routes of an Istio VirtualService, as pure functions over its JSON.

Why writes go through the dict, not the view: every write starts from a deep copy of the original JSON and assigns
only ``weight`` values (or inserts the canary destination), so everything graygate does not understand goes back
byte-for-byte, key order included. Which routes are managed, and whether their weights can be shifted safely, is
found by ``virtualservice_read.py``; ``restore`` puts back only the snapshotted routes, so it drops the release's
header routes explicitly.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence

from pydantic import JsonValue

from graygate.ports.routing import Destination, RouteSnapshot, RoutingProblem, TrafficSplit, VirtualServiceBody
from graygate.routers import header_routes
from graygate.routers.virtualservice_read import inspect_routes, routing_error, select_routes
from graygate.routers.virtualservice_view import DEFAULT_CLUSTER_DOMAIN, DestinationMatcher, parse_view

__all__ = ["restore", "with_canary_weight", "with_split"]


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
    inspection = inspect_routes(result, route_names, stable, canary, cluster_domain)
    if isinstance(inspection, RoutingProblem):
        raise routing_error(inspection)
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
    inspection = inspect_routes(vs, route_names, stable, canary, cluster_domain)
    if isinstance(inspection, RoutingProblem):
        raise routing_error(inspection)
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
        raise routing_error(view)
    result = copy.deepcopy(vs)
    for saved in snapshots:
        if saved.virtual_service != view.metadata.name:
            continue
        selected = select_routes(view, None if saved.route is None else [saved.route])
        if isinstance(selected, RoutingProblem):
            raise routing_error(selected)
        [(index, _route)] = selected
        result["spec"]["http"][index] = json.loads(saved.route_json)
    return result if release is None else header_routes.drop(result, release)
