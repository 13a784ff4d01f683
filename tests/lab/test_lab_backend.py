"""The stand-in backend, in-process: its header, its knobs and its Istio-shaped metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from e2e.lab.backend import ISTIO_DURATION_BUCKETS_MS, Backend, BackendIdentity, Knobs, initial_knobs, parser

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def canary() -> AsyncIterator[Backend]:
    async with Backend(BackendIdentity("canary", service="app", namespace="shop"), seed=1) as b:
        yield b


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        yield s


@pytest.mark.parametrize("path", ["/", "/any/path?x=1", "/healthz", "/metrics", "/admin/knobs"])
async def test_every_response_names_its_version(canary: Backend, http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(canary.url + path) as r:
        assert r.status == 200
        assert r.headers["x-served-by"] == "canary"


async def test_knobs_change_at_runtime_and_bad_ones_change_nothing(
    canary: Backend, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{canary.url}/admin/knobs", json={"error_rate": 0.25, "error_code": 503}) as r:
        assert r.status == 200
        assert (await r.json())["error_rate"] == 0.25
    codes = []
    for _ in range(8):
        async with http.get(f"{canary.url}/") as r:
            codes.append(r.status)
    assert codes.count(503) == 2  # deterministic: exactly one in four
    for bad in ({"error_rate": 2}, {"no_such_knob": 1}, [1, 2]):
        async with http.post(f"{canary.url}/admin/knobs", json=bad) as r:
            assert r.status == 400
    async with http.get(f"{canary.url}/admin/knobs") as r:
        assert Knobs.model_validate(await r.json()) == Knobs(error_rate=0.25, error_code=503)


async def test_health_knob(canary: Backend, http: aiohttp.ClientSession) -> None:
    canary.set_knobs(healthy=False)
    async with http.get(f"{canary.url}/healthz") as r:
        assert r.status == 503


async def test_latency_knobs(canary: Backend, http: aiohttp.ClientSession) -> None:
    canary.set_knobs(latency_ms=50, slow_fraction=0.5, slow_ms=100)
    took = []
    for _ in range(4):
        start = time.monotonic()
        async with http.get(f"{canary.url}/") as r:
            await r.read()
        took.append(time.monotonic() - start)
    assert all(t >= 0.05 for t in took)
    assert sum(t >= 0.15 for t in took) == 2


async def test_metrics_are_istio_shaped(canary: Backend, http: aiohttp.ClientSession) -> None:
    canary.set_knobs(error_rate=0.5)
    for _ in range(4):
        async with http.get(f"{canary.url}/", headers={"x-source-workload": "loadgen"}) as r:
            await r.read()
    async with http.get(f"{canary.url}/healthz") as r:  # not counted
        await r.read()
    async with http.get(f"{canary.url}/metrics") as r:
        families = {f.name: f for f in text_string_to_metric_families(await r.text())}

    requests = {s.labels["response_code"]: s for s in families["istio_requests"].samples if s.name.endswith("_total")}
    assert {code: s.value for code, s in requests.items()} == {"200": 2.0, "500": 2.0}
    assert requests["500"].labels | {"response_code": "*"} == {
        "reporter": "destination",
        "source_workload": "loadgen",
        "source_workload_namespace": "shop",
        "destination_workload": "app-canary",
        "destination_workload_namespace": "shop",
        "destination_service": "app.shop.svc.cluster.local",
        "destination_service_name": "app",
        "destination_service_namespace": "shop",
        "destination_app": "app",
        "destination_version": "canary",
        "request_protocol": "http",
        "response_code": "*",
        "response_flags": "-",
        "connection_security_policy": "mutual_tls",
    }
    duration = families["istio_request_duration_milliseconds"].samples
    buckets = [
        float(s.labels["le"]) for s in duration if s.name.endswith("_bucket") and s.labels["response_code"] == "200"
    ]
    assert buckets == [*ISTIO_DURATION_BUCKETS_MS, float("inf")]
    counts = {s.labels["response_code"]: s.value for s in duration if s.name.endswith("_count")}
    assert counts == {"200": 2.0, "500": 2.0}


class SteppedClock:
    """A clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _codes(backend: Backend, http: aiohttp.ClientSession, n: int) -> list[int]:
    codes = []
    for _ in range(n):
        async with http.get(f"{backend.url}/") as r:
            codes.append(r.status)
    return codes


async def test_the_error_ramp_climbs_from_error_rate_with_time_up_to_all(http: aiohttp.ClientSession) -> None:
    clock = SteppedClock()
    async with Backend(BackendIdentity("canary"), clock=clock) as canary:
        canary.set_knobs(error_rate=0.1, error_ramp_per_s=0.05)
        assert (await _codes(canary, http, 10)).count(500) == 1  # at the start: error_rate, exactly
        clock.now += 4  # 0.1 + 4 * 0.05
        assert canary.current_error_rate() == pytest.approx(0.3)
        assert (await _codes(canary, http, 10)).count(500) == 3
        clock.now += 100  # far past 1: capped
        assert canary.current_error_rate() == 1.0
        assert set(await _codes(canary, http, 10)) == {500}

        canary.set_knobs(error_rate=0.0)  # setting either knob starts the ramp again
        assert canary.current_error_rate() == 0.0
        canary.set_knobs(latency_ms=0)  # other knobs do not
        clock.now += 2
        assert canary.current_error_rate() == pytest.approx(0.1)
        canary.set_knobs(error_ramp_per_s=0)
        clock.now += 50
        assert canary.current_error_rate() == 0.0


async def test_the_error_ramp_raises_errors_in_real_time(http: aiohttp.ClientSession) -> None:
    async with Backend(BackendIdentity("canary")) as canary:
        async with http.post(f"{canary.url}/admin/knobs", json={"error_ramp_per_s": 0.5}) as r:
            assert r.status == 200
        first = await _codes(canary, http, 10)
        await asyncio.sleep(1.2)
        later = await _codes(canary, http, 10)
        async with http.post(f"{canary.url}/admin/knobs", json={"error_ramp_per_s": 2}) as r:
            assert r.status == 400  # more than 1 per second is refused
    assert first.count(500) <= 2
    assert later.count(500) >= 5


async def test_two_backends_in_one_process_keep_separate_registries(http: aiohttp.ClientSession) -> None:
    async with Backend(BackendIdentity("stable")) as stable, Backend(BackendIdentity("canary")) as canary:
        async with http.get(f"{stable.url}/") as r:
            await r.read()
        async with http.get(f"{canary.url}/metrics") as r:
            assert 'destination_version="stable"' not in await r.text()


@pytest.mark.parametrize(
    ("argv", "knobs"),
    [
        ([], Knobs()),
        (["--knobs", '{"error_rate": 0.2, "latency_ms": 5}'], Knobs(error_rate=0.2, latency_ms=5)),
        (
            ["--knobs", '{"error_rate": 0.2}', "--error-rate", "0.3", "--error-code", "503"],
            Knobs(error_rate=0.3, error_code=503),
        ),
        (["--healthy", "false", "--jitter-ms", "7"], Knobs(healthy=False, jitter_ms=7)),
        (["--error-ramp-per-s", "0.05"], Knobs(error_ramp_per_s=0.05)),
    ],
)
def test_command_line_knobs(argv: list[str], knobs: Knobs) -> None:
    assert initial_knobs(parser().parse_args(["--version", "v", *argv])) == knobs
