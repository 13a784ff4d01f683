"""TrafficLab: stable and canary backends behind a real Envoy that obeys a VirtualService, optionally scraped by
Prometheus, all on 127.0.0.1 and all stopped on the way out.

Why: the e2e story (a good release promoted, a bad one reverted) needs traffic whose split is decided by the
VirtualService graygate writes, and metrics that come from that traffic. One object starts it all, exposes the
addresses, and guarantees that every process it started is stopped, on success, on failure and on Ctrl-C.

Two ways to configure the Envoy:

- **istiod** (`mesh=IstioMesh(xds_address, kubeconfig)`, every e2e test, the demo and the benchmark): the Envoy is a
  sidecar of the mesh, configured by a real istiod over ADS from the VirtualService and DestinationRule in the API
  server; the lab only tells istiod where its backends are (ServiceEntries, WorkloadEntries and a Sidecar, mesh.py).
  Nothing is polled: a weight graygate writes reaches users through istiod's push.

      async with TrafficLab(prometheus=True, namespace=ns, mesh=IstioMesh(xds_address, kubeconfig)) as lab:
          load = lab.load(rate_per_s=50, max_requests=500, max_duration_s=10)

- **shim, files** (no `mesh`; for the lab's own fast tests in tests/lab only, with no API server): the shim stands in
  for istiod, translating a VirtualService into route and cluster files Envoy watches (shim_envoy.py):
  `await lab.apply_virtualservice(vs)`, or `async with lab.watch(fetch_vs):` to follow one. Both refuse with istiod.

Two views of every request: the backends count what they served (`reporter="destination"`), and `lab.callers` counts
what Envoy did for the caller (`reporter="source"`, from Envoy's access log), which is the only view of the 503s
Envoy answers itself when a subset reaches no pod (`await lab.set_subset_endpoints("canary", False)`).
`await lab.prometheus_outage(15)` stops Prometheus and brings it back on the same port with the same TSDB.

Backends are `python -m e2e.lab.backend` processes (their own event loops, so a slow backend is really slow).
With `workloads=` (and `list_pods=`) the lab has no fixed versions: each side's cluster gets one endpoint per ready
pod of a Kubernetes workload, at a backend serving that pod's revision (workloads.py; `lab.workloads` follows them):

    sides = [WorkloadSide("stable", "checkout-primary", {"app": "checkout-primary"}),
             WorkloadSide("canary", "checkout", {"app": "checkout"})]
    async with TrafficLab(workloads=sides, list_pods=pods_of(api), prometheus=True) as lab: ...

Each child logs to a file in `workdir`; the workdir is removed after a clean exit and kept (and named in the
error) after a failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

from ._process import ManagedProcess
from .backend import BackendIdentity, Knobs
from .backend_process import BackendProcess
from .callers import CallerTelemetry, Destination
from .envoy import Envoy
from .errors import LabError
from .loadgen import LoadGenerator
from .mesh import IstioMesh
from .prometheus import Prometheus
from .shim import VirtualServiceWatcher
from .shim_envoy import ShimEnvoy
from .sidecar import MeshSidecar
from .workloads import ListPods, PodEndpoint, WorkloadBackends, WorkloadSide

log = logging.getLogger(__name__)


class TrafficLab:
    """See the module docstring. Backend `versions` double as Istio subset names and Envoy cluster names; with
    `workloads`, the sides' clusters are the versions (subsets) and `versions` and `knobs` are not used. With
    `mesh`, istiod configures the Envoy; without, the shim does (tests/lab only). `hosts` (with `workloads`):
    Kubernetes Services the routes may name, each with the workload behind it (e.g. Argo Rollouts' canary and
    stable Services); the callers' series report a request routed to one with that host as its
    `destination_service`, as Istio's client proxy does."""

    def __init__(
        self,
        versions: Sequence[str] = ("stable", "canary"),
        service: str = "app",
        namespace: str = "default",
        prometheus: bool = False,
        knobs: Mapping[str, Knobs] | None = None,
        initial_virtualservice: Mapping[str, Any] | None = None,
        workdir: Path | None = None,
        keep_workdir: bool = False,
        start_timeout_s: float = 30.0,
        source_workload: str = "loadgen",
        workloads: Sequence[WorkloadSide] | None = None,
        list_pods: ListPods | None = None,
        workload_grace_s: float = 2.0,
        mesh: IstioMesh | None = None,
        hosts: Mapping[str, str] | None = None,
    ) -> None:
        if (workloads is None) != (list_pods is None):
            raise ValueError("workloads and list_pods go together")
        if workloads is not None:
            versions = [side.cluster for side in workloads]
        if len(set(versions)) != len(versions) or not versions:
            raise ValueError("versions must be distinct and not empty")
        self.versions = tuple(versions)
        self._sides = tuple(workloads or ())
        self._list_pods = list_pods
        self._workload_grace_s = workload_grace_s
        self._workloads: WorkloadBackends | None = None
        self.service = service
        self.namespace = namespace
        self._with_prometheus = prometheus
        self._knobs = dict(knobs or {})
        self._initial_vs = initial_virtualservice or self.weighted_virtualservice({self.versions[0]: 100}, service)
        self._workdir_given = workdir
        self._keep = keep_workdir
        self._timeout = start_timeout_s
        self.source_workload = source_workload
        self.workdir = Path()
        self._backends: dict[str, BackendProcess] = {}
        self._prometheus: Prometheus | None = None
        self._callers: CallerTelemetry | None = None
        self._session: aiohttp.ClientSession | None = None
        self.started_in_s: dict[str, float] = {}
        self.mesh = mesh
        self._hosts = dict(hosts or {})
        self._sidecar: MeshSidecar | None = None
        self._shim: ShimEnvoy | None = None

    # --- addresses -------------------------------------------------------------------------------------------------

    @property
    def entry_url(self) -> str:
        """Envoy's listener: send client traffic here."""
        return self.envoy.entry_url

    @property
    def envoy(self) -> Envoy:
        if (envoy := self._envoy) is None:
            raise LabError("the lab is not running")
        return envoy

    @property
    def _envoy(self) -> Envoy | None:
        """The Envoy of whichever configures it, from the moment it exists: also one whose start failed."""
        configuring = self._sidecar or self._shim
        return None if configuring is None else configuring.envoy

    @property
    def prometheus(self) -> Prometheus:
        if self._prometheus is None:
            raise LabError("this lab runs without Prometheus (TrafficLab(prometheus=True))")
        return self._prometheus

    @property
    def callers(self) -> CallerTelemetry:
        """The caller-side (`reporter="source"`) series, read from Envoy's access log."""
        if self._callers is None:
            raise LabError("the lab is not running")
        return self._callers

    @property
    def workloads(self) -> WorkloadBackends:
        """The backends following the workloads' pods (a lab started with `workloads=`)."""
        if self._workloads is None:
            raise LabError("this lab runs fixed versions (TrafficLab(workloads=..., list_pods=...) follows pods)")
        return self._workloads

    @property
    def destinations(self) -> dict[str, Destination]:
        """Envoy cluster → what it stands for in the mesh. A cluster is one version, named as its subset of
        `service`; traffic routed by host to `<service>-<version>` reaches the same cluster and is reported as that
        subset too. A workload side's cluster stands for its Deployment (its version is the subset's name: which
        revision answered is not in the access log)."""
        if self._sides:
            whole = {f"host:{h}": Destination(h, self.namespace, "", w, "unknown") for h, w in self._hosts.items()}
            return {
                **{
                    s.cluster: Destination(self.service, self.namespace, s.cluster, s.deployment, s.cluster)
                    for s in self._sides
                },
                **whole,
            }
        return {
            v: Destination(self.service, self.namespace, subset=v, workload=f"{self.service}-{v}", version=v)
            for v in self.versions
        }

    @property
    def prometheus_url(self) -> str:
        return self.prometheus.url

    def backend_url(self, version: str) -> str:
        """The backend itself, bypassing Envoy."""
        if version not in self._backends:
            raise LabError(f"no fixed backend {version!r} (a workload's backends are in lab.workloads.backends)")
        return self._backends[version].url

    def admin_url(self, version: str) -> str:
        """GET/POST JSON knobs here (see backend.Knobs)."""
        return f"{self.backend_url(version)}/admin/knobs"

    def envoy_cluster(self, version: str) -> str:
        """The Envoy cluster that holds a version's endpoints: its own in file mode; with istiod, the cluster of the
        version's own service `<service>-<version>` (the lab's; a DestinationRule subset holds the same endpoints
        when its labels select the same pods)."""
        if self._sidecar is None:
            return version
        return self._sidecar.cluster(version)

    @property
    def mesh_port(self) -> int:
        """With istiod, the port of the lab's hosts (its ServiceEntries) and of its Envoy's outbound listener: a
        Kubernetes Service or a route the test adds for the lab's endpoints uses it."""
        if self._sidecar is None:
            raise LabError("only a lab with `mesh=` has mesh hosts")
        return self._sidecar.port

    # --- lifecycle -------------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.workdir = self._workdir_given or Path(tempfile.mkdtemp(prefix="graygate-lab-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        try:
            await self._start()
        except BaseException:
            await self._stop(failed=True)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop(failed=exc_type is not None)

    async def _start(self) -> None:
        t0 = time.monotonic()
        if not self._sides:
            for v in self.versions:  # spawn all first: their Python start-ups overlap
                identity = BackendIdentity(v, self.service, self.namespace)
                self._backends[v] = BackendProcess(self.workdir, v, identity, self._knobs.get(v, Knobs()))
                self._backends[v].start()
            for backend in self._backends.values():
                await backend.listening(self._http(), self._timeout)
            self.started_in_s["backends"] = time.monotonic() - t0

        fixed = {v: b.port or 0 for v, b in self._backends.items()}
        if self.mesh is None:
            self._shim = ShimEnvoy(
                self.workdir / "envoy", self.namespace, self.service, self.versions, self._initial_vs, self._timeout
            )
            envoy = await self._shim.start(fixed)
        else:
            t0 = time.monotonic()
            self._sidecar = MeshSidecar(
                self.mesh, self.workdir / "envoy", self.namespace, self.service, self.versions, self._timeout
            )
            envoy = await self._sidecar.start(fixed)
            self.started_in_s["istiod config"] = time.monotonic() - t0
        self.started_in_s["envoy"] = envoy.started_in_s or 0.0
        self._callers = CallerTelemetry(envoy.access_log_path, self.destinations, self.source_workload, self.namespace)
        await self._callers.start()

        if self._with_prometheus:
            admin = envoy.admin_url.removeprefix("http://")
            targets = {"envoy": [admin], "callers": [self._callers.address]}
            file_jobs: tuple[str, ...] = ()
            if self._sides:
                file_jobs = ("backends",)  # the same job name as fixed backends: queries by job work for both
            else:
                targets["backends"] = [b.address for b in self._backends.values()]
            self._prometheus = Prometheus(
                self.workdir / "prometheus", targets, {"envoy": "/stats/prometheus"}, file_jobs=file_jobs
            )
            await self._prometheus.start(self._timeout)
            self.started_in_s["prometheus"] = self._prometheus.started_in_s or 0.0

        if self._sides and self._list_pods is not None:
            t0 = time.monotonic()
            prometheus = self._prometheus
            self._workloads = WorkloadBackends(
                self._sides,
                self._list_pods,
                self._assign_endpoints,
                self.workdir,
                namespace=self.namespace,
                service=self.service,
                set_targets=None if prometheus is None else lambda t: prometheus.set_file_targets("backends", t),
                grace_s=self._workload_grace_s,
                start_timeout_s=self._timeout,
            )
            await self._workloads.start()
            self.started_in_s["workloads"] = time.monotonic() - t0

    async def _assign_endpoints(self, endpoints: Mapping[str, Sequence[PodEndpoint]]) -> None:
        """A workload side's endpoints: a WorkloadEntry per pod (istiod), or Envoy's clusters (file mode)."""
        configuring = self._sidecar or self._shim
        if configuring is None:
            raise LabError("the lab is not running")
        await configuring.assign(endpoints)

    async def _stop(self, failed: bool) -> None:
        """Stop everything. Processes are stopped synchronously in a `finally`, so neither an error nor a second
        cancellation (another Ctrl-C) can leave one running; the Istio objects are removed in an outer `finally`, so
        an error while stopping leaves none behind either (a later lab in the namespace would be sent to them)."""
        errors: list[Exception] = []
        try:
            try:
                if self._shim is not None:
                    await self._shim.stop_watchers()
                if self._workloads is not None:
                    await self._workloads.stop()
            finally:
                for proc in self._processes():
                    try:
                        proc.stop()
                    except Exception as e:  # keep stopping the others
                        errors.append(e)
            for component in (self._prometheus, self._envoy):
                if component is not None:
                    await component.stop()  # closes its HTTP session; its process is already stopped
            if self._callers is not None:
                await self._callers.stop()
        finally:
            if self._sidecar is not None:
                await self._sidecar.remove_objects()
            if self._session is not None:
                await self._session.close()
                self._session = None
        if failed or self._keep or errors:
            log.warning("traffic lab: logs kept in %s", self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise LabError(f"stopping the lab failed: {errors!r}") from errors[0]

    def _processes(self) -> list[ManagedProcess]:
        """Every process the lab started, in the order to stop them (observers first, backends last)."""
        procs = [c.process for c in (self._prometheus, self._envoy) if c is not None and c.process is not None]
        followed = self._workloads.processes() if self._workloads is not None else []
        return [*procs, *(b.process for b in self._backends.values()), *followed]

    def pids(self) -> dict[str, int]:
        """The process id of every process the lab started and that is still running, by name."""
        return {p.name: p.pid for p in self._processes() if p.pid is not None and p.returncode is None}

    def check(self) -> None:
        """Raise LabProcessError (with the log tail) if any lab process has died."""
        for backend in self._backends.values():
            backend.process.check()
        if self._workloads is not None:
            self._workloads.check()
        if self._envoy is not None:
            self._envoy.check()
        if self._prometheus is not None:
            self._prometheus.check()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise LabError("the lab is not running")
        return self._session

    # --- steering and faults ---------------------------------------------------------------------------------------

    async def apply_virtualservice(self, vs: Mapping[str, Any]) -> float:
        """Translate and push a VirtualService now (the shim; file mode only); returns the seconds until Envoy
        served it."""
        self.check()
        return await self._shim_only().apply(vs)

    def watch(self, fetch: Callable[[], Mapping[str, Any] | None], interval_s: float = 0.2) -> VirtualServiceWatcher:
        """A watcher that follows `fetch()` (e.g. a read of the VirtualService from the API server) into Envoy.
        Use it as `async with lab.watch(fetch):`; the lab also stops it on exit. The shim, file mode only: istiod
        follows the API server itself."""
        return self._shim_only().watch(fetch, interval_s)

    def _shim_only(self) -> ShimEnvoy:
        if self.mesh is not None:
            raise LabError("istiod configures this lab's Envoy from the API server: change the VirtualService there")
        if self._shim is None:
            raise LabError("the lab is not running")
        return self._shim

    async def set_subset_endpoints(self, version: str, present: bool) -> float:
        """Take a version's only endpoint out of Envoy (its subset then selects no pod, and Envoy answers that share
        with 503 UH itself, as Istio's proxy does), or put it back. With istiod, that is deleting the version's
        WorkloadEntry (or creating it again). Returns the seconds until Envoy applied it."""
        if self._workloads is not None:
            raise LabError("a workload side's endpoints follow its pods: make them not ready instead")
        self.check()
        if self._sidecar is not None:
            return await self._sidecar.set_present(version, present)
        return await self._shim_only().set_present(version, present)

    async def prometheus_outage(self, seconds: float, timeout_s: float = 30.0) -> tuple[float, float]:
        """Stop Prometheus for `seconds` (at most 120), then start it again on the same port with the same TSDB.
        Returns (stopped at, ready again at), in Unix time, the clock Prometheus stamps samples with."""
        if not 0 <= seconds <= 120:
            raise ValueError("an outage lasts between 0 and 120 s")
        prometheus = self.prometheus
        prometheus.halt()
        stopped_at = time.time()
        await asyncio.sleep(seconds)
        await prometheus.resume(timeout_s)
        return stopped_at, time.time()

    async def set_knobs(self, version: str, **changes: Any) -> Knobs:
        """Change a backend's behaviour at runtime, through its admin endpoint."""
        async with self._http().post(self.admin_url(version), data=json.dumps(changes)) as r:
            body = await r.json()
            if r.status != 200:
                raise LabError(f"backend {version} refused knobs {changes}: {body}")
        return Knobs.model_validate(body)

    def load(
        self,
        rate_per_s: float,
        max_requests: int,
        max_duration_s: float,
        path: str = "/",
        headers: Mapping[str, str] | None = None,
    ) -> LoadGenerator:
        """A bounded load generator aimed at Envoy."""
        return LoadGenerator(f"{self.entry_url}{path}", rate_per_s, max_requests, max_duration_s, dict(headers or {}))

    @staticmethod
    def weighted_virtualservice(
        weights: Mapping[str, int],
        service: str = "app",
        name: str = "app",
        header_routes: Mapping[str, tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """A VirtualService as graygate would write it: optional header routes (version → (header, exact value))
        first, then one weighted route over the `service` subsets."""
        http: list[dict[str, Any]] = [
            {"name": f"{version}-by-header", "match": [{"headers": {header: {"exact": value}}}],
             "route": [{"destination": {"host": service, "subset": version}}]}
            for version, (header, value) in (header_routes or {}).items()
        ]  # fmt: skip
        http.append(
            {
                "name": "primary",
                "route": [{"destination": {"host": service, "subset": v}, "weight": w} for v, w in weights.items()],
            }
        )
        return {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": name},
            "spec": {"hosts": [service], "http": http},
        }
