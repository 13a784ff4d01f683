"""The Istio traffic router: shifts a release's weights in its VirtualServices through a ``VirtualServiceStore``.

Why it is this small: the decisions live in the pure ``virtualservice`` module; this class only adds the
read-modify-write loop around them. That loop is where the operator's safety properties come from:

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
from collections.abc import Callable, Sequence

from graygate.errors import ConflictError, RejectedError, RouteNotFoundError, RouterError
from graygate.ports.routing import (
    RouteSnapshot,
    RouteWeights,
    RoutingProblem,
    RoutingProblemReason,
    TrafficReading,
    TrafficSplit,
    TrafficTarget,
    VirtualServiceBody,
    VirtualServiceRef,
    VirtualServiceStore,
    VirtualServiceWeights,
    VirtualServiceWrite,
    WriteResult,
)
from graygate.routers import virtualservice_read, virtualservice_write
from graygate.routers.refusals import refused
from graygate.routers.virtualservice_view import DEFAULT_CLUSTER_DOMAIN

__all__ = ["IstioRouter"]

_Change = Callable[[VirtualServiceBody], VirtualServiceBody]


class IstioRouter:
    """A ``graygate.ports.TrafficRouter`` for Istio ``networking.istio.io/v1`` VirtualServices."""

    def __init__(
        self,
        store: VirtualServiceStore,
        *,
        max_attempts: int = 3,
        cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self._store = store
        self._max_attempts = max_attempts
        self._cluster_domain = cluster_domain

    async def observe(self, target: TrafficTarget) -> TrafficReading:
        """The actual split of every managed route: one read per VirtualService, never a write."""
        seen: list[VirtualServiceWeights] = []
        problems: list[RoutingProblem] = []
        for ref in target.virtual_services:
            body = await self._store.get(target.namespace, ref.name)
            if body is None:
                problems.append(_not_found(target.namespace, ref.name))
                continue
            weights = self._read(body, ref, target)
            if isinstance(weights, RoutingProblem):
                problems.append(weights)
            else:
                seen.append(VirtualServiceWeights(ref.name, _resource_version(body), weights))
        return TrafficReading(tuple(seen), tuple(problems))

    async def set_split(self, target: TrafficTarget, split: TrafficSplit) -> WriteResult:
        """Send ``split.canary_weight`` % of every managed route to canary and the rest to stable, with exactly
        ``split.header_routes`` above them (when the target names its release); see the module docstring."""
        weight = split.canary_weight
        planned: list[tuple[VirtualServiceRef, VirtualServiceBody, _Change]] = []
        problems: list[RoutingProblem] = []
        for ref in target.virtual_services:
            body = await self._store.get(target.namespace, ref.name)
            if body is None:
                problems.append(_not_found(target.namespace, ref.name))
                continue
            change: _Change = functools.partial(
                virtualservice_write.with_split,
                route_names=ref.routes,
                stable=target.stable,
                canary=target.canary,
                split=split,
                release=target.release,
                cluster_domain=self._cluster_domain,
            )
            try:
                change(body)
            except RouterError as e:
                problems.append(_problem(ref.name, e))
                continue
            planned.append((ref, body, change))
        if problems and (weight > 0 or split.header_routes):
            return WriteResult(written=(), unchanged=(), problems=tuple(problems))
        return await self._converge_all(target, [(ref.name, body, change) for ref, body, change in planned], problems)

    async def snapshot(self, target: TrafficTarget) -> tuple[RouteSnapshot, ...]:
        """The managed routes as they are now; raises ``RouterError`` when a VirtualService or route is missing."""
        snapshots: list[RouteSnapshot] = []
        for ref in target.virtual_services:
            body = await self._store.get(target.namespace, ref.name)
            if body is None:
                problem = _not_found(target.namespace, ref.name)
                raise RouteNotFoundError(problem.message, reason=problem.reason)
            snapshots.extend(virtualservice_read.snapshot(body, ref.routes))
        return tuple(snapshots)

    async def restore(self, target: TrafficTarget, snapshots: Sequence[RouteSnapshot]) -> WriteResult:
        """Put every snapshotted route back exactly, in each VirtualService the snapshots name.

        The snapshots, not ``target.virtual_services``, say what to restore: a VirtualService dropped from the spec
        mid-release is still put back. A VirtualService already as snapshotted is not written.
        """
        problems: list[RoutingProblem] = []
        pending: list[tuple[str, VirtualServiceBody, _Change]] = []
        for name in dict.fromkeys(saved.virtual_service for saved in snapshots):
            body = await self._store.get(target.namespace, name)
            if body is None:
                problems.append(_not_found(target.namespace, name))
                continue
            change: _Change = functools.partial(
                virtualservice_write.restore, snapshots=snapshots, release=target.release
            )
            pending.append((name, body, change))
        return await self._converge_all(target, pending, problems)

    # ---- the read-modify-write loop ----

    async def _converge_all(
        self,
        target: TrafficTarget,
        pending: Sequence[tuple[str, VirtualServiceBody, _Change]],
        problems: list[RoutingProblem],
    ) -> WriteResult:
        written: list[VirtualServiceWrite] = []
        unchanged: list[str] = []
        for name, body, change in pending:
            outcome = await self._converge(target, name, body, change)
            if isinstance(outcome, RoutingProblem):
                problems.append(outcome)
            elif outcome is None:
                unchanged.append(name)
            else:
                written.append(outcome)
        return WriteResult(written=tuple(written), unchanged=tuple(unchanged), problems=tuple(problems))

    async def _converge(
        self, target: TrafficTarget, name: str, body: VirtualServiceBody, change: _Change
    ) -> VirtualServiceWrite | RoutingProblem | None:
        """Apply ``change`` to ``body`` and replace it if that changed anything; None means nothing to write."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                desired = change(body)
            except RouterError as e:
                return _problem(name, e)
            if desired == body:
                return None
            try:
                written = await self._store.replace(target.namespace, name, desired)
            except RejectedError as rejection:
                return refused("VirtualService", target.namespace, name, rejection)
            except ConflictError:
                if attempt == self._max_attempts:
                    raise
                reread = await self._store.get(target.namespace, name)
                if reread is None:
                    return _not_found(target.namespace, name)
                body = reread
                continue
            return VirtualServiceWrite(
                virtual_service=name,
                resource_version=_resource_version(written),
                attempts=attempt,
                previous=self._previous_weights(body, name, target),
            )
        raise AssertionError("unreachable: the last attempt either returns or raises")

    def _read(
        self, body: VirtualServiceBody, ref: VirtualServiceRef, target: TrafficTarget
    ) -> tuple[RouteWeights, ...] | RoutingProblem:
        return virtualservice_read.read_weights(
            body, ref.routes, target.stable, target.canary, cluster_domain=self._cluster_domain, release=target.release
        )

    def _previous_weights(self, body: VirtualServiceBody, name: str, target: TrafficTarget) -> tuple[RouteWeights, ...]:
        ref = next((ref for ref in target.virtual_services if ref.name == name), None)
        weights = None if ref is None else self._read(body, ref, target)
        return weights if isinstance(weights, tuple) else ()


def _resource_version(body: VirtualServiceBody) -> str | None:
    version = (body.get("metadata") or {}).get("resourceVersion")
    return None if version is None else str(version)


def _not_found(namespace: str, name: str) -> RoutingProblem:
    return RoutingProblem(
        name,
        RoutingProblemReason.VIRTUAL_SERVICE_NOT_FOUND,
        f"VirtualService {namespace}/{name} does not exist",
    )


def _problem(name: str, error: RouterError) -> RoutingProblem:
    return RoutingProblem(name, RoutingProblemReason(error.reason), str(error))
