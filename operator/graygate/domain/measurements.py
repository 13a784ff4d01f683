"""Measurements: what a gate observed, with no opinion about it.

Why: gates do I/O and domain judges; the seam between them is this plain data. A measurement carries the inputs
(the URL, the method), the raw observation (status code, latency, body) and the error text when there was no
observation, so the judge can explain its verdict and a test can build any situation in one line.

Adding a gate kind adds one class here and one member to `Measurement`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

__all__ = ["HttpProbeMeasurement", "Measurement", "PrometheusMeasurement", "QueryReading", "SeriesValue"]


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


Measurement = HttpProbeMeasurement | PrometheusMeasurement
"""Every measurement kind."""
