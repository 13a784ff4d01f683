"""The Gateway API traffic router: shifts a release's weights in the rules of its HTTPRoutes through an
``HTTPRouteStore``.

It keeps the Istio router's promises (see ``istio.py``), over ``spec.rules[].backendRefs[].weight`` instead of route
destinations: level-based (every call re-reads the HTTPRoutes), economical (an HTTPRoute is replaced only when its
new body differs), optimistic (the replace carries the resourceVersion it was computed from; a 409 re-reads,
recomputes and retries, a bounded number of times), a refused write is a problem, not a crash (a 400/422 from the
CRD's schema or CEL rules or an admission policy is reported as ``WriteRefused`` with the API server's words, the
HTTPRoute unchanged), advance all-or-nothing and revert best-effort, and colouring rides along as header rules
(``httproute_write.py``). The decisions are in the pure ``httproute_read`` and ``httproute_write`` modules; this
class only adds the read-modify-write loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from graygate.errors import ConflictError, RejectedError, RouteNotFoundError, RouterError
from graygate.ports.routing import (
    HTTPRouteBody,
    HTTPRouteRef,
    HTTPRouteStore,
    RouteSnapshot,
    RouteWeights,
    RoutingProblem,
    RoutingProblemReason,
    TrafficReading,
    TrafficSplit,
    TrafficTarget,
    VirtualServiceWeights,
    VirtualServiceWrite,
    WriteResult,
)
from graygate.routers import httproute_read, httproute_write
from graygate.routers.refusals import refused

__all__ = ["GatewayAPIRouter"]

_Change = Callable[[HTTPRouteBody], HTTPRouteBody]


class GatewayAPIRouter:
    """A ``graygate.ports.TrafficRouter`` for Gateway API ``gateway.networking.k8s.io/v1`` HTTPRoutes."""

    def __init__(self, store: HTTPRouteStore, *, max_attempts: int = 3) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self._store = store
        self._max_attempts = max_attempts

    async def observe(self, target: TrafficTarget) -> TrafficReading:
        """The actual split of every managed rule: one read per HTTPRoute, never a write."""
        seen: list[VirtualServiceWeights] = []
        problems: list[RoutingProblem] = []
        for ref in target.http_routes:
            body = await self._store.get(target.namespace, ref.name)
            if body is None:
                problems.append(_not_found(target.namespace, ref.name))
                continue
            weights = _read(body, ref, target)
            if isinstance(weights, RoutingProblem):
                problems.append(weights)
            else:
                seen.append(VirtualServiceWeights(ref.name, _resource_version(body), weights))
        return TrafficReading(tuple(seen), tuple(problems))

    async def set_split(self, target: TrafficTarget, split: TrafficSplit) -> WriteResult:
        """Send ``split.canary_weight`` % of every managed rule to canary and the rest to stable, with exactly
        ``split.header_routes`` as header rules (when the target names its release)."""
        planned: list[tuple[str, HTTPRouteBody, _Change]] = []
        problems: list[RoutingProblem] = []
        for ref in target.http_routes:
            body = await self._store.get(target.namespace, ref.name)
            if body is None:
                problems.append(_not_found(target.namespace, ref.name))
                continue
            change: _Change = functools.partial(
                httproute_write.with_split,
                rule_names=ref.rules,
                stable=target.stable,
                canary=target.canary,
                split=split,
                release=target.release,
            )
            try:
                change(body)
            except RouterError as e:
                problems.append(_problem(ref.name, e))
                continue
            planned.append((ref.name, body, change))
        if problems and (split.canary_weight > 0 or split.header_routes):
            return WriteResult(written=(), unchanged=(), problems=tuple(problems))
        return await self._converge_all(target, planned, problems)

    async def snapshot(self, target: TrafficTarget) -> tuple[RouteSnapshot, ...]:
        """The managed rules as they are now; raises ``RouterError`` when an HTTPRoute or rule is missing."""
        snapshots: list[RouteSnapshot] = []
        for ref in target.http_routes:
            body = await self._store.get(target.namespace, ref.name)
            if body is None:
                problem = _not_found(target.namespace, ref.name)
                raise RouteNotFoundError(problem.message, reason=problem.reason)
            snapshots.extend(httproute_read.snapshot(body, ref.rules))
        return tuple(snapshots)

    async def restore(self, target: TrafficTarget, snapshots: Sequence[RouteSnapshot]) -> WriteResult:
        """Put every snapshotted rule back exactly, in each HTTPRoute the snapshots name (those still in the spec
        or not); an HTTPRoute already as snapshotted is not written."""
        problems: list[RoutingProblem] = []
        pending: list[tuple[str, HTTPRouteBody, _Change]] = []
        names = (saved.virtual_service for saved in snapshots if saved.kind == "HTTPRoute")
        for name in dict.fromkeys(names):
            body = await self._store.get(target.namespace, name)
            if body is None:
                problems.append(_not_found(target.namespace, name))
                continue
            change: _Change = functools.partial(httproute_write.restore, snapshots=snapshots, release=target.release)
            pending.append((name, body, change))
        return await self._converge_all(target, pending, problems)

    # ---- the read-modify-write loop ----

    async def _converge_all(
        self,
        target: TrafficTarget,
        pending: Sequence[tuple[str, HTTPRouteBody, _Change]],
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
        self, target: TrafficTarget, name: str, body: HTTPRouteBody, change: _Change
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
                return refused("HTTPRoute", target.namespace, name, rejection)
            except ConflictError:
                if attempt == self._max_attempts:
                    raise
                reread = await self._store.get(target.namespace, name)
                if reread is None:
                    return _not_found(target.namespace, name)
                body = reread
                continue
            ref = next((ref for ref in target.http_routes if ref.name == name), None)
            previous = None if ref is None else _read(body, ref, target)
            return VirtualServiceWrite(
                virtual_service=name,
                resource_version=_resource_version(written),
                attempts=attempt,
                previous=previous if isinstance(previous, tuple) else (),
            )
        raise AssertionError("unreachable: the last attempt either returns or raises")


def _read(body: HTTPRouteBody, ref: HTTPRouteRef, target: TrafficTarget) -> tuple[RouteWeights, ...] | RoutingProblem:
    return httproute_read.read_weights(body, ref.rules, target.stable, target.canary, release=target.release)


def _resource_version(body: HTTPRouteBody) -> str | None:
    version = (body.get("metadata") or {}).get("resourceVersion")
    return None if version is None else str(version)


def _not_found(namespace: str, name: str) -> RoutingProblem:
    return RoutingProblem(
        name, RoutingProblemReason.HTTP_ROUTE_NOT_FOUND, f"HTTPRoute {namespace}/{name} does not exist"
    )


def _problem(name: str, error: RouterError) -> RoutingProblem:
    return RoutingProblem(name, RoutingProblemReason(error.reason), str(error))
