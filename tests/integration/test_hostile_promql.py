"""PromQL injection against a real Prometheus (Debian's binary, our own instance on 127.0.0.1): every value of the
attempts table that graygate writes into a query selects exactly the series whose label holds that very value,
and nothing else; a value that tried to end its matcher (`"} or vector(1) #`) or widen it (`.*` after `=~`)
selects only the series literally named so. No Kubernetes.

An exporter serves one `hostile_probe` series per value (plus one named `real`), so "selects nothing it should
not" is checked against series that exist, not against an empty database. About 8 s, most of it the first scrape.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from aiohttp import web

from e2e.lab import Prometheus, wait_for
from graygate.api import render_template
from graygate.ports.metrics import MetricSource
from graygate.providers.prometheus import PrometheusProvider
from tests.hostile_input import PROMQL_ATTEMPTS, PromQLAttempt, markdown
from tests.unit.http_servers import serving

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]

SENT = [attempt for attempt in PROMQL_ATTEMPTS if attempt.expected is not None]
NAMES = sorted({"real", *(attempt.value for attempt in SENT)})


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _exposition() -> str:
    lines = ["# TYPE hostile_probe gauge"]
    lines += [f'hostile_probe{{name="{_label(name)}"}} 1' for name in NAMES]
    return "\n".join(lines) + "\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def prometheus(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Prometheus]:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=_exposition(), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    async with serving(app) as exporter:
        running = Prometheus(tmp_path_factory.mktemp("prometheus"), {"hostile": [f"127.0.0.1:{exporter.port}"]})
        await running.start()
        try:

            async def scraped() -> bool:
                return await running.query_value("count(hostile_probe)") == len(NAMES)

            await wait_for(scraped, 30, "every hostile_probe series scraped")
            yield running
        finally:
            await running.stop()


def _selected(attempt: PromQLAttempt) -> set[str]:
    """What the query must select if the value stayed a value: the series named by it, or all but that one."""
    if "!~" in attempt.template:
        return set(NAMES) - {attempt.value}
    if "name" in attempt.template:
        return {attempt.value}
    return set(NAMES)


def _escaped_before(template: str, value: str) -> str:
    """The rendering graygate had before places: a backslash and a double quote escaped, wherever the placeholder."""
    return template.replace("{{ canaryHost }}", value.replace("\\", "\\\\").replace('"', '\\"'))


async def _before(provider: PrometheusProvider, prometheus: Prometheus, attempt: PromQLAttempt) -> str:
    query = _escaped_before(attempt.template, attempt.value)
    reading = await provider.query(MetricSource(address=prometheus.url), query, datetime.now(UTC))
    if reading.failure is not None:
        return "refused by Prometheus: " + reading.message.split(": ", 1)[-1][:60]
    names = [dict(series.labels).get("name") for series in reading.samples]
    if None in names:
        return "broke out: a series without the label"
    return "same" if set(names) == _selected(attempt) else f"selected {len(names)} of {len(NAMES)}"


async def test_every_hostile_value_selects_only_itself(prometheus: Prometheus) -> None:
    provider = PrometheusProvider()
    rows: list[tuple[str, ...]] = []
    try:
        for attempt in SENT:
            query = render_template(attempt.template, {"canaryHost": attempt.value})
            reading = await provider.query(MetricSource(address=prometheus.url), query, datetime.now(UTC))
            assert reading.failure is None, f"{attempt.what}: {reading.message}"
            names = [dict(series.labels).get("name") for series in reading.samples]
            assert None not in names, f"{attempt.what}: a series without the label: the query broke out"
            assert set(names) == _selected(attempt), attempt.what
            which = "only its own" if len(names) == 1 else "all others" if "!~" in attempt.template else "all"
            before = await _before(provider, prometheus, attempt)
            rows.append((attempt.what, f"{len(names)} of {len(NAMES)}: {which}", before))
    finally:
        await provider.close()
    sys.stdout.write(
        "\n"
        + markdown(rows, ("attempt", "series selected", "with the escaping before (backslash and quote only)"))
        + "\n"
    )
