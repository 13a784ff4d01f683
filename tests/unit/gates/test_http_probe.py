"""HttpProbeObserver against a real aiohttp server on 127.0.0.1: what it records for each kind of answer."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from graygate.errors import GateError
from graygate.gates.http_probe import SNIPPET_BYTES, HttpProbeObserver, HttpProbeRequest, ProbeReading
from graygate.ports.gates import Observer
from tests.unit.http_servers import serving, url

NOW = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="all good")


async def unavailable(request: web.Request) -> web.Response:
    return web.Response(status=503, text="draining")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="too late")


async def ready_json(request: web.Request) -> web.Response:
    return web.json_response({"ready": True, "version": "1.4.2", "checks": [{"db": "ok"}]})


async def null_json(request: web.Request) -> web.Response:
    return web.json_response(None)


async def broken_json(request: web.Request) -> web.Response:
    return web.Response(text='{"ready": tru', content_type="application/json")


async def big(request: web.Request) -> web.Response:
    return web.Response(text="x" * (10 * 1024))


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ok")


async def echo(request: web.Request) -> web.Response:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return web.json_response(
        {
            "method": request.method,
            "headers": dict(request.headers),
            "body": await request.text(),
            "client_port": peer[1] if peer else None,
        }
    )


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/unavailable", unavailable)
    app.router.add_get("/slow", slow)
    app.router.add_get("/json", ready_json)
    app.router.add_get("/null", null_json)
    app.router.add_get("/broken-json", broken_json)
    app.router.add_get("/big", big)
    app.router.add_get("/redirect", redirect)
    app.router.add_route("*", "/echo", echo)
    async with serving(app) as test_server:
        yield test_server


@pytest.fixture
async def gate() -> AsyncIterator[HttpProbeObserver]:
    async with HttpProbeObserver() as probe_gate:
        yield probe_gate


def fake_clock(*readings: float) -> Iterator[float]:
    return itertools.chain(readings, itertools.repeat(readings[-1]))


async def test_200_is_recorded_with_body_latency_and_the_given_time(server: TestServer) -> None:
    readings = fake_clock(100.0, 100.25)
    async with HttpProbeObserver(clock=lambda: next(readings)) as gate:
        sample = await gate.send(HttpProbeRequest(url(server, "/ok")), NOW)

    assert sample == ProbeReading(
        url=url(server, "/ok"),
        method="GET",
        status_code=200,
        latency_s=0.25,
        body_snippet="all good",
        body_truncated=False,
        body_is_json=False,
        body_json=None,
        error=None,
        observed_at=NOW,
    )


async def test_503_is_an_observation_not_an_error(server: TestServer, gate: HttpProbeObserver) -> None:
    sample = await gate.send(HttpProbeRequest(url(server, "/unavailable")), NOW)
    assert (sample.status_code, sample.body_snippet, sample.error) == (503, "draining", None)


async def test_a_response_slower_than_the_timeout_is_recorded_as_a_timeout(
    server: TestServer, gate: HttpProbeObserver
) -> None:
    sample = await gate.send(HttpProbeRequest(url(server, "/slow"), timeout_s=0.2), NOW)

    assert sample.status_code is None
    assert sample.error == "timed out after 0.2s"
    assert 0.15 <= sample.latency_s < 2
    assert sample.observed_at == NOW


async def test_connection_refused_is_recorded_with_its_reason(gate: HttpProbeObserver) -> None:
    port = unused_port()
    sample = await gate.send(HttpProbeRequest(f"http://127.0.0.1:{port}/healthz", timeout_s=2), NOW)

    assert sample.status_code is None
    assert sample.error is not None
    assert sample.error.startswith("connection failed: ")
    assert f"127.0.0.1:{port}" in sample.error


async def test_an_invalid_url_is_recorded_not_raised(gate: HttpProbeObserver) -> None:
    sample = await gate.send(HttpProbeRequest("not a url"), NOW)
    assert sample.status_code is None
    assert sample.error is not None


@pytest.mark.parametrize(
    ("path", "is_json", "value"),
    [
        ("/json", True, {"ready": True, "version": "1.4.2", "checks": [{"db": "ok"}]}),
        ("/null", True, None),
        ("/broken-json", False, None),
        ("/ok", False, None),
    ],
)
async def test_a_json_body_is_parsed_when_the_content_type_says_so(
    server: TestServer, gate: HttpProbeObserver, path: str, is_json: bool, value: object
) -> None:
    sample = await gate.send(HttpProbeRequest(url(server, path)), NOW)
    assert (sample.status_code, sample.body_is_json, sample.body_json) == (200, is_json, value)
    assert sample.body_snippet, "the text is kept too, for Events and debugging"


async def test_method_headers_and_body_are_sent(server: TestServer, gate: HttpProbeObserver) -> None:
    request = HttpProbeRequest(
        url(server, "/echo"),
        method="post",
        headers={"X-Graygate-Release": "checkout-1.4.2", "Content-Type": "application/json"},
        body='{"probe": true}',
    )

    sample = await gate.send(request, NOW)

    assert sample.method == "POST"
    assert isinstance(sample.body_json, dict)
    assert sample.body_json["method"] == "POST"
    assert sample.body_json["body"] == '{"probe": true}'
    headers = sample.body_json["headers"]
    assert isinstance(headers, dict)
    assert headers["X-Graygate-Release"] == "checkout-1.4.2"
    assert headers["User-Agent"] == "graygate-http-probe"


async def test_a_big_body_is_cut_to_the_snippet_bound(server: TestServer, gate: HttpProbeObserver) -> None:
    sample = await gate.send(HttpProbeRequest(url(server, "/big")), NOW)
    assert (len(sample.body_snippet), sample.body_truncated) == (SNIPPET_BYTES, True)


async def test_redirects_are_reported_not_followed(server: TestServer, gate: HttpProbeObserver) -> None:
    sample = await gate.send(HttpProbeRequest(url(server, "/redirect")), NOW)
    assert sample.status_code == 302


async def test_one_session_is_reused_across_probes(server: TestServer, gate: HttpProbeObserver) -> None:
    first = await gate.send(HttpProbeRequest(url(server, "/echo")), NOW)
    second = await gate.send(HttpProbeRequest(url(server, "/echo")), NOW)
    assert isinstance(first.body_json, dict)
    assert isinstance(second.body_json, dict)
    assert first.body_json["client_port"] == second.body_json["client_port"], "same kept-alive connection"


async def test_a_closed_gate_refuses_to_observe(server: TestServer) -> None:
    gate = HttpProbeObserver()
    await gate.send(HttpProbeRequest(url(server, "/ok")), NOW)
    await gate.close()
    await gate.close()  # closing twice is harmless

    with pytest.raises(GateError, match="closed"):
        await gate.send(HttpProbeRequest(url(server, "/ok")), NOW)


async def test_the_gate_satisfies_the_observer_port() -> None:
    gate: Observer = HttpProbeObserver()
    await gate.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout_s": 0}, "timeout must be positive"),
        ({"method": "GE T"}, "HTTP method name"),
        ({"method": ""}, "HTTP method name"),
    ],
)
def test_a_probe_request_refuses_nonsense(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HttpProbeRequest("http://127.0.0.1/", **kwargs)  # type: ignore[arg-type]
