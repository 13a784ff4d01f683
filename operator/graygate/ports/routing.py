"""Traffic routing: what to route (a target and a split), what a router saw and wrote, and the seams: the router
itself and the stores of the objects it reads and writes (Istio VirtualServices, Gateway API HTTPRoutes).

The deliberate ``dict[str, Any]``s are ``VirtualServiceBody`` and ``HTTPRouteBody``: foreign objects we read through
a typed view but must hand back byte-for-byte, so they travel as the plain JSON the API server gave us.

The readings, problems, writes and snapshots below are shared by both kinds of object. Their ``virtual_service``
field names the object, whichever kind it is: an HTTPRoute's name for a Gateway API target, its rule's name in
``route``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

VirtualServiceBody = dict[str, Any]
"""A whole ``networking.istio.io/v1`` VirtualService exactly as the API server returned it."""

HTTPRouteBody = dict[str, Any]
"""A whole ``gateway.networking.k8s.io/v1`` HTTPRoute exactly as the API server returned it."""

RouteObjectKind = Literal["VirtualService", "HTTPRoute"]
"""The kind of object a managed route lives in."""


# ---- traffic routing: what to route ----


@dataclass(frozen=True)
class Destination:
    """One Istio destination: a host, optionally narrowed by a DestinationRule subset and a port.

    ``host`` is written as in the VirtualService; a name without dots ("checkout") means that service in the
    VirtualService's own namespace, as Istio itself reads it. ``port=None`` matches any port.
    """

    host: str
    subset: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        text = self.host
        if self.subset is not None:
            text += f"/{self.subset}"
        if self.port is not None:
            text += f":{self.port}"
        return text


@dataclass(frozen=True)
class VirtualServiceRef:
    """A VirtualService graygate manages, and which of its http routes. ``routes=None``: its only http route."""

    name: str
    routes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class HTTPRouteRef:
    """A Gateway API HTTPRoute graygate manages, and which of its rules. ``rules=None``: its only rule."""

    name: str
    rules: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TrafficTarget:
    """Everything a router needs to find the weights of one release, built from the CanaryRelease spec."""

    namespace: str
    virtual_services: tuple[VirtualServiceRef, ...]
    stable: Destination
    canary: Destination
    release: str | None = None
    """The release's name: it names the release's header routes (``graygate-<release>-header``); None: the router
    neither reports nor writes header routes."""
    http_routes: tuple[HTTPRouteRef, ...] = ()
    """The HTTPRoutes of a Gateway API target; then ``virtual_services`` is empty, and ``stable``/``canary`` name
    backendRef Services (``host``) and ports."""

    def __post_init__(self) -> None:
        if bool(self.virtual_services) == bool(self.http_routes):
            raise ValueError("a traffic target needs at least one VirtualService or HTTPRoute (and not both kinds)")
        names = [ref.name for ref in self.virtual_services] + [ref.name for ref in self.http_routes]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.kind} listed twice in the traffic target: {names}")
        if self.stable == self.canary:
            raise ValueError(f"stable and canary are the same destination ({self.stable}); give them distinct subsets")

    @property
    def kind(self) -> RouteObjectKind:
        """The kind of the managed objects, which says which router serves the target."""
        return "HTTPRoute" if self.http_routes else "VirtualService"


@dataclass(frozen=True)
class HeaderMatch:
    """One header a coloured request must carry: its (lower-case) name and how its value must look."""

    name: str
    kind: Literal["exact", "prefix", "regex"]
    value: str


@dataclass(frozen=True)
class HeaderRoute:
    """One way to be coloured: a request carrying every one of ``headers`` goes to the canary."""

    headers: tuple[HeaderMatch, ...]


@dataclass(frozen=True)
class TrafficSplit:
    """What the managed routes should say: the canary's weight, and the header routes above them (a request matching
    any goes to the canary whatever the weight). No header routes: any this release inserted are removed."""

    canary_weight: int
    header_routes: tuple[HeaderRoute, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.canary_weight, bool) or not 0 <= self.canary_weight <= 100:
            raise ValueError(f"canary weight must be an integer from 0 to 100, got {self.canary_weight!r}")


# ---- traffic routing: what was seen and done ----


class RoutingProblemReason(enum.StrEnum):
    """Why a VirtualService (or HTTPRoute) cannot be read or written safely. A fixed vocabulary, fit for Events and
    conditions; an HTTPRoute's rule that is missing, or ambiguous, or whose backends cannot be shifted, gets the
    route words (RuleNotFound aside)."""

    VIRTUAL_SERVICE_NOT_FOUND = "VirtualServiceNotFound"
    MALFORMED = "MalformedVirtualService"
    ROUTE_NOT_FOUND = "RouteNotFound"
    AMBIGUOUS_ROUTE = "AmbiguousRoute"
    STABLE_NOT_ROUTED = "StableDestinationNotRouted"
    DUPLICATE_DESTINATION = "DuplicateDestination"
    FOREIGN_WEIGHT = "ForeignWeightedDestination"
    WEIGHTS_NOT_100 = "WeightsDoNotSumTo100"
    HTTP_ROUTE_NOT_FOUND = "HTTPRouteNotFound"
    MALFORMED_HTTP_ROUTE = "MalformedHTTPRoute"
    RULE_NOT_FOUND = "RuleNotFound"
    HEADER_RULES_DO_NOT_FIT = "HeaderRulesDoNotFit"
    """The header rules would take an HTTPRoute past a bound of Gateway API's CRD (rules, matches, a rule's name):
    found before any write, so nothing is written."""
    WRITE_REFUSED = "WriteRefused"
    """The API server refused graygate's write (an admission webhook such as Istio's, or the schema): the
    VirtualService stays as it was."""


@dataclass(frozen=True)
class RoutingProblem:
    """A VirtualService graygate cannot manage as it stands: which one, why (a fixed word), and what to do."""

    virtual_service: str
    reason: RoutingProblemReason
    message: str


@dataclass(frozen=True)
class RouteWeights:
    """The real split of one managed http route. ``route=None`` is a VirtualService's single, unnamed route."""

    route: str | None
    stable_weight: int
    canary_weight: int
    header_route: bool = False
    """Whether the release's header route stands directly above this route (only read when the target names the
    release)."""


