"""Traffic colouring as pure functions over a VirtualService's JSON: the header routes graygate inserts above the
managed routes, and their removal.

Why its own module: colouring is the one write that adds and removes whole http routes instead of changing two
``weight`` values, so its rules are kept together. A header route is recognisable by its name alone
(``graygate-<release>-header``, or ``graygate-<release>-header-<route>`` above a named managed route), so it is
found again after a restart, and only this release's routes are ever removed. It sits directly above the route it
colours, and its matches are that route's own matches with the colouring headers added (Istio ORs the entries of
``match`` and ANDs the fields of each), so it only takes requests the managed route would have taken. Every other
route is left byte-for-byte.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from graygate.api.header_routes import HEADER_ROUTE_MARK as _MARK
from graygate.api.header_routes import HEADER_ROUTE_PREFIX, header_route_name
from graygate.ports.routing import HeaderRoute, VirtualServiceBody

__all__ = ["HEADER_ROUTE_PREFIX", "Placement", "header_route_name", "is_header_route", "owned_by", "place"]


def is_header_route(name: str | None) -> bool:
    """True for a route some release's colouring inserted; such a route is never taken for a managed one."""
    return name is not None and name.startswith(HEADER_ROUTE_PREFIX) and _MARK in name


def owned_by(name: object, release: str) -> bool:
    """True when ``name`` is one of ``release``'s header routes."""
    base = header_route_name(release, None)
    return isinstance(name, str) and (name == base or name.startswith(f"{base}-"))


@dataclass(frozen=True)
class Placement:
    """Where one header route goes: above http route ``index``, sending to ``canary_entry``."""

    index: int
    name: str
    own_match: JsonValue
    canary_entry: Mapping[str, JsonValue]


def _match(own_match: JsonValue, routes: Sequence[HeaderRoute]) -> list[JsonValue]:
    bases: list[JsonValue] = list(own_match) if isinstance(own_match, list) and own_match else [{}]
    combined: list[JsonValue] = []
    for base in bases:
        for route in routes:
            entry: dict[str, JsonValue] = copy.deepcopy(base) if isinstance(base, dict) else {}
            existing = entry.get("headers")
            headers: dict[str, JsonValue] = dict(existing) if isinstance(existing, dict) else {}
            headers.update({header.name: {header.kind: header.value} for header in route.headers})
            entry["headers"] = headers
            combined.append(entry)
    return combined


def place(
    vs: VirtualServiceBody, release: str, placements: Sequence[Placement], routes: Sequence[HeaderRoute]
) -> VirtualServiceBody:
    """A copy of ``vs`` whose only header routes of ``release`` are those ``routes`` ask for, one above each placement
    (none when ``routes`` is empty). Equal to ``vs`` when they are already there as wanted."""
    result = copy.deepcopy(vs)
    http = result["spec"]["http"]
    wanted: dict[int, dict[str, JsonValue]] = {}
    if routes:
        for placement in placements:
            wanted[placement.index] = {
                "name": placement.name,
                "match": _match(placement.own_match, routes),
                "route": [dict(copy.deepcopy(placement.canary_entry))],
            }
    rebuilt: list[JsonValue] = []
    for index, route in enumerate(http):
        if isinstance(route, dict) and owned_by(route.get("name"), release):
            continue
        if index in wanted:
            rebuilt.append(wanted[index])
        rebuilt.append(route)
    result["spec"]["http"] = rebuilt
    return result


def drop(vs: VirtualServiceBody, release: str) -> VirtualServiceBody:
    """A copy of ``vs`` without any header route of ``release``."""
    return place(vs, release, (), ())
