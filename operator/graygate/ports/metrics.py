"""Metrics: where a query goes (a source and its credentials), what came back, and the provider that asks."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

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
class MetricSeries:
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
class MetricReading:
    """A query's answer: the samples (none is a valid answer: no data), or a failure and what it said."""

    query: str
    samples: tuple[MetricSeries, ...] = ()
    failure: QueryFailure | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None


class MetricProvider(Protocol):
    """Runs instant queries against a metric backend. ``query`` never raises for the backend's sake: an unreachable,
    slow or refusing backend is a ``MetricReading`` with a ``failure``."""

    async def query(self, source: MetricSource, promql: str, now: datetime) -> MetricReading:
        """Evaluate ``promql`` at ``now`` (the query's evaluation time, not a clock reading)."""
        ...

    async def close(self) -> None: ...
