"""Release checks that compare the canary's build with the stable one before traffic depends on it:
`metricParity` (the instrumentation) and `apiCompat` (the published API).

Why gates and not a linter in CI: what matters is what the two running builds really serve, with their real
configuration, and the release is the moment both are up side by side. Both kinds are cheap (two GETs) and need no
traffic, so they make good pre-checks (`preCheck: true`): run at weight 0, before any user can be hurt.

How the answer counts: what the canary serves is judged (no answer, an error status or a document that does not
parse fails the gate); what the stable serves is only the reference, so a stable that cannot be read makes the
gate an `Error` (it could not measure), never a failure of the release.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from graygate.api.base import SpecModel
from graygate.api.fields import JsonPath, Timeout, Url, distinct
from graygate.api.gates.kind import CheckModel
from graygate.api.headers import MAX_HEADERS, Headers

__all__ = ["ApiCompat", "ApiVersionCheck", "MetricParity"]

MetricName = Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=256)]
Glob = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_:*?\[\]!-]+$", max_length=256)]


class MetricParity(CheckModel):
    """Compare the canary's `/metrics` with the stable's: every family stable exposes must still be there, with the
    same type and no label dropped (dashboards, alerts and metric gates query them). Families the canary adds are
    linted for Prometheus naming. A family the canary declares but has not used yet (no traffic) holds the gate in
    `Waiting` rather than failing it."""

    kind: ClassVar[str] = "metricParity"
    bounded_wait: ClassVar[tuple[str, ...]] = ("timeout",)

    canary_url: Url
    """The canary's metrics endpoint, e.g. `http://checkout-canary.shop:8080/metrics`."""

    stable_url: Url | None = None
    """The stable's metrics endpoint. Without it nothing is compared: only `required` and the naming lint (of
    every canary family) are checked."""

    required: Annotated[tuple[MetricName, ...], distinct] = Field(
        default=(), max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Families the canary must expose whatever stable does, as PromQL names them (`http_requests_total`)."""

    ignore: Annotated[tuple[Glob, ...], distinct] = Field(
        default=(), max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Glob patterns of families left out of every rule, e.g. `go_*` when stable is written in Go and the canary
    in Python."""

    lint_severity: Literal["error", "warning", "off"] = "warning"
    """How a naming problem counts (a counter without `_total`, `_ms` instead of `_seconds`, not snake_case):
    `error` fails the gate, `warning` is only reported, `off` skips the lint."""

    lint_scope: Literal["added", "all"] = "added"
    """Which canary families are linted: the ones it adds (the default: a release is not blamed for names it
    inherited) or all of them."""

    headers: Headers = Field(default_factory=dict, json_schema_extra={"maxProperties": MAX_HEADERS})
    """Extra request headers, name to value, sent to both endpoints."""

    timeout: Timeout = timedelta(seconds=2)
    """How long each endpoint may take to answer (both are asked at once). Must be shorter than the analysis
    interval."""

    def urls(self) -> tuple[str, ...]:
        return tuple(url for url in (self.canary_url, self.stable_url) if url)


class ApiVersionCheck(SpecModel):
    """A version handshake: the canary reports its API version, which must be inside the accepted range."""

    url: Url
    """Where the canary reports its version as JSON, e.g. `http://checkout-canary.shop:8080/version`."""

    json_path: JsonPath = "$.version"
    """Where the version is in the answer: `$` followed by `.key` and `[index]` parts."""

    range: str = Field(min_length=1, max_length=256)
    """The versions callers accept, as npm's semver ranges: `^1.4`, `>=1.2.0 <2`, `1.x || 2.0.x`."""


class ApiCompat(CheckModel):
    """Compare the canary's OpenAPI 3 document with the stable's and fail on any change that breaks a caller
    written against stable: a removed path, operation or response field, a new required parameter, a narrowed type.
    Compatible changes (additions) are reported and pass. Documents may be JSON or YAML."""

    kind: ClassVar[str] = "apiCompat"
    bounded_wait: ClassVar[tuple[str, ...]] = ("timeout",)

    stable_url: Url
    """The stable's OpenAPI document, e.g. `http://checkout-stable.shop:8080/openapi.json`."""

    canary_url: Url
    """The canary's OpenAPI document."""

    version: ApiVersionCheck | None = None
    """An optional version handshake, checked before the documents are compared."""

    headers: Headers = Field(default_factory=dict, json_schema_extra={"maxProperties": MAX_HEADERS})
    """Extra request headers, name to value, sent with every request."""

    timeout: Timeout = timedelta(seconds=2)
    """How long each document may take to arrive. Must be shorter than the analysis interval."""

    def urls(self) -> tuple[str, ...]:
        version = (self.version.url,) if self.version is not None else ()
        return (self.stable_url, self.canary_url, *version)
