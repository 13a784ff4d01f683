"""The Gateway API traffic router: shifts a release's weights in the rules of its HTTPRoutes through an
``HTTPRouteStore``.

It keeps the Istio router's promises (see ``istio.py``), over ``spec.rules[].backendRefs[].weight`` instead of route
destinations: level-based (every call re-reads the HTTPRoutes), economical (an HTTPRoute is replaced only when its
new body differs), optimistic (the replace carries the resourceVersion it was computed from; a 409 re-reads,
recomputes and retries, a bounded number of times), a refused write is a problem, not a crash (a 400/422 from the
CRD's schema or CEL rules or an admission policy is reported as ``WriteRefused`` with the API server's words, the
HTTPRoute unchanged), advance all-or-nothing and revert best-effort, and colouring rides along as header rules
(``httproute_write.py``). The decisions are in the pure ``httproute_read`` and ``httproute_write`` modules, and the
read-modify-write loop is the one the Istio router runs (``converge.py``); this class only joins them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from graygate.errors import RouteNotFoundError
from graygate.ports.routing import (
    HTTPRouteBody,
    HTTPRouteRef,
    HTTPRouteStore,
    RouteSnapshot,
    RouteWeights,
    RoutingProblem,
    TrafficReading,
    TrafficSplit,
    TrafficTarget,
    VirtualServiceWeights,
    WriteResult,
)
from graygate.routers import httproute_read, httproute_write
from graygate.routers.converge import Change, Converger, Previous, resource_version

__all__ = ["GatewayAPIRouter"]


class GatewayAPIRouter:
    """A ``graygate.ports.TrafficRouter`` for Gateway API ``gateway.networking.k8s.io/v1`` HTTPRoutes."""

    def __init__(self, store: HTTPRouteStore, *, max_attempts: int = 3) -> None:
        self._loop = Converger(store, "HTTPRoute", max_attempts=max_attempts)

    async def observe(self, target: TrafficTarget) -> TrafficReading:
        """The actual split of every managed rule: one read per HTTPRoute, never a write."""
        seen: list[VirtualServiceWeights] = []
        problems: list[RoutingProblem] = []
        for ref in target.http_routes:
            body = await self._loop.get(target.namespace, ref.name)
            if isinstance(body, RoutingProblem):
                problems.append(body)
                continue
            weights = _read(body, ref, target)
            if isinstance(weights, RoutingProblem):
                problems.append(weights)
            else:
                seen.append(VirtualServiceWeights(ref.name, resource_version(body), weights))
        return TrafficReading(tuple(seen), tuple(problems))

    async def set_split(self, target: TrafficTarget, split: TrafficSplit) -> WriteResult:
        """Send ``split.canary_weight`` % of every managed rule to canary and the rest to stable, with exactly
        ``split.header_routes`` as header rules (when the target names its release)."""
        changes: list[tuple[str, Change]] = [
            (
                ref.name,
                functools.partial(
                    httproute_write.with_split,
                    rule_names=ref.rules,
                    stable=target.stable,
                    canary=target.canary,
                    split=split,
                    release=target.release,
                ),
            )
            for ref in target.http_routes
        ]
        advance = split.canary_weight > 0 or bool(split.header_routes)
        return await self._loop.set_all(target.namespace, changes, all_or_nothing=advance, previous=_previous(target))

    async def snapshot(self, target: TrafficTarget) -> tuple[RouteSnapshot, ...]:
        """The managed rules as they are now; raises ``RouterError`` when an HTTPRoute or rule is missing."""
        snapshots: list[RouteSnapshot] = []
        for ref in target.http_routes:
            body = await self._loop.get(target.namespace, ref.name, fresh=True)
            if isinstance(body, RoutingProblem):
                raise RouteNotFoundError(body.message, reason=body.reason)
            snapshots.extend(httproute_read.snapshot(body, ref.rules))
        return tuple(snapshots)

    async def restore(self, target: TrafficTarget, snapshots: Sequence[RouteSnapshot]) -> WriteResult:
        """Put every snapshotted rule back exactly, in each HTTPRoute the snapshots name (those still in the spec
        or not); an HTTPRoute already as snapshotted is not written."""
        change: Change = functools.partial(httproute_write.restore, snapshots=snapshots, release=target.release)
        names = dict.fromkeys(saved.virtual_service for saved in snapshots if saved.kind == "HTTPRoute")
        return await self._loop.restore_all(
            target.namespace, [(name, change) for name in names], previous=_previous(target)
        )


def _read(body: HTTPRouteBody, ref: HTTPRouteRef, target: TrafficTarget) -> tuple[RouteWeights, ...] | RoutingProblem:
    return httproute_read.read_weights(body, ref.rules, target.stable, target.canary, release=target.release)


def _previous(target: TrafficTarget) -> Previous:
    def previous(name: str, body: HTTPRouteBody) -> tuple[RouteWeights, ...]:
        ref = next((ref for ref in target.http_routes if ref.name == name), None)
        weights = None if ref is None else _read(body, ref, target)
        return weights if isinstance(weights, tuple) else ()

    return previous
