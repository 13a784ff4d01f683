"""The `prometheus` gate: judge the canary by what Prometheus says about it, next to the stable version.

Why these shapes: most meshes already export Istio's standard telemetry, so the two questions every release asks
("does the canary fail more requests?", "is it slower?") are built in (`requestSuccessRate`, `requestDuration`) and
need no PromQL at all. Anything else is a `query` template. Every check compares the canary with the stable version
over the same window when a relative threshold is given, because an absolute number alone blames a release for a
bad hour of the whole service.

How the source is chosen: `source.address` when given, else the address the operator was started with
(`--prometheus-address`); the gate fails with an `Error` verdict when there is neither. Credentials and CA bundles
are read from Secrets and ConfigMaps in the release's namespace, at every analysis, so a rotated token is picked up
without a restart.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from graygate.api.base import SpecModel
from graygate.api.cel import exactly_one, rules
from graygate.api.durations import Duration, DurationField, Interval
from graygate.api.gates.kind import CheckModel
from graygate.api.gates.promql import PromQLTemplate
from graygate.api.headers import MAX_HEADERS, Headers
from graygate.api.refs import ConfigMapRef, SecretRef

__all__ = [
    "BasicAuth",
    "BearerToken",
    "CaBundle",
    "NoDataPolicy",
    "PromQuery",
    "Prometheus",
    "PrometheusSource",
    "RequestDuration",
    "RequestSuccessRate",
]

_DATA_KEY = r"^[-._a-zA-Z0-9]+$"

NoDataPolicy = Literal["fail", "inconclusive", "pass"]
"""What an empty answer means: no series, an empty vector or NaN."""

Percent = Annotated[float, Field(ge=0, le=100)]
DataKey = Annotated[str, Field(pattern=_DATA_KEY, max_length=253)]


class BearerToken(SpecModel):
    """Send `Authorization: Bearer <token>`, the token read from a Secret."""

    secret_ref: SecretRef
    """The Secret holding the token."""

    key: DataKey = "token"
    """The key of the token in the Secret's data."""


class BasicAuth(SpecModel):
    """HTTP basic authentication, the user name and password read from one Secret."""

    secret_ref: SecretRef
    """The Secret holding both values."""

    username_key: DataKey = "username"
    """The key of the user name in the Secret's data."""

    password_key: DataKey = "password"
    """The key of the password in the Secret's data."""


class CaBundle(SpecModel):
    """PEM certificates to trust for an `https` address, from exactly one of a Secret or a ConfigMap."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            (exactly_one("secretRef", "configMapRef"), "give exactly one of secretRef or configMapRef")
        )
    )

    secret_ref: SecretRef | None = None
    """The Secret holding the bundle."""

    config_map_ref: ConfigMapRef | None = None
    """The ConfigMap holding the bundle."""

    key: DataKey = "ca.crt"
    """The key of the PEM bundle in the object's data."""

    @model_validator(mode="after")
    def _exactly_one(self) -> CaBundle:
        if (self.secret_ref is None) == (self.config_map_ref is None):
            raise ValueError("give exactly one of secretRef or configMapRef")
        return self


class PrometheusSource(SpecModel):
    """Where to send the queries and how to authenticate. Omit it to use the operator's default Prometheus."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            ("!has(self.bearerToken) || !has(self.basicAuth)", "give at most one of bearerToken or basicAuth")
        )
    )

    address: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)
    """The Prometheus base URL, e.g. `http://prometheus.istio-system:9090` (queries go to `/api/v1/query` under
    it). When omitted, the address the operator was started with (`--prometheus-address`) is used."""

    bearer_token: BearerToken | None = None
    """Authenticate with a bearer token from a Secret."""

    basic_auth: BasicAuth | None = None
    """Authenticate with a user name and password from a Secret."""

    ca: CaBundle | None = None
    """Certificates to trust for an `https` address, instead of the system's."""

    headers: Headers = Field(default_factory=dict, json_schema_extra={"maxProperties": MAX_HEADERS})
    """Extra request headers, name to value (e.g. `X-Scope-OrgID` for a multi-tenant Mimir or Thanos).
    `Authorization` is refused: use `bearerToken` or `basicAuth`, so the credential stays in a Secret."""

    timeout: Annotated[timedelta, DurationField(minimum="1ms")] = timedelta(seconds=5)
    """How long one query may take; a slower answer is an `Error` verdict. Must be shorter than the analysis
    interval."""

    @model_validator(mode="after")
    def _consistent(self) -> PrometheusSource:
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("give at most one of bearerToken or basicAuth")
        if any(name.lower() == "authorization" for name in self.headers):
            raise ValueError("headers must not set Authorization; use bearerToken or basicAuth")
        return self


