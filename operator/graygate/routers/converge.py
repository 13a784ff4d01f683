"""The read-modify-write loop both routers run, once, over either kind of object they manage.

Why one loop: the operator's safety properties (see ``istio.py``) live here, not in the pure transforms, so a fix to
one router's loop must be a fix to the other's. A router says what to write as a pure change per object
(``Change``: the body read → the body wanted) and what to report as the weights before a write; this module reads,
checks, writes only what changed with the ``resourceVersion`` read, re-reads and retries on a 409 up to
``max_attempts`` times, and reports a refused write (``refusals.py``) instead of raising.

With a store that reads from a watch-fed cache (``FreshReads``), ``get`` only decides: when its body says nothing
changes, nothing is read or written; when it says a write is due, the object is read again from the API server
(``get_fresh``) and the change is computed and written from that body, with that body's ``resourceVersion``
(optimistic concurrency as before). A conflict's re-read and a snapshot, which is kept for a later restore, are
fresh reads too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graygate.errors import ConflictError, RejectedError, RouterError
from graygate.ports.routing import (
    FreshReads,
    HTTPRouteStore,
    RouteObjectKind,
    RouteWeights,
    RoutingProblem,
    RoutingProblemReason,
    VirtualServiceStore,
    VirtualServiceWrite,
    WriteResult,
)
from graygate.routers.refusals import refused

__all__ = ["Change", "Converger", "Previous", "resource_version"]

Body = dict[str, Any]
"""A ``VirtualServiceBody`` or an ``HTTPRouteBody``: the same foreign JSON object either way."""

Change = Callable[[Body], Body]
"""A pure rewrite of one object: the body read → the body wanted; a ``RouterError`` when it cannot be managed."""

Previous = Callable[[str, Body], tuple[RouteWeights, ...]]
"""The managed weights of an object (by name) in the body a write replaced; () when there are none to report."""

_NOT_FOUND: dict[RouteObjectKind, RoutingProblemReason] = {
    "VirtualService": RoutingProblemReason.VIRTUAL_SERVICE_NOT_FOUND,
    "HTTPRoute": RoutingProblemReason.HTTP_ROUTE_NOT_FOUND,
}


class Converger:
    """The get/replace loop over one kind of object in one store."""

    def __init__(
        self, store: VirtualServiceStore | HTTPRouteStore, kind: RouteObjectKind, *, max_attempts: int
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self._store = store
        self._cached = isinstance(store, FreshReads)
        self._kind: RouteObjectKind = kind
        self._max_attempts = max_attempts

    async def get(self, namespace: str, name: str, *, fresh: bool = False) -> Body | RoutingProblem:
        """The object as it is now (``fresh``: from the API server even when the store has a cache), or the problem
        that it does not exist."""
        body = await self._read(namespace, name, fresh=fresh)
        return self._not_found(namespace, name) if body is None else body

    async def _read(self, namespace: str, name: str, *, fresh: bool) -> Body | None:
        if fresh and isinstance(self._store, FreshReads):
            return await self._store.get_fresh(namespace, name)
        return await self._store.get(namespace, name)

    def _not_found(self, namespace: str, name: str) -> RoutingProblem:
        return RoutingProblem(name, _NOT_FOUND[self._kind], f"{self._kind} {namespace}/{name} does not exist")

    async def set_all(
        self, namespace: str, changes: Sequence[tuple[str, Change]], *, all_or_nothing: bool, previous: Previous
    ) -> WriteResult:
        """Read and check every object before any write; with ``all_or_nothing``, one that cannot be managed means
        nothing is written, otherwise every other object is still written (best-effort)."""
        planned: list[tuple[str, Body, Change]] = []
        problems: list[RoutingProblem] = []
        for name, change in changes:
            body = await self.get(namespace, name)
            if isinstance(body, RoutingProblem):
                problems.append(body)
                continue
            try:
                change(body)
            except RouterError as e:
                problems.append(_problem(name, e))
                continue
            planned.append((name, body, change))
        if problems and all_or_nothing:
            return WriteResult(written=(), unchanged=(), problems=tuple(problems))
        return await self._converge_all(namespace, planned, problems, previous)

    async def restore_all(
        self, namespace: str, changes: Sequence[tuple[str, Change]], *, previous: Previous
    ) -> WriteResult:
        """Write every object that exists, best-effort; a change that fails is reported when its object's turn comes."""
        pending: list[tuple[str, Body, Change]] = []
        problems: list[RoutingProblem] = []
        for name, change in changes:
            body = await self.get(namespace, name)
            if isinstance(body, RoutingProblem):
                problems.append(body)
            else:
                pending.append((name, body, change))
        return await self._converge_all(namespace, pending, problems, previous)

    async def _converge_all(
        self,
        namespace: str,
        pending: Sequence[tuple[str, Body, Change]],
        problems: list[RoutingProblem],
        previous: Previous,
    ) -> WriteResult:
        written: list[VirtualServiceWrite] = []
        unchanged: list[str] = []
        for name, body, change in pending:
            outcome = await self._converge(namespace, name, body, change, previous)
            if isinstance(outcome, RoutingProblem):
                problems.append(outcome)
            elif outcome is None:
                unchanged.append(name)
            else:
                written.append(outcome)
        return WriteResult(written=tuple(written), unchanged=tuple(unchanged), problems=tuple(problems))

    async def _converge(
        self, namespace: str, name: str, body: Body, change: Change, previous: Previous
    ) -> VirtualServiceWrite | RoutingProblem | None:
        """Apply ``change`` to ``body`` and replace it if that changed anything; None means nothing to write."""
        fresh = not self._cached
        for attempt in range(1, self._max_attempts + 1):
            try:
                desired = change(body)
            except RouterError as e:
                return _problem(name, e)
            if desired != body and not fresh:
                # The cache says a write is due: decide again, and write, from the object as the server has it.
                reread = await self._read(namespace, name, fresh=True)
                if reread is None:
                    return self._not_found(namespace, name)
                body, fresh = reread, True
                try:
                    desired = change(body)
                except RouterError as e:
                    return _problem(name, e)
            if desired == body:
                return None
            try:
                written = await self._store.replace(namespace, name, desired)
            except RejectedError as rejection:
                return refused(self._kind, namespace, name, rejection)
            except ConflictError:
                if attempt == self._max_attempts:
                    raise
                reread = await self._read(namespace, name, fresh=True)
                if reread is None:
                    return self._not_found(namespace, name)
                body = reread
                continue
            return VirtualServiceWrite(
                virtual_service=name,
                resource_version=resource_version(written),
                attempts=attempt,
                previous=previous(name, body),
            )
        raise AssertionError("unreachable: the last attempt either returns or raises")


def resource_version(body: Body) -> str | None:
    version = (body.get("metadata") or {}).get("resourceVersion")
    return None if version is None else str(version)


def _problem(name: str, error: RouterError) -> RoutingProblem:
    return RoutingProblem(name, RoutingProblemReason(error.reason), str(error))
