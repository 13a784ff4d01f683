"""The fault injectors that sit on a connection, all on 127.0.0.1 in the bench's event loop: a gate target whose
answers (or silence) the bench sets per path, a Prometheus proxy that can answer slowly or with garbage, and a TCP
proxy between the operator and the API server that adds latency, resets connections, swallows them or partitions.

Why our own TCP proxy rather than Toxiproxy: it needs only the standard library, starts in the bench's own loop
and changes mode without an admin API; the faults used here (latency, resets, a black hole, a partition) are the
ones Toxiproxy's toxics `latency`, `reset_peer` and `timeout` describe.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
from aiohttp import web

# --- the gate target -------------------------------------------------------------------------------------------------


@dataclass
class GateTarget:
    """`GET /<name>` answers the status set for `name` (200 unless told); with `hang` set, every request is
    accepted and never answered until `hang` is cleared."""

    statuses: dict[str, int] = field(default_factory=dict)
    hang: bool = False
    port: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{name}", self._answer)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def set_hang(self, hang: bool) -> None:
        self.hang = hang
        if hang:
            self._released.clear()
        else:
            self._released.set()

    async def _answer(self, request: web.Request) -> web.Response:
        if self.hang:
            await self._released.wait()
        status = self.statuses.get(request.match_info["name"], 200)
        return web.json_response({"ok": status == 200}, status=status)

    async def stop(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()


# --- Prometheus, slow or answering garbage ---------------------------------------------------------------------------

PrometheusMode = Literal["pass", "slow", "garbage"]


@dataclass
class PrometheusProxy:
    """Forwards to `upstream`; `slow` answers after `delay_s`, `garbage` answers 200 with bytes that are no JSON.
    When the upstream does not answer (it is down) the client's connection is dropped, as a dead server's would."""

    upstream: str
    mode: PrometheusMode = "pass"
    delay_s: float = 5.0
    port: int = 0
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "slow":
            await asyncio.sleep(self.delay_s)
        if self.mode == "garbage":
            return web.Response(status=200, body=b'{"status": "success", "data": {"resultType": \x00\xff garbage',
                                content_type="application/json")  # fmt: skip
        assert self._session is not None
        try:
            async with self._session.request(
                request.method, self.upstream + request.path_qs, data=await request.read(),
                headers={"Content-Type": request.headers.get("Content-Type", "")},
            ) as answer:  # fmt: skip
                body = await answer.read()
                return web.Response(status=answer.status, body=body, content_type=answer.content_type)
        except (aiohttp.ClientError, TimeoutError):
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPBadGateway() from None

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()


# --- the operator's network to the API server ------------------------------------------------------------------------

NetworkMode = Literal["pass", "latency", "reset", "blackhole", "partition"]


@dataclass
class TcpProxy:
    """A TCP proxy to `upstream_port`. Modes: `pass`; `latency` (each chunk delayed `latency_s`); `reset` (every
    connection, open or new, closed at once); `blackhole` (new connections accepted and never forwarded: the
    client's timeouts fire); `partition` (every open connection cut and new ones swallowed, until the mode
    changes)."""

    upstream_port: int
    mode: NetworkMode = "pass"
    latency_s: float = 0.2
    port: int = 0
    connections: int = 0
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def set_mode(self, mode: NetworkMode) -> None:
        self.mode = mode
        if mode in ("reset", "partition"):
            for writer in list(self._open):
                writer.transport.abort()
            self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "reset":
            writer.transport.abort()
            return
        if self.mode in ("blackhole", "partition"):
            self._open.add(writer)
            with contextlib.suppress(ConnectionError):
                while self.mode in ("blackhole", "partition") and not writer.transport.is_closing():  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            writer.transport.abort()
            self._open.discard(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for task in pipes:
            task.cancel()
            self._tasks.discard(task)
        for end in (writer, up_writer):
            end.transport.abort()
            self._open.discard(end)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if self.mode == "latency":
                    await asyncio.sleep(self.latency_s)
                writer.write(data)
                await writer.drain()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.set_mode("partition")
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
