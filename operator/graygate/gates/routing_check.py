"""The routing check gate's observation side: send coloured and uncoloured requests through the mesh's entry point and
record which version answered each.

Why it only observes: whether 3 of 20 canary answers is plausible at 10 % is a binomial question the domain answers
(``domain/analysis/routing_check.py``) with the release's tolerance; this module reports the version header of each
answer, or that none came, and never raises for a failed request, because a failed request is an observation.

Choices worth knowing:

* ``http.client``, one session per gate, reused across ticks and closed with ``close()``; no cookies are kept, so
  no sticky session biases the split, and each request asks for a fresh connection so a proxy's connection-level
  balancing cannot hide the per-request routing.
* Requests go a few at a time (``concurrency``) under one deadline for the whole check; a request still pending at
  the deadline counts as unanswered.
* Only the headers are needed: the body is read and dropped, bounded, so the connection is released.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from graygate.api.gates import GateCheck, RoutingCheck
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.analysis.routing_check import RoutingCheckMeasurement
from graygate.gates.tools import GateTools, expect
from graygate.http.client import HttpClient, HttpFailure, Outbound

__all__ = ["RoutingCheckObserver", "RoutingCheckRequest"]

USER_AGENT = "graygate-routing-check"
BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class RoutingCheckRequest:
    """One routing check: where, how many requests of each colour, and which response header names the version."""

    gate: str
    url: str
    colored_headers: Mapping[str, str] = field(default_factory=dict)
    colored: int = 10
    uncolored: int = 20
    version_header: str = "x-served-by"
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"a routing check timeout must be positive, got {self.timeout_s}")
        if self.colored < 0 or self.uncolored < 0:
            raise ValueError("request counts must not be negative")


class RoutingCheckObserver:
    """Sends the coloured and uncoloured requests of a ``RoutingCheckRequest`` (``send``), and observes a
    ``routingCheck`` check that way (a ``graygate.ports.Observer``)."""

    @classmethod
    def of(cls, tools: GateTools) -> RoutingCheckObserver:
        return cls(outbound=tools.outbound)

    def __init__(self, *, concurrency: int = 8, outbound: Outbound | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self._concurrency = concurrency
        self._client = HttpClient(
            USER_AGENT, name="routing check", fresh_connections=True, reopens=True, outbound=outbound
        )

    async def observe(
        self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None = None
    ) -> RoutingCheckMeasurement:
        spec = expect(check, RoutingCheck)
        request = RoutingCheckRequest(
            gate=gate,
            url=spec.url,
            colored_headers=dict(spec.colored_headers),
            colored=spec.colored_requests,
            uncolored=spec.uncolored_requests,
            version_header=spec.version_header,
            timeout_s=spec.timeout.total_seconds(),
        )
        return await self.send(request, now)

    async def send(self, request: RoutingCheckRequest, now: datetime) -> RoutingCheckMeasurement:
        limit = asyncio.Semaphore(self._concurrency)
        failures: list[str] = []
        colored_headers = dict(request.colored_headers)

        async def one(headers: Mapping[str, str]) -> str | None:
            async with limit:
                try:
                    answer = await self._client.request("GET", request.url, headers=headers, limit=BODY_BYTES)
                    return answer.headers.get(request.version_header, "")
                except HttpFailure as error:
                    failures.append(f"{error.cause}: {error}" if str(error) else error.cause)
                    return None
                except (OSError, ValueError) as error:
                    failures.append(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
                    return None

        plan = [colored_headers] * request.colored + [{}] * request.uncolored
        tasks = [asyncio.ensure_future(one(headers)) for headers in plan]
        done, pending = await asyncio.wait(tasks, timeout=request.timeout_s) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            failures.append(f"no answer within {request.timeout_s:g}s")
        answers = [task.result() if task in done and not task.cancelled() else None for task in tasks]
        return RoutingCheckMeasurement(
            gate=request.gate,
            observed_at=now,
            url=request.url,
            colored=tuple(answers[: request.colored]),
            uncolored=tuple(answers[request.colored :]),
            failure=failures[0] if failures else None,
        )

    async def close(self) -> None:
        await self._client.close()
