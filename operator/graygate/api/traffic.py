"""Where a CanaryRelease splits traffic: the routing objects it manages, one model per router kind, and the
destinations whose weights it sets.

Why a module of its own: this is the part of the spec that grows with each router. A new router adds a model here and
a branch to the `trafficRouting` one-of (beside its module in `routers/`); `spec.py`, which holds the plan, the
workloads and the gates, need not grow with it. The rules that tie a router to the rest of the spec (no subset and no
prefix match with Gateway API, room for header rules beside the managed ones) need the steps and both destinations at
once, so they stay on `CanaryReleaseSpec`.
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from graygate.api.base import SpecModel
from graygate.api.cel import exactly_one, rules
from graygate.api.fields import DNS_SUBDOMAIN

__all__ = [
    "GatewayAPI",
    "Istio",
    "ManagedHTTPRoute",
    "ManagedRoutes",
    "ManagedVirtualService",
    "RouteDestination",
    "TrafficRouting",
]

RouteName = Annotated[str, Field(min_length=1, max_length=253)]


def _distinct(what: str) -> AfterValidator:
    def check(values: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"{what} must be unique; repeated: {', '.join(repeated)}")
        return values

    return AfterValidator(check)


class ManagedVirtualService(SpecModel):
    """An Istio VirtualService, in the release's namespace, whose HTTP routes graygate manages."""

    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    """The VirtualService's name."""

    routes: Annotated[tuple[RouteName, ...], Field(min_length=1, max_length=16), _distinct("routes")] | None = Field(
        default=None, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """The names of the HTTP routes to manage. May be omitted only when the VirtualService has exactly one HTTP
    route; each managed route must send traffic to both the stable and the canary destination (or to the stable
    one only, in which case graygate adds the canary)."""


class Istio(SpecModel):
    """Traffic splitting through Istio VirtualServices."""

    virtual_services: tuple[ManagedVirtualService, ...] = Field(
        min_length=1,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The VirtualServices whose routes carry the split; every managed route gets the same weights."""

    @model_validator(mode="after")
    def _unique_names(self) -> Istio:
        names = [ref.name for ref in self.virtual_services]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"virtualServices must have unique names; repeated: {', '.join(repeated)}")
        return self


class ManagedHTTPRoute(SpecModel):
    """A Gateway API HTTPRoute, in the release's namespace, whose rules graygate manages."""

    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    """The HTTPRoute's name."""

    rules: Annotated[tuple[RouteName, ...], Field(min_length=1, max_length=16), _distinct("rules")] | None = Field(
        default=None, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """The names of the rules to manage (`spec.rules[].name`, Gateway API v1.4+ (standard channel; experimental
    from v1.2)). May be omitted only when the HTTPRoute has exactly one rule. Each managed rule must have a
    backendRef to the stable Service (and may have one to the canary Service, which graygate adds otherwise); only
    their two `weight`s are ever changed."""


class GatewayAPI(SpecModel):
    """Traffic splitting through Gateway API HTTPRoutes (`gateway.networking.k8s.io/v1`)."""

    http_routes: tuple[ManagedHTTPRoute, ...] = Field(
        min_length=1,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The HTTPRoutes whose rules carry the split; every managed rule gets the same weights. `stable.host` and
    `canary.host` name the Services of the rules' backendRefs, and `port`, when given, their port."""

    @model_validator(mode="after")
    def _unique_names(self) -> GatewayAPI:
        names = [ref.name for ref in self.http_routes]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"httpRoutes must have unique names; repeated: {', '.join(repeated)}")
        return self


class ManagedRoutes(NamedTuple):
    """One managed routing object, whatever its kind: its name and the route (rule) names the release gives."""

    name: str
    routes: tuple[str, ...] | None


class TrafficRouting(SpecModel):
    """How traffic is split: exactly one of `istio` or `gatewayAPI`."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            (exactly_one("istio", "gatewayAPI"), "trafficRouting needs exactly one of istio or gatewayAPI")
        )
    )

    istio: Istio | None = None
    """Split traffic by editing the weights of Istio VirtualService routes."""

    gateway_api: GatewayAPI | None = Field(default=None, alias="gatewayAPI")
    """Split traffic by editing the backendRef weights of Gateway API HTTPRoute rules."""

    @model_validator(mode="after")
    def _exactly_one(self) -> TrafficRouting:
        if (self.istio is None) == (self.gateway_api is None):
            raise ValueError("trafficRouting needs exactly one of istio or gatewayAPI")
        return self

    @property
    def kind(self) -> Literal["VirtualService", "HTTPRoute"]:
        """The kind of the managed objects, as snapshots and `status.originalRoutes` name it."""
        return "HTTPRoute" if self.gateway_api is not None else "VirtualService"

    def managed(self) -> tuple[ManagedRoutes, ...]:
        """The managed objects (VirtualServices or HTTPRoutes) with the routes or rules named for each."""
        if self.istio is not None:
            return tuple(ManagedRoutes(ref.name, ref.routes) for ref in self.istio.virtual_services)
        http_routes = self.gateway_api.http_routes if self.gateway_api is not None else ()
        return tuple(ManagedRoutes(ref.name, ref.rules) for ref in http_routes)


class RouteDestination(SpecModel):
    """A route destination exactly as it appears in the VirtualService, or a backendRef of the HTTPRoute."""

    host: str = Field(min_length=1, max_length=253)
    """Istio: the destination host, as written in the route (e.g. `checkout` or `checkout.shop.svc.cluster.local`).
    Gateway API: the name of the backendRef's Service, in the release's namespace (e.g. `checkout-v2`)."""

    subset: str | None = Field(default=None, min_length=1, max_length=253)
    """The DestinationRule subset, if the route uses one (Istio only: a backendRef has no subset)."""

    port: int | None = Field(default=None, ge=1, le=65535)
    """The destination's (or backendRef's) port number, if the route names one."""
