"""RoutingCheckObserver against a real aiohttp server on 127.0.0.1 that plays a mesh: coloured requests to the canary,
every fourth uncoloured one too."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from graygate.gates.routing_check import RoutingCheckObserver, RoutingCheckRequest
from tests.unit.http_servers import serving

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def mesh() -> web.Application:
    counter = itertools.count()

    async def routed(request: web.Request) -> web.Response:
        canary = request.headers.get("x-canary") == "always" or next(counter) % 4 == 0
        return web.Response(text="hi", headers={"x-served-by": "canary" if canary else "stable"})

    async def anonymous(request: web.Request) -> web.Response:
        return web.Response(text="who am I")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/", routed)
    app.router.add_get("/anonymous", anonymous)
    app.router.add_get("/slow", slow)
    return app


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    async with serving(mesh()) as test_server:
        yield test_server


@pytest.fixture
async def gate() -> AsyncIterator[RoutingCheckObserver]:
    routing_gate = RoutingCheckObserver(concurrency=1)
    try:
        yield routing_gate
    finally:
        await routing_gate.close()


def request(server: TestServer, path: str = "/", **changes: object) -> RoutingCheckRequest:
    values: dict[str, object] = {"colored_headers": {"x-canary": "always"}, "colored": 5, "uncolored": 8}
    values.update(changes)
    return RoutingCheckRequest(gate="routing", url=str(server.make_url(path)), **values)  # type: ignore[arg-type]


async def test_it_records_the_version_of_every_answer(server: TestServer, gate: RoutingCheckObserver) -> None:
    seen = await gate.send(request(server), NOW)
    assert seen.observed_at == NOW
    assert seen.colored == ("canary",) * 5
    assert sorted(seen.uncolored) == ["canary"] * 2 + ["stable"] * 6
    assert seen.failure is None
    assert seen.error is None


async def test_an_answer_without_the_header_is_an_empty_name(server: TestServer, gate: RoutingCheckObserver) -> None:
    seen = await gate.send(request(server, "/anonymous", colored=1, uncolored=1), NOW)
    assert (seen.colored, seen.uncolored) == (("",), ("",))


async def test_a_slow_mesh_counts_as_unanswered_within_the_deadline(
    server: TestServer, gate: RoutingCheckObserver
) -> None:
    seen = await gate.send(request(server, "/slow", colored=1, uncolored=1, timeout_s=0.2), NOW)
    assert (seen.colored, seen.uncolored) == ((None,), (None,))
    assert seen.failure == "no answer within 0.2s"


async def test_nothing_listening_is_recorded_not_raised(gate: RoutingCheckObserver) -> None:
    url = f"http://127.0.0.1:{unused_port()}/"
    seen = await gate.send(RoutingCheckRequest(gate="routing", url=url, colored=1, uncolored=0), NOW)
    assert seen.colored == (None,)
    assert seen.failure is not None
    assert "Connect" in seen.failure
