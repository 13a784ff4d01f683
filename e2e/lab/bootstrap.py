"""The lab Envoy's configuration as plain data: its bootstrap in either mode, and the resources of the shim's files.

Why apart from envoy.py: these are pure functions of their arguments (no process, no HTTP), so they read, and can be
tested, on their own; envoy.py runs the process and waits on its admin interface.

- **files** (the shim, tests/lab only): one static listener, the *entry*, whose HTTP connection manager takes its
  routes from a file (path-based RDS), and clusters from another file (path-based CDS), each in a directory Envoy
  watches; every request is logged as one JSON object with the fields istiod's mesh config asks for.
- **ADS** (a sidecar of istiod's mesh): listeners and clusters come from istiod over ADS, and so do the routes,
  endpoints and access log. The static entry listener stands for the application that calls the service: it sends
  every request, with the service's name as its Host, to the outbound listener istiod gives the sidecar.

Both bind the admin interface and the entry listener to port 0 on 127.0.0.1: Envoy reports the ports it got.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .shim import ROUTE_CONFIG_NAME, EnvoyRouteConfiguration

ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
_HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
_FILE_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
_HTTP_OPTIONS_TYPE = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
STAT_PREFIX = "ingress"
ENTRY_LISTENER = "ingress"
FILE_NODE: dict[str, str] = {"id": "graygate-lab", "cluster": "graygate-lab"}
"""Who the shim's Envoy is: nobody reads it, but Envoy requires a node for file-based dynamic resources."""
XDS_CLUSTER = "xds-grpc"
OUTBOUND_CLUSTER = "sidecar-outbound"


@dataclass(frozen=True, order=True)
class Upstream:
    """One endpoint of an Envoy cluster."""

    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class AdsSource:
    """Where an Envoy takes its config from over ADS, and who it is to that server."""

    address: Upstream
    """istiod's plaintext xDS address."""
    node: Mapping[str, Any]
    """The bootstrap node: id, cluster and the metadata istiod reads."""
    outbound_port: int
    """The port of the outbound listener istiod gives this Envoy on 127.0.0.1 (a `Sidecar` resource says which)."""
    authority: str
    """The Host the entry listener puts on every request: the service the calling application asks for."""


def localities(endpoints: Sequence[Upstream]) -> list[dict[str, Any]]:
    """A load assignment's `endpoints`: one locality with every endpoint, or none at all (no hosts)."""
    if not endpoints:
        return []
    return [
        {
            "lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": u.host, "port_value": u.port}}}}
                for u in endpoints
            ]
        }
    ]


def _static_cluster(name: str, endpoints: Sequence[Upstream], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        **extra,
        "load_assignment": {"cluster_name": name, "endpoints": localities(endpoints)},
    }


def _admin() -> dict[str, Any]:
    return {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}}


def entry_listener(hcm: Mapping[str, Any]) -> dict[str, Any]:
    """The static listener clients call (port 0 on 127.0.0.1), with this HTTP connection manager."""
    return {
        "name": ENTRY_LISTENER,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": dict(hcm)}]}
        ],
    }


def _file_source(path: Path) -> dict[str, Any]:
    return {
        "path_config_source": {"path": str(path), "watched_directory": {"path": str(path.parent)}},
        "resource_api_version": "V3",
    }


def file_bootstrap(
    routes_file: Path, clusters_file: Path, access_log: Path, log_fields: Mapping[str, str]
) -> dict[str, Any]:
    """The shim's Envoy: routes and clusters from watched files, one JSON access-log line per request."""
    hcm = {
        "@type": _HCM_TYPE,
        "stat_prefix": STAT_PREFIX,
        "rds": {"route_config_name": ROUTE_CONFIG_NAME, "config_source": _file_source(routes_file)},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER_TYPE}}],
        "access_log": [
            {
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": _FILE_LOG_TYPE,
                    "path": str(access_log),
                    "log_format": {"json_format": dict(log_fields)},
                },
            }
        ],
    }
    return {
        "node": dict(FILE_NODE),
        "admin": _admin(),
        "dynamic_resources": {"cds_config": _file_source(clusters_file)},
        "static_resources": {"listeners": [entry_listener(hcm)]},
    }


def ads_bootstrap(ads: AdsSource) -> dict[str, Any]:
    """A sidecar of istiod's mesh: listeners and clusters over ADS (gRPC over HTTP/2 to `ads.address`), and the entry
    listener that hands every request, with `ads.authority` as its Host, to the outbound listener."""
    http2 = {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": _HTTP_OPTIONS_TYPE,
            "explicit_http_config": {"http2_protocol_options": {}},
        }
    }
    xds = _static_cluster(XDS_CLUSTER, [ads.address], typed_extension_protocol_options=http2)
    outbound = _static_cluster(OUTBOUND_CLUSTER, [Upstream("127.0.0.1", ads.outbound_port)])
    route = {"cluster": OUTBOUND_CLUSTER, "host_rewrite_literal": ads.authority, "timeout": "0s"}
    hcm = {
        "@type": _HCM_TYPE,
        "stat_prefix": STAT_PREFIX,
        "route_config": {
            "name": "entry",
            "virtual_hosts": [
                {"name": "entry", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": route}]}
            ],
        },
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER_TYPE}}],
    }
    ads_source = {"ads": {}, "resource_api_version": "V3"}
    return {
        "node": dict(ads.node),
        "admin": _admin(),
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}],
            },
            "cds_config": ads_source,
            "lds_config": ads_source,
        },
        "static_resources": {"clusters": [xds, outbound], "listeners": [entry_listener(hcm)]},
    }


def routes_file(version: str, routes: EnvoyRouteConfiguration) -> dict[str, Any]:
    """The content of the shim's routes file (path-based RDS) at `version`."""
    return {"version_info": version, "resources": [{"@type": ROUTE_TYPE, **routes}]}


def clusters_file(version: str, endpoints: Mapping[str, Sequence[Upstream]]) -> dict[str, Any]:
    """The content of the shim's clusters file (path-based CDS) at `version`: a static cluster per name, sorted."""
    clusters = [{"@type": CLUSTER_TYPE, **_static_cluster(name, eps)} for name, eps in sorted(endpoints.items())]
    return {"version_info": version, "resources": clusters}
