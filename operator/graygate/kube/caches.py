"""The operator's watch-fed caches (VirtualServices, HTTPRoutes, Deployments) and the stores that read from them.

Reads that decide whether anything needs doing come from memory; writes, and the reads a write is computed from,
go to the API server as before (`get_fresh`, then a PUT with that resourceVersion), so a stale cache can cost a
wasted fresh read or a late decision, never a lost update or a body written from stale data.

Where a read goes:
- the cache, when its scope covers the namespace, its first list is in (`ready`), and it holds the object;
- the API server (a GET, as before the caches) otherwise: before the first list, in a namespace no cache covers,
  and when the object is not in the cache (it may have been created a moment ago, before its ADDED event arrived;
  an object that really does not exist costs one GET per read, as it did before).
A write's answer, and a fresh read, is put in the cache at once, so the next tick does not see the object as it was
before; when it is newer than what the cache held, the releases that read the object are woken as by its watch event
(which then brings nothing new).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from graygate.kube import watch_sources
from graygate.kube.httproutes import KubeHTTPRouteStore
from graygate.kube.virtualservices import KubeVirtualServiceStore
from graygate.kube.watch_cache import RESYNC_S, Body, EventSource, OnChange, WatchCache, strip_managed_fields

VIRTUAL_SERVICE = "VirtualService"
HTTP_ROUTE = "HTTPRoute"
DEPLOYMENT = "Deployment"
DESTINATION_RULE = "DestinationRule"


def deployment_projection(body: Body) -> Body:
    """What the workload probe reads of a Deployment (`rollout_state` and the pod template's labels): the rest of
    the pod template, often most of the object, is not kept."""
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    kept_spec: Body = {"template": {"metadata": {"labels": template_labels}}}
    if "replicas" in spec:
        kept_spec["replicas"] = spec["replicas"]
    return {
        "metadata": {
            key: metadata[key] for key in ("name", "namespace", "resourceVersion", "generation") if key in metadata
        },
        "spec": kept_spec,
        "status": body.get("status") or {},
    }


@dataclass
class ScopedCaches:
    """One kind's caches: one for every namespace (`everywhere`), or one per watched namespace."""

    kind: str
    everywhere: WatchCache | None = None
    by_namespace: dict[str, WatchCache] = field(default_factory=dict)

    def covering(self, namespace: str) -> WatchCache | None:
        return self.everywhere if self.everywhere is not None else self.by_namespace.get(namespace)

    def all(self) -> list[WatchCache]:
        return [self.everywhere] if self.everywhere is not None else list(self.by_namespace.values())

    def read(self, namespace: str, name: str) -> Body | None:
        """The cached object, or None when the cache cannot answer (the caller asks the API server)."""
        cache = self.covering(namespace)
        if cache is None or not cache.ready:
            return None
        return cache.get(namespace, name)

    def listed(self, namespace: str) -> list[Body] | None:
        """The namespace's cached objects, or None when the cache cannot answer (the caller asks the API server)."""
        cache = self.covering(namespace)
        if cache is None or not cache.ready:
            return None
        return cache.in_namespace(namespace)

    def put(self, namespace: str, body: Body) -> None:
        cache = self.covering(namespace)
        if cache is not None:
            cache.put(body)


def scoped(
    kind: str,
    namespaces: Iterable[str],
    source: Any,
    *,
    on_change: OnChange | None,
    resync_s: float,
    trim: Any = strip_managed_fields,
) -> ScopedCaches:
    """`source(namespace or None) -> EventSource`: one cache for every namespace when `namespaces` is empty."""

    def cache(namespace: str | None) -> WatchCache:
        made: EventSource = source(namespace)
        return WatchCache(kind, made, on_change=on_change, resync_s=resync_s, trim=trim)

    wanted = tuple(namespaces)
    if not wanted:
        return ScopedCaches(kind, everywhere=cache(None))
    return ScopedCaches(kind, by_namespace={namespace: cache(namespace) for namespace in wanted})


@dataclass
class Caches:
    virtual_services: ScopedCaches
    http_routes: ScopedCaches
    deployments: ScopedCaches
    destination_rules: ScopedCaches

    def all(self) -> list[WatchCache]:
        return [
            *self.virtual_services.all(),
            *self.http_routes.all(),
            *self.deployments.all(),
            *self.destination_rules.all(),
        ]

    def start(self) -> None:
        for cache in self.all():
            cache.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stops every cache's thread, each given `timeout_s`; False when one did not end in time."""
        for cache in self.all():
            cache.stop(0)  # interrupt all first, then wait: one slow join does not hold up the others' ends
        return all([cache.stop(timeout_s) for cache in self.all()])


def kube_caches(
    api: client.ApiClient,
    namespaces: Iterable[str] = (),
    *,
    on_change: OnChange | None = None,
    resync_s: float = RESYNC_S,
) -> Caches:
    """The four caches over the API server, not started; `namespaces` empty: every namespace."""
    wanted = tuple(namespaces)
    return Caches(
        virtual_services=scoped(
            VIRTUAL_SERVICE,
            wanted,
            lambda namespace: watch_sources.virtual_services(api, namespace),
            on_change=on_change,
            resync_s=resync_s,
        ),
        http_routes=scoped(
            HTTP_ROUTE,
            wanted,
            lambda namespace: watch_sources.http_routes(api, namespace),
            on_change=on_change,
            resync_s=resync_s,
        ),
        deployments=scoped(
            DEPLOYMENT,
            wanted,
            lambda namespace: watch_sources.deployments(api, namespace),
            on_change=on_change,
            resync_s=resync_s,
            trim=deployment_projection,
        ),
        # Read by every Pending release's destination check, which listed a namespace's rules at each poll.
        destination_rules=scoped(
            DESTINATION_RULE,
            wanted,
            lambda namespace: watch_sources.destination_rules(api, namespace),
            on_change=on_change,
            resync_s=resync_s,
        ),
    )


class CachedRouteStore:
    """A `VirtualServiceStore` or `HTTPRouteStore` (and `ports.routing.FreshReads`) that reads from a cache."""

    def __init__(self, direct: KubeVirtualServiceStore | KubeHTTPRouteStore, caches: ScopedCaches) -> None:
        self._direct = direct
        self._caches = caches

    async def get(self, namespace: str, name: str) -> Body | None:
        cached = self._caches.read(namespace, name)
        return cached if cached is not None else await self.get_fresh(namespace, name)

    async def get_fresh(self, namespace: str, name: str) -> Body | None:
        # Put in the cache too: an object created a moment ago is then read from memory before its ADDED event
        # arrives (a GET older than what the cache holds is ignored by the resourceVersion rule).
        found = await self._direct.get(namespace, name)
        if found is not None:
            self._caches.put(namespace, found)
        return found

    async def replace(self, namespace: str, name: str, body: Body) -> Body:
        written = await self._direct.replace(namespace, name, body)
        self._caches.put(namespace, written)
        return written
