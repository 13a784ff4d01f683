"""One canary, driven by one tool, measured from the users' side: the scenarios of `make bench-peers`.

Why one driver for every tool: the figures compare tools only if the traffic, the moment the canary turns bad and the
reading of the outcome are the same code. A `Tool` only starts a canary, tells the canary's weight and how the
release ended, and reaches the canary's backends; the driver does the rest:

- the lab's users send `rate` requests/s from before the canary starts until 2 s after it ended;
- a bad scenario turns the canary's backend bad the moment its weight first reads >= 25 %;
- from the users' requests: seconds from that moment until no request reaches the canary (`back_on_stable_s`),
  requests failed meanwhile, and the highest weight the canary had from then on (where it stopped).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from e2e.lab import LabError, TrafficLab
from e2e.support import BASELINE_LATENCY, TRIPLED_LATENCY

BAD_AT_WEIGHT = 25
HEALTHY: dict[str, float] = {"error_rate": 0.0, **BASELINE_LATENCY}


@dataclass(frozen=True)
class Scenario:
    name: str
    slug: str
    bad: Mapping[str, float] | None
    """The canary's knobs from the moment its weight reads >= 25 %; None: it stays as it started."""
    noise: Mapping[str, float] | None = None
    """Knobs every backend (both versions) has for the whole run."""

    @property
    def turns_bad(self) -> bool:
        return self.bad is not None


NOISE = {"error_rate": 0.005}
SCENARIOS = (
    Scenario("5xx 10% at 25%", "errors", {"error_rate": 0.1}),
    Scenario("p99 x3 at 25%", "latency", TRIPLED_LATENCY),
    Scenario("healthy", "healthy", None),
    Scenario("healthy, 0.5% 5xx on both", "noisy", None, NOISE),
)


@dataclass(frozen=True)
class Outcome:
    tool: str
    scenario: str
    index: int
    ended: str
    """"promoted", "rolled back", "paused" (graygate: undecided, waiting for a person), or "timed out"."""
    back_on_stable_s: float | None
    failed: int
    stopped_at_weight: int | None
    promoted_s: float | None
    """From the canary's start to its promotion (healthy scenarios)."""


class Tool(Protocol):
    name: str

    async def start_canary(self, index: int, scenario: Scenario) -> str:
        """Start a new canary; returns the version its backend serves (what the users' answers say)."""
        ...

    async def canary_weight(self) -> int: ...

    async def ended(self) -> str | None:
        """ "promoted", "rolled back", or None while the release goes on."""
        ...

    async def canary_urls(self, version: str) -> list[str]:
        """The admin URLs of the backends serving the canary's version."""
        ...

    async def all_urls(self) -> list[str]: ...


async def set_knobs(http: aiohttp.ClientSession, urls: list[str], knobs: Mapping[str, float]) -> None:
    for url in urls:
        async with http.post(f"{url}/admin/knobs", data=json.dumps(dict(knobs))) as response:
            if response.status != 200:
                raise LabError(f"backend {url} refused knobs {dict(knobs)}: {await response.text()}")


async def drive(tool: Tool, lab: TrafficLab, scenario: Scenario, index: int, rate: float, timeout_s: float) -> Outcome:
    """One canary under `tool`, measured (see the module docstring)."""
    load = lab.load(rate_per_s=rate, max_requests=int(rate * (timeout_s + 30)), max_duration_s=timeout_s + 30)
    bad_at: float | None = None
    weights: list[tuple[float, int]] = []
    ended: str | None = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        noisy: set[str] = set()
        load.start()
        try:
            await asyncio.sleep(1.0)
            started = time.monotonic()
            version = await tool.start_canary(index, scenario)
            deadline = started + timeout_s
            while time.monotonic() < deadline:
                if scenario.noise is not None:
                    fresh = [url for url in await tool.all_urls() if url not in noisy]
                    await set_knobs(http, fresh, scenario.noise)
                    noisy.update(fresh)
                weight = await tool.canary_weight()
                now = time.monotonic()
                weights.append((now, weight))
                if scenario.bad is not None and bad_at is None and weight >= BAD_AT_WEIGHT:
                    urls = await tool.canary_urls(version)
                    if urls:
                        await set_knobs(http, urls, {**scenario.bad, **(scenario.noise or {})})
                        bad_at = time.monotonic()
                ended = await tool.ended()
                if ended is not None:
                    break
                await asyncio.sleep(0.1)
            ended_at = time.monotonic()
            await asyncio.sleep(2.0)
        finally:
            result = await load.stop()
    back = None if bad_at is None else result.zero_share_since(version, bad_at)
    stopped = None if bad_at is None else max((w for t, w in weights if t >= bad_at), default=None)
    return Outcome(
        tool=tool.name,
        scenario=scenario.name,
        index=index,
        ended=ended or "timed out",
        back_on_stable_s=None if back is None or bad_at is None else back - bad_at,
        failed=len(result.between(start=bad_at).failures()) if bad_at is not None else len(result.failures()),
        stopped_at_weight=stopped,
        promoted_s=ended_at - started if ended == "promoted" else None,
    )
