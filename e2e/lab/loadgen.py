"""A bounded, open-loop load generator that remembers who served each request.

Why: a canary test is judged by what clients saw. Each request is sent on a fixed schedule (open loop: a slow
backend does not slow the sender, as with real users), and its send time, the version from `x-served-by`, the
status and the latency are recorded. Every run is bounded three ways: `max_requests`, `max_duration_s` and a
per-request `timeout_s`; in-flight requests are also capped by `concurrency` (a request that cannot start on time
is sent late, never dropped, and its lateness shows in `sent_at`).

`LoadResult` answers the questions tests ask: counts per version, failures, the canary's share over a window or
sliding windows, and when the canary's share dropped to zero for good after some instant.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import aiohttp

from .backend import SERVED_BY_HEADER


@dataclass(frozen=True)
class Sample:
    """One request as the client saw it. `version` is None when no backend answered (Envoy's own 404/503, errors)."""

    sent_at: float
    version: str | None
    status: int | None  # None: transport error or timeout (see `error`)
    latency_s: float
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    counts: Mapping[str | None, int]

    def share(self, version: str) -> float | None:
        total = sum(self.counts.values())
        return self.counts.get(version, 0) / total if total else None


@dataclass(frozen=True)
class LoadResult:
    """The samples of one run, in send order, and the questions tests ask of them."""

    samples: tuple[Sample, ...]

    def between(self, start: float = -math.inf, end: float = math.inf) -> LoadResult:
        return LoadResult(tuple(s for s in self.samples if start <= s.sent_at < end))

    def counts(self) -> dict[str | None, int]:
        """Requests per serving version (None: answered by no backend)."""
        return dict(Counter(s.version for s in self.samples))

    def failures(self) -> list[Sample]:
        return [s for s in self.samples if s.failed]

    def statuses(self) -> dict[int | None, int]:
        return dict(Counter(s.status for s in self.samples))

    def share(self, version: str) -> float | None:
        """Fraction of the requests served by `version` (None when there were none)."""
        return Window(-math.inf, math.inf, self.counts()).share(version)

    def windows(self, width_s: float, step_s: float | None = None) -> list[Window]:
        """Sliding windows [t, t + width) from the first send, every `step_s` (default: width, i.e. tumbling)."""
        if not self.samples:
            return []
        step = step_s or width_s
        first, last = self.samples[0].sent_at, self.samples[-1].sent_at
        out: list[Window] = []
        t = first
        while t <= last:
            out.append(Window(t, t + width_s, self.between(t, t + width_s).counts()))
            t += step
        return out

    def zero_share_since(self, version: str, after: float) -> float | None:
        """The send time from which, after `after`, no request was served by `version` any more.

        That is the send time of the first request after the last one `version` served (or of the first request
        after `after`, if it served none). None if `version` served the very last request, or none were sent.
        """
        later = [s for s in self.samples if s.sent_at >= after]
        last_served = max((i for i, s in enumerate(later) if s.version == version), default=-1)
        if last_served + 1 >= len(later):
            return None
        return later[last_served + 1].sent_at

    def latency_quantile(self, q: float, version: str | None = None) -> float | None:
        """Nearest-rank latency quantile in seconds, over all requests or those served by one version."""
        lat = sorted(s.latency_s for s in self.samples if version is None or s.version == version)
        if not lat:
            return None
        return lat[min(len(lat) - 1, max(0, math.ceil(q * len(lat)) - 1))]


@dataclass
class LoadGenerator:
    """Sends GET `url` at `rate_per_s` until `max_requests` or `max_duration_s`; `run()` or `start()`/`stop()`."""

    url: str
    rate_per_s: float
    max_requests: int
    max_duration_s: float
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0
    concurrency: int = 64
    clock: Callable[[], float] = time.monotonic
    samples: list[Sample] = field(default_factory=list)
    _task: asyncio.Task[LoadResult] | None = None

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.max_requests <= 0 or self.max_duration_s <= 0:
            raise ValueError("rate, max_requests and max_duration_s must all be positive")

    def result(self) -> LoadResult:
        """What has been recorded so far (sorted by send time)."""
        return LoadResult(tuple(sorted(self.samples, key=lambda s: s.sent_at)))

    async def run(self) -> LoadResult:
        limit = asyncio.Semaphore(self.concurrency)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        start = time.monotonic()
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            pending: set[asyncio.Task[None]] = set()
            try:
                for i in range(self.max_requests):
                    due = start + i / self.rate_per_s
                    if due - start >= self.max_duration_s:
                        break
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    await limit.acquire()
                    task = asyncio.create_task(self._one(session, limit))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                if pending:
                    await asyncio.wait(pending, timeout=self.timeout_s + 1.0)
            finally:
                for t in pending:
                    t.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        return self.result()

    async def _one(self, session: aiohttp.ClientSession, limit: asyncio.Semaphore) -> None:
        sent_at = self.clock()
        t0 = time.perf_counter()
        try:
            async with session.get(self.url, headers=dict(self.headers)) as r:
                await r.read()
                sample = Sample(sent_at, r.headers.get(SERVED_BY_HEADER), r.status, time.perf_counter() - t0)
        except (aiohttp.ClientError, TimeoutError) as e:
            sample = Sample(sent_at, None, None, time.perf_counter() - t0, f"{type(e).__name__}: {e}")
        finally:
            limit.release()
        self.samples.append(sample)

    def start(self) -> None:
        """Run in the background; `await stop()` (or `await finished()`) to collect."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"loadgen {self.url}")

    async def finished(self) -> LoadResult:
        if self._task is None:
            raise RuntimeError("load generator not started")
        return await self._task

    async def stop(self) -> LoadResult:
        """Stop sending now; returns what was recorded."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return self.result()


def merge(results: Iterable[LoadResult]) -> LoadResult:
    return LoadResult(tuple(sorted((s for r in results for s in r.samples), key=lambda s: s.sent_at)))
