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

__all__ = ["HttpProbeMeasurement", "Measurement"]


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


Measurement = HttpProbeMeasurement
"""Every measurement kind; grows into a union as gate kinds are added."""
