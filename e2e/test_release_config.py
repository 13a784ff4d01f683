"""Configuration as part of the release, with the real operator, a real etcd and the traffic lab: a release that
sets etcd keys writes them just before the canary's first traffic and, when a critical gate rolls it back (or it
is deleted), leaves every key exactly as it was before; a key someone else changes during the release is not
overwritten, and the release reports it (its status and a `ConfigConflict` Warning Event).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from kubernetes import client

from e2e.lab import TrafficLab
from e2e.support import apply_release, lab_release, wait_phase, wait_weights
from graygate.store import EtcdSettings
from graygate.store.etcd.store import EtcdStore
from tests.cluster_support import RELEASES, OperatorProcess, release

PREFIX = "/app/config/"
POOL, FEATURE, LEGACY = f"{PREFIX}pool-size", f"{PREFIX}feature-x", f"{PREFIX}legacy-mode"
BEFORE = {POOL: "8", LEGACY: "on", f"{PREFIX}untouched": "keep"}
"""The application's configuration before the release; `feature-x` does not exist yet."""


@pytest.fixture
async def store(config_etcd: str) -> AsyncIterator[EtcdStore]:
    connected = EtcdStore(EtcdSettings(endpoints=(config_etcd,)))
    await connected.apply(dict(BEFORE))
    yield connected
    await connected.aclose()


def config_release(lab: TrafficLab, etcd: str) -> dict[str, Any]:
    health = {"url": lab.backend_url("canary") + "/healthz", "timeout": "500ms"}
    body = lab_release(
        "app",
        [{"setWeight": 20}, {"pause": {}}],
        [{"name": "health", "critical": True, "httpProbe": health}],
    )
    body["spec"]["config"] = {
        "etcd": {"endpoints": [etcd], "dialTimeout": "500ms"},
        "keys": [
            {"key": POOL, "value": "16"},
            {"key": FEATURE, "value": "on"},
            {"key": LEGACY, "delete": True},
        ],
    }
    return body


async def values(store: EtcdStore) -> dict[str, str]:
    snapshot = await store.get_prefix(PREFIX)
    return {key: entry.value for key, entry in snapshot.entries.items()}


async def wait_status(
    api: client.ApiClient, namespace: str, accept: Callable[[dict[str, Any]], bool], what: str, timeout_s: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = (await asyncio.to_thread(release, api, namespace, "app")).get("status") or {}
        if accept(status):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; status: {status}")


def config_state(state: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: (status.get("config") or {}).get("state") == state


async def events(api: client.ApiClient, namespace: str) -> list[tuple[str, str, str]]:
    listed = await asyncio.to_thread(client.EventsV1Api(api).list_namespaced_event, namespace)
    return [(event.type, event.reason, event.note) for event in listed.items if event.reporting_controller]


async def running_with_config(
    api: client.ApiClient, namespace: str, lab: TrafficLab, store: EtcdStore, etcd: str
) -> None:
    """Apply the release and wait until it holds at 20 % with its config written."""
    await apply_release(api, namespace, config_release(lab, etcd))
    status = await wait_status(api, namespace, lambda s: s.get("phase") == "Paused", "the release to pause at 20%")
    assert status["config"]["state"] == "Applied", status["config"]
    await wait_weights(api, namespace, "app", (80, 20), 10)
    assert await values(store) == {POOL: "16", FEATURE: "on", f"{PREFIX}untouched": "keep"}


async def test_a_rolled_back_release_leaves_its_config_keys_exactly_as_before(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess, config_etcd: str,
    store: EtcdStore,
) -> None:  # fmt: skip
    await running_with_config(api, namespace, lab, store, config_etcd)

    await lab.set_knobs("canary", healthy=False)
    failed = await wait_phase(api, namespace, "app", {"Failed"}, 20)
    assert "health" in failed["status"]["message"]
    status = await wait_status(api, namespace, config_state("Restored"), "the config to be restored")
    await wait_weights(api, namespace, "app", (100, 0), 10)

    assert await values(store) == BEFORE
    assert all(key.get("conflict") is None for key in status["config"]["keys"])
    reasons = [reason for _, reason, _ in await events(api, namespace)]
    assert "ConfigApplied" in reasons
    assert "ConfigRestored" in reasons


async def test_a_key_changed_during_the_release_is_not_overwritten_and_is_reported(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess, config_etcd: str,
    store: EtcdStore,
) -> None:  # fmt: skip
    await running_with_config(api, namespace, lab, store, config_etcd)
    await store.apply({POOL: "32"})  # an operator's hotfix during the incident

    await lab.set_knobs("canary", healthy=False)
    await wait_phase(api, namespace, "app", {"Failed"}, 20)
    status = await wait_status(api, namespace, config_state("Conflict"), "the config conflict to be reported")
    await wait_weights(api, namespace, "app", (100, 0), 10)

    assert await values(store) == {POOL: "32", LEGACY: "on", f"{PREFIX}untouched": "keep"}, "the rest put back"
    conflicts = {key["key"]: key["conflict"] for key in status["config"]["keys"] if key.get("conflict")}
    assert list(conflicts) == [POOL]
    assert "'32'" in conflicts[POOL]
    assert POOL in status["config"]["message"]
    warnings = [note for kind, reason, note in await events(api, namespace) if reason == "ConfigConflict"]
    assert warnings, "a ConfigConflict Event"
    assert POOL in warnings[0]
    assert all(kind == "Warning" for kind, reason, _ in await events(api, namespace) if reason == "ConfigConflict")


async def test_deleting_a_running_release_puts_its_config_back(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess, config_etcd: str,
    store: EtcdStore,
) -> None:  # fmt: skip
    await running_with_config(api, namespace, lab, store, config_etcd)

    custom = client.CustomObjectsApi(api)
    await asyncio.to_thread(custom.delete_namespaced_custom_object, **RELEASES, namespace=namespace, name="app")
    await wait_weights(api, namespace, "app", (100, 0), 20)
    for _ in range(200):  # up to 20 s: the delete handler runs once the release is gone from the watch
        if await values(store) == BEFORE:
            break
        await asyncio.sleep(0.1)
    assert await values(store) == BEFORE
