"""The chaos bench's fault injectors on real sockets on 127.0.0.1 (each test well under a second)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from e2e.chaos.proxies import GateTarget, PrometheusProxy, TcpProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    running = TcpProxy(server.sockets[0].getsockname()[1], latency_s=0.3)
    await running.start()
    yield running
    await running.stop()
    server.close()


async def _round_trip(port: int, timeout_s: float = 1.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"ping")
        await writer.drain()
        async with asyncio.timeout(timeout_s):
            return await reader.read(4)
    finally:
        writer.close()


async def test_passes_then_delays(proxy: TcpProxy) -> None:
    assert await _round_trip(proxy.port) == b"ping"
    proxy.set_mode("latency")
    began = time.monotonic()
    assert await _round_trip(proxy.port) == b"ping"
    assert time.monotonic() - began >= 0.6  # both directions delayed


@pytest.mark.parametrize("mode", ["reset", "partition"])
async def test_cuts(proxy: TcpProxy, mode: str) -> None:
    proxy.set_mode(mode)  # type: ignore[arg-type]
    try:
        answer = await _round_trip(proxy.port, timeout_s=0.5)
    except (ConnectionError, TimeoutError):
        answer = b""
    assert answer == b""
    proxy.set_mode("pass")
    assert await _round_trip(proxy.port) == b"ping"


async def test_open_connections_are_cut_by_a_partition(proxy: TcpProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"ping")
    assert await reader.read(4) == b"ping"
    proxy.set_mode("partition")
    assert await asyncio.wait_for(reader.read(4), 1) == b""
    writer.close()


async def test_gate_target_answers_then_hangs() -> None:
    target = GateTarget(statuses={"bad": 500})
    await target.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session:
            async with session.get(target.url("good")) as good, session.get(target.url("bad")) as bad:
                assert (good.status, bad.status) == (200, 500)
            target.set_hang(True)
            with pytest.raises(TimeoutError):
                await session.get(target.url("good"))
            target.set_hang(False)
            async with session.get(target.url("good")) as again:
                assert again.status == 200
    finally:
        await target.stop()


async def test_prometheus_proxy_garbage_and_down() -> None:
    upstream = GateTarget()
    await upstream.start()
    proxy = PrometheusProxy(f"http://127.0.0.1:{upstream.port}")
    await proxy.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            async with session.get(f"{proxy.url}/api") as passed:
                assert passed.status == 200
                assert (await passed.json()) == {"ok": True}
            proxy.mode = "garbage"
            async with session.get(f"{proxy.url}/api") as garbage:
                with pytest.raises(ValueError, match=r"Expecting value|Unterminated|Invalid|decode"):
                    await garbage.json()
            proxy.mode = "pass"
            await upstream.stop()
            with pytest.raises(aiohttp.ClientError):
                await session.get(f"{proxy.url}/api")
    finally:
        await proxy.stop()
