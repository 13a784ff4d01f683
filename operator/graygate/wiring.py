"""The composition root: settings + clients + registries → `service.Deps`. The only place that decides which real
adapter stands behind each port, so tests can wire fakes through the same shape."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from graygate.domain.analysis.measurements import WorkloadReading
from graygate.domain.url_allowlist import UrlAllowlist
from graygate.freeze import FreezeSwitch
from graygate.gates.prometheus_login import DefaultCredentials
from graygate.gates.runner import GateRunner
from graygate.gates.tools import GateTools
from graygate.http.client import Outbound
from graygate.kube.caches import CachedRouteStore, Caches, kube_caches
from graygate.kube.client import ApiClient, api_client, close_client, widen_pool
from graygate.kube.destinationrules import KubeDestinationRules
from graygate.kube.events import KubeEvents
from graygate.kube.followed import KubeFollowedWorkloads
from graygate.kube.gatetemplates import KubeGateTemplates
from graygate.kube.httproutes import KubeHTTPRouteStore
from graygate.kube.notification_settings import KubeNotificationSettings
from graygate.kube.releases import KubeReleases
from graygate.kube.secrets import KubeSecrets
from graygate.kube.virtualservices import KubeVirtualServiceStore
from graygate.kube.workloads import KubeWorkloads
from graygate.metrics import OperatorMetrics
from graygate.notifiers.dispatcher import Dispatcher
from graygate.notifiers.send import Delivery
from graygate.ports.destinations import DestinationRules
from graygate.ports.gatetemplates import GateTemplateReader
from graygate.ports.notifications import NotificationSettingsReader
from graygate.ports.release import EventSink, FollowedWorkloads, StatusWriter, WorkloadProbe
from graygate.ports.routing import HTTPRouteStore, VirtualServiceStore
from graygate.ports.secrets import SecretReader
from graygate.providers.prometheus import PrometheusProvider
from graygate.routers.registry import ROUTERS, RouterClients, TargetRouter
from graygate.service import Deps
from graygate.store import EtcdError, EtcdSettings
from graygate.store.config_keys import EtcdConfigKeys
from graygate.store.etcd.store import EtcdStore
from graygate.store.watch import Watch

log = logging.getLogger("graygate.wiring")


@dataclass(frozen=True)
class OperatorSettings:
    """What `graygate run` was asked to do."""

    kubeconfig: Path | None = None
    namespaces: tuple[str, ...] = ()
    tick_interval_s: float = 1.0
    """The least time between two ticks of a release."""
    resync_interval_s: float = 300.0
    """The most time between two ticks of a release: one at rest, with no timer and no event, ticks this often."""
    listen_address: str = "127.0.0.1"
    metrics_port: int = 8081
    liveness_port: int = 8080
    log_format: str = "text"
    prometheus_address: str | None = None
    prometheus_credentials_dir: Path | None = None
    """Files `token`, or `username` and `password`, and optionally `ca.crt`: the default Prometheus's login."""
    probe_url_allowlist: UrlAllowlist = field(default_factory=UrlAllowlist)
    """The URLs gates may call; empty: any."""
    etcd: EtcdSettings | None = None
    freeze_key: str = "/graygate/freeze"
    peering: str | None = None
    priority: int = 0
    peering_lifetime_s: int = 60
    """Seconds a peer's keep-alive stays valid: a standby takes over at most this long after the active one died."""
    shard: str = "default"
    """The releases this operator serves: those labelled `graygate.dev/shard: <shard>` (domain.release.shards)."""
    instance: str = field(default_factory=lambda: os.environ.get("POD_NAME", socket.gethostname()))
    notifications_namespace: str | None = field(default_factory=lambda: os.environ.get("POD_NAMESPACE"))
    """Where the cluster-wide default notification settings (ConfigMap `graygate-notifications`) and their Secrets
    are: the operator's own namespace. None: no cluster-wide default."""
    notification_delivery: Delivery = field(default_factory=Delivery)
    """Each notification's timeout per attempt, retries and backoff."""
    watch_resync_s: float = 300.0
    """How often the watch-fed caches of routes and Deployments relist everything (catching a missed event)."""
    io_threads: int = 32
    """Threads for the blocking calls (the kubernetes client, etcd): with asyncio's default of cores + 4 (6 here), a
    thousand releases' API calls wait in a queue behind six at a time, each waiting mostly for the network."""


@dataclass(frozen=True)
class KubeAdapters:
    """What stands behind the ports that reach the API server: `kube_adapters` builds the real ones; a test passes
    fakes, and the operator is wired around them exactly as around the real ones."""

    virtual_services: VirtualServiceStore
    http_routes: HTTPRouteStore
    statuses: StatusWriter
    events: EventSink
    secrets: SecretReader
    workload: WorkloadProbe
    followed: FollowedWorkloads
    destination_rules: DestinationRules | None = None
    """None: the subsets a release routes to are not checked before traffic moves."""
    notification_settings: NotificationSettingsReader | None = None
    """None: only a release's own `spec.notifications` applies (no namespace or cluster default)."""
    gate_templates: GateTemplateReader | None = None
    """None: no template can be read, and a release with `gateRefs` is Invalid."""


