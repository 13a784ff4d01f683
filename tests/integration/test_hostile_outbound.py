"""Outbound calls from release-controlled URLs against real local servers: no redirect is followed on any path
(the probe, the release checks' fetcher, the webhook POST, the Prometheus client), a metadata or link-local host
is refused before anything is sent, and a name that resolves to one is refused after resolution; the refusal is in
the gate's verdict. Names are resolved by a table (`.test` names) through the clients' resolver seam; the servers
are real aiohttp servers on 127.0.0.1, and every allowed call reaches them. No Kubernetes; about 2 s.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from aiohttp import web

from graygate.api import Gate, Outcome
from graygate.domain.analysis.judge import judge
from graygate.domain.url_allowlist import UrlAllowlist
from graygate.gates.fetch import HttpFetcher
from graygate.gates.runner import GateRunner
from graygate.gates.tools import GateTools
from graygate.http.client import HttpClient, Outbound
from graygate.http.json_post import Retrying, post_json
from graygate.ports.metrics import MetricSource, QueryFailure
from graygate.providers.prometheus import PrometheusProvider
from tests.hostile_input import markdown
from tests.unit.http_servers import serving

pytestmark = [pytest.mark.timeout(60)]

NAMES = {
    "app.test": ("127.0.0.1",),
    "rebind.test": ("169.254.169.254",),
    "mixed.test": ("127.0.0.1", "169.254.169.254"),
    "v6.test": ("fe80::5",),
}
ROWS: list[tuple[str, ...]] = []


@dataclass
class Target:
    port: int
    hits: dict[str, int] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest_asyncio.fixture
async def target() -> AsyncIterator[Target]:
    seen = Target(port=0)

    async def counted(request: web.Request) -> web.StreamResponse:
        seen.hits[request.path] = seen.hits.get(request.path, 0) + 1
        seen.hosts.append(request.host)
        if request.path.startswith("/redirect"):
            raise web.HTTPFound(f"http://127.0.0.1:{seen.port}/secret")
        if request.path == "/api/v1/query":
            return web.json_response({"status": "success", "data": {"resultType": "vector", "result": []}})
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", counted)
    async with serving(app) as server:
        seen.port = server.port or 0
        yield seen


async def resolve(host: str, port: int) -> Sequence[str]:
    return NAMES[host.rstrip(".")]


def lookup(host: str, port: int) -> Sequence[str]:
    return NAMES.get(host, (host,))


async def probe_verdict(url: str, allowlist: str = "") -> tuple[Outcome, str]:
    gate = Gate.model_validate({"name": "probe", "httpProbe": {"url": url, "timeout": "2s"}})
    listed = UrlAllowlist.parse(allowlist)
    tools = GateTools(outbound=Outbound(listed.addresses(), resolve=resolve))
    runner = GateRunner(tools, url_allowlist=listed)
    try:
        (measured,) = await runner.measure([gate], datetime.now(UTC))
    finally:
        await runner.close()
    verdict = judge(gate, measured)
    return verdict.outcome, verdict.reason


@pytest.mark.parametrize(
    ("what", "host", "refused"),
    [
        ("the metadata address", "169.254.169.254", "169.254.169.254 is a cloud metadata address"),
        ("decimal IPv4", "2852039166", "2852039166 is a cloud metadata address (169.254.169.254)"),
        ("a metadata name", "metadata.google.internal", "metadata.google.internal is a cloud metadata name"),
        ("a name resolving to it", "rebind.test", "rebind.test resolves to 169.254.169.254, a cloud metadata"),
        ("one bad address of two", "mixed.test", "mixed.test resolves to 169.254.169.254, a cloud metadata"),
        ("a name resolving to IPv6 link-local", "v6.test", "v6.test resolves to fe80::5, a link-local address"),
    ],
)
async def test_a_probe_to_a_refused_address_is_an_error_verdict_naming_it(
    target: Target, what: str, host: str, refused: str
) -> None:
    outcome, reason = await probe_verdict(target.url(host, "/latest"))
    assert outcome is not Outcome.PASS
    assert refused in reason
    assert target.hits == {}, "nothing reached the server"
    when = "before anything was sent" if "nothing was sent" in reason else "after resolution"
    ROWS.append(("probe", what, f"`{host}`", f"{outcome.value}, refused {when}: {refused}"))


async def test_a_probe_to_a_name_resolving_to_loopback_is_called_with_its_host(target: Target) -> None:
    outcome, reason = await probe_verdict(target.url("app.test", "/healthz"))
    assert outcome is Outcome.PASS, reason
    assert target.hits == {"/healthz": 1}
    assert target.hosts == [f"app.test:{target.port}"]
    ROWS.append(("probe", "a name resolving to 127.0.0.1", "`app.test`", "called (Host: app.test)"))


async def test_redirects_are_answers_on_every_path(target: Target) -> None:
    redirect = target.url("127.0.0.1", "/redirect")
    outcome, reason = await probe_verdict(redirect)
    assert outcome is Outcome.FAIL
    assert "302" in reason, reason
    fetched = await _fetch(redirect)
    assert fetched == "answered status 302"
    client = HttpClient("t", name="t")
    try:
        posted = await post_json(client, redirect, {"a": 1}, {}, Retrying(retries=2, attempt_s=2), limit=1024)
    finally:
        await client.close()
    assert posted.answer is not None
    assert posted.answer.status == 302
    assert posted.attempts == 1
    provider = PrometheusProvider()
    try:
        reading = await provider.query(MetricSource(address=redirect), "up", datetime.now(UTC))
    finally:
        await provider.close()
    assert reading.failure is QueryFailure.SERVER
    assert "answered HTTP 302, a redirect, which is not followed" in reading.message
    assert target.hits == {"/redirect": 3, "/redirect/api/v1/query": 1}, "the redirect target was never requested"
    for path in ("probe", "fetcher (metricParity, apiCompat, ...)", "webhook POST", "Prometheus client"):
        ROWS.append((path, "a 302 to another host", "`127.0.0.1`", "302 is the answer; not followed"))


async def _fetch(url: str) -> str | None:
    fetcher = HttpFetcher(outbound=Outbound(resolve=resolve))
    try:
        return (await fetcher.get(url, headers={}, timeout_s=2)).error
    finally:
        await fetcher.close()


async def test_a_webhook_to_a_refused_name_is_tried_once(target: Target) -> None:
    client = HttpClient("t", name="t", outbound=Outbound(resolve=resolve))
    try:
        posted = await post_json(
            client, target.url("rebind.test"), {}, {}, Retrying(retries=3, attempt_s=2), limit=1024
        )
    finally:
        await client.close()
    assert posted.failure is not None
    assert "rebind.test resolves to 169.254.169.254" in str(posted.failure)
    assert posted.attempts == 1
    assert target.hits == {}
    ROWS.append(("webhook POST", "a name resolving to it", "`rebind.test`", "refused once, not retried"))


async def test_the_prometheus_client_connects_only_to_a_checked_address(target: Target) -> None:
    provider = PrometheusProvider(lookup=lookup)
    try:
        refused = await provider.query(MetricSource(address=target.url("rebind.test")), "up", datetime.now(UTC))
        called = await provider.query(MetricSource(address=target.url("app.test")), "up", datetime.now(UTC))
        literal = await provider.query(MetricSource(address="http://169.254.169.254"), "up", datetime.now(UTC))
    finally:
        await provider.close()
    assert refused.failure is QueryFailure.UNREACHABLE
    assert "was not called: rebind.test resolves to 169.254.169.254, a cloud metadata address" in refused.message
    assert literal.failure is QueryFailure.UNREACHABLE
    assert "169.254.169.254 is a cloud metadata address" in literal.message
    assert called.failure is None, called.message
    assert target.hits == {"/api/v1/query": 1}
    assert target.hosts == [f"app.test:{target.port}"]
    ROWS.append(("Prometheus client", "a name resolving to it", "`rebind.test`", "refused (Unreachable)"))
    ROWS.append(("Prometheus client", "a name resolving to 127.0.0.1", "`app.test`", "called (Host: app.test)"))


def test_zz_print_the_table() -> None:
    assert ROWS, "the attempts above ran"
    sys.stdout.write("\n" + markdown(ROWS, ("path", "attempt", "host", "outcome")) + "\n")
