"""PrometheusProvider against stand-in HTTP servers on 127.0.0.1: what it sends (time, credentials, headers) and
how each way of not getting an answer is named. The real Prometheus is in tests/integration."""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from graygate.errors import ProviderError
from graygate.ports.metrics import BasicCredentials, MetricSeries, MetricSource, QueryFailure
from graygate.providers.prometheus import PrometheusProvider
from graygate.sandbox.pki import write_pki
from tests.unit.http_servers import serving

NOW = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
VECTOR = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {"metric": {"response_code": "200"}, "value": [NOW.timestamp(), "990"]},
            {"metric": {"response_code": "503"}, "value": [NOW.timestamp(), "NaN"]},
        ],
    },
}
SEEN: list[dict[str, Any]] = []


def answer(body: object, status: int = 200) -> Any:
    async def handler(request: web.Request) -> web.Response:
        SEEN.append({"query": dict(request.query), "headers": dict(request.headers)})
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/html")
        return web.json_response(body, status=status)

    return handler


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(3)
    return web.json_response(VECTOR)


ROUTES = {
    "/ok": answer(VECTOR),
    "/scalar": answer({"status": "success", "data": {"resultType": "scalar", "result": [1, "0.25"]}}),
    "/matrix": answer(
        {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": []}]}}
    ),
    "/empty": answer({"status": "success", "data": {"resultType": "vector", "result": []}}),
    "/unauthorized": answer("<html>401 Unauthorized</html>", 401),
    "/rejected": answer({"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'}, 400),
    "/unavailable": answer({"status": "error", "errorType": "unavailable", "error": "TSDB not ready"}, 503),
    "/html": answer("<html>sign in</html>"),
}


def app() -> web.Application:
    application = web.Application()
    for prefix, handler in ROUTES.items():
        application.router.add_get(f"{prefix}/api/v1/query", handler)
    application.router.add_get("/slow/api/v1/query", slow)
    return application


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    SEEN.clear()
    async with serving(app()) as test_server:
        yield test_server


@pytest.fixture
async def provider() -> AsyncIterator[PrometheusProvider]:
    subject = PrometheusProvider()
    yield subject
    await subject.close()


def source(server: TestServer, prefix: str, **fields: Any) -> MetricSource:
    return MetricSource(address=str(server.make_url(prefix)), **fields)


async def test_a_vector_with_the_time_credentials_and_headers_sent(
    server: TestServer, provider: PrometheusProvider
) -> None:
    bearer = source(server, "/ok", bearer_token="t0ken", headers=(("X-Scope-OrgID", "shop"),), timeout_s=2.5)
    result = await provider.query(bearer, "sum by (response_code) (x)", NOW)
    assert result.ok
    assert result.samples[0] == MetricSeries(labels=(("response_code", "200"),), value=990.0)
    assert math.isnan(result.samples[1].value)
    sent = SEEN[-1]
    assert sent["query"] == {"query": "sum by (response_code) (x)", "time": f"{NOW.timestamp():.3f}", "timeout": "2.5"}
    assert (sent["headers"]["Authorization"], sent["headers"]["X-Scope-OrgID"]) == ("Bearer t0ken", "shop")
    await provider.query(source(server, "/ok", basic_auth=BasicCredentials("graygate", "pa55")), "x", NOW)
    assert SEEN[-1]["headers"]["Authorization"] == "Basic Z3JheWdhdGU6cGE1NQ=="


@pytest.mark.parametrize(
    ("prefix", "samples", "failure", "message"),
    [
        ("/scalar", (MetricSeries((), 0.25),), None, ""),
        ("/empty", (), None, ""),
        ("/matrix", (), QueryFailure.REJECTED, "the query gives a range vector; it must give one number"),
        ("/unauthorized", (), QueryFailure.UNAUTHORIZED, "answered HTTP 401: <html>401 Unauthorized</html>"),
        ("/rejected", (), QueryFailure.REJECTED, 'answered HTTP 400: parse error: unexpected "}"'),
        ("/unavailable", (), QueryFailure.SERVER, "answered HTTP 503: TSDB not ready"),
        ("/html", (), QueryFailure.BAD_RESPONSE, "did not answer like Prometheus"),
        ("/nothing-here", (), QueryFailure.SERVER, "answered HTTP 404"),
    ],
)
async def test_each_kind_of_answer(
    server: TestServer,
    provider: PrometheusProvider,
    prefix: str,
    samples: tuple[MetricSeries, ...],
    failure: QueryFailure | None,
    message: str,
) -> None:
    result = await provider.query(source(server, prefix), "x", NOW)
    assert (result.query, result.samples, result.failure) == ("x", samples, failure)
    assert message in result.message
    assert len(SEEN) <= 1, "no retries: the next analysis is the retry"


async def test_a_slow_prometheus_is_a_timeout(server: TestServer, provider: PrometheusProvider) -> None:
    started = time.monotonic()
    result = await provider.query(source(server, "/slow", timeout_s=0.3), "x", NOW)
    assert result.failure is QueryFailure.TIMEOUT
    assert "in 0.3s" in result.message
    assert time.monotonic() - started < 2


async def test_nothing_listening_is_unreachable(provider: PrometheusProvider) -> None:
    result = await provider.query(MetricSource(address=f"http://127.0.0.1:{unused_port()}"), "x", NOW)
    assert result.failure is QueryFailure.UNREACHABLE
    assert result.message.endswith("Connection refused")


async def test_a_closed_provider_refuses(provider: PrometheusProvider) -> None:
    await provider.close()
    with pytest.raises(ProviderError, match="closed"):
        await provider.query(MetricSource(address="http://127.0.0.1:1"), "x", NOW)


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    pki = write_pki(tmp_path / "pki", datetime.now(UTC))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.serving_cert, pki.serving_key)
    runner = web.AppRunner(app())
    await runner.setup()
    port = unused_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        yield f"https://127.0.0.1:{port}/ok", pki.ca_cert.read_text()
    finally:
        await runner.cleanup()


async def test_a_ca_bundle_is_trusted_and_its_file_removed_on_close(tls_server: tuple[str, str]) -> None:
    address, ca = tls_server
    provider = PrometheusProvider()
    untrusted = await provider.query(MetricSource(address=address), "x", NOW)
    assert untrusted.failure is QueryFailure.UNREACHABLE
    assert "TLS" in untrusted.message
    trusted = await provider.query(MetricSource(address=address, ca_pem=ca), "x", NOW)
    assert trusted.ok, trusted.message
    again = await provider.query(MetricSource(address=address, ca_pem=ca), "x", NOW)
    assert again.ok
    ca_dir = provider._ca_dir
    assert ca_dir is not None
    assert len(list(ca_dir.iterdir())) == 1
    await provider.close()
    assert not ca_dir.exists()
