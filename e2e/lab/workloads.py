"""Backends that follow Kubernetes workloads: the version a backend serves is the revision of the workload it stands
for, and the pods' endpoints reach local backends.

Why: graygate moves Deployments (it scales the followed one, rolls out a primary); for the traffic to follow, the
lab must see what Kubernetes sees. A *side* is an Envoy cluster standing for the pods a label selector picks (as an
Istio subset or a Service does) of one Deployment. Every `interval_s` the pods of each side are listed (through
`list_pods`, so the lab needs no Kubernetes client; the e2e side passes an adapter) and:

- a pod counts when it is Ready (condition Ready=True) and not terminating (no deletionTimestamp);
- each revision, i.e. each (Deployment, `pod-template-hash` label), gets one backend process as soon as one of its
  pods exists (not yet Ready: a pod becomes Ready once its container has started, and so must its backend), started
  with the image
  tag of the pod's first container as its version (the whole image when it has no tag), knobs from that container's
  env (`ENV_KNOBS`: `LAB_ERROR_RATE=0.5` makes half the answers 500s) and the Deployment's name as its workload, so
  its Istio series say `destination_workload=<Deployment>`, which graygate's built-in queries select on;
- the side's cluster gets one endpoint per counted pod, at its revision's backend, so the traffic share of revisions
  within a side follows their pod counts, and a side with no counted pod has no endpoint (Envoy answers 503 UH,
  as Istio's proxy does);
- a backend no counted pod uses for `grace_s` is stopped (its endpoints left first, so requests under way finish).

The reading of pods into revisions and endpoints (`plan`) is pure and tested as a table; `WorkloadBackends` does
the I/O and reports what it could not do in `last_error` rather than stop following.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
from pydantic import ValidationError

from ._process import ManagedProcess
from .backend import BackendIdentity, Knobs
from .backend_process import BackendProcess
from .bootstrap import Upstream
from .errors import LabError

log = logging.getLogger(__name__)

POD_TEMPLATE_HASH = "pod-template-hash"

# A container's env → the knob it sets at start. Knobs still change at runtime through the backend's admin endpoint.
ENV_KNOBS: dict[str, str] = {
    "LAB_ERROR_RATE": "error_rate",
    "LAB_ERROR_RAMP_PER_S": "error_ramp_per_s",
    "LAB_ERROR_CODE": "error_code",
    "LAB_LATENCY_MS": "latency_ms",
    "LAB_JITTER_MS": "jitter_ms",
    "LAB_SLOW_FRACTION": "slow_fraction",
    "LAB_SLOW_MS": "slow_ms",
    "LAB_HEALTHY": "healthy",
}

ListPods = Callable[[str, Mapping[str, str]], Awaitable[list[dict[str, Any]]]]
"""`list_pods(namespace, selector)`: the pods whose labels match every label of `selector`, as the API server's JSON
(camelCase keys) shows them."""


@dataclass(frozen=True)
class WorkloadSide:
    """An Envoy cluster (e.g. the subset `canary`) standing for the pods of `deployment` that `selector` picks."""

    cluster: str
    deployment: str
    selector: Mapping[str, str]
    hash_label: str = POD_TEMPLATE_HASH
    """The pod label naming its ReplicaSet's template hash (Argo Rollouts' ReplicaSets use their own label)."""


@dataclass(frozen=True, order=True)
class Revision:
    """One revision of a Deployment: the pods of one of its ReplicaSets."""

    deployment: str
    template_hash: str

    @property
    def name(self) -> str:
        """The ReplicaSet's name, which also names the backend process and its log."""
        return f"{self.deployment}-{self.template_hash}"


@dataclass(frozen=True)
class RevisionBackend:
    """What a revision's backend serves: its version (the image tag) and its starting knobs."""

    version: str
    knobs: Knobs


@dataclass(frozen=True)
class PodRef:
    """A counted pod as the mesh sees it: its name and labels (a DestinationRule subset selects on them)."""

    name: str
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PodEndpoint:
    """A counted pod and the backend endpoint that plays it."""

    pod: PodRef
    upstream: Upstream


