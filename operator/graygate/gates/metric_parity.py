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

from graygate.api.gates import MetricParity
from graygate.domain.analysis.measurements import Fetched
from graygate.domain.analysis.metric_parity import MetricParityMeasurement
from graygate.domain.compare.exposition import ExpositionError, MetricFamily, parse_exposition
from graygate.gates.fetch import Download, HttpFetcher

__all__ = ["ACCEPT", "MetricParityGate"]

ACCEPT = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"

Families = Mapping[str, MetricFamily]


class MetricParityGate:
    """Observes `metricParity` gates through a shared fetcher (which its owner closes)."""

    def __init__(self, fetcher: HttpFetcher) -> None:
        self._fetcher = fetcher

    async def observe(self, gate: str, check: MetricParity, now: datetime) -> MetricParityMeasurement:
        """Both expositions, fetched concurrently so they describe the same moment."""
        timeout = check.timeout.total_seconds()
        urls = [check.canary_url] + ([check.stable_url] if check.stable_url else [])
        downloads = await asyncio.gather(
            *(self._fetcher.get(url, headers=check.headers, timeout_s=timeout, accept=ACCEPT) for url in urls)
        )
        canary = _families(downloads[0])
        stable = _families(downloads[1]) if len(downloads) > 1 else None
        return MetricParityMeasurement(gate=gate, observed_at=now, canary=canary, stable=stable)


def _families(download: Download) -> Fetched[Families]:
    if download.error is not None:
        return Fetched(url=download.url, error=download.error)
    openmetrics = True if download.content_type == "application/openmetrics-text" else None
    try:
        return Fetched(url=download.url, content=parse_exposition(download.text, openmetrics=openmetrics))
    except ExpositionError as error:
        return Fetched(url=download.url, error=f"not a Prometheus exposition: {error}")
