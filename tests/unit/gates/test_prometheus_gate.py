"""PrometheusObserver and the runner against a hand-written fake provider and Secret reader: what is asked, of whom,
with which credentials, and what is recorded when something is missing or broken."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graygate.api import CanaryReleaseSpec, Gate, Outcome, Prometheus
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.prometheus import PrometheusMeasurement
from graygate.domain.analysis.promql import QueryScope
from graygate.gates.prometheus import PrometheusObserver
from graygate.gates.prometheus_login import DefaultCredentials
from graygate.gates.runner import GateRunner
from graygate.gates.tools import GateTools
from graygate.ports.gates import Observer
from graygate.ports.metrics import MetricProvider, MetricReading, MetricSeries, MetricSource, QueryFailure
from graygate.ports.secrets import SecretReader
from tests.unit.fakes.secrets import FakeSecrets

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEFAULT = "http://prometheus.default:9090"
SPEC = CanaryReleaseSpec.model_validate(
    {
        "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
        "stable": {"host": "checkout", "subset": "stable"},
        "canary": {"host": "checkout", "subset": "canary"},
        "canaryWorkload": {"name": "checkout-canary"},
        "stableWorkload": {"name": "checkout-stable"},
        "stepWeights": [10],
    }
)
SCOPE = QueryScope(namespace="shop", release="checkout", spec=SPEC)
RATE = {"requestSuccessRate": {"min": 99, "minRequests": 10}}


@dataclass
class FakeProvider:
    """Answers every query with `answer(promql)`; remembers what it was asked; can wait for `together` calls."""

    answer: Callable[[str], MetricReading] = lambda q: MetricReading(query=q, samples=(MetricSeries((), 1.0),))
    together: int = 0
    asked: list[tuple[MetricSource, str, datetime]] = field(default_factory=list)
    closed: bool = False
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def query(self, source: MetricSource, promql: str, now: datetime) -> MetricReading:
        self.asked.append((source, promql, now))
        if self.together:
            if len(self.asked) >= self.together:
                self._arrived.set()
            await asyncio.wait_for(self._arrived.wait(), timeout=2)
        return self.answer(promql)

    async def close(self) -> None:
        self.closed = True


def test_the_fakes_satisfy_the_ports() -> None:
    provider: MetricProvider = FakeProvider()
    secrets: SecretReader = FakeSecrets()
    gate: Observer = PrometheusObserver(provider, secrets)
    assert gate is not None


async def observe(check: dict[str, Any], provider: FakeProvider | None = None, **gate: Any) -> PrometheusMeasurement:
    subject = PrometheusObserver(provider or FakeProvider(), **({"default_address": DEFAULT} | gate))
    return await subject.observe("g", Prometheus.model_validate(check), NOW, SCOPE)


async def test_canary_and_stable_are_asked_together_at_now() -> None:
    provider = FakeProvider(together=6)
    seen = await observe(RATE, provider)
    assert seen.error is None
    assert len(provider.asked) == 6
    assert {now for _, _, now in provider.asked} == {NOW}
    assert seen.canary is not None
    assert 'destination_service_name="checkout", destination_subset="canary"' in seen.canary.query
    assert seen.stable_served is not None
    assert 'destination_workload="checkout-stable"' in seen.stable_served.query
    assert seen.canary.series[0].value == 1.0
    assert seen.window == "30s"


async def test_the_operator_default_address_is_used_when_the_gate_names_none() -> None:
    provider = FakeProvider()
    await observe(RATE, provider)
    await observe({**RATE, "source": {"address": "http://mine:9090", "timeout": "2s"}}, provider)
    sources = [source for source, _, _ in provider.asked]
    assert [(s.address, s.timeout_s) for s in sources] == [(DEFAULT, 5.0)] * 6 + [("http://mine:9090", 2.0)] * 6


async def test_credentials_ca_and_headers_come_from_the_releases_namespace() -> None:
    secrets = FakeSecrets(
        {
            ("Secret", "shop", "prom-reader", "token"): "s3cret\n",
            ("Secret", "shop", "prom-basic", "user"): "graygate",
            ("Secret", "shop", "prom-basic", "password"): "pa55\n",
            ("ConfigMap", "shop", "prom-ca", "ca.crt"): "-----BEGIN CERTIFICATE-----",
        }
    )
    provider = FakeProvider()
    source = {"ca": {"configMapRef": {"name": "prom-ca"}}, "headers": {"X-Scope-OrgID": "shop", "A": "1"}}
    await observe(
        {**RATE, "source": {**source, "bearerToken": {"secretRef": {"name": "prom-reader"}}}}, provider, secrets=secrets
    )
    basic = {"secretRef": {"name": "prom-basic"}, "usernameKey": "user"}
    await observe({**RATE, "source": {"basicAuth": basic}}, provider, secrets=secrets)
    bearer, basic_source = provider.asked[0][0], provider.asked[-1][0]
    assert (bearer.bearer_token, bearer.ca_pem, bearer.headers) == (
        "s3cret",
        "-----BEGIN CERTIFICATE-----",
        (("A", "1"), ("X-Scope-OrgID", "shop")),
    )
    assert basic_source.basic_auth is not None
    assert (basic_source.basic_auth.username, basic_source.basic_auth.password) == ("graygate", "pa55")
    assert "s3cret" not in repr(bearer)
    assert "pa55" not in repr(basic_source)


@pytest.mark.parametrize(
    ("check", "gate", "error"),
    [
        (
            RATE,
            {"default_address": None},
            "no Prometheus address: set prometheus.source.address, or give the operator a default address",
        ),
        (
            {**RATE, "source": {"bearerToken": {"secretRef": {"name": "gone"}}}},
            {"secrets": FakeSecrets()},
            "cannot read key token of Secret shop/gone: Secret shop/gone has no key token",
        ),
        (
            {**RATE, "source": {"ca": {"secretRef": {"name": "ca"}}}},
            {},
            "the source needs a Secret or ConfigMap, but no Secret reader is configured",
        ),
        (
            {"query": {"expr": "x{h='{{ canaryHost }}'}", "max": 1}},
            {},
            None,
        ),
    ],
)
async def test_what_cannot_be_asked_is_recorded_not_raised(
    check: dict[str, Any], gate: dict[str, Any], error: str | None
) -> None:
    provider = FakeProvider()
    seen = await observe(check, provider, **gate)
    assert seen.error == error
    assert bool(provider.asked) is (error is None)


async def test_failed_and_raising_queries_become_errors_on_their_reading() -> None:
    def answer(promql: str) -> MetricReading:
        if 'destination_subset="stable"' in promql:
            raise RuntimeError("bug")
        return MetricReading(query=promql, failure=QueryFailure.TIMEOUT, message="no answer in 5s")

    seen = await observe(RATE, FakeProvider(answer=answer))
    assert seen.canary is not None
    assert seen.stable is not None
    assert seen.canary.error == "Timeout: no answer in 5s"
    assert seen.stable.error == "the metric provider failed: RuntimeError: bug"
    gate = Gate.model_validate({"name": "g", "prometheus": RATE})
    verdict = judge(gate, seen)
    assert verdict.outcome is Outcome.ERROR
    assert "the canary query failed: Timeout: no answer in 5s" in verdict.reason


async def test_without_a_release_or_a_provider_the_gate_says_so() -> None:
    check = Prometheus.model_validate(RATE)
    no_scope = await PrometheusObserver(FakeProvider()).observe("g", check, NOW, None)
    assert no_scope.error == "the operator gave no release to fill the query's variables in with"
    no_provider = await PrometheusObserver(None).observe("g", check, NOW, SCOPE)
    assert no_provider.error == "no metric provider is configured in this operator"


async def test_the_runner_measures_prometheus_gates_and_closes_the_provider() -> None:
    ok = (MetricSeries((("response_code", "200"),), 50.0),)
    provider = FakeProvider(answer=lambda promql: MetricReading(query=promql, samples=ok))
    gates = [Gate.model_validate({"name": "errors", "prometheus": RATE})]
    runner = GateRunner(GateTools(metrics=provider, default_prometheus=DEFAULT))
    (measured,) = await runner.measure(gates, NOW, SCOPE)
    assert isinstance(measured, PrometheusMeasurement)
    assert measured.error is None
    assert judge(gates[0], measured).outcome is Outcome.PASS
    await runner.close()
    assert provider.closed


async def test_a_runner_built_the_old_way_still_works_and_reports_the_missing_provider() -> None:
    runner = GateRunner()
    (measured,) = await runner.measure([Gate.model_validate({"name": "errors", "prometheus": RATE})], NOW)
    assert isinstance(measured, PrometheusMeasurement)
    assert measured.error is not None
    await runner.close()


# ---- the default Prometheus's own login, from --prometheus-credentials-dir -------------------------------------


def credentials(folder: Path, **files: str) -> DefaultCredentials:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".")).write_text(text)
    return DefaultCredentials(folder)


async def test_the_default_prometheus_gets_the_token_and_ca_from_the_folder(tmp_path: Path) -> None:
    provider = FakeProvider()
    folder = credentials(tmp_path / "prom", token="platform-token\n", ca_crt="-----BEGIN CERTIFICATE-----\n")
    seen = await observe(RATE, provider, default_credentials=folder)
    assert seen.error is None
    source = provider.asked[0][0]
    assert (source.address, source.bearer_token, source.basic_auth) == (DEFAULT, "platform-token", None)
    assert source.ca_pem == "-----BEGIN CERTIFICATE-----\n"


async def test_the_folder_is_read_at_every_analysis_so_a_rotated_secret_is_used_at_once(tmp_path: Path) -> None:
    provider = FakeProvider()
    folder = credentials(tmp_path / "prom", username="graygate\n", password="first\n")
    await observe(RATE, provider, default_credentials=folder)
    (tmp_path / "prom" / "password").write_text("second\n")
    await observe(RATE, provider, default_credentials=folder)
    logins = [source.basic_auth for source, _, _ in provider.asked]
    assert [(b.username, b.password) for b in logins if b is not None] == [("graygate", "first")] * 6 + [
        ("graygate", "second")
    ] * 6


async def test_an_address_named_by_the_gate_never_gets_the_operators_login(tmp_path: Path) -> None:
    provider = FakeProvider()
    folder = credentials(tmp_path / "prom", token="platform-token", ca_crt="platform-ca")
    elsewhere = {**RATE, "source": {"address": "http://someone-elses-prometheus:9090"}}
    seen = await observe(elsewhere, provider, default_credentials=folder)
    assert seen.error is None
    source = provider.asked[0][0]
    assert (source.bearer_token, source.basic_auth, source.ca_pem) == (None, None, None)


async def test_a_gates_own_credentials_win_over_the_folder(tmp_path: Path) -> None:
    secrets = FakeSecrets({("Secret", "shop", "team-token", "token"): "team-token"})
    provider = FakeProvider()
    folder = credentials(tmp_path / "prom", username="platform", password="pw", ca_crt="platform-ca")
    own = {**RATE, "source": {"bearerToken": {"secretRef": {"name": "team-token"}}}}
    await observe(own, provider, secrets=secrets, default_credentials=folder)
    source = provider.asked[0][0]
    assert (source.address, source.bearer_token, source.basic_auth) == (DEFAULT, "team-token", None)
    assert source.ca_pem == "platform-ca", "the folder's CA still verifies the default address"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param({"username": "u"}, "only one of username and password", id="half-basic-auth"),
        pytest.param({"token": "t", "username": "u", "password": "p"}, "both token and username", id="two-logins"),
        pytest.param(None, "does not exist", id="no-folder"),
    ],
)
async def test_a_broken_folder_is_an_error_measurement_not_a_request(
    tmp_path: Path, files: dict[str, str] | None, message: str
) -> None:
    provider = FakeProvider()
    folder = credentials(tmp_path / "prom", **files) if files is not None else DefaultCredentials(tmp_path / "none")
    seen = await observe(RATE, provider, default_credentials=folder)
    assert seen.error is not None
    assert message in seen.error
    assert provider.asked == []


async def test_the_runner_hands_the_folder_to_the_prometheus_gate(tmp_path: Path) -> None:
    provider = FakeProvider()
    folder = credentials(tmp_path / "prom", token="platform-token")
    runner = GateRunner(GateTools(metrics=provider, default_prometheus=DEFAULT, default_credentials=folder))
    await runner.measure([Gate.model_validate({"name": "errors", "prometheus": RATE})], NOW, SCOPE)
    assert provider.asked[0][0].bearer_token == "platform-token"
    await runner.close()
