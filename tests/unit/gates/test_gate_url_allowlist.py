"""The runner refuses a gate whose URL is outside the operator's allowlist before anything is sent: a local server
counts the requests that reach it, and the refusal becomes an `Error` verdict naming the gate and the URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from graygate.api import Gate, Outcome
from graygate.domain.analysis.judge import judge
from graygate.domain.url_allowlist import UrlAllowlist
from graygate.gates.runner import GateRunner
from graygate.gates.tools import GateTools
from tests.unit.gates.test_prometheus_gate import DEFAULT, RATE, SCOPE, FakeProvider
from tests.unit.http_servers import serving

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ETCD = {"endpoints": ["127.0.0.1:2379"]}


class Counted:
    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.paths: list[str] = []

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def target() -> AsyncIterator[Counted]:
    async def answer(request: web.Request) -> web.Response:
        counted.paths.append(request.path)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    async with serving(app) as server:
        counted = Counted(server)
        yield counted


async def test_a_probe_outside_the_allowlist_sends_nothing_and_says_why(target: Counted) -> None:
    allowlist = UrlAllowlist.parse(target.url("/allowed/"))
    runner = GateRunner(url_allowlist=allowlist)
    gates = [
        Gate.model_validate({"name": "inside", "httpProbe": {"url": target.url("/allowed/healthz")}}),
        Gate.model_validate({"name": "outside", "httpProbe": {"url": target.url("/admin")}}),
    ]
    inside, outside = await runner.measure(gates, NOW, SCOPE)
    await runner.close()
    assert target.paths == ["/allowed/healthz"], "only the allowed URL was requested"
    assert judge(gates[0], inside).outcome is Outcome.PASS
    verdict = judge(gates[1], outside)
    # The domain judges a probe that got no answer as failed: the release cannot pass, so traffic goes back to
    # stable, and the reason says why.
    assert verdict.outcome is Outcome.FAIL
    assert f"gate outside: {target.url('/admin')} is not in the operator's URL allowlist" in verdict.reason


async def test_every_url_gate_kind_is_refused_before_it_starts(target: Counted) -> None:
    runner = GateRunner(GateTools(metrics=FakeProvider()), url_allowlist=UrlAllowlist.parse("http://elsewhere.svc/"))
    gates = [
        Gate.model_validate({"name": "parity", "metricParity": {"canaryUrl": target.url("/metrics")}}),
        Gate.model_validate(
            {"name": "api", "apiCompat": {"stableUrl": target.url("/a.json"), "canaryUrl": target.url("/b.json")}}
        ),
        Gate.model_validate({"name": "routing", "routingCheck": {"url": target.url("/")}}),
    ]
    measured = await runner.measure(gates, NOW, SCOPE)
    await runner.close()
    assert target.paths == []
    for gate, measurement in zip(gates, measured, strict=True):
        verdict = judge(gate, measurement)
        assert verdict.outcome is Outcome.ERROR, gate.name
        assert f"gate {gate.name}: {target.url('/')}" in verdict.reason
        assert "is not in the operator's URL allowlist (http://elsewhere.svc/); nothing was sent" in verdict.reason


async def test_a_prometheus_address_named_by_a_release_is_checked_the_operators_default_is_not() -> None:
    provider = FakeProvider()
    runner = GateRunner(
        GateTools(metrics=provider, default_prometheus=DEFAULT), url_allowlist=UrlAllowlist.parse(DEFAULT)
    )
    named = {**RATE, "source": {"address": "http://169.254.169.254:9090"}}
    default_only = UrlAllowlist.parse("http://prometheus.elsewhere:9090")
    gates = [
        Gate.model_validate({"name": "own-prometheus", "prometheus": named}),
        Gate.model_validate({"name": "default-prometheus", "prometheus": RATE}),
    ]
    own, default = await runner.measure(gates, NOW, SCOPE)
    assert own.error is not None
    assert own.error.startswith("gate own-prometheus: http://169.254.169.254:9090 is not in the operator's URL")
    assert default.error is None
    assert {source.address for source, _, _ in provider.asked} == {DEFAULT}
    await runner.close()
    unrestricted_default = GateRunner(
        GateTools(metrics=FakeProvider(), default_prometheus=DEFAULT), url_allowlist=default_only
    )
    (measured,) = await unrestricted_default.measure(gates[1:], NOW, SCOPE)
    assert measured.error is None, "the platform team's own default address is never refused"
    await unrestricted_default.close()


@pytest.mark.parametrize(
    ("check", "urls"),
    [
        pytest.param({"httpProbe": {"url": "http://a/"}}, ("http://a/",), id="httpProbe"),
        pytest.param({"prometheus": RATE}, (), id="prometheus-default"),
        pytest.param(
            {"prometheus": {**RATE, "source": {"address": "http://p:9090"}}}, ("http://p:9090",), id="prometheus"
        ),
        pytest.param(
            {"metricParity": {"canaryUrl": "http://c/m", "stableUrl": "http://s/m"}},
            ("http://c/m", "http://s/m"),
            id="metricParity",
        ),
        pytest.param(
            {
                "apiCompat": {
                    "stableUrl": "http://s/o",
                    "canaryUrl": "http://c/o",
                    "version": {"url": "http://c/v", "range": "^1"},
                }
            },
            ("http://s/o", "http://c/o", "http://c/v"),
            id="apiCompat",
        ),
        pytest.param({"routingCheck": {"url": "http://r/"}}, ("http://r/",), id="routingCheck"),
        pytest.param(
            {"hotReload": {"etcd": ETCD, "key": "/k", "url": "http://h/config", "jsonPath": "$.p"}},
            ("http://h/config",),
            id="hotReload",
        ),
        pytest.param(
            {"etcdConfig": {"etcd": ETCD, "prefix": "/app/", "url": "http://e/config", "jsonPath": "$.hash"}},
            ("http://e/config",),
            id="etcdConfig",
        ),
    ],
)
def test_the_urls_each_kind_calls(check: dict[str, object], urls: tuple[str, ...]) -> None:
    assert Gate.model_validate({"name": "g", **check}).check.urls() == urls


def test_refusals_name_every_refused_url_of_a_release_and_nothing_allowed() -> None:
    runner = GateRunner(url_allowlist=UrlAllowlist.parse("http://checkout.shop.svc/"))
    gates = [
        Gate.model_validate({"name": "health", "httpProbe": {"url": "http://checkout.shop.svc/healthz"}}),
        Gate.model_validate({"name": "metadata", "httpProbe": {"url": "http://169.254.169.254/latest"}}),
        Gate.model_validate({"name": "parity", "metricParity": {"canaryUrl": "http://evil.example/m"}}),
    ]
    refused = runner.refusals(gates)
    assert [sentence.split(":", 1)[0] for sentence in refused] == ["gate metadata", "gate parity"]
    assert "http://169.254.169.254/latest is not in the operator's URL allowlist" in refused[0]
    # No allowlist allows every URL but the metadata service's, which only an entry naming it allows.
    (metadata,) = GateRunner().refusals(gates)
    assert metadata.startswith("gate metadata: http://169.254.169.254/latest: 169.254.169.254 is a cloud metadata")
    named = GateRunner(url_allowlist=UrlAllowlist.parse("http://169.254.169.254/"))
    assert named.refusals(gates[1:2]) == ()