def kube_adapters(api: ApiClient, instance: str, caches: Caches | None = None) -> KubeAdapters:
    """The API server's adapters; with `caches`, routes and Deployments are read from them (`graygate.kube.caches`)."""
    workloads = KubeWorkloads(api, caches.deployments if caches is not None else None)

    async def workload(namespace: str, name: str) -> WorkloadReading:
        availability = await workloads.deployment_availability(namespace, name)
        return WorkloadReading(
            kind="Deployment",
            name=name,
            available=availability.available,
            message=availability.reason,
            pod_labels=availability.pod_labels,
        )

    return KubeAdapters(
        virtual_services=(
            CachedRouteStore(KubeVirtualServiceStore(api), caches.virtual_services)
            if caches is not None
            else KubeVirtualServiceStore(api)
        ),
        http_routes=(
            CachedRouteStore(KubeHTTPRouteStore(api), caches.http_routes)
            if caches is not None
            else KubeHTTPRouteStore(api)
        ),
        statuses=KubeReleases(api),
        events=KubeEvents(api, instance),
        secrets=KubeSecrets(api),
        workload=workload,
        followed=KubeFollowedWorkloads(api),
        destination_rules=KubeDestinationRules(api, caches.destination_rules.listed if caches is not None else None),
        notification_settings=KubeNotificationSettings(api),
        gate_templates=KubeGateTemplates(api),
    )


@dataclass
class Wired:
    deps: Deps
    api: ApiClient | None
    """None when the adapters were given (no API server client was made)."""
    gates: GateRunner
    freeze_watch: Watch | None = None
    etcd: EtcdStore | None = None
    notifier: Dispatcher | None = None
    templates: GateTemplateReader | None = None
    """Reads the gate templates a release's `gateRefs` name, before its tick."""
    caches: Caches | None = None
    """The watch-fed caches of routes and Deployments (None when the adapters were given)."""

    async def close(self) -> None:
        if self.caches is not None and not await asyncio.to_thread(self.caches.stop, 5.0):
            log.warning("a watch cache's thread did not end within 5 s (it ends with the process)")
        if self.notifier is not None:
            await self.notifier.close()
        if self.freeze_watch is not None:
            self.freeze_watch.cancel()
        if self.etcd is not None:
            await self.etcd.aclose()
        await self.gates.close()
        if self.api is not None:
            close_client(self.api)


async def wire(
    settings: OperatorSettings,
    metrics: OperatorMetrics,
    kube: KubeAdapters | None = None,
    on_change: Callable[[str, str, str], None] | None = None,
) -> Wired:
    """The operator's ports behind their adapters; `kube`: these instead of the API server's (no client is made).

    `on_change(kind, namespace, name)` is called on the event loop for every change the watch-fed caches see (a
    VirtualService, HTTPRoute or Deployment added, changed or deleted): `Wakeups.touch` wakes the releases it
    concerns."""
    api: ApiClient | None = None
    caches: Caches | None = None
    if kube is None:
        api = widen_pool(api_client(settings.kubeconfig), settings.io_threads)
        caches = kube_caches(api, settings.namespaces, on_change=_on_loop(on_change), resync_s=settings.watch_resync_s)
        caches.start()
        kube = kube_adapters(api, settings.instance, caches)
    # The default Prometheus is the platform team's own choice: its host is an explicit exception to the address
    # rules, as an allowlist entry naming it would be.
    addresses = settings.probe_url_allowlist.addresses(settings.prometheus_address)
    tools = GateTools(
        metrics=PrometheusProvider(addresses),
        outbound=Outbound(addresses),
        secrets=kube.secrets,
        default_prometheus=settings.prometheus_address,
        default_credentials=(
            DefaultCredentials(settings.prometheus_credentials_dir)
            if settings.prometheus_credentials_dir is not None
            else None
        ),
    )
    gates = GateRunner(tools, url_allowlist=settings.probe_url_allowlist)

    freeze = FreezeSwitch(settings.freeze_key)
    etcd = EtcdStore(settings.etcd) if settings.etcd is not None else None
    watch = await _watch_freeze(etcd, freeze) if etcd is not None else None

    notifier = Dispatcher(
        secrets=kube.secrets,
        settings=kube.notification_settings,
        allowlist=settings.probe_url_allowlist,
        metrics=metrics,
        home=settings.notifications_namespace,
        delivery=settings.notification_delivery,
    )
    notifier.start()

    deps = Deps(
        router=TargetRouter(
            ROUTERS, RouterClients(virtual_services=kube.virtual_services, http_routes=kube.http_routes)
        ),
        gates=gates,
        workload=kube.workload,
        statuses=kube.statuses,
        events=kube.events,
        metrics=metrics,
        frozen=freeze,
        config_keys=EtcdConfigKeys(gates.etcd_connector),
        followed=kube.followed,
        destination_rules=kube.destination_rules,
        notifications=notifier,
    )
    return Wired(
        deps=deps,
        api=api,
        gates=gates,
        freeze_watch=watch,
        etcd=etcd,
        notifier=notifier,
        templates=kube.gate_templates,
        caches=caches,
    )


def _on_loop(callback: Callable[[str, str, str], None] | None) -> Callable[[str, str, str], None] | None:
    """`callback` called on the running event loop, from the caches' threads."""
    if callback is None:
        return None
    loop = asyncio.get_running_loop()

    def threadsafe(kind: str, namespace: str, name: str) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(callback, kind, namespace, name)

    return threadsafe


async def _watch_freeze(etcd: EtcdStore, freeze: FreezeSwitch) -> Watch | None:
    """Starts the freeze watch; an unreachable etcd is logged, not fatal: the operator must stay up to roll back."""
    try:
        return await etcd.watch_key(freeze.key, freeze.on_event)
    except EtcdError as error:
        log.error("freeze switch %s is not watched: %s (releases are not frozen)", freeze.key, error)
        return None
