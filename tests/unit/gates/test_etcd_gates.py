"""The etcd gates (`hotReload`, `etcdConfig`) and their connector, against a hand-written fake store and Secret
reader and a real aiohttp server playing the canary's config endpoint; and the runner dispatching every kind."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from graygate.api import Gate, Outcome
from graygate.api.etcd import EtcdConnection
from graygate.domain.analysis.etcd_config import EtcdConfigMeasurement
from graygate.domain.analysis.hot_reload import HotReloadMeasurement
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.metric_parity import MetricParityMeasurement
from graygate.domain.analysis.promql import QueryScope
from graygate.errors import GateError
from graygate.gates.etcd_config import EtcdConfigObserver
from graygate.gates.fetch import Download, HttpFetcher
from graygate.gates.hot_reload import HotReloadObserver, new_nonce
from graygate.gates.runner import GateRunner
from graygate.gates.tools import GateTools
from graygate.ports.config import ConfigStore
from graygate.store import EtcdSettings, EtcdUnavailable, PrefixSnapshot, Versioned, content_hash
from graygate.store.connections import EtcdConnector
from tests.unit.fakes.secrets import FakeSecrets
from tests.unit.http_servers import serving

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHOP = QueryScope(namespace="shop", release="app", spec=None)  # type: ignore[arg-type]  # the etcd gates read only the namespace
CA, CERT, KEY = "-----BEGIN CERTIFICATE-----\nca\n", "-----BEGIN CERTIFICATE-----\nme\n", "-----BEGIN KEY-----\n"


@dataclass
class FakeStore:
    """Holds keys in memory; `down` makes every call fail as an unreachable etcd does."""

    settings: EtcdSettings
    values: dict[str, Versioned] = field(default_factory=dict)
    revision: int = 10
    leases: list[tuple[str, str, int]] = field(default_factory=list)
    down: bool = False
    closed: bool = False
    calls: list[str] = field(default_factory=list)

    async def get_prefix(self, prefix: str) -> PrefixSnapshot:
        self.calls.append("get_prefix")
        self._check()
        entries = {key: entry for key, entry in self.values.items() if key.startswith(prefix)}
        return PrefixSnapshot(prefix=prefix, revision=self.revision, entries=entries)

    async def put_with_lease(self, key: str, value: str, ttl_s: int) -> int:
        self._check()
        self.revision += 1
        self.values[key] = Versioned(value, self.revision)
        self.leases.append((key, value, ttl_s))
        return len(self.leases)

    async def aclose(self) -> None:
        self.closed = True

    def _check(self) -> None:
        if self.down:
            raise EtcdUnavailable("no etcd endpoint answered: etcd:2379: UNAVAILABLE")


@dataclass
class FakeEtcd:
    """The factory: one FakeStore per settings, all remembered."""

    made: list[FakeStore] = field(default_factory=list)
    down: bool = False

    def __call__(self, settings: EtcdSettings) -> FakeStore:
        store = FakeStore(settings, down=self.down)
        if self.made:
            store.values, store.revision = self.made[-1].values, self.made[-1].revision
        self.made.append(store)
        return store


TLS = {"secretRef": {"name": "etcd-client"}, "certKey": "tls.crt", "keyKey": "tls.key"}
AUTH = {"secretRef": {"name": "etcd-user"}}
SECRETS = {
    ("Secret", "shop", "etcd-client", "ca.crt"): CA,
    ("Secret", "shop", "etcd-client", "tls.crt"): CERT,
    ("Secret", "shop", "etcd-client", "tls.key"): KEY,
    ("Secret", "shop", "etcd-user", "username"): "graygate\n",
    ("Secret", "shop", "etcd-user", "password"): "s3cret\n",
}


def connection(**fields: Any) -> EtcdConnection:
    return EtcdConnection.model_validate({"endpoints": ["etcd-0:2379", "etcd-1:2379"], "dialTimeout": "1s"} | fields)


def test_the_fake_satisfies_the_port() -> None:
    store: ConfigStore = FakeStore(EtcdSettings(endpoints=("etcd:2379",)))
    assert store is not None


# ---- the connector ----


async def test_a_plain_connection_is_built_once_and_reused() -> None:
    etcd = FakeEtcd()
    connector = EtcdConnector(etcd)
    first = await connector.store(connection(), None)
    again = await connector.store(connection(), "shop")
    assert first is again
    assert len(etcd.made) == 1
    assert etcd.made[0].settings == EtcdSettings(endpoints=("etcd-0:2379", "etcd-1:2379"), dial_timeout_s=1.0)
    await connector.close()
    assert etcd.made[0].closed


async def test_tls_and_auth_come_from_secrets_through_private_files() -> None:
    etcd = FakeEtcd()
    secrets = FakeSecrets(dict(SECRETS))
    connector = EtcdConnector(etcd, secrets)
    await connector.store(connection(tls=TLS, auth=AUTH), "shop")
    settings = etcd.made[0].settings
    assert (settings.username, settings.password) == ("graygate", "s3cret")
    assert settings.ca_file is not None
    assert settings.cert_file is not None
    assert settings.key_file is not None
    files = {path.name: path for path in (settings.ca_file, settings.cert_file, settings.key_file)}
    assert {name: path.read_text() for name, path in files.items()} == {"ca.crt": CA, "tls.crt": CERT, "tls.key": KEY}
    folder = settings.ca_file.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(path.stat().st_mode) for path in files.values()} == {0o600}

    secrets.values[("Secret", "shop", "etcd-client", "tls.crt")] = CERT + "rotated\n"
    await connector.store(connection(tls=TLS, auth=AUTH), "shop")
    assert len(etcd.made) == 2, "a rotated certificate gets a new connection"
    await connector.close()
    assert all(store.closed for store in etcd.made)
    assert not folder.exists()


async def test_the_least_recently_used_connection_is_closed_beyond_the_limit() -> None:
    etcd = FakeEtcd()
    connector = EtcdConnector(etcd, max_open=2)
    for name in ("a", "b", "a", "c"):
        await connector.store(connection(endpoints=[f"{name}:2379"]), None)
    assert [(store.settings.endpoints[0], store.closed) for store in etcd.made] == [
        ("a:2379", False),
        ("b:2379", True),
        ("c:2379", False),
    ]
    await connector.close()


@pytest.mark.parametrize(
    ("secrets", "namespace", "error"),
    [
        (None, "shop", "the etcd connection needs a Secret, but no Secret reader is configured"),
        (FakeSecrets(dict(SECRETS)), None, "the operator gave no release namespace to read Secret etcd-user from"),
        (FakeSecrets({}), "shop", "cannot read key username of Secret shop/etcd-user: Secret shop/etcd-user has no"),
    ],
    ids=["no-reader", "no-namespace", "missing-key"],
)
async def test_a_secret_that_cannot_be_read_is_a_gate_error(
    secrets: FakeSecrets | None, namespace: str | None, error: str
) -> None:
    connector = EtcdConnector(FakeEtcd(), secrets)
    with pytest.raises(GateError) as raised:
        await connector.store(connection(auth=AUTH), namespace)
    assert str(raised.value).startswith(error)


# ---- the canary's config endpoint ----


@dataclass
class Canary:
    """A config endpoint reporting what it loaded from the fake etcd: after `lag` polls, or never."""

    etcd: FakeEtcd
    lag: int = 0
    never: bool = False
    polls: int = 0
    loaded: str = "old"
    order: list[str] = field(default_factory=list)

    async def config(self, request: web.Request) -> web.Response:
        self.polls += 1
        self.order.append("canary")
        store = self.etcd.made[-1] if self.etcd.made else None
        if store is not None and not self.never and self.polls > self.lag and "/app/config/probe" in store.values:
            self.loaded = store.values["/app/config/probe"].value
        return web.json_response({"probe": self.loaded, "hash": "sha256:00", "revision": 12})


@pytest.fixture
async def canary() -> AsyncIterator[tuple[Canary, TestServer]]:
    app = web.Application()
    state = Canary(FakeEtcd())
    app.router.add_get("/config", state.config)
    async with serving(app) as server:
        yield state, server


def reload_gate(url: str, **fields: Any) -> Gate:
    check = {
        "etcd": {"endpoints": ["etcd:2379"]},
        "key": "/app/config/probe",
        "ttl": "1500ms",
        "url": url,
        "jsonPath": "$.probe",
        "deadline": "400ms",
        "pollInterval": "50ms",
    }
    return Gate.model_validate({"name": "reload", "hotReload": check | fields})


async def observe_reload(gate: Gate, etcd: FakeEtcd, nonce: str = "graygate-n1") -> HotReloadMeasurement:
    assert gate.hot_reload is not None
    fetcher = HttpFetcher()
    try:
        observer = HotReloadObserver(EtcdConnector(etcd), fetcher, nonce=lambda: nonce)
        return await observer.observe(gate.name, gate.hot_reload, NOW, SHOP)
    finally:
        await fetcher.close()


async def test_a_canary_that_reloads_reports_the_nonce(canary: tuple[Canary, TestServer]) -> None:
    state, server = canary
    state.lag = 2
    gate = reload_gate(str(server.make_url("/config")))
    seen = await observe_reload(gate, state.etcd)
    assert (seen.nonce, seen.reported, seen.polls, seen.error) == ("graygate-n1", "graygate-n1", 3, None)
    assert state.etcd.made[0].leases == [("/app/config/probe", "graygate-n1", 2)]
    assert seen.waited < timedelta(milliseconds=400)
    verdict = judge(gate, seen)
    assert verdict.outcome is Outcome.PASS, verdict.reason


async def test_a_canary_that_never_reloads_fails_after_the_deadline(canary: tuple[Canary, TestServer]) -> None:
    state, server = canary
    state.never = True
    gate = reload_gate(str(server.make_url("/config")))
    seen = await observe_reload(gate, state.etcd)
    assert seen.reported == "old"
    assert seen.waited >= timedelta(milliseconds=400)
    assert 3 <= seen.polls <= 9
    verdict = judge(gate, seen)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("canary did not reload within 400ms (it reports 'old', not 'graygate-n1'")


async def test_an_unreachable_config_endpoint_is_reported(canary: tuple[Canary, TestServer]) -> None:
    state, _ = canary
    seen = await observe_reload(reload_gate("http://127.0.0.1:9/config", deadline="100ms"), state.etcd)
    assert seen.reported is None
    assert seen.report_error is not None
    assert "connection failed" in seen.report_error


async def test_a_nonce_that_cannot_be_written_is_an_error_and_nothing_is_polled(
    canary: tuple[Canary, TestServer],
) -> None:
    state, server = canary
    seen = await observe_reload(reload_gate(str(server.make_url("/config"))), FakeEtcd(down=True))
    assert (seen.nonce, seen.polls, state.polls) == (None, 0, 0)
    assert seen.error == "no etcd endpoint answered: etcd:2379: UNAVAILABLE"


def test_nonces_are_fresh() -> None:
    assert new_nonce() != new_nonce()
    assert new_nonce().startswith("graygate-")


def config_gate(url: str, compare: str = "hash", path: str = "$.hash") -> Gate:
    check = {"etcd": {"endpoints": ["etcd:2379"]}, "prefix": "/app/config/", "compare": compare}
    return Gate.model_validate({"name": "config", "etcdConfig": check | {"url": url, "jsonPath": path}})


async def test_etcd_config_asks_the_canary_first_then_reads_the_prefix(canary: tuple[Canary, TestServer]) -> None:
    state, server = canary
    etcd = state.etcd
    store = etcd(EtcdSettings(endpoints=("etcd:2379",)))
    store.values.update(
        {"/app/config/a": Versioned("1", 7), "/app/config/b": Versioned("2", 12), "/other": Versioned("x", 14)}
    )
    store.revision = 15
    original_get = store.get_prefix

    async def recording_get(prefix: str) -> PrefixSnapshot:
        state.order.append("etcd")
        return await original_get(prefix)

    store.get_prefix = recording_get  # type: ignore[method-assign]
    connector = EtcdConnector(lambda settings: store)
    fetcher = HttpFetcher()
    gate = config_gate(str(server.make_url("/config")), "revision", "$.revision")
    assert gate.etcd_config is not None
    try:
        seen = await EtcdConfigObserver(connector, fetcher).observe("config", gate.etcd_config, NOW, None)
    finally:
        await fetcher.close()
    assert state.order == ["canary", "etcd"]
    assert seen.state is not None
    assert (seen.state.last_modified, seen.state.revision, seen.state.keys) == (12, 15, 2)
    assert seen.state.hash == content_hash({"/app/config/a": "1", "/app/config/b": "2"})
    assert judge(gate, seen).outcome is Outcome.PASS
    hashed = config_gate(str(server.make_url("/config")))
    verdict = judge(hashed, EtcdConfigMeasurement(gate="config", observed_at=NOW, state=seen.state, report=seen.report))
    assert verdict.outcome is Outcome.FAIL
    assert f"expected {seen.state.hash}" in verdict.reason


async def test_etcd_config_records_an_unreadable_etcd(canary: tuple[Canary, TestServer]) -> None:
    _, server = canary
    fetcher = HttpFetcher()
    gate = config_gate(str(server.make_url("/config")))
    assert gate.etcd_config is not None
    try:
        seen = await EtcdConfigObserver(EtcdConnector(FakeEtcd(down=True)), fetcher).observe(
            "config", gate.etcd_config, NOW, None
        )
    finally:
        await fetcher.close()
    assert seen.state is None
    assert seen.error == "no etcd endpoint answered: etcd:2379: UNAVAILABLE"
    assert seen.report is not None
    assert seen.report.content == {"probe": "old", "hash": "sha256:00", "revision": 12}
    assert judge(gate, seen).outcome is Outcome.ERROR


# ---- the runner ----


async def test_the_runner_measures_every_release_check_and_turns_a_raising_gate_into_an_error(
    canary: tuple[Canary, TestServer],
) -> None:
    _, server = canary
    config = str(server.make_url("/config"))

    def exploding(settings: EtcdSettings) -> ConfigStore:
        raise RuntimeError("boom")

    gates = [
        Gate.model_validate({"name": "metrics", "metricParity": {"canaryUrl": "http://127.0.0.1:9/metrics"}}),
        Gate.model_validate({"name": "api", "apiCompat": {"stableUrl": config, "canaryUrl": config}}),
        reload_gate(config, deadline="100ms"),
        config_gate(config),
    ]
    runner = GateRunner(GateTools(etcd_factory=exploding))
    try:
        measured = await runner.measure(gates, NOW)
    finally:
        await runner.close()
    kinds = [(type(m).__name__, m.gate) for m in measured]
    assert kinds == [
        ("MetricParityMeasurement", "metrics"),
        ("ApiCompatMeasurement", "api"),
        ("HotReloadMeasurement", "reload"),
        ("EtcdConfigMeasurement", "config"),
    ]
    parity = measured[0]
    assert isinstance(parity, MetricParityMeasurement)
    assert parity.canary is not None
    assert (parity.canary.error or "").startswith("connection failed")
    assert [m.error for m in measured[2:]] == ["the gate failed: RuntimeError: boom"] * 2
    assert [judge(gate, m).outcome for gate, m in zip(gates, measured, strict=True)] == [
        Outcome.FAIL,  # the canary's metrics cannot be read
        Outcome.ERROR,  # the stable's "OpenAPI document" is a config answer: nothing to compare with
        Outcome.ERROR,
        Outcome.ERROR,
    ]


async def test_a_runner_built_the_old_way_reaches_etcd_through_the_real_adapter() -> None:
    runner = GateRunner()
    gate = Gate.model_validate(
        {
            "name": "config",
            "etcdConfig": {
                "etcd": {"endpoints": ["127.0.0.1:9"], "dialTimeout": "100ms"},
                "prefix": "/app/",
                "url": "http://127.0.0.1:9/config",
                "jsonPath": "$.hash",
            },
        }
    )
    scope = QueryScope(namespace="shop", release="app", spec=None)  # type: ignore[arg-type]
    try:
        (seen,) = await runner.measure([gate], NOW, scope)
    finally:
        await runner.close()
    assert isinstance(seen, EtcdConfigMeasurement)
    assert (seen.error or "").startswith("no etcd endpoint answered")
    assert judge(gate, seen).outcome is Outcome.ERROR


class ScriptedFetcher(HttpFetcher):
    """Answers the config endpoint from a script, one answer per poll, the last one repeated."""

    def __init__(self, *answers: str) -> None:
        super().__init__()
        self.answers = list(answers)
        self.timeouts: list[float] = []

    async def get(self, url: str, *, headers: Any, timeout_s: float, accept: str = "*/*") -> Download:
        self.timeouts.append(timeout_s)
        body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Download(url=url, body=body.encode(), content_type="application/json")


async def test_the_poll_loop_keeps_to_the_deadline_on_its_own_clock() -> None:
    now = [100.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    fetcher = ScriptedFetcher('{"probe": "old"}')
    gate = reload_gate("http://canary/config", deadline="1s", pollInterval="300ms")
    assert gate.hot_reload is not None
    observer = HotReloadObserver(
        EtcdConnector(FakeEtcd()), fetcher, clock=lambda: now[0], sleep=sleep, nonce=lambda: "n"
    )
    seen = await observer.observe("reload", gate.hot_reload, NOW, None)
    assert (seen.polls, seen.reported, seen.waited) == (5, "old", timedelta(seconds=1))
    assert [round(t, 3) for t in fetcher.timeouts] == [1.0, 0.7, 0.4, 0.1, 0.05]

    fetcher = ScriptedFetcher('{"probe": "old"}', '{"other": 1}', '{"probe": "n"}')
    observer = HotReloadObserver(
        EtcdConnector(FakeEtcd()), fetcher, clock=lambda: now[0], sleep=sleep, nonce=lambda: "n"
    )
    seen = await observer.observe("reload", gate.hot_reload, NOW, None)
    assert (seen.polls, seen.reported, seen.report_error) == (3, "n", None)
    assert seen.waited == timedelta(milliseconds=600)
