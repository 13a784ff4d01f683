"""The lab's Envoy configured by the shim, from files: the lab's own fast tests (tests/lab), with no API server and no
istiod.

Why apart from lab.py: the lab has two ways to configure its Envoy (istiod, sidecar.py, or the shim's files); this
is the whole of the second, so lab.py only chooses. Every version is a cluster of its own, named as the version;
the shim (shim.py) translates a VirtualService into routes over those clusters, for every host form a route may use
(`clusters`), and `watch` follows a VirtualService that `fetch()` reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .bootstrap import Upstream
from .envoy import Envoy
from .errors import LabError
from .shim import ClusterMap, EnvoyRouteConfiguration, VirtualServiceWatcher, virtualservice_to_envoy_routes
from .workloads import PodEndpoint


def host_forms(name: str, namespace: str) -> list[str]:
    """Every way a route may name a service: short, namespaced, `.svc` and FQDN."""
    return [name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"]


def cluster_map(service: str, namespace: str, versions: Sequence[str]) -> ClusterMap:
    """(host, subset) → Envoy cluster, for subset routing on `service` and host routing on a service per version
    (`<service>-<version>`, e.g. Flagger's primary/canary services)."""
    out: dict[tuple[str, str | None], str] = {}
    for v in versions:
        for host in host_forms(service, namespace):
            out[(host, v)] = v
        for host in host_forms(f"{service}-{v}", namespace):
            out[(host, None)] = v
    return out


class ShimEnvoy:
    """`await start(fixed)` (version → its fixed backend's port), then `envoy` takes traffic at `envoy.entry_url`."""

    def __init__(
        self,
        workdir: Path,
        namespace: str,
        service: str,
        versions: Sequence[str],
        initial_virtualservice: Mapping[str, Any],
        timeout_s: float,
    ) -> None:
        self.workdir = workdir
        self.versions = tuple(versions)
        self.clusters = cluster_map(service, namespace, self.versions)
        self._initial_vs = initial_virtualservice
        self._timeout = timeout_s
        self._watchers: list[VirtualServiceWatcher] = []
        self.envoy: Envoy | None = None

    async def start(self, fixed: Mapping[str, int]) -> Envoy:
        """Start Envoy with the initial VirtualService's routes, each fixed version's cluster at its backend and the
        others empty; returns once Envoy is ready."""
        routes = virtualservice_to_envoy_routes(self._initial_vs, self.clusters)
        upstreams: dict[str, Upstream | tuple[Upstream, ...]] = {v: () for v in self.versions}
        upstreams.update({v: Upstream("127.0.0.1", port) for v, port in fixed.items()})
        envoy = self.envoy = Envoy(self.workdir, upstreams, routes)  # before it starts: the lab stops it if that fails
        await envoy.start(self._timeout)
        return envoy

    async def apply(self, vs: Mapping[str, Any]) -> float:
        """Translate and write a VirtualService now; returns the seconds until Envoy served it."""
        return await self._running().apply_routes(virtualservice_to_envoy_routes(vs, self.clusters))

    def watch(self, fetch: Callable[[], Mapping[str, Any] | None], interval_s: float) -> VirtualServiceWatcher:
        """A watcher that follows `fetch()` into Envoy; `stop_watchers()` stops every one."""
        watcher = VirtualServiceWatcher(fetch, self.clusters, self._push_routes, interval_s)
        self._watchers.append(watcher)
        return watcher

    async def _push_routes(self, routes: EnvoyRouteConfiguration) -> None:
        await self._running().apply_routes(routes)

    async def stop_watchers(self) -> None:
        for w in self._watchers:
            await w.stop()

    async def set_present(self, version: str, present: bool) -> float:
        """Empty a version's cluster or give it its backend back; returns the seconds until Envoy held it."""
        return await self._running().set_endpoints(version, present)

    async def assign(self, endpoints: Mapping[str, Sequence[PodEndpoint]]) -> None:
        """Each side's cluster gets one endpoint per pod, at its revision's backend."""
        await self._running().assign_endpoints({c: [e.upstream for e in eps] for c, eps in endpoints.items()})

    def _running(self) -> Envoy:
        if self.envoy is None:
            raise LabError("the lab's Envoy is not started")
        return self.envoy
