"""The typed view of an Istio VirtualService: only the fields graygate reads, and how destinations match.

Why a separate view: a VirtualService carries far more than graygate understands (matches, retries, mirrors, CORS,
fault injection, fields of Istio versions not yet written). We validate the few fields we touch through this minimal
pydantic model, after Argo Rollouts' ``istio_types.go``, and never write through it: the writes
(``virtualservice_write.py``) start from the original dict so the rest goes back byte-for-byte. ``extra="ignore"``
is what makes that safe - an unknown field is not an error here, it is simply not ours.

Destination matching. A destination matches when host, subset and (when the release gives one) port agree. Hosts are
compared as Istio itself resolves them (``ResolveShortnameToFQDN``): a name without dots ("checkout") means that
service in the VirtualService's own namespace, ``checkout.<namespace>.svc.<cluster domain>``; a name with a dot is
taken literally, so ``checkout.shop`` does *not* match ``checkout.shop.svc.cluster.local`` (Istio does not expand it
either). The cluster domain defaults to ``cluster.local``; pass another one if the mesh uses it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from graygate.ports.routing import Destination, RoutingProblem, RoutingProblemReason, VirtualServiceBody

__all__ = [
    "DEFAULT_CLUSTER_DOMAIN",
    "DestinationMatcher",
    "DestinationView",
    "HttpRouteView",
    "VirtualServiceView",
    "canonical_host",
    "describe_destination",
    "effective_weights",
    "parse_view",
    "route_label",
]

DEFAULT_CLUSTER_DOMAIN = "cluster.local"

# ---- the typed view: only what graygate reads ----


class _View(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class PortSelectorView(_View):
    number: int | None = None


class DestinationView(_View):
    host: str
    subset: str | None = None
    port: PortSelectorView | None = None


class RouteDestinationView(_View):
    destination: DestinationView
    weight: int | None = Field(default=None, ge=0)


class HttpRouteView(_View):
    name: str | None = None
    match: list[dict[str, JsonValue]] | None = None
    route: list[RouteDestinationView] = []


class HttpSpecView(_View):
    http: list[HttpRouteView] = []


class MetadataView(_View):
    name: str
    namespace: str | None = None
    resource_version: str | None = Field(default=None, alias="resourceVersion")


class VirtualServiceView(_View):
    metadata: MetadataView
    spec: HttpSpecView

    @property
    def display_name(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}" if self.metadata.namespace else self.metadata.name


def parse_view(vs: VirtualServiceBody) -> VirtualServiceView | RoutingProblem:
    """The typed view of ``vs``, or a MalformedVirtualService problem naming the first bad field."""
    try:
        return VirtualServiceView.model_validate(vs)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        name = str((vs.get("metadata") or {}).get("name", "<unnamed>"))
        message = f"VirtualService {name} is malformed at {where}: {first['msg']}"
        return RoutingProblem(name, RoutingProblemReason.MALFORMED, message)


def canonical_host(host: str, namespace: str | None, cluster_domain: str = DEFAULT_CLUSTER_DOMAIN) -> str:
    """The host as Istio resolves it inside a VirtualService of ``namespace`` (only dotless names are expanded)."""
    if host == "*" or "." in host or not namespace or _is_ip(host):
        return host
    return f"{host}.{namespace}.svc.{cluster_domain}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class DestinationMatcher:
    """Matches VirtualService entries against a release's destinations, inside one namespace."""

    namespace: str | None
    cluster_domain: str

    def matches(self, entry: DestinationView, wanted: Destination) -> bool:
        return (
            self.host(entry.host) == self.host(wanted.host)
            and entry.subset == wanted.subset
            and (wanted.port is None or (entry.port is not None and entry.port.number == wanted.port))
        )

    def host(self, host: str) -> str:
        return canonical_host(host, self.namespace, self.cluster_domain)


def route_label(route: HttpRouteView, index: int) -> str:
    return f"'{route.name}'" if route.name is not None else f"#{index} (unnamed)"


def describe_destination(entry: DestinationView) -> str:
    port = f":{entry.port.number}" if entry.port is not None and entry.port.number is not None else ""
    subset = f"/{entry.subset}" if entry.subset is not None else ""
    return f"{entry.host}{subset}{port}"


def effective_weights(route: HttpRouteView) -> tuple[int, ...]:
    # Istio sends everything to a lone destination whatever its weight; otherwise an omitted weight is 0
    # (Go clients drop "weight: 0" on the wire, so absence must read as zero).
    if len(route.route) == 1:
        return (100,)
    return tuple(entry.weight or 0 for entry in route.route)
