"""Measurements: what a gate observed, with no opinion about it.

Why: gates do I/O and domain judges; the seam between them is this plain data. A measurement carries the inputs
(the URL, the method), the raw observation (status code, latency, body) and the error text when there was no
observation, so the judge can explain its verdict and a test can build any situation in one line.

Adding a gate kind adds one class here and one member to `Measurement`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Generic, TypeVar

from graygate.domain.compare.exposition import MetricFamily

__all__ = [
    "ApiCompatMeasurement",
    "EtcdConfigMeasurement",
    "Fetched",
    "HotReloadMeasurement",
    "HttpProbeMeasurement",
    "Measurement",
    "MetricParityMeasurement",
    "PrefixReading",
    "PrometheusMeasurement",
    "QueryReading",
    "RoutingCheckMeasurement",
    "SeriesValue",
    "WorkloadReading",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpProbeMeasurement:
    """One HTTP request made by an `httpProbe` gate.

    `error` is set when no answer came (refused, reset, timed out, TLS); then `status_code` is None. `body` is
    the beginning of the answer's text (the gate bounds it). When the gate already parsed the body as JSON it sets
    `body_is_json` and `body_json` (which may be None for a JSON `null`); otherwise the judge parses `body`.
    """

    kind: ClassVar[str] = "httpProbe"

    gate: str
    observed_at: datetime
    url: str
    method: str = "GET"
    status_code: int | None = None
    latency: timedelta | None = None
    body: str | None = None
    body_is_json: bool = False
    body_json: object = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesValue:
    """One series of an instant vector: its labels and its value (which may be NaN)."""

    labels: tuple[tuple[str, str], ...] = ()
    value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryReading:
    """One resolved query and what Prometheus answered: the series (possibly none), or why there was no answer."""

    query: str
    series: tuple[SeriesValue, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PrometheusMeasurement:
    """The queries of one `prometheus` gate, sent together over the same `window`.

    Which readings are set depends on the metric: `requestSuccessRate` fills `canary` and `stable` (counts by
    response code); `requestDuration` fills all four (the quantile in `canary`/`stable`, request counts in the
    other two); `query` fills `canary` and, with `stableExpr`, `stable`. `error` is set, and no reading, when the
    gate could not query at all (no address, an unreadable Secret, a variable without a value).
    """

    kind: ClassVar[str] = "prometheus"

    gate: str
    observed_at: datetime
    window: str = ""
    canary: QueryReading | None = None
    stable: QueryReading | None = None
    canary_requests: QueryReading | None = None
    stable_requests: QueryReading | None = None
    error: str | None = None

    @property
    def readings(self) -> dict[str, QueryReading]:
        """The readings that were taken, by role (`canary`, `stable`, `canaryRequests`, `stableRequests`)."""
        roles = {
            "canary": self.canary,
            "stable": self.stable,
            "canaryRequests": self.canary_requests,
            "stableRequests": self.stable_requests,
        }
        return {role: reading for role, reading in roles.items() if reading is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetched(Generic[T]):
    """One document a release check fetched: its parsed `content`, or why there is none in `error` (no answer, an
    error status, a body too large or not in the expected format)."""

    url: str
    content: T | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricParityMeasurement:
    """The two expositions of one `metricParity` gate, each parsed into its families. `stable` is None when the
    gate has no stable URL; `error` is set, and no reading, when the gate could not ask at all."""

    kind: ClassVar[str] = "metricParity"

    gate: str
    observed_at: datetime
    canary: Fetched[Mapping[str, MetricFamily]] | None = None
    stable: Fetched[Mapping[str, MetricFamily]] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiCompatMeasurement:
    """The two OpenAPI documents of one `apiCompat` gate (parsed JSON or YAML) and, with a version handshake, the
    canary's version answer (parsed JSON)."""

    kind: ClassVar[str] = "apiCompat"

    gate: str
    observed_at: datetime
    stable: Fetched[Mapping[str, object]] | None = None
    canary: Fetched[Mapping[str, object]] | None = None
    version: Fetched[object] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HotReloadMeasurement:
    """One `hotReload` probe: the `nonce` written under `key`, then `polls` requests to the canary's config
    endpoint over `waited`, the last of which reported `reported` at `json_path` (or failed: `report_error`).

    `error` is set when the nonce could not be written (no etcd, an unreadable Secret): then nothing was polled.
    """

    kind: ClassVar[str] = "hotReload"

    gate: str
    observed_at: datetime
    key: str
    url: str
    json_path: str
    deadline: timedelta
    nonce: str | None = None
    waited: timedelta = timedelta()
    polls: int = 0
    reported: str | None = None
    report_error: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefixReading:
    """What etcd holds under a prefix, in one consistent read at store revision `revision`: the content hash, the
    highest `mod_revision` of its keys (0 when there are none) and how many keys there are."""

    prefix: str
    hash: str
    last_modified: int
    revision: int
    keys: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdConfigMeasurement:
    """One `etcdConfig` check: etcd's current state of the prefix and what the canary's config endpoint answered
    (parsed JSON). `error` is set, and `state` None, when etcd could not be read."""

    kind: ClassVar[str] = "etcdConfig"

    gate: str
    observed_at: datetime
    state: PrefixReading | None = None
    report: Fetched[object] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingCheckMeasurement:
    """One `routingCheck`: which version answered each coloured and each uncoloured request sent through `url`.

    `colored` and `uncolored` hold one entry per request: the value of the version header, "" when the answer had
    none, None when no answer came (`failure` then keeps the first reason). `error` is set, and nothing was sent,
    when the check could not run at all.
    """

    kind: ClassVar[str] = "routingCheck"

    gate: str
    observed_at: datetime
    url: str
    colored: tuple[str | None, ...] = ()
    uncolored: tuple[str | None, ...] = ()
    failure: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadReading:
    """The canary workload's availability (its `Available` condition), with the condition's message."""

    kind: str
    name: str
    available: bool
    message: str = ""

    @property
    def label(self) -> str:
        """`Deployment/checkout-canary`."""
        return f"{self.kind}/{self.name}"


Measurement = (
    HttpProbeMeasurement
    | PrometheusMeasurement
    | MetricParityMeasurement
    | ApiCompatMeasurement
    | HotReloadMeasurement
    | EtcdConfigMeasurement
    | RoutingCheckMeasurement
)
"""Every measurement kind."""