class RequestSuccessRate(SpecModel):
    """The share of requests answered without a 5xx, from Istio's `istio_requests_total`, for the canary and the
    stable version. By default as the callers' proxies saw it (`reporter: source`), which counts the 503s a proxy
    answers itself when the canary's share reaches no pod; the destinations' view says how many requests each
    version's pods served."""

    model_config = ConfigDict(
        json_schema_extra=rules(("has(self.min) || has(self.maxIncreasePoints)", "give min, maxIncreasePoints or both"))
    )

    min: Percent | None = None
    """The lowest acceptable canary success rate, in percent (e.g. `99`), over the last `window`. The stable
    version's rate in the same window is reported beside it."""

    unless_stable_below: bool = False
    """Judge `min` only against a healthy stable version: when the stable version is below `min` in the same
    window too (a dependency both share is failing), the check is inconclusive instead of failing the canary."""

    max_increase_points: Percent | None = None
    """How many percentage points the canary's error rate may exceed the stable's by (e.g. `1`: 2 % against
    stable's 1.2 % is allowed), judged on every request since the step began. It fails when an anytime-valid
    test shows the canary worse by more than this: checked after every analysis, the chance of failing a canary
    that is within the allowance stays below 1 - `confidence` (10 % errors against a clean stable fail within
    about 75 canary requests at `1`). It passes when a confidence interval shows the canary within it and the
    last `window` agrees (with no errors, about 2.5 / this many canary requests: 250 at `1`), and waits in
    between. With `0` only a canary clearly better than stable passes. Needs traffic on the stable side: with a
    `setWeight: 100` step this check waits there."""

    confidence: float = Field(default=0.95, ge=0.5, le=0.999)
    """How sure the check must be, either way: that the canary is worse than allowed before it fails (an
    anytime-valid bound: alpha = 1 - confidence over every analysis of a step), or that it is not before it passes
    (a confidence interval at each analysis, so over many analyses a canary slightly worse than allowed passes
    more often than alpha)."""

    fail_on_rise: bool = False
    """Also fail when the canary's error rate is rising within the step: its rate over the last `window` surely
    above its rate earlier in the step by more than `maxIncreasePoints` (0 without it), with the same bounds and
    `confidence`. A slow burn is then stopped at the weight where it starts, not after the next one. The window
    slides, so this check is not anytime-valid: its false alarms grow with the number of analyses in a step."""

    min_requests: int = Field(default=100, ge=1, le=1_000_000_000)
    """Requests the canary must have served in the window before `min` is judged; fewer is `Inconclusive`."""

    reporter: Literal["source", "destination"] = "source"
    """Whose record to count: `source`, the callers' proxies (a mesh's sidecars, or an ingress gateway for
    traffic from outside), which see every request including those no pod answered; or `destination`, the pods'
    own sidecars, selected by `canaryWorkload` and `stableWorkload`. The callers' view is selected by the
    destination Service's name and namespace (from the host) and, for a subset, a `destination_subset` label,
    which Istio's default metrics do not carry: see the README."""

    @model_validator(mode="after")
    def _a_threshold(self) -> RequestSuccessRate:
        if self.min is None and self.max_increase_points is None:
            raise ValueError("give min, maxIncreasePoints or both")
        return self


class RequestDuration(SpecModel):
    """A latency quantile from Istio's `istio_request_duration_milliseconds` histogram (destination reporter),
    for the canary and the stable workload, over every request since the step began. Judged on the bucket counts
    themselves, not on interpolated quantiles: a quantile is known only to its bucket, and each verdict says the
    bucket resolution next to its figures."""

    model_config = ConfigDict(
        json_schema_extra=rules(("has(self.max) || has(self.maxRatio)", "give max, maxRatio or both"))
    )

    quantile: float = Field(default=0.99, gt=0, lt=1)
    """Which quantile to compare: `0.99` is p99, `0.5` the median."""

    max: Duration | None = None
    """The highest acceptable canary latency at the quantile, e.g. `500ms`."""

    max_ratio: float | None = Field(default=None, gt=0, le=1000)
    """How many times slower than the stable version the canary may be at the quantile (e.g. `1.2`). It fails
    when more than 1 - quantile of the canary's requests are surely slower than the first bucket bound at or
    above this times the stable quantile's bucket; it passes when the canary's quantile bucket is within this
    times the stable's; between the two (buckets too coarse to tell) it waits."""

    confidence: float = Field(default=0.95, ge=0.5, le=0.999)
    """How sure the check must be that the canary is too slow before it fails (alpha = 1 - confidence)."""

    min_requests: int = Field(default=100, ge=1, le=1_000_000_000)
    """Requests each side must have served since the step began before its latency is judged; until then the
    check waits."""

    @model_validator(mode="after")
    def _a_threshold(self) -> RequestDuration:
        if self.max is None and self.max_ratio is None:
            raise ValueError("give max, maxRatio or both")
        return self


