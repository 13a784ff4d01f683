"""The typed view of a Gateway API HTTPRoute: only the fields graygate reads, and how backendRefs match.

Why a separate view, as for VirtualServices: an HTTPRoute carries far more than graygate understands (parentRefs,
hostnames, filters, timeouts, fields of Gateway API versions not yet written). The few fields we touch are validated
through this minimal model and never written through it; the writes (``httproute_write.py``) start from the
original dict so the rest goes back byte-for-byte.

BackendRef matching. A backendRef is the release's stable or canary backend when it is a core ``Service`` (``group``
empty, ``kind`` Service: the CRD's defaults), in the HTTPRoute's own namespace (``namespace`` absent or equal), named
as the destination's ``host``, and, when the release gives a port, on that port.

Weights. Unlike Istio, Gateway API defaults an omitted ``weight`` to 1, and a lone backendRef takes all of its rule's
traffic unless its weight is 0 (then the rule sends nothing anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from graygate.ports.routing import Destination, HTTPRouteBody, RoutingProblem, RoutingProblemReason

__all__ = [
    "BackendMatcher",
    "BackendRefView",
    "HTTPRouteView",
    "RuleView",
    "describe_backend",
    "effective_weights",
    "parse_view",
    "rule_label",
]


class _View(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True, populate_by_name=True)


class BackendRefView(_View):
    group: str | None = None
    kind: str | None = None
    name: str
    namespace: str | None = None
    port: int | None = None
    weight: int | None = Field(default=None, ge=0)


class RuleView(_View):
    name: str | None = None
    matches: list[dict[str, JsonValue]] | None = None
    backend_refs: list[BackendRefView] = Field(default=[], alias="backendRefs")


class HTTPRouteSpecView(_View):
    rules: list[RuleView] = []


class MetadataView(_View):
    name: str
    namespace: str | None = None


class HTTPRouteView(_View):
    metadata: MetadataView
    spec: HTTPRouteSpecView

    @property
    def display_name(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}" if self.metadata.namespace else self.metadata.name


def parse_view(route: HTTPRouteBody) -> HTTPRouteView | RoutingProblem:
    """The typed view of ``route``, or a MalformedHTTPRoute problem naming the first bad field."""
    try:
        return HTTPRouteView.model_validate(route)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        name = str((route.get("metadata") or {}).get("name", "<unnamed>"))
        message = f"HTTPRoute {name} is malformed at {where}: {first['msg']}"
        return RoutingProblem(name, RoutingProblemReason.MALFORMED_HTTP_ROUTE, message)


@dataclass(frozen=True)
class BackendMatcher:
    """Matches an HTTPRoute's backendRefs against a release's destinations, inside the route's namespace."""

    namespace: str | None

    def matches(self, ref: BackendRefView, wanted: Destination) -> bool:
        return (
            (ref.group or "") == ""
            and (ref.kind or "Service") == "Service"
            and ref.namespace in (None, self.namespace)
            and ref.name == wanted.host
            and (wanted.port is None or ref.port == wanted.port)
        )


def rule_label(rule: RuleView, index: int) -> str:
    return f"'{rule.name}'" if rule.name is not None else f"#{index} (unnamed)"


def describe_backend(ref: BackendRefView) -> str:
    kind = "" if (ref.group or "") == "" and (ref.kind or "Service") == "Service" else f"{ref.kind}:"
    namespace = f"{ref.namespace}/" if ref.namespace is not None else ""
    port = f":{ref.port}" if ref.port is not None else ""
    return f"{kind}{namespace}{ref.name}{port}"


def effective_weights(rule: RuleView) -> tuple[int, ...]:
    """The share each backendRef gets, in the units the rule writes them (see the module docstring)."""
    if len(rule.backend_refs) == 1:
        return (0,) if rule.backend_refs[0].weight == 0 else (100,)
    return tuple(1 if ref.weight is None else ref.weight for ref in rule.backend_refs)
