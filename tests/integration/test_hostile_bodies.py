"""Oversized and odd answers from real local servers: a probe target and a Prometheus answering 100 MB, a
`/metrics` page of a million lines, bytes that are not UTF-8, a charset nobody knows and JSON nested past the
parser. Each is read only up to its bound and judged with a clear verdict; the operator's memory does not grow by
the body, and its event loop keeps serving other gates meanwhile. No Kubernetes; about 5 s.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from graygate.api import Gate, Outcome
from graygate.domain.analysis.judge import judge
from graygate.gates.fetch import MAX_BYTES, HttpFetcher
from graygate.gates.runner import GateRunner
from graygate.gates.tools import GateTools
from graygate.ports.metrics import MetricSource, QueryFailure
from graygate.providers.prometheus import PrometheusProvider
from tests.hostile_input import markdown
from tests.unit.http_servers import serving

pytestmark = [pytest.mark.timeout(60)]

HUNDRED_MB = 100 * 1024 * 1024
CHUNK = 64 * 1024
ROWS: list[tuple[str, ...]] = []


@dataclass
class Served:
    port: int = 0
    written: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest_asyncio.fixture
async def served() -> AsyncIterator[Served]:
    seen = Served()
    chunk = b"x" * CHUNK

    async def huge(request: web.Request) -> web.StreamResponse:
        """100 MB, made on the fly (so the server holds one chunk), counting what the client took."""
        response = web.StreamResponse(headers={"Content-Type": request.query.get("type", "text/plain")})
        response.content_length = HUNDRED_MB
        await response.prepare(request)
        seen.written[request.path] = 0
        try:
            for _ in range(HUNDRED_MB // CHUNK):
                await response.write(chunk)
                seen.written[request.path] += CHUNK
        except (ConnectionResetError, ConnectionError, RuntimeError):
            pass  # the client stopped reading and closed: what a bounded read does
        return response

    async def lines(request: web.Request) -> web.Response:
        return web.Response(body=b"a 1\n" * int(request.query["n"]), content_type="text/plain")

    async def raw(request: web.Request) -> web.Response:
        body = {
            "/latin1": b"caf\xe9 \xff\xfe ok",
            "/deep-json": b"[" * 30_000 + b"]" * 30_000,
            "/bad-utf8-json": b'{"ready": "\xff\xfe"}',
            "/metrics-bytes": b'# TYPE a counter\na_total{x="\xff\xfe"} 1\n',
        }[request.path]
        content_type = request.query.get("type", "text/plain")
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def small(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/huge", huge)
    app.router.add_get("/huge-json", huge)
    app.router.add_get("/api/v1/query", huge)
    app.router.add_get("/lines", lines)
    app.router.add_get("/small", small)
    for path in ("/latin1", "/deep-json", "/bad-utf8-json", "/metrics-bytes"):
        app.router.add_get(path, raw)
    async with serving(app) as server:
        seen.port = server.port or 0
        yield seen


async def verdicts(*gates: dict[str, Any]) -> list[Any]:
    models = [Gate.model_validate(gate) for gate in gates]
    runner = GateRunner(GateTools())
    try:
        measured = await runner.measure(models, datetime.now(UTC))
    finally:
        await runner.close()
    return [judge(gate, m) for gate, m in zip(models, measured, strict=True)]


def probe(name: str, url: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "httpProbe": {"url": url, "timeout": "10s", **more}}


async def test_a_100_mb_probe_answer_is_read_to_its_bound_while_other_gates_run(served: Served) -> None:
    before = rss_kib()
    big, json_big, other = await verdicts(
        probe("big", served.url("/huge")),
        probe("big-json", served.url("/huge-json?type=application/json")),
        probe("other", served.url("/small")),
    )
    await asyncio.sleep(0.2)  # the server notices the closed connections
    grown_mib = (rss_kib() - before) / 1024
    assert big.outcome is Outcome.PASS, big.reason
    assert other.outcome is Outcome.PASS, other.reason
    assert json_big.outcome is Outcome.PASS, json_big.reason
    taken = {path: served.written[path] for path in ("/huge", "/huge-json")}
    assert all(written < 16 * 1024 * 1024 for written in taken.values()), taken
    assert grown_mib < 50, f"RSS grew {grown_mib:.0f} MiB"
    for path, written in taken.items():
        ROWS.append(
            (
                "probe",
                f"100 MB body at {path}",
                f"{written / 2**20:.1f} MiB sent before the close",
                f"Pass (status judged); RSS +{grown_mib:.0f} MiB",
            )
        )


async def test_a_100_mb_document_is_an_error_after_its_bound(served: Served) -> None:
    fetcher = HttpFetcher()
    try:
        download = await fetcher.get(served.url("/huge"), headers={}, timeout_s=10)
    finally:
        await fetcher.close()
    await asyncio.sleep(0.2)
    assert download.error == f"the answer is larger than {MAX_BYTES // 1024} KiB"
    assert served.written["/huge"] < MAX_BYTES + 16 * 1024 * 1024
    ROWS.append(
        (
            "fetcher (metricParity, apiCompat, ...)",
            "100 MB body",
            f"{served.written['/huge'] / 2**20:.1f} MiB sent",
            download.error,
        )
    )


async def test_bug_a_100_mb_prometheus_answer_was_read_whole(served: Served) -> None:
    before = rss_kib()
    provider = PrometheusProvider()
    try:
        reading = await provider.query(MetricSource(address=served.url(""), timeout_s=10), "up", datetime.now(UTC))
    finally:
        await provider.close()
    await asyncio.sleep(0.2)
    grown_mib = (rss_kib() - before) / 1024
    assert reading.failure is QueryFailure.BAD_RESPONSE
    assert "the answer is larger than 8192 KiB; the rest was not read" in reading.message
    assert served.written["/api/v1/query"] < 32 * 1024 * 1024
    assert grown_mib < 50, f"RSS grew {grown_mib:.0f} MiB"
    ROWS.append(
        (
            "Prometheus client",
            "100 MB answer",
            f"{served.written['/api/v1/query'] / 2**20:.1f} MiB sent",
            f"BadResponse: larger than 8192 KiB; RSS +{grown_mib:.0f} MiB",
        )
    )


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        (1_000_000, "line 100001: the page has 1000000 lines; at most 100000 are read"),
        (5_000_000, f"the answer is larger than {MAX_BYTES // 1024} KiB"),
    ],
)
async def test_bug_a_metrics_page_of_a_million_lines_was_parsed_whole(served: Served, lines: int, said: str) -> None:
    (verdict,) = await verdicts({"name": "parity", "metricParity": {"canaryUrl": served.url(f"/lines?n={lines}")}})
    assert verdict.outcome is Outcome.FAIL
    assert said in verdict.reason
    ROWS.append(("metricParity", f"/metrics of {lines:,} lines ({4 * lines / 1e6:.0f} MB)", "-", f"Fail: {said}"))


async def test_bytes_that_are_not_utf8_get_a_clear_verdict(served: Served) -> None:
    latin1, bad_json, metrics = await verdicts(
        probe("latin1", served.url("/latin1")),
        probe("bad-json", served.url("/bad-utf8-json?type=application/json"), jsonPath={"path": "$.ready"}),
        {"name": "parity", "metricParity": {"canaryUrl": served.url("/metrics-bytes")}},
    )
    assert latin1.outcome is Outcome.PASS, latin1.reason
    # Read as text with U+FFFD for the bytes that are not UTF-8: the value exists, and the reason shows it replaced.
    assert bad_json.outcome is Outcome.PASS, bad_json.reason
    assert "$.ready=\ufffd\ufffd" in bad_json.reason
    assert metrics.outcome is Outcome.PASS, metrics.reason
    ROWS.append(("probe", "Latin-1 bytes in a text answer", "-", f"{latin1.outcome.value}: {latin1.reason}"))
    ROWS.append(("probe", "JSON with bytes that are not UTF-8", "-", f"{bad_json.outcome.value}: {bad_json.reason}"))
    ROWS.append(
        ("metricParity", "a label value that is not UTF-8", "-", f"{metrics.outcome.value}: {metrics.reason[:60]}…")
    )


async def test_bug_an_unknown_charset_made_the_probe_fail_with_unknown_encoding(served: Served) -> None:
    (verdict,) = await verdicts(probe("charset", served.url("/latin1?type=text/plain;charset=x-nobody-knows")))
    assert verdict.outcome is Outcome.PASS, verdict.reason
    ROWS.append(
        ("probe", "a charset nobody knows (was: unknown encoding)", "-", f"{verdict.outcome.value}: {verdict.reason}")
    )


async def test_bug_json_nested_past_the_parser_raised_recursion_error_in_the_judge(served: Served) -> None:
    url = served.url("/deep-json?type=application/json")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default, whatever another test of this process set
    try:
        (verdict,) = await verdicts(probe("deep", url, jsonPath={"path": "$.ready", "equals": "true"}))
    finally:
        sys.setrecursionlimit(limit)
    assert verdict.outcome is Outcome.FAIL
    assert "the body is JSON nested deeper than graygate reads, cannot check $.ready" in verdict.reason
    ROWS.append(
        ("probe", "JSON nested 30,000 deep (was: RecursionError)", "-", f"{verdict.outcome.value}: {verdict.reason}")
    )


def test_zz_print_the_table() -> None:
    assert ROWS, "the attempts above ran"
    sys.stdout.write("\n" + markdown(ROWS, ("path", "answer", "read", "verdict")) + "\n")