class PromQuery(SpecModel):
    """Your own PromQL. Each expression must answer one number (aggregate with `sum`, `max`, ...): several series
    are an `Error`, none (or NaN) follows `onNoData`. Give `min`, `max`, `maxRatio` or a combination, or judge the
    answer (a whole vector, too) with the gate's `successCondition` / `failureCondition` instead."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            ("!has(self.maxRatio) || has(self.stableExpr)", "maxRatio compares with stableExpr, which is missing"),
        )
    )

    expr: PromQLTemplate
    """The canary's query, with `{{ variable }}` placeholders: `namespace`, `release`, `canaryHost`,
    `canarySubset`, `stableHost`, `stableSubset`, `canaryWorkload`, `stableWorkload` and `interval` (the window,
    e.g. `30s`). The API server accepts any template; an unknown variable makes the release `Invalid` when the
    operator reads it (traffic untouched); `graygate lint` refuses it before you apply."""

    stable_expr: PromQLTemplate | None = None
    """The same question about the stable version, for `maxRatio`."""

    min: float | None = None
    """The lowest acceptable value of `expr`."""

    max: float | None = None
    """The highest acceptable value of `expr`."""

    max_ratio: float | None = Field(default=None, gt=0)
    """The highest acceptable `expr / stableExpr`."""

    @model_validator(mode="after")
    def _thresholds(self) -> PromQuery:
        if self.max_ratio is not None and self.stable_expr is None:
            raise ValueError("maxRatio compares with stableExpr, which is missing")
        return self


_METRICS = ("request_success_rate", "request_duration", "query")


class Prometheus(CheckModel):
    """Query Prometheus at every analysis: exactly one of `requestSuccessRate`, `requestDuration` or `query`."""

    kind: ClassVar[str] = "prometheus"
    bounded_wait: ClassVar[tuple[str, ...]] = ("source", "timeout")

    model_config = ConfigDict(
        json_schema_extra=rules(
            (
                exactly_one("requestSuccessRate", "requestDuration", "query"),
                "give exactly one of requestSuccessRate, requestDuration or query",
            )
        )
    )

    source: PrometheusSource | None = None
    """Where and how to query; omitted, the operator's default Prometheus without credentials."""

    window: Interval | None = None
    """How far back the queries look (the built-in metrics' range, and `{{ interval }}` in templates). Defaults
    to the analysis interval; make it at least twice Prometheus's scrape interval, or rates come back empty."""

    on_no_data: NoDataPolicy = "inconclusive"
    """What a query that finds nothing (no series, an empty vector, NaN) means: `inconclusive` (the default: an
    analysis that cannot tell, counted toward `inconclusiveLimit`), `fail` or `pass`."""

    request_success_rate: RequestSuccessRate | None = None
    """Built-in: the canary's success rate, absolute and against the stable's. Needs `canaryWorkload` and
    `stableWorkload` in the spec (Istio's `destination_workload` label)."""

    request_duration: RequestDuration | None = None
    """Built-in: the canary's latency at a quantile, absolute and against the stable's. Needs `canaryWorkload`
    and `stableWorkload` in the spec."""

    query: PromQuery | None = None
    """A PromQL template of your own."""

    result_open_keys: ClassVar[bool] = True

    def result_sample(self) -> dict[str, object]:
        series = [{"labels": {}, "value": 1.0}]
        return {"value": 1.0, "series": series, "stableValue": 1.0, "stableSeries": series}

    @property
    def unjudged(self) -> bool:
        """True for a `query` without `min`, `max` or `maxRatio`: only a gate condition can judge it."""
        query = self.query
        return query is not None and query.min is None and query.max is None and query.max_ratio is None

    @property
    def builtin(self) -> bool:
        """True for `requestSuccessRate` and `requestDuration`, which need both workloads' names."""
        return self.request_success_rate is not None or self.request_duration is not None

    @model_validator(mode="after")
    def _exactly_one_metric(self) -> Prometheus:
        if sum(getattr(self, name) is not None for name in _METRICS) != 1:
            raise ValueError("give exactly one of requestSuccessRate, requestDuration or query")
        return self

    def urls(self) -> tuple[str, ...]:
        address = self.source.address if self.source is not None else None
        return (address,) if address else ()