@dataclass(frozen=True)
class VirtualServiceWeights:
    virtual_service: str
    resource_version: str | None
    routes: tuple[RouteWeights, ...]


@dataclass(frozen=True)
class TrafficReading:
    """The actual weights of every managed route, re-read each tick; problems are reported, never guessed around."""

    virtual_services: tuple[VirtualServiceWeights, ...]
    problems: tuple[RoutingProblem, ...]

    @property
    def canary_weight(self) -> int | None:
        """The one canary weight all managed routes agree on, or None when a problem or a disagreement hides it."""
        weights = {route.canary_weight for vs in self.virtual_services for route in vs.routes}
        if self.problems or len(weights) != 1:
            return None
        return weights.pop()


@dataclass(frozen=True)
class RouteSnapshot:
    """One http route exactly as it was before graygate touched it; stored in the release status for the revert.

    ``route_json`` is the route's compact JSON text, key order kept, so restoring it is byte-exact.
    """

    virtual_service: str
    route: str | None
    route_json: str
    kind: RouteObjectKind = "VirtualService"


@dataclass(frozen=True)
class VirtualServiceWrite:
    """One replace that reached the API server: worth one Event and one count in the write metric."""

    virtual_service: str
    resource_version: str | None
    attempts: int
    previous: tuple[RouteWeights, ...]
    """The weights just before the write; empty when they could not be read (e.g. restoring a mangled route)."""


@dataclass(frozen=True)
class WriteResult:
    written: tuple[VirtualServiceWrite, ...]
    unchanged: tuple[str, ...]
    problems: tuple[RoutingProblem, ...]

    @property
    def as_asked(self) -> bool:
        """Every VirtualService now says what was asked (written or already so)."""
        return not self.problems


class VirtualServiceStore(Protocol):
    """The only way a router reaches Kubernetes. ``graygate.kube.virtualservices`` implements it; tests use a fake."""

    async def get(self, namespace: str, name: str) -> VirtualServiceBody | None:
        """The VirtualService as JSON, or None when it does not exist."""
        ...

    async def replace(self, namespace: str, name: str, body: VirtualServiceBody) -> VirtualServiceBody:
        """PUT ``body`` as is, its ``metadata.resourceVersion`` included; raise ``ConflictError`` when stale."""
        ...


class HTTPRouteStore(Protocol):
    """How the Gateway API router reaches Kubernetes. ``graygate.kube.httproutes`` implements it."""

    async def get(self, namespace: str, name: str) -> HTTPRouteBody | None:
        """The HTTPRoute as JSON, or None when it does not exist."""
        ...

    async def replace(self, namespace: str, name: str, body: HTTPRouteBody) -> HTTPRouteBody:
        """PUT ``body`` as is, its ``metadata.resourceVersion`` included; raise ``ConflictError`` when stale."""
        ...


@runtime_checkable
class FreshReads(Protocol):
    """A store whose ``get`` may answer from a watch-fed cache (``graygate.kube.caches``): its ``get_fresh`` always
    asks the API server. The read-modify-write loop decides with ``get`` and computes every write from
    ``get_fresh``, so a stale cache can never be written back."""

    async def get_fresh(self, namespace: str, name: str) -> dict[str, Any] | None: ...


class TrafficRouter(Protocol):
    """Reads and shifts the stable/canary split of one release. Level-based: every call re-reads the real objects."""

    async def observe(self, target: TrafficTarget) -> TrafficReading: ...

    async def set_split(self, target: TrafficTarget, split: TrafficSplit) -> WriteResult: ...

    async def snapshot(self, target: TrafficTarget) -> tuple[RouteSnapshot, ...]: ...

    async def restore(self, target: TrafficTarget, snapshots: Sequence[RouteSnapshot]) -> WriteResult: ...
