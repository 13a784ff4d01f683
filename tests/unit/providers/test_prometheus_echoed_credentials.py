"""Regression: a Prometheus (or the auth proxy in front of it) that echoes the credentials it got put a Secret's
value into the reading's message, and from there into the release's status, its Events, the operator's log and the
notifications (found by the planted-secret scan, tests/integration/test_secret_scan.py). The provider now hides
every credential of the source in what the server said, however the server wrote it, before cutting it short."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from graygate.ports.metrics import BasicCredentials, MetricSource, QueryFailure
from graygate.providers.prometheus import SECRET, PrometheusProvider, credentials
from tests.unit.http_servers import serving

NOW = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
TOKEN = "tok-8f3a91c2d7e54b6a"
USER, PASSWORD = "reader-7c1e", "pw-0d4b2f9e6a"


def _said(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme == "Basic":
        user, _, password = base64.b64decode(value).decode().partition(":")
        return f"user {user} with password {password} ({header})"
    return f"token {value} ({header})"


async def json_error(request: web.Request) -> web.Response:
    body = {"status": "error", "errorType": "unauthorized", "error": f"not accepted: {_said(request)}"}
    return web.json_response(body, status=401)


async def text_error(request: web.Request) -> web.Response:
    # The credential straddles the 300 characters a message keeps.
    return web.Response(status=502, text="x" * 266 + f" upstream refused {_said(request)}")


async def labels(request: web.Request) -> web.Response:
    series = [{"metric": {"seen": _said(request)}, "value": [NOW.timestamp(), "1"]}]
    return web.json_response({"status": "success", "data": {"resultType": "vector", "result": series}})


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    application = web.Application()
    for prefix, handler in {"/json": json_error, "/text": text_error, "/labels": labels}.items():
        application.router.add_get(f"{prefix}/api/v1/query", handler)
    async with serving(application) as test_server:
        yield test_server


SOURCES: dict[str, dict[str, Any]] = {
    "bearer": {"bearer_token": TOKEN},
    "basic": {"basic_auth": BasicCredentials(USER, PASSWORD)},
}


@pytest.mark.parametrize("credential", SOURCES)
@pytest.mark.parametrize("prefix", ["/json", "/text", "/labels"])
async def test_credentials_echoed_by_the_server_are_hidden(server: TestServer, credential: str, prefix: str) -> None:
    provider = PrometheusProvider()
    source = MetricSource(address=str(server.make_url(prefix)), **SOURCES[credential])
    try:
        reading = await provider.query(source, "up", NOW)
    finally:
        await provider.close()
    shown = reading.message + repr(reading.samples)
    for value in credentials(source):
        assert value not in shown
    for fragment in (TOKEN[:8], PASSWORD[:8], USER):
        assert fragment not in shown, "not even a cut-off part of one"
    if prefix == "/text":
        assert "upstream refused" in shown
    else:
        assert SECRET in shown, "what the server said is still shown, with the credential hidden"
    if prefix == "/json":
        assert reading.failure is QueryFailure.UNAUTHORIZED


def test_a_short_user_name_is_not_hidden_but_the_password_and_pair_are() -> None:
    source = MetricSource(address="http://prometheus:9090", basic_auth=BasicCredentials("ops", "pa55word"))
    assert credentials(source) == (base64.b64encode(b"ops:pa55word").decode(), "pa55word")
