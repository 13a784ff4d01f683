"""The `metricParity` gate's observation side: fetch the stable's and the canary's expositions at once and parse
them into metric families.

Why it only observes: which lost label fails a release is `graygate.domain.analysis.metric_parity`' call. This
module reports the families each side declares, or exactly why a side could not be read (no answer, an error
status, a body over the bound, text that is not an exposition), and never raises for it.

The Accept header asks for the Prometheus text format (0.0.4) first and OpenMetrics second, as Prometheus itself
does; the parser reads either and names families the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

from graygate.api.gates import GateCheck, MetricParity
from graygate.domain.analysis.measurements import DocumentReading
from graygate.domain.analysis.metric_parity import MetricParityMeasurement
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.compare.exposition import ExpositionError, MetricFamily, parse_exposition
from graygate.gates.fetch import Download, HttpFetcher
from graygate.gates.tools import GateTools, expect

__all__ = ["ACCEPT", "MetricParityObserver"]

ACCEPT = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"

Families = Mapping[str, MetricFamily]


class MetricParityObserver:
    """Observes `metricParity` gates through a shared fetcher (which its owner closes)."""

    @classmethod
    def of(cls, tools: GateTools) -> MetricParityObserver:
        return cls(tools.fetcher)

    def __init__(self, fetcher: HttpFetcher) -> None:
        self._fetcher = fetcher

    async def observe(
        self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None = None
    ) -> MetricParityMeasurement:
        return await self._observe(gate, expect(check, MetricParity), now)

    async def close(self) -> None:
        """Nothing of its own to close: the fetcher and the etcd connections belong to the tools."""

    async def _observe(self, gate: str, check: MetricParity, now: datetime) -> MetricParityMeasurement:
        """Both expositions, fetched concurrently so they describe the same moment."""
        timeout = check.timeout.total_seconds()
        urls = [check.canary_url] + ([check.stable_url] if check.stable_url else [])
        downloads = await asyncio.gather(
            *(self._fetcher.get(url, headers=check.headers, timeout_s=timeout, accept=ACCEPT) for url in urls)
        )
        # Parsed in a thread: a page at the bounds takes a moment the operator's event loop should not wait for.
        canary = await asyncio.to_thread(_families, downloads[0])
        stable = await asyncio.to_thread(_families, downloads[1]) if len(downloads) > 1 else None
        return MetricParityMeasurement(gate=gate, observed_at=now, canary=canary, stable=stable)


def _families(download: Download) -> DocumentReading[Families]:
    if download.error is not None:
        return DocumentReading(url=download.url, error=download.error)
    openmetrics = True if download.content_type == "application/openmetrics-text" else None
    try:
        return DocumentReading(url=download.url, content=parse_exposition(download.text, openmetrics=openmetrics))
    except ExpositionError as error:
        return DocumentReading(url=download.url, error=f"not a Prometheus exposition: {error}")
