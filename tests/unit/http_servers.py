"""Local HTTP servers for the tests of the adapters that speak HTTP (gates, metric providers): real sockets on
127.0.0.1, so the adapters run their real client code, and every server is closed whatever the test did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestServer


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[TestServer]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def url(server: TestServer, path: str) -> str:
    return str(server.make_url(path))