@dataclass(frozen=True)
class Plan:
    """What the pods ask for: a backend per revision, and per side's cluster one revision per counted pod (`pods`
    names those pods, in the same order)."""

    backends: dict[Revision, RevisionBackend] = field(default_factory=dict)
    endpoints: dict[str, list[Revision]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    pods: dict[str, list[PodRef]] = field(default_factory=dict)


def image_version(image: str) -> str:
    """`example/app:v2` → `v2`; an image without a tag (`registry:5000/app`, `app@sha256:…`) is its own version."""
    name = image.split("@", 1)[0]
    _, colon, tag = name.rpartition(":")
    return tag if colon and tag and "/" not in tag else image


def knobs_from_env(env: Sequence[Mapping[str, Any]]) -> Knobs:
    """The knobs a container's env sets (`ENV_KNOBS`); raises ValueError for a value a knob refuses."""
    values = {ENV_KNOBS[e["name"]]: e.get("value", "") for e in env if e.get("name") in ENV_KNOBS}
    try:
        return Knobs.model_validate(values)
    except ValidationError as e:
        raise ValueError(str(e)) from e


def counts(pod: Mapping[str, Any]) -> bool:
    """Ready and not terminating: what Istio puts into a subset's endpoints."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _revision(side: WorkloadSide, pod: Mapping[str, Any]) -> Revision | None:
    """The revision of `side.deployment` a pod belongs to; None for a pod of no ReplicaSet of that Deployment (a
    selector may pick more than the Deployment's pods)."""
    meta = pod.get("metadata", {})
    template_hash = (meta.get("labels") or {}).get(side.hash_label)
    if not template_hash:
        return None
    revision = Revision(side.deployment, str(template_hash))
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == "ReplicaSet"]
    if owners and all(o.get("name") != revision.name for o in owners):
        return None
    return revision


def _backend_of(pod: Mapping[str, Any]) -> RevisionBackend:
    containers = pod.get("spec", {}).get("containers") or []
    if not containers:
        raise ValueError("the pod has no container")
    first = containers[0]
    return RevisionBackend(image_version(str(first.get("image", ""))), knobs_from_env(first.get("env") or []))


def plan(sides: Sequence[WorkloadSide], pods: Mapping[str, Sequence[Mapping[str, Any]]]) -> Plan:
    """Pods (per side's cluster) → the backends and endpoints they ask for. The pods of one revision share their
    template, so the first counted pod of a revision speaks for all; a revision whose template cannot make a
    backend is left out (and named in `problems`), as a pod that cannot start serves nothing."""
    out = Plan()
    refused: set[Revision] = set()
    for side in sides:
        served: list[tuple[PodRef, Revision]] = []
        for pod in pods.get(side.cluster, ()):
            revision = _revision(side, pod)
            if revision is None or revision in refused or pod.get("metadata", {}).get("deletionTimestamp"):
                continue
            if revision not in out.backends:
                try:
                    out.backends[revision] = _backend_of(pod)
                except ValueError as e:
                    refused.add(revision)
                    out.problems.append(f"{revision.name}: {e}")
                    continue
            if counts(pod):
                labels = tuple(sorted((str(k), str(v)) for k, v in (pod["metadata"].get("labels") or {}).items()))
                served.append((PodRef(str(pod["metadata"].get("name", "")), labels), revision))
        ordered = sorted(served, key=lambda pair: pair[0].name)
        out.endpoints[side.cluster] = [revision for _, revision in ordered]
        out.pods[side.cluster] = [ref for ref, _ in ordered]
    return out


AssignEndpoints = Callable[[Mapping[str, Sequence[PodEndpoint]]], Awaitable[object]]
SetTargets = Callable[[Sequence[str]], None]


@dataclass
class _Running:
    process: BackendProcess
    unused_since: float | None = None


class WorkloadBackends:
    """Follows `sides` into backends and endpoints (see the module docstring). `assign_endpoints` receives every
    side's cluster with its endpoints (each with the pod it plays) on each change (Envoy's clusters, or the mesh's
    WorkloadEntries); `set_targets`, if given, the
    `host:port` of every running backend (e.g. a Prometheus file job). `async with` it, or `start()`/`stop()`;
    `start()` returns once the first listing is in place."""

    def __init__(
        self,
        sides: Sequence[WorkloadSide],
        list_pods: ListPods,
        assign_endpoints: AssignEndpoints,
        workdir: Path,
        *,
        namespace: str = "default",
        service: str = "app",
        set_targets: SetTargets | None = None,
        interval_s: float = 0.2,
        grace_s: float = 2.0,
        start_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if len({s.cluster for s in sides}) != len(sides) or not sides:
            raise ValueError("sides must name distinct clusters, at least one")
        if not 0.01 <= interval_s <= 10 or not 0 <= grace_s <= 60:
            raise ValueError("the interval lies within [0.01, 10] s and the grace period within [0, 60] s")
        self.sides = tuple(sides)
        self._list_pods = list_pods
        self._assign = assign_endpoints
        self._set_targets = set_targets
        self.workdir = workdir
        self.namespace = namespace
        self.service = service
        self.interval_s = interval_s
        self.grace_s = grace_s
        self._timeout = start_timeout_s
        self._clock = clock
        self._running: dict[Revision, _Running] = {}
        self._endpoints: dict[str, tuple[PodEndpoint, ...]] | None = None
        self._targets: list[str] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.ticks = 0

    # --- what runs -------------------------------------------------------------------------------------------------

    @property
    def backends(self) -> dict[Revision, BackendProcess]:
        """The running backend of every revision (also those within their grace period)."""
        return {revision: r.process for revision, r in self._running.items()}

    def processes(self) -> list[ManagedProcess]:
        return [r.process.process for r in self._running.values()]

    def check(self) -> None:
        """Raise LabProcessError (with the log tail) if a backend has died."""
        for r in self._running.values():
            r.process.process.check()

    # --- one tick --------------------------------------------------------------------------------------------------

    async def tick(self) -> None:
        """List the pods, start the backends they need, assign the endpoints, stop the backends no longer used."""
        self.ticks += 1
        listed = await asyncio.gather(*(self._list_pods(self.namespace, s.selector) for s in self.sides))
        wanted = plan(self.sides, {s.cluster: pods for s, pods in zip(self.sides, listed, strict=True)})
        await self._start_missing(wanted.backends)
        endpoints = {
            cluster: tuple(
                PodEndpoint(pod, Upstream("127.0.0.1", self._port(revision)))
                for pod, revision in zip(wanted.pods[cluster], revisions, strict=True)
            )
            for cluster, revisions in wanted.endpoints.items()
        }
        if endpoints != self._endpoints:
            await self._assign(endpoints)
            self._endpoints = endpoints
        self._stop_unused(set(wanted.backends))
        self._publish_targets()
        self._report(wanted.problems)

    async def _start_missing(self, wanted: Mapping[Revision, RevisionBackend]) -> None:
        for revision, spec in sorted(wanted.items()):
            if revision in self._running:
                self._running[revision].unused_since = None
                continue
            identity = BackendIdentity(spec.version, self.service, self.namespace, workload=revision.deployment)
            backend = BackendProcess(self.workdir, revision.name, identity, spec.knobs)
            backend.start()  # all spawned first: their Python start-ups overlap
            self._running[revision] = _Running(backend)
            log.info("workload backends: started %s serving %s", revision.name, spec.version)
        for revision, running in list(self._running.items()):
            if running.process.port is not None:
                continue
            try:
                await running.process.listening(self._http(), self._timeout)
            except BaseException:  # forget it, so that the next tick starts it anew
                running.process.process.stop()
                del self._running[revision]
                raise

    def _port(self, revision: Revision) -> int:
        port = self._running[revision].process.port
        if port is None:
            raise LabError(f"backend {revision.name} has no port")
        return port

    def _stop_unused(self, used: set[Revision]) -> None:
        now = self._clock()
        for revision, running in list(self._running.items()):
            if revision in used:
                continue
            if running.unused_since is None:
                running.unused_since = now
            if now - running.unused_since >= self.grace_s:
                running.process.process.stop()
                del self._running[revision]
                log.info("workload backends: stopped %s, no pod uses it", revision.name)

    def _publish_targets(self) -> None:
        targets = sorted(r.process.address for r in self._running.values() if r.process.port is not None)
        if self._set_targets is not None and targets != self._targets:
            self._set_targets(targets)
            self._targets = targets

    def _report(self, problems: Sequence[str]) -> None:
        message = "; ".join(problems) or None
        if message is not None and message != self.last_error:
            log.warning("workload backends: %s", message)
        self.last_error = message

    # --- in time ---------------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.tick()
            except Exception as e:  # the API server may be restarting or a backend slow: try again next tick
                self._report([f"tick failed: {e!r}"])

    async def start(self) -> None:
        if self._task is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
            await self.tick()  # the first listing is in place before start() returns
            self._task = asyncio.create_task(self._run(), name="workload-backends")

    async def stop(self) -> None:
        """Stop following and stop every backend."""
        task, self._task = self._task, None
        try:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            for running in self._running.values():
                running.process.process.stop()
            self._running.clear()
            if self._session is not None:
                await self._session.close()
                self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise LabError("workload backends are not started")
        return self._session

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
