"""The seams between graygate's core and the outside world, as small Protocols and the plain data they exchange.

The service layer talks to "a traffic router", "a gate" and "a metric provider", never to Istio, aiohttp or
Prometheus's client. An adapter (``routers/istio.py``,
``gates/http_probe.py``) satisfies a Protocol here; tests satisfy it with a hand-written fake. Each Protocol stays at
four methods or fewer, and every value that crosses a seam is a frozen dataclass, so nothing downstream can mutate
what was observed.

The one deliberate ``dict[str, Any]`` is ``VirtualServiceBody``: a foreign object we read through a typed view but
must hand back byte-for-byte, so it travels as the plain JSON the API server gave us.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from graygate.api import gates as gate_specs
from graygate.api.etcd import EtcdConnection
from graygate.api.gates import GateCheck
from graygate.domain.analysis.measurements import Measurement, WorkloadReading
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.config.release_config import ApplyConfig, ConfigReading, RestoreConfig
from graygate.domain.release.decision import Reason
from graygate.store.errors import EtcdError
from graygate.store.model import GuardedApply, KeysSnapshot, KeyState, PrefixSnapshot, PriorValue, RestoreResult

VirtualServiceBody = dict[str, Any]
"""A whole ``networking.istio.io/v1`` VirtualService exactly as the API server returned it."""


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
class TrafficTarget:
    """Everything a router needs to find the weights of one release, built from the CanaryRelease spec."""

    namespace: str
    virtual_services: tuple[VirtualServiceRef, ...]
    stable: Destination
    canary: Destination
    release: str | None = None
    """The release's name: it names the release's header routes (``graygate-<release>-header``); None: the router
    neither reports nor writes header routes."""

    def __post_init__(self) -> None:
        names = [ref.name for ref in self.virtual_services]
        if not names:
            raise ValueError("a traffic target needs at least one VirtualService")
        if len(set(names)) != len(names):
            raise ValueError(f"VirtualService listed twice in the traffic target: {names}")
        if self.stable == self.canary:
            raise ValueError(f"stable and canary are the same destination ({self.stable}); give them distinct subsets")


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
    """Why a VirtualService cannot be read or written safely. A fixed vocabulary, fit for Events and conditions."""

    VIRTUAL_SERVICE_NOT_FOUND = "VirtualServiceNotFound"
    MALFORMED = "MalformedVirtualService"
    ROUTE_NOT_FOUND = "RouteNotFound"
    AMBIGUOUS_ROUTE = "AmbiguousRoute"
    STABLE_NOT_ROUTED = "StableDestinationNotRouted"
    DUPLICATE_DESTINATION = "DuplicateDestination"
    FOREIGN_WEIGHT = "ForeignWeightedDestination"
    WEIGHTS_NOT_100 = "WeightsDoNotSumTo100"


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
class TrafficObservation:
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


# ---- ports ----


class VirtualServiceStore(Protocol):
    """The only way a router reaches Kubernetes. ``graygate.kube.virtualservices`` implements it; tests use a fake."""

    async def get(self, namespace: str, name: str) -> VirtualServiceBody | None:
        """The VirtualService as JSON, or None when it does not exist."""
        ...

    async def replace(self, namespace: str, name: str, body: VirtualServiceBody) -> VirtualServiceBody:
        """PUT ``body`` as is, its ``metadata.resourceVersion`` included; raise ``ConflictError`` when stale."""
        ...


class TrafficRouter(Protocol):
    """Reads and shifts the stable/canary split of one release. Level-based: every call re-reads the real objects."""

    async def observe(self, target: TrafficTarget) -> TrafficObservation: ...

    async def set_split(self, target: TrafficTarget, split: TrafficSplit) -> WriteResult: ...

    async def snapshot(self, target: TrafficTarget) -> tuple[RouteSnapshot, ...]: ...

    async def restore(self, target: TrafficTarget, snapshots: Sequence[RouteSnapshot]) -> WriteResult: ...


class Observer(Protocol):
    """One gate kind's I/O side: observes a check into a Measurement for the domain to judge. It never judges,
    reads no clock for ``observed_at`` (``now`` is given), and records a failure to observe in the measurement
    rather than raising. ``scope`` is the release the gate belongs to (None when the caller has none)."""

    async def observe(self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None) -> Measurement: ...

    async def close(self) -> None: ...


# ---- metrics: where to ask, and what came back ----


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class MetricSource:
    """A metric backend, ready to query: its address, and credentials already read from their Secrets.

    Secrets are kept out of ``repr`` so a source can be logged. ``ca_pem`` replaces the system's trust store for an
    https address.
    """

    address: str
    headers: tuple[tuple[str, str], ...] = ()
    bearer_token: str | None = field(default=None, repr=False)
    basic_auth: BasicCredentials | None = field(default=None, repr=False)
    ca_pem: str | None = field(default=None, repr=False)
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"a query timeout must be positive, got {self.timeout_s}")
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("a metric source takes a bearer token or basic credentials, not both")


@dataclass(frozen=True)
class MetricSample:
    """One series of an instant vector (or a scalar, with no labels). ``value`` may be NaN or infinite."""

    labels: tuple[tuple[str, str], ...]
    value: float


class QueryFailure(enum.StrEnum):
    """Why a query got no answer. A fixed vocabulary: each kind has a different fix."""

    UNREACHABLE = "Unreachable"
    """Connection refused, DNS, TLS: nothing answered at the address."""
    TIMEOUT = "Timeout"
    UNAUTHORIZED = "Unauthorized"
    """401/403: the credentials are missing or wrong."""
    REJECTED = "QueryRejected"
    """400/422: the backend refused the query (a syntax error, a range vector where one number was wanted)."""
    SERVER = "ServerError"
    """5xx or another unexpected status."""
    BAD_RESPONSE = "BadResponse"
    """An answer that is not a Prometheus API answer (wrong address, a proxy's HTML page)."""


@dataclass(frozen=True)
class QueryResult:
    """A query's answer: the samples (none is a valid answer: no data), or a failure and what it said."""

    query: str
    samples: tuple[MetricSample, ...] = ()
    failure: QueryFailure | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None


# ---- metrics and secrets: ports ----


class MetricProvider(Protocol):
    """Runs instant queries against a metric backend. ``query`` never raises for the backend's sake: an unreachable,
    slow or refusing backend is a ``QueryResult`` with a ``failure``."""

    async def query(self, source: MetricSource, promql: str, now: datetime) -> QueryResult:
        """Evaluate ``promql`` at ``now`` (the query's evaluation time, not a clock reading)."""
        ...

    async def close(self) -> None: ...


class SecretReader(Protocol):
    """Reads one value of a Secret or a ConfigMap. ``graygate.kube.secrets`` implements it; tests use a fake.

    Raises ``graygate.errors.NotFoundError`` when the object or the key does not exist (the message names which),
    ``ForbiddenError`` when RBAC says no, ``ApiUnavailableError`` otherwise.
    """

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        """``data[key]`` of the Secret, base64-decoded and UTF-8 decoded."""
        ...

    async def config_map_value(self, namespace: str, name: str, key: str) -> str:
        """``data[key]`` of the ConfigMap."""
        ...


# ---- a release's etcd keys ----


class ConfigKeys(Protocol):
    """The etcd keys a release sets (`spec.config`). Secrets named by `etcd` live in `namespace`."""

    async def read(self, etcd: EtcdConnection, namespace: str, keys: Sequence[str]) -> ConfigReading:
        """The keys in one consistent read; a failure is returned in `ConfigReading.error`, never raised."""
        ...

    async def apply(self, namespace: str, action: ApplyConfig) -> bool:
        """Write in one transaction if every guard holds; False when one did not (nothing was written)."""
        ...

    async def restore(self, namespace: str, action: RestoreConfig) -> tuple[str, ...]:
        """Put back every key still at its written revision, in one transaction; returns the keys put back."""
        ...


# ---- what a tick reads and writes besides the traffic ----


@dataclass(frozen=True)
class ReleaseRef:
    """The release a tick, an Event or a metric series is about (the uid tells a recreated release apart)."""

    namespace: str
    name: str
    uid: str
    api_version: str = "graygate.dev/v1alpha1"
    kind: str = "CanaryRelease"


class StatusWriter(Protocol):
    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None: ...


class EventSink(Protocol):
    async def post(self, release: ReleaseRef, event_type: str, reason: Reason, note: str, now: datetime) -> None: ...


class Measurer(Protocol):
    """Takes the measurements of the gates due (`graygate.gates.runner.GateRunner`)."""

    async def measure(
        self, gates: Sequence[gate_specs.Gate], now: datetime, scope: QueryScope | None = None
    ) -> tuple[Measurement, ...]: ...


WorkloadProbe = Callable[[str, str], Awaitable[WorkloadReading]]
"""The canary workload's availability, by namespace and name."""


# ---- etcd, as the gates, the config keys and the freeze watch use it ----


class ConfigStore(Protocol):
    """What the etcd gates and a release's config keys ask of etcd (`graygate.store.etcd.store.EtcdStore`).
    Raises `graygate.store.EtcdError` words, never etcd3's."""

    async def get_prefix(self, prefix: str) -> PrefixSnapshot: ...

    async def put_with_lease(self, key: str, value: str, ttl_s: int) -> int: ...

    async def read_keys(self, keys: Sequence[str]) -> KeysSnapshot: ...

    async def apply_if_unchanged(
        self, changes: Mapping[str, str | None], expected: Mapping[str, int]
    ) -> GuardedApply: ...

    async def restore(self, previous: Mapping[str, PriorValue], written: Mapping[str, int]) -> RestoreResult: ...

    async def aclose(self) -> None: ...


class WatchConnection(Protocol):
    """One connection to etcd, used by one `graygate.store.watch.Watch`; every method raises `EtcdError`."""

    def read(self, key: str) -> tuple[KeyState, int]:
        """The key's state and the store revision of the read."""

    def watch(
        self, key: str, start_revision: int, on_state: Callable[[KeyState], None], on_error: Callable[[EtcdError], None]
    ) -> Callable[[], None]:
        """Deliver every change from `start_revision` on; `on_error` once when the stream breaks. Returns cancel."""

    def close(self) -> None: ...
