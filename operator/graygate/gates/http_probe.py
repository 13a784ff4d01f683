"""The HTTP probe gate's observation side: one request, and a faithful record of what came back.

Why it only observes: whether 503, 1.2 s or ``{"ready": false}`` means "roll back" is the domain's judgement, made
with the thresholds in the release spec and testable without a network. This module's job is to report exactly what
happened - status, latency, a bounded piece of the body, or why there was no answer - and never to raise for a
failed probe, because a failed probe *is* an observation.

Choices worth knowing:

* ``http.client``, so a slow endpoint never blocks the operator's event loop; one session per gate, reused across
  ticks and closed with ``close()``.
* Redirects are not followed: the probe reports what the configured URL answered (a 302 to a login page is not a
  healthy canary). Cookies are not kept between probes.
* The body is read up to a bound (4 KiB kept as text; JSON up to 64 KiB parsed when the content type says JSON), so
  a huge or endless response cannot exhaust memory.
* ``observed_at`` is the ``now`` passed in; only the latency is measured, with an injectable monotonic clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType

from pydantic import JsonValue

from graygate.api.gates import GateCheck, HttpProbe
from graygate.domain.analysis.http_probe import HttpProbeMeasurement
from graygate.domain.analysis.promql import QueryScope
from graygate.gates.tools import GateTools, expect
from graygate.http.client import Answer, HttpClient, HttpConnectionFailure, HttpFailure, HttpTimeout, Outbound

__all__ = ["HttpProbeObserver", "HttpProbeRequest", "ProbeReading"]

SNIPPET_BYTES = 4 * 1024
JSON_BYTES = 64 * 1024
USER_AGENT = "graygate-http-probe"


@dataclass(frozen=True)
class HttpProbeRequest:
    """One probe request, as the release spec describes it (`HttpProbeObserver.observe` maps the check onto it)."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0
    body: str | bytes | None = None

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"probe timeout must be positive, got {self.timeout_s}")
        if not self.method or not self.method.isalpha():
            raise ValueError(f"probe method must be an HTTP method name, got {self.method!r}")


@dataclass(frozen=True)
class ProbeReading:
    """What one probe saw. Exactly one of ``status_code`` and ``error`` is set."""

    url: str
    method: str
    status_code: int | None
    latency_s: float
    body_snippet: str
    """The first 4 KiB of the body as text (undecodable bytes replaced); empty when there was no response."""
    body_truncated: bool
    body_is_json: bool
    """True when the content type said JSON and the body parsed; ``body_json`` then holds it (possibly None)."""
    body_json: JsonValue
    error: str | None
    """Why there is no status: a timeout, a refused connection, a protocol error."""
    observed_at: datetime


@dataclass(frozen=True)
class _Body:
    snippet: str
    truncated: bool
    is_json: bool
    value: JsonValue


class HttpProbeObserver:
    """Performs HTTP probes: ``send`` one request and read what came back, ``observe`` an ``httpProbe`` check (a
    ``graygate.ports.Observer``)."""

    @classmethod
    def of(cls, tools: GateTools) -> HttpProbeObserver:
        return cls(outbound=tools.outbound)

    def __init__(self, *, clock: Callable[[], float] = time.perf_counter, outbound: Outbound | None = None) -> None:
        self._clock = clock
        self._client = HttpClient(USER_AGENT, name="HTTP probe gate", outbound=outbound)

    async def observe(
        self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None = None
    ) -> HttpProbeMeasurement:
        """One request as ``check`` describes it, recorded as the domain judges it."""
        probe = expect(check, HttpProbe)
        request = HttpProbeRequest(
            url=probe.url, method=probe.method, headers=dict(probe.headers), timeout_s=probe.timeout.total_seconds()
        )
        try:
            reading = await self.send(request, now)
        except Exception as error:
            return HttpProbeMeasurement(
                gate=gate, observed_at=now, url=probe.url, method=probe.method, error=f"probe failed: {error}"
            )
        return HttpProbeMeasurement(
            gate=gate,
            observed_at=now,
            url=reading.url,
            method=reading.method,
            status_code=reading.status_code,
            latency=timedelta(seconds=reading.latency_s),
            body=reading.body_snippet,
            body_is_json=reading.body_is_json,
            body_json=reading.body_json,
            error=reading.error,
        )

    async def send(self, request: HttpProbeRequest, now: datetime) -> ProbeReading:
        """Send ``request`` once; a failure to get an answer is recorded in the reading, never raised."""
        method = request.method.upper()
        started = self._clock()
        try:
            answer = await self._client.request(
                method,
                request.url,
                headers=request.headers,
                body=request.body,
                limit=_bound,
                timeout_s=request.timeout_s,
            )
            body, status, error = _body_of(answer), answer.status, None
        except HttpTimeout:
            status, body, error = None, _NO_BODY, f"timed out after {request.timeout_s:g}s"
        except HttpConnectionFailure as e:
            status, body, error = None, _NO_BODY, f"connection failed: {e}"
        except HttpFailure as e:
            status, body, error = None, _NO_BODY, f"{e.cause}: {e}"
        return ProbeReading(
            url=request.url,
            method=method,
            status_code=status,
            latency_s=max(0.0, self._clock() - started),
            body_snippet=body.snippet,
            body_truncated=body.truncated,
            body_is_json=body.is_json,
            body_json=body.value,
            error=error,
            observed_at=now,
        )

    async def close(self) -> None:
        """Close the HTTP session; the gate cannot observe afterwards."""
        await self._client.close()

    async def __aenter__(self) -> HttpProbeObserver:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


_NO_BODY = _Body(snippet="", truncated=False, is_json=False, value=None)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _bound(status: int, content_type: str) -> int:
    """One byte past what is kept, so a cut body is known: 64 KiB of JSON to parse, else the 4 KiB snippet."""
    return (JSON_BYTES if _is_json(content_type) else SNIPPET_BYTES) + 1


def _text(data: bytes, charset: str | None) -> str:
    """The bytes as text in the answer's charset; bytes that are not text in it, and a charset Python does not
    know (a target may declare anything), are read as UTF-8 with U+FFFD for what is not."""
    try:
        return data.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _body_of(answer: Answer) -> _Body:
    data = answer.body
    complete = len(data) <= JSON_BYTES
    text = _text(data[:SNIPPET_BYTES], answer.charset)
    body = _Body(snippet=text, truncated=len(data) > SNIPPET_BYTES, is_json=False, value=None)
    if _is_json(answer.content_type) and complete:
        try:
            value: JsonValue = json.loads(data)
        except (ValueError, RecursionError):  # malformed, not text, or nested past the parser: the snippet only
            return body
        return _Body(snippet=body.snippet, truncated=body.truncated, is_json=True, value=value)
    return body
