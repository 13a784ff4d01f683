"""The Istio traffic router: shifts a release's weights in its VirtualServices through a ``VirtualServiceStore``.

Why it is this small: the decisions live in the pure ``virtualservice_*`` modules; this class only says what each
VirtualService should become, and the read-modify-write loop it shares with the Gateway API router (``converge.py``)
writes it. That loop is where the operator's safety properties come from:

* Level-based. Every call re-reads the VirtualServices; nothing is cached between ticks, so a restarted operator
  (or a human who edited the weights) is seen as it is.
* Economical. A VirtualService is replaced only when its new body differs from the one read, so a tick that changes
  nothing writes nothing.
* Optimistic concurrency. The replaced body carries the ``resourceVersion`` it was computed from; on a 409 the router
  re-reads, recomputes and retries, a bounded number of times, then lets ``ConflictError`` propagate.
* A refused write is a problem, not a crash. When the API server refuses a replace (HTTP 400/422: Istio's validating
  webhook, an admission policy, the schema), nothing was written; the VirtualService is reported with
  ``WriteRefused`` and the API server's message, for the release to hold and say why.
* Advance all-or-nothing, revert best-effort. Before any write every VirtualService of the release is read and
  checked. If one cannot be managed, an advance (weight > 0) writes nothing, so the release never runs half its
  routes ahead; a revert to 0 still writes every VirtualService it can, because sending traffic back to stable is
  always safe and the one that failed is reported in ``WriteResult.problems``.
* Colouring rides along. When the target names its release, ``set_split`` also keeps exactly the asked header routes
  above the managed routes (inserting, rewriting, re-inserting one someone deleted, or removing them), ``observe``
  reports whether each is there, and ``restore`` drops them; an advance that adds header routes is all-or-nothing too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from graygate.errors import RouteNotFoundError
from graygate.ports.routing import (
    RouteSnapshot,
    RouteWeights,
    RoutingProblem,
    TrafficReading,
    TrafficSplit,
    TrafficTarget,
    VirtualServiceBody,
    VirtualServiceRef,
    VirtualServiceStore,
    VirtualServiceWeights,
    WriteResult,
)
from graygate.routers import virtualservice_read, virtualservice_write
from graygate.routers.converge import Change, Converger, Previous, resource_version
from graygate.routers.virtualservice_view import DEFAULT_CLUSTER_DOMAIN

__all__ = ["IstioRouter"]


class IstioRouter:
    """A ``graygate.ports.TrafficRouter`` for Istio ``networking.istio.io/v1`` VirtualServices."""

    def __init__(
        self,
        store: VirtualServiceStore,
        *,
        max_attempts: int = 3,
        cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
    ) -> None:
        self._loop = Converger(store, "VirtualService", max_attempts=max_attempts)
        self._cluster_domain = cluster_domain

    async def observe(self, target: TrafficTarget) -> TrafficReading:
        """The actual split of every managed route: one read per VirtualService, never a write."""
        seen: list[VirtualServiceWeights] = []
        problems: list[RoutingProblem] = []
        for ref in target.virtual_services:
            body = await self._loop.get(target.namespace, ref.name)
            if isinstance(body, RoutingProblem):
                problems.append(body)
                continue
            weights = self._read(body, ref, target)
            if isinstance(weights, RoutingProblem):
                problems.append(weights)
            else:
                seen.append(VirtualServiceWeights(ref.name, resource_version(body), weights))
        return TrafficReading(tuple(seen), tuple(problems))

    async def set_split(self, target: TrafficTarget, split: TrafficSplit) -> WriteResult:
        """Send ``split.canary_weight`` % of every managed route to canary and the rest to stable, with exactly
        ``split.header_routes`` above them (when the target names its release); see the module docstring."""
        changes: list[tuple[str, Change]] = [
            (
                ref.name,
                functools.partial(
                    virtualservice_write.with_split,
                    route_names=ref.routes,
                    stable=target.stable,
                    canary=target.canary,
                    split=split,
                    release=target.release,
                    cluster_domain=self._cluster_domain,
                ),
            )
            for ref in target.virtual_services
        ]
        advance = split.canary_weight > 0 or bool(split.header_routes)
        return await self._loop.set_all(
            target.namespace, changes, all_or_nothing=advance, previous=self._previous_weights(target)
        )

    async def snapshot(self, target: TrafficTarget) -> tuple[RouteSnapshot, ...]:
        """The managed routes as they are now; raises ``RouterError`` when a VirtualService or route is missing."""
        snapshots: list[RouteSnapshot] = []
        for ref in target.virtual_services:
            body = await self._loop.get(target.namespace, ref.name, fresh=True)
            if isinstance(body, RoutingProblem):
                raise RouteNotFoundError(body.message, reason=body.reason)
            snapshots.extend(virtualservice_read.snapshot(body, ref.routes))
        return tuple(snapshots)

    async def restore(self, target: TrafficTarget, snapshots: Sequence[RouteSnapshot]) -> WriteResult:
        """Put every snapshotted route back exactly, in each VirtualService the snapshots name.

        The snapshots, not ``target.virtual_services``, say what to restore: a VirtualService dropped from the spec
        mid-release is still put back. A VirtualService already as snapshotted is not written.
        """
        change: Change = functools.partial(virtualservice_write.restore, snapshots=snapshots, release=target.release)
        names = dict.fromkeys(saved.virtual_service for saved in snapshots)
        return await self._loop.restore_all(
            target.namespace, [(name, change) for name in names], previous=self._previous_weights(target)
        )

    def _read(
        self, body: VirtualServiceBody, ref: VirtualServiceRef, target: TrafficTarget
    ) -> tuple[RouteWeights, ...] | RoutingProblem:
        return virtualservice_read.read_weights(
            body, ref.routes, target.stable, target.canary, cluster_domain=self._cluster_domain, release=target.release
        )

    def _previous_weights(self, target: TrafficTarget) -> Previous:
        def previous(name: str, body: VirtualServiceBody) -> tuple[RouteWeights, ...]:
            ref = next((ref for ref in target.virtual_services if ref.name == name), None)
            weights = None if ref is None else self._read(body, ref, target)
            return weights if isinstance(weights, tuple) else ()

        return previous
