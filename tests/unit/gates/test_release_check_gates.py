"""The fetcher and the `metricParity` / `apiCompat` observers against a real aiohttp server on 127.0.0.1: what is
asked, what is parsed (Prometheus text, OpenMetrics, JSON, YAML), and what is recorded when a side cannot be read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from graygate.api import Gate, Outcome
from graygate.domain.analysis.judge import judge
from graygate.errors import GateError
from graygate.gates.api_compat import ApiCompatObserver, openapi_document
from graygate.gates.fetch import Download, HttpFetcher, json_document
from graygate.gates.metric_parity import MetricParityObserver
from tests.unit.http_servers import serving, url

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

STABLE_METRICS = '# TYPE app_build_info gauge\napp_build_info{version="1",service="app"} 1\n'
CANARY_METRICS = '# TYPE app_build_info gauge\napp_build_info{service="app"} 1\n'
OPENMETRICS = '# TYPE app_build info\napp_build_info{version="1",service="app"} 1\n# EOF\n'
OPENAPI: dict[str, Any] = {"openapi": "3.0.3", "paths": {"/orders": {"get": {"responses": {"200": {}}}}}}
OPENAPI_YAML = "openapi: 3.0.3\npaths:\n  /orders:\n    get:\n      responses:\n        200: {description: ok}\n"


def text(body: str, content_type: str = "text/plain") -> web.RequestHandler:  # type: ignore[type-arg]
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type=content_type, headers={"X-Seen-Accept": request.headers["Accept"]})

    return handler


async def echo_headers(request: web.Request) -> web.Response:
    return web.json_response(dict(request.headers))


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def broken(request: web.Request) -> web.Response:
    return web.Response(status=500, text="oops")


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/stable/metrics")


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/stable/metrics", text(STABLE_METRICS))
    app.router.add_get("/canary/metrics", text(CANARY_METRICS))
    app.router.add_get("/openmetrics", text(OPENMETRICS))
    app.router.add_get("/garbage", text("this is not { an exposition"))
    app.router.add_get("/big", text("x" * 2048))
    app.router.add_get("/openapi.json", text(json.dumps(OPENAPI), "application/json"))
    app.router.add_get("/openapi.yaml", text(OPENAPI_YAML))
    app.router.add_get("/list.json", text("[1, 2]", "application/json"))
    app.router.add_get("/not-openapi.json", text('{"hello": "world"}', "application/json"))
    app.router.add_get("/version", text('{"version": "1.4.0"}', "application/json"))
    app.router.add_get("/null", text("null", "application/json"))
    app.router.add_get("/headers", echo_headers)
    app.router.add_get("/slow", slow)
    app.router.add_get("/broken", broken)
    app.router.add_get("/redirect", redirect)
    async with serving(app) as test_server:
        yield test_server


@pytest.fixture
async def fetcher() -> AsyncIterator[HttpFetcher]:
    fetching = HttpFetcher(limit=1024)
    yield fetching
    await fetching.close()


# ---- the fetcher ----


async def test_a_document_arrives_whole_with_its_content_type(server: TestServer, fetcher: HttpFetcher) -> None:
    got = await fetcher.get(url(server, "/openapi.json"), headers={"X-Team": "shop"}, timeout_s=2)
    assert got == Download(
        url=url(server, "/openapi.json"), body=json.dumps(OPENAPI).encode(), content_type="application/json"
    )
    echoed = json_document(await fetcher.get(url(server, "/headers"), headers={"X-Team": "shop"}, timeout_s=2))
    assert isinstance(echoed.content, dict)
    assert echoed.content["X-Team"] == "shop"
    assert echoed.content["User-Agent"] == "graygate-release-check"


@pytest.mark.parametrize(
    ("path", "timeout_s", "error"),
    [
        ("/broken", 2.0, "answered status 500"),
        ("/redirect", 2.0, "answered status 302"),
        ("/missing", 2.0, "answered status 404"),
        ("/big", 2.0, "the answer is larger than 1 KiB"),
        ("/slow", 0.2, "no answer within 0.2s"),
    ],
    ids=["error-status", "redirect-not-followed", "not-found", "too-large", "too-slow"],
)
async def test_what_is_not_a_whole_2xx_document_is_an_error(
    server: TestServer, fetcher: HttpFetcher, path: str, timeout_s: float, error: str
) -> None:
    got = await fetcher.get(url(server, path), headers={}, timeout_s=timeout_s)
    assert (got.body, got.error) == (b"", error)


async def test_a_closed_port_is_a_connection_error(fetcher: HttpFetcher) -> None:
    got = await fetcher.get("http://127.0.0.1:9/metrics", headers={}, timeout_s=1)
    assert got.error is not None
    assert got.error.startswith("connection failed")


async def test_a_closed_fetcher_refuses_to_fetch() -> None:
    fetching = HttpFetcher()
    await fetching.close()
    with pytest.raises(GateError, match="closed"):
        await fetching.get("http://127.0.0.1:9/", headers={}, timeout_s=1)


@pytest.mark.parametrize(
    ("body", "content", "error"),
    [
        (b'{"a": 1}', {"a": 1}, None),
        (b"null", None, "the answer is JSON null"),
        (b"{nope", None, "the answer is not JSON: Expecting property name"),
    ],
)
def test_json_document(body: bytes, content: object, error: str | None) -> None:
    parsed = json_document(Download(url="http://x/config", body=body))
    assert parsed.content == content
    assert (parsed.error or "")[: len(error or "")] == (error or "")


# ---- metricParity ----


def parity_gate(canary: str, stable: str | None = None) -> Gate:
    check = {"canaryUrl": canary} | ({"stableUrl": stable} if stable else {})
    return Gate.model_validate({"name": "metrics", "metricParity": check})


async def test_parity_fetches_both_sides_and_the_judge_names_the_lost_label(
    server: TestServer, fetcher: HttpFetcher
) -> None:
    gate = parity_gate(url(server, "/canary/metrics"), url(server, "/stable/metrics"))
    assert gate.metric_parity is not None
    seen = await MetricParityObserver(fetcher).observe("metrics", gate.metric_parity, NOW)
    assert seen.canary is not None
    assert seen.canary.content is not None
    assert seen.stable is not None
    assert seen.stable.content is not None
    assert seen.stable.content["app_build_info"].label_names == {"version", "service"}
    verdict = judge(gate, seen, weight=0)
    assert verdict.outcome is Outcome.FAIL
    assert "app_build_info lost label 'version'" in verdict.reason


async def test_parity_reads_openmetrics_and_names_families_as_promql_does(
    server: TestServer, fetcher: HttpFetcher
) -> None:
    gate = parity_gate(url(server, "/openmetrics"), url(server, "/stable/metrics"))
    assert gate.metric_parity is not None
    seen = await MetricParityObserver(fetcher).observe("metrics", gate.metric_parity, NOW)
    assert seen.canary is not None
    assert seen.canary.content is not None
    assert seen.canary.content["app_build_info"].type == "info"
    assert "app_build_info changed type from gauge to info" in judge(gate, seen, weight=0).reason


@pytest.mark.parametrize(
    ("canary", "stable", "side", "error"),
    [
        ("/garbage", None, "canary", "not a Prometheus exposition: line 1"),
        ("/broken", None, "canary", "answered status 500"),
        ("/canary/metrics", "/broken", "stable", "answered status 500"),
    ],
)
async def test_parity_records_an_unreadable_side(
    server: TestServer, fetcher: HttpFetcher, canary: str, stable: str | None, side: str, error: str
) -> None:
    gate = parity_gate(url(server, canary), url(server, stable) if stable else None)
    assert gate.metric_parity is not None
    seen = await MetricParityObserver(fetcher).observe("metrics", gate.metric_parity, NOW)
    fetched = getattr(seen, side)
    assert fetched.content is None
    assert fetched.error.startswith(error)
    assert (seen.stable is None) is (stable is None)


# ---- apiCompat ----


def api_gate(server: TestServer, stable: str, canary: str, version: bool = False) -> Gate:
    check: dict[str, Any] = {"stableUrl": url(server, stable), "canaryUrl": url(server, canary)}
    if version:
        check["version"] = {"url": url(server, "/version"), "range": "^1.2"}
    return Gate.model_validate({"name": "api", "apiCompat": check})


async def test_api_compat_reads_json_and_yaml_alike(server: TestServer, fetcher: HttpFetcher) -> None:
    gate = api_gate(server, "/openapi.json", "/openapi.yaml", version=True)
    assert gate.api_compat is not None
    seen = await ApiCompatObserver(fetcher).observe("api", gate.api_compat, NOW)
    assert seen.canary is not None
    assert seen.canary.content == {
        "openapi": "3.0.3",
        "paths": {"/orders": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    assert seen.version is not None
    assert seen.version.content == {"version": "1.4.0"}
    verdict = judge(gate, seen)
    assert verdict.outcome is Outcome.PASS, verdict.reason
    assert "version 1.4.0 in ^1.2" in verdict.reason


async def test_api_compat_without_a_handshake_asks_no_version(server: TestServer, fetcher: HttpFetcher) -> None:
    gate = api_gate(server, "/openapi.json", "/openapi.json")
    assert gate.api_compat is not None
    seen = await ApiCompatObserver(fetcher).observe("api", gate.api_compat, NOW)
    assert seen.version is None
    assert judge(gate, seen).outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[1, 2]", "not an OpenAPI document: the top is a list"),
        (b'{"hello": "world"}', "not an OpenAPI document: no openapi, swagger or paths key"),
        (b"a: [b\n", "neither JSON nor YAML: while parsing a flow sequence"),
    ],
)
def test_openapi_document_refuses_what_is_not_one(body: bytes, error: str) -> None:
    parsed = openapi_document(Download(url="http://c/openapi", body=body))
    assert parsed.content is None
    assert (parsed.error or "").startswith(error)


def test_yaml_aliases_are_converted_once_and_keys_become_text() -> None:
    lines = ["openapi: 3.0.3", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(20)]
    lines += ["paths: {}", "responses: {200: {description: ok}, true: 1}"]
    parsed = openapi_document(Download(url="http://c/openapi.yaml", body="\n".join(lines).encode()))
    assert parsed.content is not None
    assert parsed.content["responses"] == {"200": {"description": "ok"}, "true": 1}
