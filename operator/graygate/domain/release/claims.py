"""Route claims: two releases must never steer the same route, or each would re-assert its weights over the other.

The older release (by creation time, then name) keeps the route; the newer one is told who holds it and changes
nothing. A release that manages a VirtualService (or HTTPRoute) without naming routes (rules) claims all of them.
An HTTPRoute's key names it `HTTPRoute/<name>` (a slash no object name can hold), so it never meets a VirtualService
of the same name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from graygate.api.spec import CanaryReleaseSpec

__all__ = ["ALL_ROUTES", "Claim", "RouteKey", "claims_of", "contested_by", "object_key"]

ALL_ROUTES = "*"

RouteKey = tuple[str, str, str]
"""(namespace, VirtualService or `HTTPRoute/<name>`, route name or `*`)."""

_HTTP_ROUTE = "HTTPRoute/"


def object_key(kind: str, name: str) -> str:
    """The middle of a route key: a VirtualService's name, or an HTTPRoute's name after `HTTPRoute/`."""
    return f"{_HTTP_ROUTE}{name}" if kind == "HTTPRoute" else name


def _describe(key: str) -> str:
    return f"HTTPRoute {key.removeprefix(_HTTP_ROUTE)}" if key.startswith(_HTTP_ROUTE) else f"VirtualService {key}"


@dataclass(frozen=True, order=True)
class Claim:
    created_at: datetime
    release: str


def claims_of(namespace: str, spec: CanaryReleaseSpec) -> set[RouteKey]:
    keys: set[RouteKey] = set()
    kind = "HTTPRoute" if spec.traffic_routing.gateway_api is not None else "VirtualService"
    for ref in spec.traffic_routing.managed():
        for route in ref.routes or (ALL_ROUTES,):
            keys.add((namespace, object_key(kind, ref.name), route))
    return keys


def _overlaps(mine: RouteKey, theirs: RouteKey) -> bool:
    same_vs = mine[:2] == theirs[:2]
    return same_vs and (mine[2] == theirs[2] or ALL_ROUTES in (mine[2], theirs[2]))


def contested_by(me: Claim, keys: Iterable[RouteKey], held: Iterable[tuple[RouteKey, Claim]]) -> str | None:
    """The message naming the older release that holds one of `keys`, or None when every route is ours."""
    mine = list(keys)
    for key, claim in sorted(held, key=lambda item: item[1]):
        if claim.release == me.release or not claim < me:
            continue
        for wanted in mine:
            if _overlaps(wanted, key):
                route = "all routes" if ALL_ROUTES in (wanted[2], key[2]) else f"route {wanted[2]}"
                return (
                    f"{route} of {_describe(wanted[1])} is already managed by CanaryRelease {claim.release}; "
                    "delete that release or manage another route"
                )
    return None
