"""The lab's Envoy as a sidecar of a real istiod's mesh: the Istio objects that describe the lab, an Envoy that istiod
configures over ADS, and the waits until Envoy holds what istiod sent.

Why apart from lab.py: the lab has two ways to configure its Envoy (istiod, or the shim's files for its own tests);
this is the whole of the first, so lab.py only chooses. mesh.py writes the objects; this module decides which:

- a `ServiceEntry` for `<service>` and one per `<service>-<version>`, on the outbound port, selecting the lab's
  WorkloadEntries by `SERVICE_LABEL` (and `CLUSTER_LABEL` for a version's own host);
- a fixed version's `WorkloadEntry`, labelled as the pods of workload `<service>-<version>` (`app: app-canary`), the
  workload its backend reports, so a DestinationRule subset written for those pods selects it;
- a workload side's pod's `WorkloadEntry`, with the pod's labels, at its revision's backend.

Every change returns once Envoy holds it: the cluster of the version's own host (the lab's, whatever the user's
DestinationRule says) has exactly the wanted endpoints. istiod sends one endpoint per address and port, so the pods
of one revision, which share their backend, are one endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._process import free_port, wait_for
from .bootstrap import AdsSource, Upstream
from .envoy import Envoy
from .errors import LabError
from .mesh import (
    CLUSTER_LABEL,
    SERVICE_LABEL,
    IstioMesh,
    MeshObjects,
    fqdn,
    outbound_cluster,
    proxy_node,
    service_entry,
    sidecar,
    workload_entry,
)
from .workloads import PodEndpoint

log = logging.getLogger(__name__)


class MeshSidecar:
    """`await start(fixed)` (version → its fixed backend's port), then `envoy` takes traffic at `envoy.entry_url`."""

    def __init__(
        self, mesh: IstioMesh, workdir: Path, namespace: str, service: str, versions: Sequence[str], timeout_s: float
    ) -> None:
        self.mesh = mesh
        self.workdir = workdir
        self.namespace = namespace
        self.service = service
        self.versions = tuple(versions)
        self._timeout = timeout_s
        self.port = free_port()
        self._fixed: dict[str, int] = {}
        self._objects: MeshObjects | None = None
        self.envoy: Envoy | None = None

    def cluster(self, version: str) -> str:
        """The Envoy cluster istiod makes for a version's own host `<service>-<version>`."""
        return outbound_cluster(self.port, None, fqdn(f"{self.service}-{version}", self.namespace))

    async def start(self, fixed: Mapping[str, int]) -> Envoy:
        """Write the Istio objects, start Envoy, and return once it holds the outbound listener and every version's
        cluster with its fixed backend (if any)."""
        self._fixed = dict(fixed)
        objects = self._objects = MeshObjects(self.mesh, self.namespace)
        await objects.put(sidecar(self.port))
        hosts = {self.service: {SERVICE_LABEL: self.service}}
        hosts.update({f"{self.service}-{v}": {SERVICE_LABEL: self.service, CLUSTER_LABEL: v} for v in self.versions})
        for host, selector in hosts.items():
            await objects.put(service_entry(f"lab-{host}", fqdn(host, self.namespace), self.port, selector))
        for version in self._fixed:
            await objects.put(self._fixed_entry(version))
        xds_host, _, xds_port = self.mesh.xds_address.rpartition(":")
        ads = AdsSource(Upstream(xds_host, int(xds_port)), proxy_node(self.namespace), self.port, self.service)
        envoy = self.envoy = Envoy(self.workdir, {}, ads=ads)
        await envoy.start(self._timeout)

        async def configured() -> bool:
            envoy.check()  # an Envoy that died says why, rather than a timeout
            if not any(name.endswith(f"_{self.port}") for name in await envoy.listener_names()):
                return False
            for version in self.versions:
                if await envoy.host_addresses(self.cluster(version)) != self._fixed_hosts(version, True):
                    return False
            return True

        await wait_for(configured, self._timeout, "istiod to configure the lab's Envoy")
        return envoy

    def _fixed_entry(self, version: str) -> dict[str, Any]:
        labels = {SERVICE_LABEL: self.service, CLUSTER_LABEL: version, "app": f"{self.service}-{version}"}
        return workload_entry(self._fixed_name(version), labels, self._fixed[version])

    def _fixed_name(self, version: str) -> str:
        return f"lab-{self.service}-{version}"

    def _fixed_hosts(self, version: str, present: bool) -> list[str]:
        return [f"127.0.0.1:{self._fixed[version]}"] if present and version in self._fixed else []

    async def set_present(self, version: str, present: bool) -> float:
        """Delete a fixed version's WorkloadEntry (its subsets then select nothing) or create it again; returns the
        seconds until Envoy held the change."""
        if version not in self._fixed:
            raise LabError(f"no fixed backend {version!r}")
        start = time.monotonic()
        if present:
            await self._mesh_objects().put(self._fixed_entry(version))
        else:
            await self._mesh_objects().delete("WorkloadEntry", self._fixed_name(version))
        await self._until_hosts(version, self._fixed_hosts(version, present))
        return time.monotonic() - start

    async def assign(self, endpoints: Mapping[str, Sequence[PodEndpoint]]) -> None:
        """A WorkloadEntry per pod of each side, exactly; returns once Envoy holds every side's backends."""
        objects = self._mesh_objects()
        wanted: dict[str, dict[str, Any]] = {}
        for cluster, eps in endpoints.items():
            for ep in eps:
                labels = dict(ep.pod.labels) | {SERVICE_LABEL: self.service, CLUSTER_LABEL: cluster}
                wanted[f"lab-{ep.pod.name}"] = workload_entry(f"lab-{ep.pod.name}", labels, ep.upstream.port)
        for gone in objects.names("WorkloadEntry") - set(wanted):
            await objects.delete("WorkloadEntry", gone)
        for body in wanted.values():
            await objects.put(body)
        for cluster, eps in endpoints.items():
            await self._until_hosts(cluster, sorted({e.upstream.address for e in eps}))

    async def _until_hosts(self, version: str, want: list[str]) -> float:
        envoy, name = self._running(), self.cluster(version)

        async def holds() -> bool:
            envoy.check()
            return await envoy.host_addresses(name) == want

        return await wait_for(holds, self._timeout, f"Envoy's cluster {name} to hold {want}", interval_s=0.01)

    async def remove_objects(self) -> None:
        """Delete the lab's Istio objects (bounded: the namespace, or the API server, may be gone already)."""
        if self._objects is None:
            return
        try:
            await asyncio.wait_for(self._objects.remove_all(), 15)
        except (TimeoutError, LabError) as e:
            log.warning("traffic lab: could not remove its Istio objects: %r", e)

    def _mesh_objects(self) -> MeshObjects:
        if self._objects is None:
            raise LabError("the lab's sidecar is not started")
        return self._objects

    def _running(self) -> Envoy:
        if self.envoy is None:
            raise LabError("the lab's sidecar is not started")
        return self.envoy
