"""A hand-written in-memory VirtualServiceStore that enforces resourceVersion the way the API server does."""

from __future__ import annotations

import copy
from collections.abc import Callable

from graygate.errors import ConflictError, NotFoundError
from graygate.ports.routing import VirtualServiceBody

ConcurrentEdit = Callable[[VirtualServiceBody], None]


class InMemoryVirtualServiceStore:
    """Objects by (namespace, name); every get and replace is logged so tests can count the API calls.

    ``concurrent_edits`` simulates someone else writing between our read and our write: before each replace lands,
    the next queued edit is applied to the stored object and its resourceVersion bumped, so our body is stale.
    """

    def __init__(self, *objects: VirtualServiceBody) -> None:
        self.objects: dict[tuple[str, str], VirtualServiceBody] = {}
        self.gets: list[tuple[str, str]] = []
        self.replaces: list[tuple[str, str]] = []
        self.concurrent_edits: list[ConcurrentEdit] = []
        for body in objects:
            self.put(body)

    def put(self, body: VirtualServiceBody) -> None:
        stored = copy.deepcopy(body)
        stored["metadata"].setdefault("resourceVersion", "1")
        self.objects[(stored["metadata"]["namespace"], stored["metadata"]["name"])] = stored

    def current(self, namespace: str, name: str) -> VirtualServiceBody:
        return copy.deepcopy(self.objects[(namespace, name)])

    async def get(self, namespace: str, name: str) -> VirtualServiceBody | None:
        self.gets.append((namespace, name))
        stored = self.objects.get((namespace, name))
        return None if stored is None else copy.deepcopy(stored)

    async def replace(self, namespace: str, name: str, body: VirtualServiceBody) -> VirtualServiceBody:
        self.replaces.append((namespace, name))
        stored = self.objects.get((namespace, name))
        if stored is None:
            raise NotFoundError(f"virtualservices {name!r} not found in {namespace!r}")
        if self.concurrent_edits:
            self.concurrent_edits.pop(0)(stored)
            stored["metadata"]["resourceVersion"] = _next_version(stored)
        if body["metadata"].get("resourceVersion") != stored["metadata"]["resourceVersion"]:
            raise ConflictError(f"the object {namespace}/{name} has been modified; please apply to the latest version")
        written = copy.deepcopy(body)
        written["metadata"]["resourceVersion"] = _next_version(stored)
        self.objects[(namespace, name)] = written
        return copy.deepcopy(written)


def _next_version(stored: VirtualServiceBody) -> str:
    return str(int(stored["metadata"]["resourceVersion"]) + 1)
